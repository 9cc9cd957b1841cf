package testservers

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/token-refresher/token-refresher/shared/admitad/admitadtest"
	"github.com/token-refresher/token-refresher/shared/fyber/fybertest"
	"github.com/token-refresher/token-refresher/shared/hasoffers/hasofferstest"
	"github.com/token-refresher/token-refresher/shared/invoca/invocatest"
	"github.com/token-refresher/token-refresher/shared/merchenta/merchentatest"
	"github.com/token-refresher/token-refresher/shared/vendors"
	"github.com/token-refresher/token-refresher/shared/vendortest"
)

// reply is what a test saw.
type reply struct {
	status int
	header http.Header
	body   string
}

// fresh is a client that opens a new connection per request, so a dropped
// connection is never silently retried by the transport, and that does not
// follow redirects.
func fresh() *http.Client {
	return &http.Client{
		Transport:     &http.Transport{DisableKeepAlives: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       10 * time.Second,
	}
}

func send(t *testing.T, req *http.Request) reply {
	t.Helper()
	resp, err := fresh().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return reply{resp.StatusCode, resp.Header, string(b)}
}

func newReq(t *testing.T, method, u string, body string, header map[string]string) *http.Request {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, u, r)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	return req
}

func jsonBody(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func decode(t *testing.T, body string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatalf("body is not a JSON object: %v", err)
	}
	return m
}

// jwtPayload decodes the middle part of a JWT-shaped token.
func jwtPayload(t *testing.T, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts, want 3", len(parts))
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatalf("payload is not base64url: %v", err)
	}
	return decode(t, string(b))
}

func form(kv ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v.Encode()
}

// clock is a settable vendortest.Options.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// vendorCase drives any fake through a successful token request.
type vendorCase struct {
	name string
	new  func(vendortest.Options) *vendortest.Server
	// request builds a valid token (Invoca: validation) request.
	request func(t *testing.T, s *vendortest.Server) *http.Request
	// token extracts the access token from a 200 body.
	token func(t *testing.T, s *vendortest.Server, body string) string
	// defaults maps a status to a fragment of the vendor's documented
	// error body for it.
	defaults map[int]string
}

func vendorCases() []vendorCase {
	return []vendorCase{
		{
			name: vendors.HasOffers,
			new:  hasofferstest.NewServer,
			request: func(t *testing.T, s *vendortest.Server) *http.Request {
				c := vendortest.Credentials(vendors.HasOffers)
				return newReq(t, http.MethodPost, s.TokenURL(), jsonBody(t, map[string]string{
					"client_id": c["client_id"], "client_secret": c["client_secret"], "audience": c["audience"],
				}), map[string]string{"Content-Type": "application/json"})
			},
			token: func(t *testing.T, s *vendortest.Server, body string) string {
				return decode(t, body)["access_token"].(string)
			},
			defaults: map[int]string{
				401: `"message":"JWT is not valid or missing"`,
				429: `"message":"Exceeded concurrent rate limit`,
				502: `"message":"Internal Server Error"`,
			},
		},
		{
			name: vendors.Fyber,
			new:  fybertest.NewServer,
			request: func(t *testing.T, s *vendortest.Server) *http.Request {
				c := vendortest.Credentials(vendors.Fyber)
				return newReq(t, http.MethodPost, s.TokenURL(), jsonBody(t, map[string]string{
					"grant_type": "client_credentials", "client_id": c["client_id"], "client_secret": c["client_secret"],
				}), map[string]string{"Content-Type": "application/json"})
			},
			token: func(t *testing.T, s *vendortest.Server, body string) string {
				return decode(t, body)["accessToken"].(string)
			},
			defaults: map[int]string{
				400: `{"error":"invalid_request"}`,
				500: `{"error":"internal_server_error"}`,
			},
		},
		{
			name: vendors.Merchenta,
			new:  merchentatest.NewServer,
			request: func(t *testing.T, s *vendortest.Server) *http.Request {
				c := vendortest.Credentials(vendors.Merchenta)
				q := url.Values{"username": {c["username"]}, "password": {c["password"]}, "advertiser": {c["advertiser"]}}
				return newReq(t, http.MethodGet, s.TokenURL()+"?"+q.Encode(), "", nil)
			},
			token: func(t *testing.T, s *vendortest.Server, body string) string {
				return decode(t, body)["data"].(map[string]any)["accessToken"].(string)
			},
			defaults: map[int]string{
				401: `"code":"AUTH001"`,
				403: `"code":"AUTH003"`,
			},
		},
		{
			name: vendors.Invoca,
			new:  invocatest.NewServer,
			request: func(t *testing.T, s *vendortest.Server) *http.Request {
				return newReq(t, http.MethodGet, s.TokenURL(), "", map[string]string{"Authorization": vendortest.Credentials(vendors.Invoca)["api_token"]})
			},
			token: func(t *testing.T, s *vendortest.Server, body string) string {
				if !strings.HasPrefix(body, "transaction_id\n") {
					t.Fatalf("validation body is not the transactions CSV")
				}
				return vendortest.Credentials(vendors.Invoca)["api_token"]
			},
			defaults: map[int]string{
				401: `"class":"NotAuthorized"`,
			},
		},
		{
			name: vendors.Admitad,
			new:  newAdmitad,
			request: func(t *testing.T, s *vendortest.Server) *http.Request {
				c := vendortest.Credentials(vendors.Admitad)
				return newReq(t, http.MethodPost, s.TokenURL(), form(
					"grant_type", "refresh_token", "client_id", c["client_id"], "client_secret", c["client_secret"],
					"refresh_token", admitadtest.Of(s).IssueRefreshToken(),
				), map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
			},
			token: func(t *testing.T, s *vendortest.Server, body string) string {
				return decode(t, body)["access_token"].(string)
			},
			defaults: map[int]string{
				400: `"error":"invalid_request"`,
				401: `"error":"invalid_client"`,
				503: `"error":"temporarily_unavailable"`,
			},
		},
	}
}

// newAdmitad starts the Admitad test server as a *vendortest.Server.
func newAdmitad(opts vendortest.Options) *vendortest.Server {
	return admitadtest.NewServer(opts).Server
}
