// Command acme is the Acme Ads token refresher Lambda function.
package main

import (
	"github.com/token-refresher/token-refresher/shared/acme"
	"github.com/token-refresher/token-refresher/shared/lambdafn"
	"github.com/token-refresher/token-refresher/shared/refresh"
	"github.com/token-refresher/token-refresher/shared/secretstore"
)

func main() {
	lambdafn.Main(acme.Name, func(lambdafn.Config, *secretstore.Store) (refresh.Vendor, error) {
		return &acme.Client{}, nil
	})
}
