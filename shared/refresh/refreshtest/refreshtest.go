// Package refreshtest is the conformance suite every vendor client passes:
// the failure modes common to all token endpoints (garbage bodies, missing
// fields, oversized replies, 429 with Retry-After, 5xx then success,
// timeouts, dropped connections), run against the vendor's fake from
// package vendortest. Vendor packages add their documented errors on top.
//
// Contract: the suite talks only to loopback test servers, runs each case
// in its own t.Run, and fails a case whose error contains a sandbox
// credential or a token the server issued (NoSecrets).
package refreshtest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/token-refresher/token-refresher/shared/refresh"
	"github.com/token-refresher/token-refresher/shared/vendorhttp"
	"github.com/token-refresher/token-refresher/shared/vendortest"
)

// FastHTTP is a vendorhttp client for tests: short attempt timeout and
// backoff waits recorded instead of slept.
func FastHTTP(slept *[]time.Duration) vendorhttp.Client {
	return vendorhttp.Client{
		AttemptTimeout: 300 * time.Millisecond,
		MaxBody:        16 << 10,
		Sleep: func(_ context.Context, d time.Duration) error {
			if slept != nil {
				*slept = append(*slept, d)
			}
			return nil
		},
	}
}

// Request builds the refresh request a vendor gets for srv's sandbox
// credentials.
func Request(srv *vendortest.Server) *refresh.Request {
	return &refresh.Request{
		Credentials: refresh.Credentials(vendortest.Credentials(srv.Vendor())),
		Endpoint:    srv.TokenURL(),
	}
}

// NoSecrets fails t if text contains any sandbox credential value or any
// token srv issued.
func NoSecrets(t testing.TB, srv *vendortest.Server, text string) {
	t.Helper()
	for k, v := range vendortest.Credentials(srv.Vendor()) {
		if len(v) >= 8 && strings.Contains(text, v) && !public[k] {
			t.Errorf("output contains the %s credential: %s", k, text)
		}
	}
	for _, tok := range srv.Issued() {
		if strings.Contains(text, tok) {
			t.Errorf("output contains an issued token: %s", text)
		}
	}
}

// public are credentials fields that identify rather than authenticate and
// may appear in messages.
var public = map[string]bool{"client_id": true, "username": true, "advertiser": true, "audience": true, "integrator_id": true, "scope": true, "expected_username": true}

// Conformance runs the common scenarios against a fresh fake made by
// newServer, with a client made by newVendor. With statusOnly, scenarios
// about the reply body are left out: for a vendor whose call only checks a
// token (Invoca), any 2xx body means success.
func Conformance(t *testing.T, newServer func(vendortest.Options) *vendortest.Server, newVendor func(vendorhttp.Client) refresh.Vendor, statusOnly bool) {
	type scenario struct {
		body      bool
		name      string
		faults    []vendortest.Fault
		wantErr   string // substring; "" = success
		wantCalls int
		wantSleep time.Duration // a wait of at least this was requested
	}
	big := `{"padding":"` + strings.Repeat("x", 20<<10) + `"}`
	scenarios := []scenario{
		{name: "success", wantCalls: 1},
		{name: "HTML body", body: true, faults: []vendortest.Fault{{Status: 200, Body: "<html><body>Service Unavailable</body></html>"}}, wantErr: "not a JSON object", wantCalls: 1},
		{name: "empty body", body: true, faults: []vendortest.Fault{{Status: 200, Body: " "}}, wantErr: "empty", wantCalls: 1},
		{name: "JSON without token", body: true, faults: []vendortest.Fault{{Status: 200, Body: `{}`}}, wantErr: "reply", wantCalls: 1},
		{name: "truncated JSON", body: true, faults: []vendortest.Fault{{Status: 200, Body: `{"a":`}}, wantErr: "not valid JSON", wantCalls: 1},
		{name: "oversized body", faults: []vendortest.Fault{{Status: 200, Body: big}}, wantErr: "larger than", wantCalls: 1},
		{name: "429 with Retry-After then success", faults: []vendortest.Fault{{Status: 429, RetryAfter: "2"}}, wantCalls: 2, wantSleep: 2 * time.Second},
		{name: "5xx then success", faults: []vendortest.Fault{{Status: 502, Count: 2}}, wantCalls: 3},
		{name: "5xx until attempts run out", faults: []vendortest.Fault{{Status: 503, Count: 10}}, wantErr: "HTTP 503", wantCalls: vendorhttp.DefaultMaxAttempts},
		{name: "timeout then success", faults: []vendortest.Fault{{Delay: 2 * time.Second}}, wantCalls: 2},
		{name: "dropped connection then success", faults: []vendortest.Fault{{Drop: true}}, wantCalls: 2},
	}
	for _, sc := range scenarios {
		if statusOnly && sc.body {
			continue
		}
		t.Run(sc.name, func(t *testing.T) {
			srv := newServer(vendortest.Options{})
			t.Cleanup(srv.Close)
			for _, f := range sc.faults {
				srv.Inject(f)
			}
			var slept []time.Duration
			v := newVendor(FastHTTP(&slept))
			g, err := v.Fetch(context.Background(), Request(srv))
			if got := srv.TokenRequests(); got < sc.wantCalls || got > sc.wantCalls+1 {
				// Go's transport may resend an idempotent GET once on a
				// dropped connection, counted as a request by the fake.
				t.Errorf("token requests = %d, want %d", got, sc.wantCalls)
			}
			if sc.wantSleep > 0 && (len(slept) == 0 || slept[0] < sc.wantSleep) {
				t.Errorf("waits = %v, want one of at least %v", slept, sc.wantSleep)
			}
			if sc.wantErr == "" {
				if err != nil {
					t.Fatalf("Fetch: %v", err)
				}
				if g.AccessToken == "" || !srv.Valid(g.AccessToken) {
					t.Errorf("grant token is not one the vendor accepts")
				}
				return
			}
			if err == nil {
				t.Fatalf("Fetch succeeded, want error %q", sc.wantErr)
			}
			if !strings.Contains(err.Error(), sc.wantErr) {
				t.Errorf("err = %v, want %q", err, sc.wantErr)
			}
			if !strings.HasPrefix(err.Error(), srv.Vendor()+": ") {
				t.Errorf("err = %v, want it prefixed with the vendor", err)
			}
			NoSecrets(t, srv, err.Error()+fmt.Sprintf("%+v", err))
		})
	}
}

// WantVendorError checks that err is a *vendorhttp.Error with the given
// status, code ("*" for any) and retryability.
func WantVendorError(t testing.TB, err error, status int, code string, retryable bool) {
	t.Helper()
	var ve *vendorhttp.Error
	if !errors.As(err, &ve) {
		t.Fatalf("err = %v (%T), want *vendorhttp.Error", err, err)
	}
	if ve.Status != status || (code != "*" && ve.Code != code) || ve.Retryable != retryable {
		t.Errorf("vendor error = status %d code %q retryable %v, want %d %q %v", ve.Status, ve.Code, ve.Retryable, status, code, retryable)
	}
}
