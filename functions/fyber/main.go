// Command fyber is the fyber token refresher Lambda function.
package main

import (
	"github.com/token-refresher/token-refresher/shared/fyber"
	"github.com/token-refresher/token-refresher/shared/lambdafn"
	"github.com/token-refresher/token-refresher/shared/refresh"
	"github.com/token-refresher/token-refresher/shared/secretstore"
)

func main() {
	lambdafn.Main("fyber", func(lambdafn.Config, *secretstore.Store) (refresh.Vendor, error) {
		return &fyber.Client{}, nil
	})
}
