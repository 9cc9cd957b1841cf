package admitad_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/token-refresher/token-refresher/shared/admitad"
	"github.com/token-refresher/token-refresher/shared/admitad/admitadtest"
	"github.com/token-refresher/token-refresher/shared/refresh"
	"github.com/token-refresher/token-refresher/shared/vendorhttp"
	"github.com/token-refresher/token-refresher/shared/vendors"
	"github.com/token-refresher/token-refresher/shared/vendortest"
)

var fastHTTP = vendorhttp.Client{BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond}

func TestParseReply(t *testing.T) {
	for _, tc := range []struct {
		name, body, wantErr string
	}{
		{"documented", `{"username":"advertiser1","first_name":"name","language":"en","access_token":"4b8b33955a","token_type":"bearer","expires_in":604800,"refresh_token":"ea957cce42","scope":"advertiser_statistics"}`, ""},
		{"no access token", `{"refresh_token":"ea957cce42","expires_in":1}`, "no access_token"},
		{"no refresh token", `{"access_token":"4b8b33955a","expires_in":1}`, "no refresh_token"},
		{"negative expiry", `{"access_token":"4b8b33955a","refresh_token":"ea957cce42","expires_in":-1}`, "negative"},
		{"html", `<html>oops 4b8b33955a</html>`, "not a JSON object"},
		{"wrong type", `{"access_token":12}`, `"access_token"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := admitad.ParseReply([]byte(tc.body), "application/json")
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if r.Username != "advertiser1" || r.RefreshToken != "ea957cce42" || r.ExpiresIn != 604800 {
					t.Fatalf("reply %+v", r)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
			}
			if strings.Contains(err.Error(), "4b8b33955a") || strings.Contains(err.Error(), "ea957cce42") {
				t.Fatalf("error quotes a token: %v", err)
			}
		})
	}
}

func TestExchange(t *testing.T) {
	srv := admitadtest.NewServer(vendortest.Options{})
	defer srv.Close()
	creds := refresh.Credentials(vendortest.Credentials(vendors.Admitad))
	const redirect = "https://connect.example/admitad/callback"
	c := &admitad.Client{HTTP: fastHTTP}

	code := authorizeCode(t, srv, creds["client_id"], creds["scope"], redirect)
	res, err := c.Exchange(context.Background(), srv.TokenURL(), creds, code, redirect)
	if err != nil {
		t.Fatal(err)
	}
	if !srv.Valid(res.AccessToken) || !srv.RefreshTokenValid(res.RefreshToken) {
		t.Fatal("the exchanged tokens are not valid at Admitad")
	}
	g := res.Grant()
	if g.ExpiresIn != 7*24*time.Hour || g.Extras["username"] != admitadtest.Username || g.Extras["scope"] != creds["scope"] {
		t.Fatalf("grant %+v", g)
	}

	t.Run("code used twice", func(t *testing.T) {
		before := srv.TokenRequests()
		_, err := c.Exchange(context.Background(), srv.TokenURL(), creds, code, redirect)
		var ve *vendorhttp.Error
		if !errors.As(err, &ve) || ve.Code != "invalid_grant" {
			t.Fatalf("error %v, want invalid_grant", err)
		}
		if n := srv.TokenRequests() - before; n != 1 {
			t.Fatalf("%d requests for a refused code, want 1 (no retry)", n)
		}
		assertClean(t, "error", err.Error(), []string{code, creds["client_secret"]})
	})
	t.Run("other redirect_uri", func(t *testing.T) {
		code := authorizeCode(t, srv, creds["client_id"], creds["scope"], redirect)
		_, err := c.Exchange(context.Background(), srv.TokenURL(), creds, code, redirect+"x")
		if err == nil || !strings.Contains(err.Error(), "invalid_grant") {
			t.Fatalf("error %v, want invalid_grant", err)
		}
	})
}

// TestExchangeRequest checks the request against the documentation: form
// body with all five fields, HTTP Basic client_id:client_secret.
func TestExchangeRequest(t *testing.T) {
	var got *http.Request
	var form map[string][]string
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r
		r.ParseForm()
		form = r.PostForm
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"username":"u","access_token":"4b8b33955a","token_type":"bearer","expires_in":604800,"refresh_token":"ea957cce42","scope":"s"}`))
	}))
	defer ts.Close()
	creds := refresh.Credentials{"client_id": "cb281d918a37e346b45e9aea1c6eb7", "client_secret": "a0f8a8b24de8b8182a0ddd2e89f5b1"}
	if _, err := (&admitad.Client{}).Exchange(context.Background(), ts.URL+"/token/", creds, "c75ebf64ad48a352630b6d953ce365", "https://admitad.com/"); err != nil {
		t.Fatal(err)
	}
	if got.Method != http.MethodPost || !strings.HasPrefix(got.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		t.Fatalf("%s %s", got.Method, got.Header.Get("Content-Type"))
	}
	// The documentation's own example header.
	if h := got.Header.Get("Authorization"); h != "Basic Y2IyODFkOTE4YTM3ZTM0NmI0NWU5YWVhMWM2ZWI3OmEwZjhhOGIyNGRlOGI4MTgyYTBkZGQyZTg5ZjViMQ==" {
		t.Fatalf("Authorization %q", h)
	}
	want := map[string]string{"grant_type": "authorization_code", "code": "c75ebf64ad48a352630b6d953ce365", "redirect_uri": "https://admitad.com/", "client_id": creds["client_id"], "client_secret": creds["client_secret"]}
	for k, v := range want {
		if len(form[k]) != 1 || form[k][0] != v {
			t.Errorf("form %s = %q, want %q", k, form[k], v)
		}
	}
	if len(form) != len(want) {
		t.Errorf("form has %d fields, want %d", len(form), len(want))
	}
}

func TestRefresh(t *testing.T) {
	creds := refresh.Credentials(vendortest.Credentials(vendors.Admitad))
	for _, tc := range []struct {
		name      string
		setup     func(srv *admitadtest.Server) (refreshToken string, c refresh.Credentials)
		reconnect bool
		requests  int
		wantErr   string
	}{
		{
			name:     "rotates",
			setup:    func(srv *admitadtest.Server) (string, refresh.Credentials) { return srv.IssueRefreshToken(), creds },
			requests: 1,
		},
		{
			name: "retries a 503",
			setup: func(srv *admitadtest.Server) (string, refresh.Credentials) {
				srv.Inject(vendortest.Fault{Status: http.StatusServiceUnavailable, Count: 2})
				return srv.IssueRefreshToken(), creds
			},
			requests: 3,
		},
		{
			name: "dead refresh token",
			setup: func(srv *admitadtest.Server) (string, refresh.Credentials) {
				rt := srv.IssueRefreshToken()
				srv.RevokeGrant()
				return rt, creds
			},
			reconnect: true, requests: 1, wantErr: "invalid_grant",
		},
		{
			name: "invalid_grant sent with a 503 is not retried",
			setup: func(srv *admitadtest.Server) (string, refresh.Credentials) {
				srv.Inject(vendortest.Fault{Status: http.StatusServiceUnavailable, Body: `{"error":"invalid_grant","error_description":"Invalid refresh token"}`})
				return srv.IssueRefreshToken(), creds
			},
			reconnect: true, requests: 1, wantErr: "invalid_grant",
		},
		{
			name: "wrong client secret",
			setup: func(srv *admitadtest.Server) (string, refresh.Credentials) {
				bad := refresh.Credentials{"client_id": creds["client_id"], "client_secret": "wrong-secret-value-123", "scope": creds["scope"]}
				return srv.IssueRefreshToken(), bad
			},
			reconnect: true, requests: 1, wantErr: "invalid_client",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := admitadtest.NewServer(vendortest.Options{})
			defer srv.Close()
			rt, cr := tc.setup(srv)
			res, err := (&admitad.Client{HTTP: fastHTTP}).Refresh(context.Background(), srv.TokenURL(), cr, rt)
			if n := srv.TokenRequests(); n != tc.requests {
				t.Errorf("%d token requests, want %d", n, tc.requests)
			}
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if srv.RefreshTokenValid(rt) || !srv.RefreshTokenValid(res.RefreshToken) || !srv.Valid(res.AccessToken) {
					t.Fatal("refresh did not rotate")
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want %q", err, tc.wantErr)
			}
			if got := errors.Is(err, admitad.ErrReconnect); got != tc.reconnect {
				t.Fatalf("errors.Is(ErrReconnect) = %v", got)
			}
			if tc.reconnect && (!strings.Contains(err.Error(), "reconnect Admitad") || !strings.Contains(err.Error(), "make connect-admitad")) {
				t.Fatalf("error does not tell how to reconnect: %v", err)
			}
			assertClean(t, "error", err.Error(), []string{rt, cr["client_secret"]})
		})
	}
}

func TestLink(t *testing.T) {
	key := []byte(strings.Repeat("k", 32))
	now := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	const base = "https://api.example/admitad/authorize"
	good := admitad.MintLink(key, base, 15*time.Minute, now)
	if !strings.HasPrefix(good, base+"?") {
		t.Fatalf("link %q", good)
	}
	query := func(link string) map[string][]string {
		u, err := urlParse(link)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	for _, tc := range []struct {
		name    string
		link    string
		key     []byte
		at      time.Time
		wantErr string
	}{
		{"good", good, key, now.Add(14 * time.Minute), ""},
		{"expired", good, key, now.Add(15 * time.Minute), "expired"},
		{"other key", good, []byte(strings.Repeat("x", 32)), now, "signature"},
		{"expiry moved", strings.Replace(good, "exp=", "exp=9", 1), key, now, "signature"},
		{"signature cut", good[:len(good)-2], key, now, "signature"},
		{"no signature", base + "?exp=1740823200", key, now, "no expiry or signature"},
		{"bare", base, key, now, "no expiry or signature"},
		{"too long", admitad.MintLink(key, base, 2*time.Hour, now), key, now.Add(59 * time.Minute), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := admitad.VerifyLink(tc.key, query(tc.link), tc.at)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, admitad.ErrLink) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want ErrLink with %q", err, tc.wantErr)
			}
		})
	}
	t.Run("capped at MaxLinkTTL", func(t *testing.T) {
		link := admitad.MintLink(key, base, 5*time.Hour, now)
		if err := admitad.VerifyLink(key, query(link), now.Add(admitad.MaxLinkTTL)); err == nil {
			t.Fatal("a link minted for 5h still works after MaxLinkTTL")
		}
	})
}

func TestState(t *testing.T) {
	key := []byte(strings.Repeat("k", 32))
	now := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	const cookie = "cookie-value-AAAAAAAAAAAAAAAAAAAAAAAAAAA"
	state, err := admitad.NewState(key, cookie, now, 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(state, cookie) {
		t.Fatal("the state carries the cookie value")
	}
	other, _ := admitad.NewState(key, cookie, now, 10*time.Minute)
	if other == state {
		t.Fatal("two states are equal")
	}
	for _, tc := range []struct {
		name    string
		state   string
		key     []byte
		cookies []string
		at      time.Time
		wantErr string
	}{
		{"good", state, key, []string{cookie}, now.Add(9 * time.Minute), ""},
		{"good among stale cookies", state, key, []string{"stale", cookie}, now, ""},
		{"missing", "", key, []string{cookie}, now, "no state"},
		{"no cookie", state, key, nil, now, "no connect cookie"},
		{"other cookie", state, key, []string{cookie + "x"}, now, "not issued to this browser"},
		{"forged", "v1.1740823200000.1740823800.bm9uY2U.c2lnbmF0dXJl", key, []string{cookie}, now, "not issued to this browser"},
		{"other key", state, []byte(strings.Repeat("x", 32)), []string{cookie}, now, "not issued to this browser"},
		{"garbage", "7c232ff20e64432fbe071228c0779f", key, []string{cookie}, now, "not one this service issued"},
		{"expired", state, key, []string{cookie}, now.Add(10 * time.Minute), "expired"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, err := admitad.VerifyState(tc.key, tc.state, tc.cookies, tc.at)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if !st.IssuedAt.Equal(now) || st.Fingerprint() == "" {
					t.Fatalf("state %+v", st)
				}
				return
			}
			if !errors.Is(err, admitad.ErrState) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want ErrState with %q", err, tc.wantErr)
			}
		})
	}
}

func TestConnectionRoundTrip(t *testing.T) {
	at := time.Date(2025, 3, 1, 10, 0, 0, 123456789, time.UTC)
	c := admitad.Connection{RefreshToken: "ea957cce42", Username: "advertiser1", Scope: "a b", ConnectedAt: at, RotatedAt: at.Add(time.Hour), ConnectState: "0123456789abcdef"}
	got, err := admitad.ParseConnection(c.Encode())
	if err != nil || got != c {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	for _, v := range []string{"", "x7Gq!random-cdk-string", `{"username":"u"}`, `{"refresh_token":""}`} {
		if _, err := admitad.ParseConnection(v); !errors.Is(err, admitad.ErrNotConnected) {
			t.Errorf("ParseConnection(%q) = %v, want ErrNotConnected", v, err)
		}
	}
	if _, err := admitad.ParseConnection(`{"refresh_token":"ea957cce42","connected_at":"yesterday"}`); err == nil || strings.Contains(err.Error(), "ea957cce42") {
		t.Errorf("bad time: %v", err)
	}
}

func TestParseSigningKey(t *testing.T) {
	long := "Kx7pQ2mZ9vR4tL8wN3cB6hY1dF5gS0jAe2Mu7WqZ"
	for _, tc := range []struct {
		in   string
		want string
	}{
		{long, long},
		{`{"key":"` + long + `"}`, long},
		{"short", ""},
		{`{"other":"` + long + `"}`, ""},
	} {
		got, err := admitad.ParseSigningKey(tc.in)
		if string(got) != tc.want || (tc.want == "") != (err != nil) {
			t.Errorf("ParseSigningKey(%.10q…) = %d bytes, %v", tc.in, len(got), err)
		}
		if err != nil && strings.Contains(err.Error(), long) {
			t.Errorf("error quotes the key")
		}
	}
}
