package vendortest_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/token-refresher/token-refresher/shared/vendortest"
)

// A test server built outside the package with the exported API only, as
// a vendor package builds its own: OAuth 2.0 client credentials (RFC 6749
// section 4.4) with HTTP Basic authentication.
const exampleVendor = "zz-example"

var exampleSandbox = map[string]string{"client_id": "zz-client", "client_secret": "zz-secret-0123456789"}

func exampleErrorBody(status int) string {
	return vendortest.JSONString(map[string]string{"error": vendortest.ErrorCode(status)})
}

func newExample(opts vendortest.Options) *vendortest.Server {
	s := vendortest.NewBase(exampleVendor, opts, time.Hour, exampleErrorBody)
	s.SetTokenPath("/oauth2/token")
	s.HandleFunc("POST /oauth2/token", s.TokenEndpoint(func(w http.ResponseWriter, r *http.Request) {
		id, secret, _ := r.BasicAuth()
		if r.FormValue("grant_type") != "client_credentials" {
			vendortest.WriteRaw(w, http.StatusBadRequest, `{"error":"unsupported_grant_type"}`)
			return
		}
		acct, ok := s.Account(map[string]string{"client_id": id, "client_secret": secret})
		if !ok {
			vendortest.WriteRaw(w, http.StatusUnauthorized, `{"error":"invalid_client"}`)
			return
		}
		expires := s.Now().Add(s.Lifetime())
		tok := s.JWT(map[string]any{"exp": expires.Unix(), "jti": vendortest.RandomHex(8)})
		if !s.Record(acct, tok, expires) {
			vendortest.WriteRaw(w, http.StatusInternalServerError, exampleErrorBody(500))
			return
		}
		vendortest.WriteToken(w, map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": s.ExpiresIn()})
	}))
	s.HandleFunc("GET /v1/me", func(w http.ResponseWriter, r *http.Request) {
		tok, _ := vendortest.Bearer(r)
		switch s.CheckToken(tok) {
		case vendortest.TokenOK:
			vendortest.WriteJSON(w, http.StatusOK, map[string]string{"ok": "yes"})
		case vendortest.TokenForbidden:
			vendortest.WriteRaw(w, http.StatusForbidden, exampleErrorBody(403))
		default:
			vendortest.WriteRaw(w, http.StatusUnauthorized, exampleErrorBody(401))
		}
	})
	return s.Start()
}

func init() { vendortest.Register(exampleVendor, newExample, exampleSandbox) }

func fetch(t *testing.T, srv *vendortest.Server, creds map[string]string) (int, string) {
	t.Helper()
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, srv.TokenURL(),
		strings.NewReader(url.Values{"grant_type": {"client_credentials"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(creds["client_id"], creds["client_secret"])
	resp, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
		Error       string `json:"error"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&body)
	if body.AccessToken != "" {
		return resp.StatusCode, body.AccessToken
	}
	return resp.StatusCode, body.Error
}

func TestServerBuiltOutsideThePackage(t *testing.T) {
	srv, err := vendortest.New(exampleVendor, vendortest.Options{Lifetime: 10 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if srv.Vendor() != exampleVendor || !strings.HasSuffix(srv.TokenURL(), "/oauth2/token") {
		t.Fatalf("vendor %q, token URL %s", srv.Vendor(), srv.TokenURL())
	}
	creds := vendortest.Credentials(exampleVendor)
	if creds["client_secret"] != exampleSandbox["client_secret"] {
		t.Fatalf("Credentials = %v, want the registered sandbox", creds)
	}

	t.Run("issues tokens for the sandbox account", func(t *testing.T) {
		status, tok := fetch(t, srv, creds)
		if status != http.StatusOK || !srv.Valid(tok) || srv.IssuedTo(tok) != vendortest.SandboxAccount {
			t.Fatalf("status %d, valid %v, issued to %q", status, srv.Valid(tok), srv.IssuedTo(tok))
		}
		if srv.Lifetime() != 10*time.Minute || srv.ExpiresIn() != 600 {
			t.Errorf("lifetime %s, expires_in %d, want Options.Lifetime", srv.Lifetime(), srv.ExpiresIn())
		}
		srv.Forbid(tok)
		if srv.CheckToken(tok) != vendortest.TokenForbidden {
			t.Errorf("CheckToken after Forbid = %v", srv.CheckToken(tok))
		}
		srv.Revoke(tok)
		if srv.CheckToken(tok) != vendortest.TokenRevoked || srv.CheckToken("nope") != vendortest.TokenUnknown {
			t.Error("CheckToken does not follow Revoke, or accepts an unknown token")
		}
	})
	t.Run("refuses other credentials, accepts added accounts", func(t *testing.T) {
		if status, code := fetch(t, srv, map[string]string{"client_id": "zz-client", "client_secret": "wrong"}); status != 401 || code != "invalid_client" {
			t.Errorf("wrong secret: %d %q", status, code)
		}
		srv.AddAccount("other", map[string]string{"client_id": "c2", "client_secret": "s2"})
		if status, tok := fetch(t, srv, map[string]string{"client_id": "c2", "client_secret": "s2"}); status != 200 || srv.IssuedTo(tok) != "other" {
			t.Errorf("added account: %d, issued to %q", status, srv.IssuedTo(tok))
		}
	})
	t.Run("faults and counting come with TokenEndpoint", func(t *testing.T) {
		before := srv.TokenRequests()
		srv.Inject(vendortest.Fault{Status: 503, RetryAfter: "3"})
		if status, code := fetch(t, srv, creds); status != 503 || code != "service_unavailable" {
			t.Errorf("fault: %d %q, want 503 with the vendor's error body", status, code)
		}
		if status, _ := fetch(t, srv, creds); status != 200 {
			t.Errorf("after the fault: %d", status)
		}
		if got := srv.TokenRequests() - before; got != 2 {
			t.Errorf("token requests counted: %d, want 2", got)
		}
	})
	t.Run("control endpoints", func(t *testing.T) {
		resp, err := http.Get(srv.URL() + "/_stats")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var st vendortest.Stats
		if err := json.NewDecoder(resp.Body).Decode(&st); err != nil || st.Vendor != exampleVendor || st.Issued < 2 {
			t.Errorf("stats %+v, %v", st, err)
		}
	})
}

// A vendor of the table without a test server is named, with where its
// server belongs, by TestSixthVendor in internal/vendorcheck: every vendor
// of this module's table has one.
func TestNewRefusesAnUnknownName(t *testing.T) {
	_, err := vendortest.New("no-such-vendor", vendortest.Options{})
	if err == nil || !strings.Contains(err.Error(), `no test server for "no-such-vendor": it is not a vendor of the table`) {
		t.Errorf("New of a name neither registered nor in the table: %v", err)
	}
	if vendortest.Credentials("no-such-vendor") != nil {
		t.Error("an unregistered vendor has credentials")
	}
}

func TestNewReturnsAFailedListen(t *testing.T) {
	a, err := vendortest.New(exampleVendor, vendortest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	_, err = vendortest.New(exampleVendor, vendortest.Options{Addr: strings.TrimPrefix(a.URL(), "http://")})
	if err == nil || !strings.Contains(err.Error(), "start zz-example test server") {
		t.Errorf("second server on the same port: %v, want an error naming the vendor", err)
	}
}

func TestRegister(t *testing.T) {
	for _, tc := range []struct {
		name   string
		vendor string
		newSrv func(vendortest.Options) *vendortest.Server
	}{
		{"twice", exampleVendor, newExample},
		{"empty name", "", newExample},
		{"nil constructor", "zz-nil", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("Register did not panic")
				}
			}()
			vendortest.Register(tc.vendor, tc.newSrv, nil)
		})
	}
	got := vendortest.Registered()
	for _, want := range []string{exampleVendor} {
		if !strings.Contains(strings.Join(got, " "), want) {
			t.Errorf("Registered() = %v, lacks %s", got, want)
		}
	}
}
