// Package vendors is the single table every part of token-refresher derives
// from: the function code reads a vendor's lifetime and refresh threshold from
// it, and the CDK stack derives schedules, secrets, permissions and alarms
// from the same rows. Adding a vendor is adding a row.
//
// The package has no dependencies beyond the standard library so that the
// infrastructure code can import it cheaply.
//
// Contract: the table is fixed at compile time and read-only: All returns a
// copy, and every function is safe for concurrent use. Lookup's error names
// the unknown vendor; MustLookup panics with it. Nothing here touches the
// network, the environment or a secret, and nothing logs.
package vendors

import (
	"fmt"
	"time"
)

// Placeholder is the value of every field of a credentials secret the stack
// creates. Refreshers refuse to run on it and name the field to fill in.
const Placeholder = "<fill in>"

// FunctionEnvironment is set on every function the stack deploys, next to
// its own variables; local runs (make dev, make bench) set it too.
//
// GOMAXPROCS=1: a 128 MB function gets about 7% of one vCPU, so more than
// one Go processor only adds scheduler work; measured by make bench, it
// takes about 0.25 ms of CPU off each invoke.
var FunctionEnvironment = map[string]string{"GOMAXPROCS": "1"}

// FunctionEnv returns FunctionEnvironment as KEY=VALUE pairs.
func FunctionEnv() []string {
	out := make([]string, 0, len(FunctionEnvironment))
	for k, v := range FunctionEnvironment {
		out = append(out, k+"="+v)
	}
	return out
}

// Spec describes one vendor.
type Spec struct {
	// Name is the vendor's short name: the function folder
	// (functions/<Name>), the "vendor" field of its token secret and the
	// dimension of its metrics.
	Name string
	// Title is the vendor's display name.
	Title string
	// Lifetime is the nominal lifetime of an access token. A token whose
	// vendor states a longer one is still treated as expiring after Lifetime.
	// Zero means the token does not expire on a schedule (Invoca).
	Lifetime time.Duration
	// RefreshBelow is the fraction of the lifetime under which a stored
	// token is refreshed: with 0.5, a scheduled run skips the vendor call
	// while more than half of the token's life is left.
	RefreshBelow float64
	// Every is the period of the schedule that invokes the refresher.
	Every time.Duration
	// URLEnv is the environment variable that overrides the vendor endpoint
	// the refresher calls, and DefaultURL its production value.
	URLEnv     string
	DefaultURL string
	// CredentialFields are the fields of the credentials secret that must be
	// present and non-empty.
	CredentialFields []string
	// OptionalFields are credentials fields the vendor understands but does
	// not require.
	OptionalFields []string
	// AuthCode marks a vendor connected by a person through the OAuth2
	// authorization-code flow; it has a refresh-token secret, a signing-key
	// secret and a callback function.
	AuthCode bool
	// ClientCredentials declares a textbook OAuth 2.0 client-credentials
	// vendor: the row is its whole protocol, which package clientcreds
	// speaks and package clientcreds/clientcredstest serves in tests. Nil
	// for a vendor whose quirks need a package of its own (shared/<Name>).
	ClientCredentials *ClientCredentials
	// FieldValues lists, per credentials field, the only values the
	// vendor documents for it; tools refuse any other. Nil: any value.
	FieldValues map[string][]string
}

// ClientCredentials is how a textbook OAuth 2.0 client-credentials vendor
// (RFC 6749, section 4.4) is called: POST the row's endpoint with the
// client's credentials, get a standard token reply (vendorhttp.DecodeToken)
// or a standard error body. The row's CredentialFields must include
// client_id and client_secret.
type ClientCredentials struct {
	// Auth is where the client authenticates.
	Auth Auth
	// NoGrantType leaves grant_type=client_credentials out of the request,
	// for a vendor that documents a request without it (HasOffers).
	NoGrantType bool
	// Params are parameters of every request, fixed by the vendor
	// ("audience", "scope"), sent next to the credentials.
	Params map[string]string
	// CredentialParams are credentials fields sent as request parameters
	// of the same name (HasOffers' audience).
	CredentialParams []string
	// Publish are credentials fields published next to the token in the
	// token secret, under their own names (HasOffers' integrator_id,
	// which apps send with every call).
	Publish []string
	// CamelCase: the reply spells its fields accessToken, tokenType and
	// expiresIn (Fyber) instead of the standard snake case.
	CamelCase bool
	// Errors gives, per documented error code, the sentence an operator
	// reads in place of the vendor's own description.
	Errors map[string]string
}

// Auth is where a client-credentials request carries client_id and
// client_secret.
type Auth string

const (
	// AuthBasic sends them as HTTP Basic authentication, the rest of the
	// request as a form body (RFC 6749's recommended way).
	AuthBasic Auth = "basic"
	// AuthForm sends them as fields of a form body.
	AuthForm Auth = "form"
	// AuthJSON sends them, and every other parameter, as fields of a JSON
	// object body.
	AuthJSON Auth = "json"
)

// FunctionName is the folder under functions/ that holds the refresher.
func (s Spec) FunctionName() string { return s.Name }

// CallbackFunctionName is the folder of the authorization-code callback
// function, or "" when the vendor has none.
func (s Spec) CallbackFunctionName() string {
	if !s.AuthCode {
		return ""
	}
	return s.Name + "-callback"
}

// Expires reports whether the vendor's tokens expire on a schedule.
func (s Spec) Expires() bool { return s.Lifetime > 0 }

// Names of the vendors, as used in function folders and token secrets.
const (
	HasOffers = "hasoffers"
	Invoca    = "invoca"
	Fyber     = "fyber"
	Merchenta = "merchenta"
	Admitad   = "admitad"
)

// quarter is the default schedule: a quarter of the token's lifetime, so a
// token refreshed below half its life always has at least half of it left
// and two missed runs are survivable.
func quarter(lifetime time.Duration) time.Duration { return lifetime / 4 }

var table = []Spec{
	{
		// HasOffers documents a JSON body without grant_type, with the
		// audience from the credentials; apps also need the IntegratorId
		// on every call, so it is published next to the token.
		Name:             HasOffers,
		Title:            "HasOffers / TUNE Integrator API",
		Lifetime:         24 * time.Hour,
		RefreshBelow:     0.5,
		Every:            quarter(24 * time.Hour),
		URLEnv:           "TOKEN_URL",
		DefaultURL:       "https://integrator-auth.hasoffers.com/authorize",
		CredentialFields: []string{"client_id", "client_secret", "audience", "integrator_id"},
		ClientCredentials: &ClientCredentials{
			Auth:             AuthJSON,
			NoGrantType:      true,
			CredentialParams: []string{"audience"},
			Publish:          []string{"integrator_id"},
		},
		// "Making Calls to the Integrator API": "audience":"BrandAPI".
		FieldValues: map[string][]string{"audience": {"BrandAPI"}},
	},
	{
		Name:             Invoca,
		Title:            "Invoca",
		Lifetime:         0,
		RefreshBelow:     0,
		Every:            24 * time.Hour,
		URLEnv:           "VALIDATE_URL",
		DefaultURL:       "",
		CredentialFields: []string{"api_token"},
		OptionalFields:   []string{"validate_url", "vanity", "network_id"},
	},
	{
		Name:             Fyber,
		Title:            "Fyber / Digital Turbine Offer Wall Reporting",
		Lifetime:         time.Hour,
		RefreshBelow:     0.5,
		Every:            quarter(time.Hour),
		URLEnv:           "TOKEN_URL",
		DefaultURL:       "https://reporting.fyber.com/auth/v1/token",
		CredentialFields: []string{"client_id", "client_secret"},
		ClientCredentials: &ClientCredentials{
			Auth:      AuthJSON,
			CamelCase: true,
			Errors: map[string]string{
				"unsupported_grant_type": "grant_type was refused (it must be client_credentials)",
				"invalid_request":        "request refused as malformed: missing or invalid client_id or client_secret",
				"invalid_client":         "credentials not found, incorrect, disabled or revoked: check client_id and client_secret",
				"internal_server_error":  "unexpected error on Digital Turbine's side",
			},
		},
	},
	{
		Name:             Merchenta,
		Title:            "Merchenta RTB",
		Lifetime:         time.Hour,
		RefreshBelow:     0.5,
		Every:            quarter(time.Hour),
		URLEnv:           "TOKEN_URL",
		DefaultURL:       "https://rtbapi.io/v3/oauth/accessToken",
		CredentialFields: []string{"username", "password", "advertiser"},
	},
	{
		// Admitad's access token lives 7 days; its refresh token's lifetime
		// is undocumented and the token rotates on every use. Refreshing
		// once the access token is a day old keeps the refresh token in
		// use daily, and a 6-hour schedule survives three missed runs.
		Name:             Admitad,
		Title:            "Admitad",
		Lifetime:         7 * 24 * time.Hour,
		RefreshBelow:     6.0 / 7.0,
		Every:            6 * time.Hour,
		URLEnv:           "TOKEN_URL",
		DefaultURL:       "https://api.admitad.com/token/",
		CredentialFields: []string{"client_id", "client_secret", "scope"},
		OptionalFields:   []string{"expected_username"},
		AuthCode:         true,
	},
}

// All returns every vendor, in a stable order. The slice is a copy.
func All() []Spec {
	out := make([]Spec, len(table))
	copy(out, table)
	return out
}

// Names returns the vendors' names, in table order: what help texts and
// usage list, so that a new row appears there too.
func Names() []string {
	out := make([]string, len(table))
	for i, s := range table {
		out[i] = s.Name
	}
	return out
}

// Lookup returns the vendor named name.
func Lookup(name string) (Spec, error) {
	for _, s := range table {
		if s.Name == name {
			return s, nil
		}
	}
	return Spec{}, fmt.Errorf("vendors: unknown vendor %q", name)
}

// MustLookup is Lookup for names known at compile time; it panics on an
// unknown name.
func MustLookup(name string) Spec {
	s, err := Lookup(name)
	if err != nil {
		panic(err)
	}
	return s
}
