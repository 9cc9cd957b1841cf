// Command hasoffers is the hasoffers token refresher Lambda function.
package main

import (
	"github.com/token-refresher/token-refresher/shared/hasoffers"
	"github.com/token-refresher/token-refresher/shared/lambdafn"
	"github.com/token-refresher/token-refresher/shared/refresh"
	"github.com/token-refresher/token-refresher/shared/secretstore"
)

func main() {
	lambdafn.Main("hasoffers", func(lambdafn.Config, *secretstore.Store) (refresh.Vendor, error) {
		return &hasoffers.Client{}, nil
	})
}
