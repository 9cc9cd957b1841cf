// Command zenith is the Zenith Ads token refresher Lambda function.
package main

import (
	"github.com/token-refresher/token-refresher/shared/lambdafn"
	"github.com/token-refresher/token-refresher/shared/refresh"
	"github.com/token-refresher/token-refresher/shared/secretstore"
	"github.com/token-refresher/token-refresher/shared/zenith"
)

func main() {
	lambdafn.Main(zenith.Name, func(lambdafn.Config, *secretstore.Store) (refresh.Vendor, error) {
		return &zenith.Client{}, nil
	})
}
