package invoca

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/token-refresher/token-refresher/shared/invoca/invocatest"
	"github.com/token-refresher/token-refresher/shared/refresh"
	"github.com/token-refresher/token-refresher/shared/refresh/refreshtest"
	"github.com/token-refresher/token-refresher/shared/vendorhttp"
	"github.com/token-refresher/token-refresher/shared/vendortest"
)

func newClient(h vendorhttp.Client) refresh.Vendor { return &Client{HTTP: h} }

func TestConformance(t *testing.T) {
	refreshtest.Conformance(t, invocatest.NewServer, newClient, true)
}

func TestFetchPublishesTokenWithoutBearer(t *testing.T) {
	srv := invocatest.NewServer(vendortest.Options{})
	defer srv.Close()
	req := refreshtest.Request(srv)
	g, err := newClient(refreshtest.FastHTTP(nil)).Fetch(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	tok := req.Credentials.Get("api_token")
	if g.AccessToken != tok || g.Authorization != tok || !g.Validated || g.ExpiresIn != 0 || !g.NotAfter.IsZero() {
		t.Errorf("grant = %+v", g)
	}
}

func TestRevokedOrForbidden(t *testing.T) {
	tests := []struct {
		name   string
		break_ func(s *vendortest.Server, tok string)
		status int
	}{
		{name: "revoked", break_: func(s *vendortest.Server, tok string) { s.Revoke(tok) }, status: 401},
		{name: "lacks rights", break_: func(s *vendortest.Server, tok string) { s.Forbid(tok) }, status: 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := invocatest.NewServer(vendortest.Options{})
			defer srv.Close()
			req := refreshtest.Request(srv)
			tt.break_(srv, req.Credentials.Get("api_token"))
			_, err := newClient(refreshtest.FastHTTP(nil)).Fetch(context.Background(), req)
			refreshtest.WantVendorError(t, err, tt.status, "token_rejected", false)
			if !strings.Contains(err.Error(), "token revoked or lacks rights") {
				t.Errorf("err = %v", err)
			}
			if strings.Contains(err.Error(), req.Credentials.Get("api_token")) {
				t.Errorf("err leaks the token: %v", err)
			}
		})
	}
}

func TestEndpointChoice(t *testing.T) {
	tests := []struct {
		name     string
		endpoint string
		creds    refresh.Credentials
		want     string
	}{
		{name: "env wins", endpoint: "https://a.invoca.net/x", creds: refresh.Credentials{"validate_url": "https://b.invoca.net/y"}, want: "https://a.invoca.net/x"},
		{name: "credentials url", creds: refresh.Credentials{"validate_url": "https://b.invoca.net/y"}, want: "https://b.invoca.net/y"},
		{name: "vanity and network", creds: refresh.Credentials{"vanity": "acme", "network_id": "42"}, want: "https://acme.invoca.net/api/2020-10-01/networks/transactions/42.csv?limit=1&include_columns=transaction_id"},
		{name: "nothing", creds: refresh.Credentials{}, want: "error: no validation URL"},
		{name: "plain http refused", creds: refresh.Credentials{"validate_url": "http://b.invoca.net/y"}, want: "error: endpoint http://b.invoca.net/y is not HTTPS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := endpoint(&refresh.Request{Endpoint: tt.endpoint, Credentials: tt.creds})
			if err != nil {
				got = "error: " + err.Error()
			}
			if !strings.HasPrefix(got, tt.want) {
				t.Errorf("endpoint = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestValidationNeedsInvocasAnswer: only a reply that looks like the
// Transactions API's answer validates the token; a 2xx error page, an
// empty or foreign body is refused, saying what was wrong, and never
// quoting the body.
func TestValidationNeedsInvocasAnswer(t *testing.T) {
	tests := []struct {
		name        string
		status      int
		contentType string
		body        string
		path        string // of the validation URL; default a .csv report
		want        string // "" = validated
	}{
		{name: "csv report", status: 200, contentType: "text/csv", body: "transaction_id\nabc123\n"},
		{name: "csv with charset, no rows", status: 200, contentType: "text/csv; charset=utf-8", body: "transaction_id\r\n"},
		{name: "csv with more columns", status: 200, contentType: "text/csv", body: "call_start_time,transaction_id,duration\n2026-01-01,abc,12\n"},
		{name: "json report", status: 200, contentType: "application/json", body: `[{"transaction_id":"abc"}]`, path: "/api/2020-10-01/networks/transactions/1.json?limit=1"},
		{name: "empty json report", status: 200, contentType: "application/json; charset=utf-8", body: `[]`, path: "/api/2020-10-01/networks/transactions/1.json?limit=1"},

		{name: "html error page", status: 200, contentType: "text/html; charset=utf-8", body: "<html><body>Service Unavailable</body></html>", want: "reply is text/html, want text/csv"},
		{name: "html page sent as csv", status: 200, contentType: "text/csv", body: "<!doctype html><html><body>Sign in</body></html>", want: "not a CSV report"},
		{name: "no content type", status: 200, body: "transaction_id\nabc\n", want: "reply has no content type, want text/csv"},
		{name: "plain text", status: 200, contentType: "text/plain", body: "OK", want: "reply is text/plain, want text/csv"},
		{name: "empty body", status: 200, contentType: "text/csv", body: "", want: "reply body is empty"},
		{name: "no content", status: 204, want: "reply is HTTP 204, want 200"},
		{name: "accepted", status: 202, contentType: "text/csv", body: "transaction_id\n", want: "reply is HTTP 202, want 200"},
		{name: "csv without the asked column", status: 200, contentType: "text/csv", body: "id,name\n1,x\n", want: `CSV header lacks the column "transaction_id"`},
		{name: "csv with a broken header", status: 200, contentType: "text/csv", body: "transaction_id,\"unterminated\n", want: "not a CSV report"},
		{name: "json for a csv url", status: 200, contentType: "application/json", body: `[{"transaction_id":"abc"}]`, want: "reply is application/json, want text/csv"},
		{name: "json error object", status: 200, contentType: "application/json", body: `{"errors":{"class":"NotAuthorized","invalid_data":"x"}}`, path: "/x/1.json", want: `reply is an Invoca error (class "NotAuthorized")`},
		{name: "json not an array", status: 200, contentType: "application/json", body: `"ok"`, path: "/x/1.json", want: "reply is not a JSON array or object"},
		{name: "truncated json", status: 200, contentType: "application/json", body: `[{"transaction_id":`, path: "/x/1.json", want: "not valid JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tt.contentType != "" {
					w.Header().Set("Content-Type", tt.contentType)
				} else {
					w.Header()["Content-Type"] = nil // no sniffing
				}
				w.WriteHeader(tt.status)
				io.WriteString(w, tt.body)
			}))
			defer srv.Close()
			path := tt.path
			if path == "" {
				path = "/api/2020-10-01/networks/transactions/1.csv?limit=1&include_columns=transaction_id"
			}
			const tok = "YbcFHZ38FNfptfZMB0RZ6dk9dOJCaCfU"
			req := &refresh.Request{Endpoint: srv.URL + path, Credentials: refresh.Credentials{"api_token": tok}}
			g, err := newClient(refreshtest.FastHTTP(nil)).Fetch(context.Background(), req)
			if tt.want == "" {
				if err != nil || !g.Validated || g.AccessToken != tok {
					t.Fatalf("Fetch = %+v, %v; want the token validated", g, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("validated by a reply that is not Invoca's answer; want an error saying %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "invoca: ") {
				t.Errorf("err = %v, want it to say %q", err, tt.want)
			}
			if tt.body != "" && len(tt.body) > 12 && strings.Contains(err.Error(), tt.body[:12]) {
				t.Errorf("err quotes the body: %v", err)
			}
		})
	}
}

// TestValidationHTMLFault: the fake Invoca answering a 200 error page
// (a proxy or maintenance page) is not a validation.
func TestValidationHTMLFault(t *testing.T) {
	srv := invocatest.NewServer(vendortest.Options{})
	defer srv.Close()
	srv.Inject(vendortest.Fault{Status: 200, Body: "<html><body>Maintenance</body></html>"})
	_, err := newClient(refreshtest.FastHTTP(nil)).Fetch(context.Background(), refreshtest.Request(srv))
	if err == nil || !strings.Contains(err.Error(), "text/html") {
		t.Fatalf("err = %v, want a refusal naming the HTML page", err)
	}
}
