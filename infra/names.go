package main

// Physical names of one deployment. They are stable so that apps and
// tokenctl can find a vendor's pieces without reading stack outputs: apps
// read <prefix>/<vendor>/token, operators fill <prefix>/<vendor>/credentials,
// and the refresher is the function <prefix>-<vendor>.

func tokenSecretName(prefix, vendor string) string {
	return prefix + "/" + vendor + "/token"
}

func credentialsSecretName(prefix, vendor string) string {
	return prefix + "/" + vendor + "/credentials"
}

// refreshSecretName is the refresh-token secret of an authorization-code
// vendor; apps have no access to it.
func refreshSecretName(prefix, vendor string) string {
	return prefix + "/" + vendor + "/refresh-token"
}

// signingKeySecretName is the HMAC key of an authorization-code vendor's
// connect links and OAuth2 state.
func signingKeySecretName(prefix, vendor string) string {
	return prefix + "/" + vendor + "/signing-key"
}

// functionName names the function in functions/<folder>; the schedule of
// a vendor carries the same name as its refresher.
func functionName(prefix, folder string) string {
	return prefix + "-" + folder
}
