package clientcreds_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/token-refresher/token-refresher/shared/clientcreds"
	"github.com/token-refresher/token-refresher/shared/clientcreds/clientcredstest"
	"github.com/token-refresher/token-refresher/shared/refresh"
	"github.com/token-refresher/token-refresher/shared/refresh/refreshtest"
	"github.com/token-refresher/token-refresher/shared/vendorhttp"
	"github.com/token-refresher/token-refresher/shared/vendors"
	"github.com/token-refresher/token-refresher/shared/vendortest"
)

// testRows are vendors declared by a row alone, one per way a client
// authenticates, for this package's tests only: they are not in the
// table, so nothing deploys them.
var testRows = []vendors.Spec{
	{
		Name: "zz-basic", Title: "Row vendor, HTTP Basic", Lifetime: time.Hour, RefreshBelow: 0.5, Every: 15 * time.Minute,
		URLEnv: "TOKEN_URL", DefaultURL: "https://auth.basic.example/oauth2/token",
		CredentialFields:  []string{"client_id", "client_secret"},
		ClientCredentials: &vendors.ClientCredentials{Auth: vendors.AuthBasic, Params: map[string]string{"scope": "reports"}},
	},
	{
		Name: "zz-form", Title: "Row vendor, form body", Lifetime: 2 * time.Hour, RefreshBelow: 0.5, Every: 30 * time.Minute,
		URLEnv: "TOKEN_URL", DefaultURL: "https://auth.form.example/token",
		CredentialFields:  []string{"client_id", "client_secret", "audience"},
		ClientCredentials: &vendors.ClientCredentials{Auth: vendors.AuthForm, CredentialParams: []string{"audience"}},
	},
	{
		Name: "zz-json", Title: "Row vendor, JSON body", Lifetime: time.Hour, RefreshBelow: 0.5, Every: 15 * time.Minute,
		URLEnv: "TOKEN_URL", DefaultURL: "https://auth.json.example/v1/token",
		CredentialFields:  []string{"client_id", "client_secret", "account"},
		ClientCredentials: &vendors.ClientCredentials{Auth: vendors.AuthJSON, CamelCase: true, NoGrantType: true, Publish: []string{"account"}},
	},
}

// rows are every row vendor of the table and the test rows.
func rows() []vendors.Spec {
	var out []vendors.Spec
	for _, s := range vendors.All() {
		if s.ClientCredentials != nil {
			out = append(out, s)
		}
	}
	return append(out, testRows...)
}

// Every row gets its generic test server here: the vendors' own test
// packages (which speak more of a vendor's documentation) are not
// imported by this package's tests.
func init() {
	for _, s := range rows() {
		vendortest.Register(s.Name, clientcredstest.Server(s), clientcredstest.Sandbox(s))
	}
}

func client(spec vendors.Spec) func(vendorhttp.Client) refresh.Vendor {
	return func(h vendorhttp.Client) refresh.Vendor { return &clientcreds.Client{Spec: spec, HTTP: h} }
}

// TestRowsConformance runs the shared conformance suite for every vendor
// declared by a row (of the table, and this package's test rows) against
// the test server its row describes.
func TestRowsConformance(t *testing.T) {
	for _, spec := range rows() {
		t.Run(spec.Name, func(t *testing.T) {
			if err := clientcreds.Check(spec); err != nil {
				t.Fatal(err)
			}
			refreshtest.Conformance(t, clientcredstest.Server(spec), client(spec), false)
		})
	}
}

func TestFetch(t *testing.T) {
	for _, spec := range rows() {
		t.Run(spec.Name, func(t *testing.T) {
			srv := clientcredstest.NewServer(spec, vendortest.Options{})
			defer srv.Close()
			req := refreshtest.Request(srv)
			g, err := client(spec)(refreshtest.FastHTTP(nil)).Fetch(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			if g.ExpiresIn != spec.Lifetime || g.Date.IsZero() || g.TokenType != "Bearer" || !srv.Valid(g.AccessToken) {
				t.Errorf("grant = %+v", g)
			}
			for _, f := range spec.ClientCredentials.Publish {
				if g.Extras[f] != req.Credentials.Get(f) {
					t.Errorf("extras = %v, want %s published", g.Extras, f)
				}
			}
		})
	}
}

func TestDocumentedErrors(t *testing.T) {
	spec := testRows[0]
	spec.ClientCredentials = &vendors.ClientCredentials{Auth: vendors.AuthBasic, Params: map[string]string{"scope": "reports"},
		Errors: map[string]string{"invalid_client": "client authentication failed: check client_id and client_secret"}}
	tests := []struct {
		name      string
		creds     map[string]string
		fault     *vendortest.Fault
		status    int
		code      string
		retryable bool
		want      string
	}{
		{name: "wrong secret", creds: map[string]string{"client_secret": "wrong-secret-value"}, status: 401, code: "invalid_client", want: "check client_id and client_secret"},
		{name: "unsupported grant", fault: &vendortest.Fault{Status: 400, Body: `{"error":"unsupported_grant_type","error_description":"no"}`}, status: 400, code: "unsupported_grant_type", want: "no"},
		{name: "server error persists", fault: &vendortest.Fault{Status: 500, Count: 10}, status: 500, code: "internal_server_error", retryable: true, want: "HTTP 500"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := clientcredstest.NewServer(spec, vendortest.Options{})
			defer srv.Close()
			if tt.fault != nil {
				srv.Inject(*tt.fault)
			}
			req := refreshtest.Request(srv)
			for k, v := range tt.creds {
				req.Credentials[k] = v
			}
			_, err := client(spec)(refreshtest.FastHTTP(nil)).Fetch(context.Background(), req)
			refreshtest.WantVendorError(t, err, tt.status, tt.code, tt.retryable)
			if !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), spec.Name+": request token: ") {
				t.Errorf("err = %v, want it prefixed and to say %q", err, tt.want)
			}
			refreshtest.NoSecrets(t, srv, err.Error())
			if !tt.retryable && srv.TokenRequests() != 1 {
				t.Errorf("requests = %d: a 4xx must not be retried", srv.TokenRequests())
			}
		})
	}
}

// The request is what the row says, where it says: checked by the test
// server for every row, and here for the wire form of each kind.
func TestRequestShape(t *testing.T) {
	for _, tc := range []struct {
		spec              vendors.Spec
		contentType, body string
		basic             bool
	}{
		{testRows[0], "application/x-www-form-urlencoded", "grant_type=client_credentials&scope=reports", true},
		{testRows[1], "application/x-www-form-urlencoded", "audience=a&client_id=id&client_secret=s%26cret&grant_type=client_credentials", false},
		{testRows[2], "application/json", `{"client_id":"id","client_secret":"s\u0026cret"}`, false},
	} {
		t.Run(tc.spec.Name, func(t *testing.T) {
			var got *http.Request
			var body string
			h := vendorhttp.Client{HTTP: &http.Client{Transport: roundTrip(func(r *http.Request) (*http.Response, error) {
				got = r
				b := new(strings.Builder)
				if r.Body != nil {
					_, _ = io.Copy(b, r.Body)
				}
				body = b.String()
				return &http.Response{StatusCode: 500, Body: http.NoBody, Header: http.Header{}}, nil
			})}, MaxAttempts: 1}
			req := &refresh.Request{Endpoint: "https://auth.example/token", Credentials: refresh.Credentials{"client_id": "id", "client_secret": "s&cret", "audience": "a", "account": "acct"}}
			_, _ = (&clientcreds.Client{Spec: tc.spec, HTTP: h}).Fetch(context.Background(), req)
			if got == nil {
				t.Fatal("no request sent")
			}
			if got.Method != http.MethodPost || got.Header.Get("Content-Type") != tc.contentType || body != tc.body {
				t.Errorf("request %s %q %q, want POST %q %q", got.Method, got.Header.Get("Content-Type"), body, tc.contentType, tc.body)
			}
			id, secret, ok := got.BasicAuth()
			if ok != tc.basic || (ok && (id != "id" || secret != "s%26cret")) {
				t.Errorf("basic auth %v %q, want %v", ok, id, tc.basic)
			}
		})
	}
}

type roundTrip func(*http.Request) (*http.Response, error)

func (f roundTrip) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestCheck(t *testing.T) {
	bad := testRows[1]
	bad.ClientCredentials = &vendors.ClientCredentials{Auth: vendors.AuthForm, Publish: []string{"integrator_id"}}
	if err := clientcreds.Check(bad); err == nil || !strings.Contains(err.Error(), `"integrator_id"`) {
		t.Errorf("Check = %v, want it to name the unlisted field", err)
	}
	noRow := testRows[1]
	noRow.ClientCredentials = nil
	if _, err := clientcreds.New(noRow); err == nil {
		t.Error("New accepted a vendor without ClientCredentials")
	}
}
