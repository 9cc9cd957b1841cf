package vendortest

import "github.com/token-refresher/token-refresher/shared/vendors"

// Sandbox values the fakes accept. They are public test values, not
// secrets.
const (
	hasOffersClientID     = "sandbox-hasoffers-client"
	hasOffersClientSecret = "sandbox-hasoffers-secret-5f1c2b7e"
	// HasOffersAudience is the audience HasOffers documents.
	HasOffersAudience = "BrandAPI"
	// HasOffersIntegratorID is the integrator the fake knows.
	HasOffersIntegratorID = "sandbox-integrator"

	fyberClientID     = "3ce66d885aa0b1c2d3e4fa3b752bb9058"
	fyberClientSecret = "sandbox-fyber-secret-YtMvC7VYTQMQ7w9UCUaF"

	merchentaUsername = "test@merchenta.com"
	merchentaPassword = "sandbox-merchenta-password"
	// MerchentaAdvertiser is the advertiser code the sandbox user may act
	// for; any other code is answered 403 AUTH003.
	MerchentaAdvertiser = "MERCHENTA"

	// invocaToken is the sandbox API token, 32 characters like Invoca's.
	invocaToken = "SbxInvocaTok3nF0rTest1ngOnly0001"
	// InvocaNetworkID is the network whose transactions the sandbox token
	// may read; TokenURL points at it.
	InvocaNetworkID = "1111"

	admitadClientID     = "cb281d918a37e346b45e9aea1c6eb7"
	admitadClientSecret = "a0f8a8b24de8b8182a0ddd2e89f5b1"
	admitadScope        = "advertiser_statistics advertiser_info"
	// AdmitadUsername is the username Admitad's replies carry until
	// SetUsername changes it.
	AdmitadUsername = "advertiser1"
)

// Credentials returns the sandbox credentials the fakes accept, as the
// fields of the vendor's credentials secret:
//
//	hasoffers: client_id, client_secret, audience, integrator_id
//	fyber:     client_id, client_secret
//	merchenta: username, password, advertiser
//	invoca:    api_token
//	admitad:   client_id, client_secret, scope, expected_username
//
// vendor is a name from package vendors; an unknown name returns nil. The
// map is a fresh copy.
func Credentials(vendor string) map[string]string {
	switch vendor {
	case vendors.HasOffers:
		return map[string]string{
			"client_id":     hasOffersClientID,
			"client_secret": hasOffersClientSecret,
			"audience":      HasOffersAudience,
			"integrator_id": HasOffersIntegratorID,
		}
	case vendors.Fyber:
		return map[string]string{"client_id": fyberClientID, "client_secret": fyberClientSecret}
	case vendors.Merchenta:
		return map[string]string{"username": merchentaUsername, "password": merchentaPassword, "advertiser": MerchentaAdvertiser}
	case vendors.Invoca:
		return map[string]string{"api_token": invocaToken}
	case vendors.Admitad:
		return map[string]string{
			"client_id":         admitadClientID,
			"client_secret":     admitadClientSecret,
			"scope":             admitadScope,
			"expected_username": AdmitadUsername,
		}
	}
	return nil
}
