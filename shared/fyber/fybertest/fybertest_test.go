package fybertest_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/token-refresher/token-refresher/shared/clientcreds"
	"github.com/token-refresher/token-refresher/shared/fyber/fybertest"
	"github.com/token-refresher/token-refresher/shared/refresh"
	"github.com/token-refresher/token-refresher/shared/refresh/refreshtest"
	"github.com/token-refresher/token-refresher/shared/vendorhttp"
	"github.com/token-refresher/token-refresher/shared/vendors"
	"github.com/token-refresher/token-refresher/shared/vendortest"
)

func newClient(h vendorhttp.Client) refresh.Vendor {
	return &clientcreds.Client{Spec: vendors.MustLookup(vendors.Fyber), HTTP: h}
}

func TestConformance(t *testing.T) {
	refreshtest.Conformance(t, fybertest.NewServer, newClient, false)
}

func TestFetch(t *testing.T) {
	srv := fybertest.NewServer(vendortest.Options{})
	defer srv.Close()
	g, err := newClient(refreshtest.FastHTTP(nil)).Fetch(context.Background(), refreshtest.Request(srv))
	if err != nil {
		t.Fatal(err)
	}
	if g.ExpiresIn != time.Hour || g.NotAfter.IsZero() || g.Date.IsZero() || !strings.EqualFold(g.TokenType, "bearer") {
		t.Errorf("grant = %+v", g)
	}
	if d := g.NotAfter.Sub(g.Date); d < 59*time.Minute || d > 61*time.Minute {
		t.Errorf("JWT exp is %v after Date, want ~1h", d)
	}
}

func TestDocumentedErrors(t *testing.T) {
	tests := []struct {
		name      string
		creds     map[string]string
		fault     *vendortest.Fault
		status    int
		code      string
		retryable bool
		explain   string
	}{
		{name: "wrong secret", creds: map[string]string{"client_secret": "wrong-secret-value"}, status: 400, code: "invalid_client", explain: "check client_id and client_secret"},
		{name: "unknown client", creds: map[string]string{"client_id": "nobody"}, status: 400, code: "invalid_client", explain: "revoked"},
		{name: "unsupported grant", fault: &vendortest.Fault{Status: 400, Body: `{"error":"unsupported_grant_type"}`}, status: 400, code: "unsupported_grant_type", explain: "client_credentials"},
		{name: "invalid request", fault: &vendortest.Fault{Status: 400, Body: `{"error":"invalid_request"}`}, status: 400, code: "invalid_request", explain: "malformed"},
		{name: "internal server error", fault: &vendortest.Fault{Status: 500, Count: 10}, status: 500, code: "internal_server_error", retryable: true, explain: "Digital Turbine"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := fybertest.NewServer(vendortest.Options{})
			defer srv.Close()
			if tt.fault != nil {
				srv.Inject(*tt.fault)
			}
			req := refreshtest.Request(srv)
			for k, v := range tt.creds {
				req.Credentials[k] = v
			}
			_, err := newClient(refreshtest.FastHTTP(nil)).Fetch(context.Background(), req)
			refreshtest.WantVendorError(t, err, tt.status, tt.code, tt.retryable)
			if !strings.Contains(err.Error(), tt.explain) {
				t.Errorf("err = %v, want it to explain %q", err, tt.explain)
			}
			refreshtest.NoSecrets(t, srv, err.Error())
			if !tt.retryable && srv.TokenRequests() != 1 {
				t.Errorf("requests = %d: a 4xx must not be retried", srv.TokenRequests())
			}
		})
	}
}
