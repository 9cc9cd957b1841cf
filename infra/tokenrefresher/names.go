package tokenrefresher

import "github.com/token-refresher/token-refresher/shared/vendors"

// Physical names of one deployment, from shared/vendors so that the
// functions, tokenctl and apps agree on them. They are stable so that apps
// and tokenctl can find a vendor's pieces without reading stack outputs:
// apps read <prefix>/<vendor>/token, operators fill
// <prefix>/<vendor>/credentials, and the refresher is the function
// <prefix>-<vendor>.

func tokenSecretName(prefix, vendor string) string {
	return vendors.SecretName(prefix, vendor, vendors.DefaultConnection, vendors.RoleToken)
}

func credentialsSecretName(prefix, vendor string) string {
	return vendors.SecretName(prefix, vendor, vendors.DefaultConnection, vendors.RoleCredentials)
}

// refreshSecretName is the refresh-token secret of an authorization-code
// vendor; apps have no access to it.
func refreshSecretName(prefix, vendor string) string {
	return vendors.SecretName(prefix, vendor, vendors.DefaultConnection, vendors.RoleRefreshToken)
}

// signingKeySecretName is the HMAC key of an authorization-code vendor's
// connect links and OAuth2 state.
func signingKeySecretName(prefix, vendor string) string {
	return vendors.SecretName(prefix, vendor, "", vendors.RoleSigningKey)
}

// functionName names the function in functions/<folder>; the schedule of
// a vendor carries the same name as its refresher.
func functionName(prefix, folder string) string {
	return vendors.FunctionName(prefix, folder)
}
