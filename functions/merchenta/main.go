// Command merchenta is the merchenta token refresher Lambda function.
package main

import (
	"github.com/token-refresher/token-refresher/shared/lambdafn"
	"github.com/token-refresher/token-refresher/shared/merchenta"
	"github.com/token-refresher/token-refresher/shared/refresh"
	"github.com/token-refresher/token-refresher/shared/secretstore"
)

func main() {
	lambdafn.Main("merchenta", func(lambdafn.Config, *secretstore.Store) (refresh.Vendor, error) {
		return &merchenta.Client{}, nil
	})
}
