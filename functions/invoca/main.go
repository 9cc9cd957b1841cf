// Command invoca is the invoca token refresher Lambda function.
package main

import (
	"github.com/token-refresher/token-refresher/shared/invoca"
	"github.com/token-refresher/token-refresher/shared/lambdafn"
	"github.com/token-refresher/token-refresher/shared/refresh"
	"github.com/token-refresher/token-refresher/shared/secretstore"
)

func main() {
	lambdafn.Main("invoca", func(lambdafn.Config, *secretstore.Store) (refresh.Vendor, error) {
		return &invoca.Client{}, nil
	})
}
