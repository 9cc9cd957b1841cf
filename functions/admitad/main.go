// Command admitad is the Admitad token refresher Lambda function: it
// rotates the refresh token kept in REFRESH_SECRET_ID and publishes the
// access token to TOKEN_SECRET_ID.
package main

import (
	"github.com/token-refresher/token-refresher/shared/admitad"
	"github.com/token-refresher/token-refresher/shared/lambdafn"
	"github.com/token-refresher/token-refresher/shared/refresh"
	"github.com/token-refresher/token-refresher/shared/secretstore"
)

func main() {
	lambdafn.Main(admitad.Name, func(_ lambdafn.Config, store *secretstore.Store) (refresh.Vendor, error) {
		return refresh.WithState(&admitad.Client{Store: store}), nil
	}, admitad.ErrorRules...)
}
