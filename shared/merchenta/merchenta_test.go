package merchenta

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/token-refresher/token-refresher/shared/merchenta/merchentatest"
	"github.com/token-refresher/token-refresher/shared/refresh"
	"github.com/token-refresher/token-refresher/shared/refresh/refreshtest"
	"github.com/token-refresher/token-refresher/shared/vendorhttp"
	"github.com/token-refresher/token-refresher/shared/vendortest"
)

func newClient(h vendorhttp.Client) refresh.Vendor { return &Client{HTTP: h} }

func TestConformance(t *testing.T) {
	refreshtest.Conformance(t, merchentatest.NewServer, newClient, false)
}

func TestFetchReadsISOExpiry(t *testing.T) {
	srv := merchentatest.NewServer(vendortest.Options{Lifetime: 40 * time.Minute})
	defer srv.Close()
	g, err := newClient(refreshtest.FastHTTP(nil)).Fetch(context.Background(), refreshtest.Request(srv))
	if err != nil {
		t.Fatal(err)
	}
	if g.ExpiresIn != 0 {
		t.Errorf("ExpiresIn = %v: Merchenta states none", g.ExpiresIn)
	}
	if d := g.NotAfter.Sub(g.Date); d < 39*time.Minute || d > 41*time.Minute {
		t.Errorf("exp from the token is %v after Date, want ~40m", d)
	}
	if g.Extras["advertiser"] != merchentatest.Advertiser {
		t.Errorf("extras = %v", g.Extras)
	}
}

func TestDocumentedErrors(t *testing.T) {
	tests := []struct {
		name   string
		creds  map[string]string
		fault  *vendortest.Fault
		status int
		code   string
		want   string
	}{
		{name: "wrong password", creds: map[string]string{"password": "not-the-password-123"}, status: 401, code: CodeNotAuthenticated, want: "check username and password"},
		{name: "other advertiser", creds: map[string]string{"advertiser": "OTHER"}, status: 403, code: CodeNotAuthorized, want: "advertiser"},
		{name: "error status inside a 200", fault: &vendortest.Fault{Status: 200, Body: `{"status":"error","message":"Authorization failed","code":"AUTH003"}`}, status: 200, code: CodeNotAuthorized, want: "AUTH003"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := merchentatest.NewServer(vendortest.Options{})
			defer srv.Close()
			if tt.fault != nil {
				srv.Inject(*tt.fault)
			}
			req := refreshtest.Request(srv)
			for k, v := range tt.creds {
				req.Credentials[k] = v
			}
			_, err := newClient(refreshtest.FastHTTP(nil)).Fetch(context.Background(), req)
			refreshtest.WantVendorError(t, err, tt.status, tt.code, false)
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
			refreshtest.NoSecrets(t, srv, err.Error())
			for _, v := range tt.creds {
				if strings.Contains(err.Error(), v) && tt.name == "wrong password" {
					t.Errorf("err leaks the password: %v", err)
				}
			}
			if srv.TokenRequests() != 1 {
				t.Errorf("requests = %d, want 1 (no retry)", srv.TokenRequests())
			}
		})
	}
}

// The password travels in the query string; a request that fails before
// any reply must not print it.
func TestPasswordNeverInTransportErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	const password = "p@ss word/with?chars&more"
	req := &refresh.Request{
		Credentials: refresh.Credentials{"username": "u@example.com", "password": password, "advertiser": "MERCHENTA"},
		Endpoint:    "http://" + addr + "/v3/oauth/accessToken",
	}
	_, err = newClient(refreshtest.FastHTTP(nil)).Fetch(context.Background(), req)
	if err == nil {
		t.Fatal("want error")
	}
	text := err.Error() + fmt.Sprintf("%#v", err)
	for _, form := range []string{password, "p%40ss", "p@ss", "word%2Fwith"} {
		if strings.Contains(text, form) {
			t.Errorf("error contains %q: %s", form, err)
		}
	}
}

func FuzzParseReply(f *testing.F) {
	f.Add([]byte(`{"status":"success","data":{"accessToken":"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJleHAiOiIyMDE0LTEwLTA3VDEwOjIwOjEyLjQ4OSJ9.7fb8"}}`))
	f.Add([]byte(`{"status":"error","message":"Authorization failed","code":"AUTH003"}`))
	f.Add([]byte(`{"status":"success","data":null}`))
	f.Add([]byte(`{"status":"success","data":{"accessToken":5}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		tok, err := ParseReply(body, "application/json")
		if err == nil && tok == "" {
			t.Fatal("accepted a reply without a token")
		}
	})
}
