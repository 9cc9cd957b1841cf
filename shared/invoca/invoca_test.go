package invoca

import (
	"context"
	"strings"
	"testing"

	"github.com/token-refresher/token-refresher/shared/refresh"
	"github.com/token-refresher/token-refresher/shared/refresh/refreshtest"
	"github.com/token-refresher/token-refresher/shared/vendorhttp"
	"github.com/token-refresher/token-refresher/shared/vendortest"
)

func newClient(h vendorhttp.Client) refresh.Vendor { return &Client{HTTP: h} }

func TestConformance(t *testing.T) {
	refreshtest.Conformance(t, vendortest.NewInvoca, newClient, true)
}

func TestFetchPublishesTokenWithoutBearer(t *testing.T) {
	srv := vendortest.NewInvoca(vendortest.Options{})
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
			srv := vendortest.NewInvoca(vendortest.Options{})
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
