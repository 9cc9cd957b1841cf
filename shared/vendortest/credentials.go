package vendortest

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
