// Command hasoffers is the HasOffers / TUNE Integrator token refresher Lambda function. The vendor is a
// row of the vendor table (shared/vendors); package clientcreds speaks it.
package main

import (
	"github.com/token-refresher/token-refresher/shared/clientcreds"
	"github.com/token-refresher/token-refresher/shared/lambdafn"
	"github.com/token-refresher/token-refresher/shared/refresh"
	"github.com/token-refresher/token-refresher/shared/secretstore"
	"github.com/token-refresher/token-refresher/shared/vendors"
)

func main() {
	lambdafn.Main(vendors.HasOffers, func(c lambdafn.Config, _ *secretstore.Store) (refresh.Vendor, error) {
		return clientcreds.New(c.Spec)
	})
}
