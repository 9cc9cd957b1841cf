package testservers

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/token-refresher/token-refresher/shared/admitad/admitadtest"
	"github.com/token-refresher/token-refresher/shared/fyber/fybertest"
	"github.com/token-refresher/token-refresher/shared/vendors"
	"github.com/token-refresher/token-refresher/shared/vendortest"
)

const callback = "http://127.0.0.1:3000/admitad/callback?src=test"

var hex30 = regexp.MustCompile(`^[0-9a-f]{30}$`)

func authorizeURL(s *admitadtest.Server, params map[string]string) string {
	c := vendortest.Credentials(vendors.Admitad)
	q := url.Values{
		"client_id": {c["client_id"]}, "redirect_uri": {callback}, "state": {"7c232ff20e64432fbe071228c0779f"},
		"scope": {c["scope"]}, "response_type": {"code"},
	}
	for k, v := range params {
		if v == "-" {
			q.Del(k)
		} else {
			q.Set(k, v)
		}
	}
	return s.AuthorizeURL() + "?" + q.Encode()
}

// authorize runs the dialogue and returns the redirect's query.
func authorize(t *testing.T, s *admitadtest.Server, params map[string]string) url.Values {
	t.Helper()
	r := send(t, newReq(t, http.MethodGet, authorizeURL(s, params), "", nil))
	if r.status != http.StatusFound {
		t.Fatalf("authorize: status %d, want 302; body %s", r.status, r.body)
	}
	loc, err := url.Parse(r.header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	if loc.Scheme+"://"+loc.Host+loc.Path != "http://127.0.0.1:3000/admitad/callback" {
		t.Fatalf("redirected to %s://%s%s, not the redirect_uri", loc.Scheme, loc.Host, loc.Path)
	}
	if loc.Query().Get("src") != "test" {
		t.Error("redirect lost redirect_uri's own query")
	}
	return loc.Query()
}

// tokenReq builds POST /token/ with the form and, if basic, Basic auth.
func tokenReq(t *testing.T, s *admitadtest.Server, basicID, basicSecret string, kv ...string) *http.Request {
	req := newReq(t, http.MethodPost, s.TokenURL(), form(kv...), map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
	if basicID != "" {
		req.SetBasicAuth(basicID, basicSecret)
	}
	return req
}

func exchange(t *testing.T, s *admitadtest.Server, code, redirect string) reply {
	c := vendortest.Credentials(vendors.Admitad)
	return send(t, tokenReq(t, s, c["client_id"], c["client_secret"],
		"code", code, "client_secret", c["client_secret"], "grant_type", "authorization_code",
		"client_id", c["client_id"], "redirect_uri", redirect))
}

func refresh(t *testing.T, s *admitadtest.Server, rt string) reply {
	c := vendortest.Credentials(vendors.Admitad)
	return send(t, tokenReq(t, s, "", "",
		"grant_type", "refresh_token", "client_id", c["client_id"], "client_secret", c["client_secret"], "refresh_token", rt))
}

func checkTokenReply(t *testing.T, s *admitadtest.Server, r reply, wantUser string) (access, refreshTok string) {
	t.Helper()
	if r.status != 200 {
		t.Fatalf("token: status %d, want 200; body %s", r.status, r.body)
	}
	m := decode(t, r.body)
	for _, k := range []string{"username", "first_name", "last_name", "language", "access_token", "token_type", "expires_in", "refresh_token", "scope"} {
		if _, ok := m[k]; !ok {
			t.Errorf("reply lacks %s", k)
		}
	}
	if m["token_type"] != "bearer" || m["expires_in"] != float64(604800) || m["username"] != wantUser ||
		m["scope"] != vendortest.Credentials(vendors.Admitad)["scope"] {
		t.Errorf("token_type %v expires_in %v username %v scope %v", m["token_type"], m["expires_in"], m["username"], m["scope"])
	}
	access, refreshTok = m["access_token"].(string), m["refresh_token"].(string)
	if !s.Valid(access) || !s.RefreshTokenValid(refreshTok) || s.CurrentRefreshToken() != refreshTok {
		t.Error("issued tokens are not valid / current")
	}
	assertNoSecretEcho(t, vendors.Admitad, r)
	return access, refreshTok
}

func TestAdmitadAuthorizationCodeAndRotation(t *testing.T) {
	s := admitadtest.NewServer(vendortest.Options{})
	defer s.Close()

	q := authorize(t, s, nil)
	code := q.Get("code")
	if !hex30.MatchString(code) || q.Get("state") != "7c232ff20e64432fbe071228c0779f" || q.Get("error") != "" {
		t.Fatalf("redirect query has code %t state %q error %q", hex30.MatchString(code), q.Get("state"), q.Get("error"))
	}
	if s.CurrentRefreshToken() != "" {
		t.Error("a refresh token exists before any exchange")
	}

	if r := exchange(t, s, code, "http://127.0.0.1:3000/other"); r.status != 400 || decode(t, r.body)["error"] != "invalid_grant" {
		t.Fatalf("exchange with another redirect_uri: %d %s, want 400 invalid_grant", r.status, r.body)
	}
	access1, rt1 := checkTokenReply(t, s, exchange(t, s, code, callback), admitadtest.Username)
	if r := exchange(t, s, code, callback); r.status != 400 || decode(t, r.body)["error"] != "invalid_grant" {
		t.Fatalf("code reuse: %d %s, want 400 invalid_grant", r.status, r.body)
	}

	s.SetUsername("advertiser2")
	access2, rt2 := checkTokenReply(t, s, refresh(t, s, rt1), "advertiser2")
	if rt2 == rt1 || access2 == access1 {
		t.Fatal("refresh did not issue new tokens")
	}
	if s.RefreshTokenValid(rt1) {
		t.Error("used refresh token is still valid")
	}
	r := refresh(t, s, rt1)
	if m := decode(t, r.body); r.status != 400 || m["error"] != "invalid_grant" || m["error_description"] == "" {
		t.Fatalf("reused refresh token: %d %s, want 400 invalid_grant with a description", r.status, r.body)
	}
	if !s.Valid(access1) {
		t.Error("refresh killed the earlier access token before it expired")
	}

	me := send(t, newReq(t, http.MethodGet, s.URL()+"/me/", "", map[string]string{"Authorization": "Bearer " + access2}))
	if me.status != 200 || decode(t, me.body)["username"] != "advertiser2" {
		t.Errorf("/me/: %d %s", me.status, me.body)
	}
	s.RevokeAll()
	if me := send(t, newReq(t, http.MethodGet, s.URL()+"/me/", "", map[string]string{"Authorization": "Bearer " + access2})); me.status != 401 {
		t.Errorf("/me/ with a revoked token: %d, want 401", me.status)
	}
	if !s.RefreshTokenValid(rt2) {
		t.Error("RevokeAll killed the refresh token")
	}

	_, rt3 := checkTokenReply(t, s, refresh(t, s, rt2), "advertiser2")
	s.RevokeGrant()
	if s.RefreshTokenValid(rt3) || s.CurrentRefreshToken() != "" {
		t.Error("RevokeGrant left a live refresh token")
	}
	if r := refresh(t, s, rt3); r.status != 400 {
		t.Errorf("refresh after RevokeGrant: %d, want 400", r.status)
	}
	if got := s.TokenRequests(); got != 7 {
		t.Errorf("TokenRequests = %d, want 7", got)
	}
}

func TestAdmitadAuthorize(t *testing.T) {
	for _, tc := range []struct {
		name      string
		params    map[string]string
		deny      bool
		status    int
		wantError string
		wantDesc  string
	}{
		{name: "unknown client", params: map[string]string{"client_id": "cb281d918a37e346b45e9aea1c6eb0"}, status: 302,
			wantError: "invalid_client", wantDesc: "client_id cb281d918a37e346b45e9aea1c6eb0 doesn't exist"},
		{name: "person denies", deny: true, status: 302, wantError: "access_denied"},
		{name: "unknown scope", params: map[string]string{"scope": "advertiser_info launch_rockets"}, status: 302, wantError: "invalid_scope"},
		{name: "no scope", params: map[string]string{"scope": "-"}, status: 302, wantError: "invalid_scope"},
		{name: "no response_type", params: map[string]string{"response_type": "-"}, status: 400},
		{name: "response_type token", params: map[string]string{"response_type": "token"}, status: 400},
		{name: "no redirect_uri", params: map[string]string{"redirect_uri": "-"}, status: 400},
		{name: "relative redirect_uri", params: map[string]string{"redirect_uri": "/cb"}, status: 400},
		{name: "no client_id", params: map[string]string{"client_id": "-"}, status: 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := admitadtest.NewServer(vendortest.Options{})
			defer s.Close()
			if tc.deny {
				s.DenyNext()
			}
			if tc.status != 302 {
				if r := send(t, newReq(t, http.MethodGet, authorizeURL(s, tc.params), "", nil)); r.status != tc.status {
					t.Fatalf("status %d, want %d", r.status, tc.status)
				}
				return
			}
			q := authorize(t, s, tc.params)
			if q.Get("error") != tc.wantError || q.Get("code") != "" || q.Get("state") != "7c232ff20e64432fbe071228c0779f" {
				t.Errorf("redirect error %q code set %t state %q, want error %q", q.Get("error"), q.Get("code") != "", q.Get("state"), tc.wantError)
			}
			if tc.wantDesc != "" && q.Get("error_description") != tc.wantDesc {
				t.Errorf("error_description %q, want %q", q.Get("error_description"), tc.wantDesc)
			}
			if tc.deny {
				if q := authorize(t, s, nil); q.Get("code") == "" {
					t.Error("DenyNext denied more than the next authorization")
				}
			}
		})
	}
	t.Run("older path and POST /_deny", func(t *testing.T) {
		s := admitadtest.NewServer(vendortest.Options{})
		defer s.Close()
		send(t, newReq(t, http.MethodPost, s.URL()+"/_deny", "", nil))
		u := authorizeURL(s, nil)
		r := send(t, newReq(t, http.MethodGet, s.URL()+"/authorize/?"+u[len(s.AuthorizeURL())+1:], "", nil))
		loc, _ := url.Parse(r.header.Get("Location"))
		if r.status != 302 || loc.Query().Get("error") != "access_denied" {
			t.Errorf("status %d error %q, want 302 access_denied", r.status, loc.Query().Get("error"))
		}
		if s.Stats().AuthorizeRequests != 1 || s.TokenRequests() != 0 {
			t.Errorf("stats %+v", s.Stats())
		}
	})
}

func TestAdmitadTokenErrors(t *testing.T) {
	c := vendortest.Credentials(vendors.Admitad)
	id, secret := c["client_id"], c["client_secret"]
	start := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name   string
		req    func(t *testing.T, s *admitadtest.Server, clk *clock, code, rt string) *http.Request
		status int
		error  string
	}{
		{"code without Basic auth", func(t *testing.T, s *admitadtest.Server, _ *clock, code, _ string) *http.Request {
			return tokenReq(t, s, "", "", "grant_type", "authorization_code", "client_id", id, "client_secret", secret, "code", code, "redirect_uri", callback)
		}, 401, "invalid_client"},
		{"code with wrong Basic secret", func(t *testing.T, s *admitadtest.Server, _ *clock, code, _ string) *http.Request {
			return tokenReq(t, s, id, "wrong", "grant_type", "authorization_code", "client_id", id, "client_secret", "wrong", "code", code, "redirect_uri", callback)
		}, 401, "invalid_client"},
		{"code with Basic not matching the body", func(t *testing.T, s *admitadtest.Server, _ *clock, code, _ string) *http.Request {
			return tokenReq(t, s, id, secret, "grant_type", "authorization_code", "client_id", id, "client_secret", "other", "code", code, "redirect_uri", callback)
		}, 401, "invalid_client"},
		{"unknown code", func(t *testing.T, s *admitadtest.Server, _ *clock, _, _ string) *http.Request {
			return tokenReq(t, s, id, secret, "grant_type", "authorization_code", "client_id", id, "client_secret", secret, "code", "c75ebf64ad48a352630b6d953ce365", "redirect_uri", callback)
		}, 400, "invalid_grant"},
		{"expired code", func(t *testing.T, s *admitadtest.Server, clk *clock, code, _ string) *http.Request {
			clk.Add(11 * time.Minute)
			return tokenReq(t, s, id, secret, "grant_type", "authorization_code", "client_id", id, "client_secret", secret, "code", code, "redirect_uri", callback)
		}, 400, "invalid_grant"},
		{"code without redirect_uri", func(t *testing.T, s *admitadtest.Server, _ *clock, code, _ string) *http.Request {
			return tokenReq(t, s, id, secret, "grant_type", "authorization_code", "client_id", id, "client_secret", secret, "code", code)
		}, 400, "invalid_request"},
		{"refresh with wrong secret", func(t *testing.T, s *admitadtest.Server, _ *clock, _, rt string) *http.Request {
			return tokenReq(t, s, "", "", "grant_type", "refresh_token", "client_id", id, "client_secret", "wrong", "refresh_token", rt)
		}, 401, "invalid_client"},
		{"refresh with unknown client", func(t *testing.T, s *admitadtest.Server, _ *clock, _, rt string) *http.Request {
			return tokenReq(t, s, "", "", "grant_type", "refresh_token", "client_id", "other", "client_secret", secret, "refresh_token", rt)
		}, 401, "invalid_client"},
		{"refresh without refresh_token", func(t *testing.T, s *admitadtest.Server, _ *clock, _, _ string) *http.Request {
			return tokenReq(t, s, "", "", "grant_type", "refresh_token", "client_id", id, "client_secret", secret)
		}, 400, "invalid_request"},
		{"refresh with unknown refresh_token", func(t *testing.T, s *admitadtest.Server, _ *clock, _, _ string) *http.Request {
			return tokenReq(t, s, "", "", "grant_type", "refresh_token", "client_id", id, "client_secret", secret, "refresh_token", "ea957cce42")
		}, 400, "invalid_grant"},
		{"no grant_type", func(t *testing.T, s *admitadtest.Server, _ *clock, _, _ string) *http.Request {
			return tokenReq(t, s, id, secret, "client_id", id, "client_secret", secret)
		}, 400, "invalid_request"},
		{"password grant", func(t *testing.T, s *admitadtest.Server, _ *clock, _, _ string) *http.Request {
			return tokenReq(t, s, id, secret, "grant_type", "password", "client_id", id, "client_secret", secret)
		}, 400, "unsupported_grant_type"},
		{"GET", func(t *testing.T, s *admitadtest.Server, _ *clock, _, _ string) *http.Request {
			return newReq(t, http.MethodGet, s.TokenURL(), "", nil)
		}, 405, "invalid_request"},
		{"client_credentials", func(t *testing.T, s *admitadtest.Server, _ *clock, _, _ string) *http.Request {
			return tokenReq(t, s, id, secret, "grant_type", "client_credentials", "client_id", id, "scope", "advcampaigns banners")
		}, 200, ""},
		{"client_credentials with wrong secret", func(t *testing.T, s *admitadtest.Server, _ *clock, _, _ string) *http.Request {
			return tokenReq(t, s, id, "wrong", "grant_type", "client_credentials", "client_id", id, "scope", "advcampaigns")
		}, 401, "invalid_client"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := &clock{t: start}
			s := admitadtest.NewServer(vendortest.Options{Now: clk.Now})
			defer s.Close()
			code := authorize(t, s, nil).Get("code")
			rt := s.IssueRefreshToken()
			r := send(t, tc.req(t, s, clk, code, rt))
			if r.status != tc.status {
				t.Fatalf("status %d, want %d; body %s", r.status, tc.status, r.body)
			}
			m := decode(t, r.body)
			if tc.error != "" && (m["error"] != tc.error || m["error_description"] == nil) {
				t.Errorf("error %v description %v, want %s with a description", m["error"], m["error_description"], tc.error)
			}
			if tc.status == 200 && (m["access_token"] == nil || m["refresh_token"] != nil) {
				t.Errorf("client_credentials reply %v", m)
			}
			if tc.status >= 400 && !s.RefreshTokenValid(rt) {
				t.Error("a failed request killed the refresh token")
			}
			assertNoSecretEcho(t, vendors.Admitad, r)
		})
	}
}

func TestAdmitadConcurrentRefreshRotatesOnce(t *testing.T) {
	s := admitadtest.NewServer(vendortest.Options{})
	defer s.Close()
	rt := s.IssueRefreshToken()
	const n = 8
	statuses := make(chan int, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := vendortest.Credentials(vendors.Admitad)
			body := form("grant_type", "refresh_token", "client_id", c["client_id"], "client_secret", c["client_secret"], "refresh_token", rt)
			req, err := http.NewRequest(http.MethodPost, s.TokenURL(), strings.NewReader(body))
			if err != nil {
				t.Error(err)
				return
			}
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			resp, err := fresh().Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			statuses <- resp.StatusCode
		}()
	}
	wg.Wait()
	close(statuses)
	count := map[int]int{}
	for st := range statuses {
		count[st]++
	}
	if count[200] != 1 || count[400] != n-1 {
		t.Errorf("statuses %v, want exactly one 200 and %d 400", count, n-1)
	}
	if s.RefreshTokenValid(rt) || s.CurrentRefreshToken() == "" {
		t.Error("rotation left the old token alive or no new one")
	}
}

func TestAdmitadViewOfAnotherServerPanics(t *testing.T) {
	s := fybertest.NewServer(vendortest.Options{})
	defer s.Close()
	defer func() {
		if recover() == nil {
			t.Error("admitadtest.Of did not panic on a Fyber server")
		}
	}()
	admitadtest.Of(s)
}

func TestAdmitadViewOfARegisteredServer(t *testing.T) {
	s := vendortest.MustNew(vendors.Admitad, vendortest.Options{})
	defer s.Close()
	if rt := admitadtest.Of(s).IssueRefreshToken(); !admitadtest.Of(s).RefreshTokenValid(rt) {
		t.Error("the refresh token issued through Of is not valid")
	}
}
