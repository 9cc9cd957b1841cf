package hasofferstest_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/token-refresher/token-refresher/shared/clientcreds"
	"github.com/token-refresher/token-refresher/shared/hasoffers/hasofferstest"
	"github.com/token-refresher/token-refresher/shared/refresh"
	"github.com/token-refresher/token-refresher/shared/refresh/refreshtest"
	"github.com/token-refresher/token-refresher/shared/vendorhttp"
	"github.com/token-refresher/token-refresher/shared/vendors"
	"github.com/token-refresher/token-refresher/shared/vendortest"
)

func newClient(h vendorhttp.Client) refresh.Vendor {
	return &clientcreds.Client{Spec: vendors.MustLookup(vendors.HasOffers), HTTP: h}
}

func TestConformance(t *testing.T) {
	refreshtest.Conformance(t, hasofferstest.NewServer, newClient, false)
}

func TestFetch(t *testing.T) {
	srv := hasofferstest.NewServer(vendortest.Options{})
	defer srv.Close()
	g, err := newClient(refreshtest.FastHTTP(nil)).Fetch(context.Background(), refreshtest.Request(srv))
	if err != nil {
		t.Fatal(err)
	}
	if g.ExpiresIn != 24*time.Hour || g.NotAfter.IsZero() || g.TokenType != "Bearer" {
		t.Errorf("grant = %+v", g)
	}
	if g.Extras["integrator_id"] != hasofferstest.IntegratorID {
		t.Errorf("extras = %v, want the integrator_id apps must send", g.Extras)
	}
}

func TestDocumentedErrors(t *testing.T) {
	tests := []struct {
		name      string
		creds     map[string]string
		fault     *vendortest.Fault
		status    int
		retryable bool
		want      string
	}{
		{name: "wrong secret", creds: map[string]string{"client_secret": "wrong-secret-value"}, status: 401, want: "HTTP 401"},
		{name: "wrong audience", creds: map[string]string{"audience": "NetworkAPI"}, status: 401, want: "HTTP 401"},
		{name: "rate limited without Retry-After", fault: &vendortest.Fault{Status: 429, Count: 10}, status: 429, retryable: true, want: "rate limit"},
		{name: "502 persists", fault: &vendortest.Fault{Status: 502, Count: 10}, status: 502, retryable: true, want: "Internal Server Error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := hasofferstest.NewServer(vendortest.Options{})
			defer srv.Close()
			if tt.fault != nil {
				srv.Inject(*tt.fault)
			}
			req := refreshtest.Request(srv)
			for k, v := range tt.creds {
				req.Credentials[k] = v
			}
			_, err := newClient(refreshtest.FastHTTP(nil)).Fetch(context.Background(), req)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
			refreshtest.WantVendorError(t, err, tt.status, "*", tt.retryable)
			refreshtest.NoSecrets(t, srv, err.Error())
		})
	}
}
