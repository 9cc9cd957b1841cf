package admitad_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/token-refresher/token-refresher/shared/admitad"
	"github.com/token-refresher/token-refresher/shared/admitad/admitadtest"
	"github.com/token-refresher/token-refresher/shared/refresh/refreshtest"
	"github.com/token-refresher/token-refresher/shared/secretstore"
	"github.com/token-refresher/token-refresher/shared/token"
	"github.com/token-refresher/token-refresher/shared/vendors"
	"github.com/token-refresher/token-refresher/shared/vendortest"
)

func loadEvent(t *testing.T, name string) events.APIGatewayV2HTTPRequest {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "events", name))
	if err != nil {
		t.Fatal(err)
	}
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return ev
}

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

type callbackEnv struct {
	*env
	h     *admitad.Callback
	clock *clock
	log   *logBuffer
	pages []string
}

func newCallbackEnv(t *testing.T) *callbackEnv {
	t.Helper()
	e := newEnv(t)
	cfg, err := admitad.LoadCallbackConfig(func(k string) string {
		return map[string]string{
			"CREDENTIALS_SECRET_ID": e.credID, "TOKEN_SECRET_ID": e.tokID, "REFRESH_SECRET_ID": e.refID,
			"SIGNING_KEY_SECRET_ID": e.keyID, "TOKEN_URL": e.srv.TokenURL(), "AUTHORIZE_URL": e.srv.AuthorizeURL(),
			"REFRESHER_FUNCTION_NAME": "token-refresher-admitad",
		}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	ce := &callbackEnv{env: e, clock: &clock{t: time.Now()}, log: &logBuffer{}}
	ce.h = admitad.NewCallbackWith(cfg, e.store, newTestLogger(ce.log))
	ce.h.Client.HTTP = fastHTTP
	ce.h.Now = ce.clock.now
	return ce
}

func (ce *callbackEnv) handle(t *testing.T, ev events.APIGatewayV2HTTPRequest) events.APIGatewayV2HTTPResponse {
	t.Helper()
	resp, err := ce.h.Handle(context.Background(), ev)
	if err != nil {
		t.Fatalf("Handle returned an error: %v", err)
	}
	ce.pages = append(ce.pages, resp.Body)
	return resp
}

func withQuery(ev events.APIGatewayV2HTTPRequest, q url.Values, cookies ...string) events.APIGatewayV2HTTPRequest {
	ev.RawQueryString = q.Encode()
	ev.QueryStringParameters = map[string]string{}
	for k := range q {
		ev.QueryStringParameters[k] = q.Get(k)
	}
	ev.Cookies = nil
	for _, c := range cookies {
		ev.Cookies = append(ev.Cookies, admitad.CookieName+"="+c)
	}
	return ev
}

// flow is one walk through the authorize route and Admitad's dialogue.
type flow struct {
	location  *url.URL // Admitad authorize URL we were sent to
	cookie    string
	setCookie string
	callback  url.Values // what Admitad sent back
}

// start opens a fresh link and follows it to Admitad and back, stopping
// before the callback.
func (ce *callbackEnv) start(t *testing.T) flow {
	t.Helper()
	link := admitad.MintLink(ce.key, "https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/admitad/authorize", 0, ce.clock.now())
	u, _ := url.Parse(link)
	resp := ce.handle(t, withQuery(loadEvent(t, "admitad-authorize.json"), u.Query()))
	if resp.StatusCode != http.StatusFound || len(resp.Cookies) != 1 {
		t.Fatalf("authorize: HTTP %d, %d cookies: %s", resp.StatusCode, len(resp.Cookies), resp.Body)
	}
	f := flow{setCookie: resp.Cookies[0]}
	c, err := http.ParseSetCookie(resp.Cookies[0])
	if err != nil || c.Name != admitad.CookieName {
		t.Fatalf("Set-Cookie %q: %v", resp.Cookies[0], err)
	}
	f.cookie = c.Value
	if f.location, err = url.Parse(resp.Headers["Location"]); err != nil {
		t.Fatal(err)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	ar, err := client.Get(f.location.String())
	if err != nil {
		t.Fatal(err)
	}
	ar.Body.Close()
	back, err := url.Parse(ar.Header.Get("Location"))
	if err != nil || ar.StatusCode != http.StatusFound {
		t.Fatalf("Admitad authorize: HTTP %d", ar.StatusCode)
	}
	f.callback = back.Query()
	return f
}

func (ce *callbackEnv) finish(t *testing.T, q url.Values, cookies ...string) events.APIGatewayV2HTTPResponse {
	t.Helper()
	return ce.handle(t, withQuery(loadEvent(t, "admitad-callback.json"), q, cookies...))
}

// versions returns the current versions of the token and refresh-token
// secrets.
func (ce *callbackEnv) versions(t *testing.T) [2]string {
	return [2]string{ce.get(t, ce.tokID).VersionID, ce.get(t, ce.refID).VersionID}
}

func (ce *callbackEnv) assertAllClean(t *testing.T, extra ...string) {
	t.Helper()
	secrets := ce.secrets(extra...)
	if c, err := admitad.ParseConnection(ce.get(t, ce.refID).String); err == nil {
		secrets = append(secrets, c.RefreshToken)
	}
	for i, p := range ce.pages {
		assertClean(t, "page "+string(rune('0'+i)), p, secrets)
	}
	assertClean(t, "log", ce.log.String(), secrets)
}

func TestEventFixtures(t *testing.T) {
	ce := newCallbackEnv(t)
	auth := loadEvent(t, "admitad-authorize.json")
	if auth.RouteKey != "GET /admitad/authorize" || auth.RequestContext.HTTP.Method != "GET" || auth.RawQueryString == "" {
		t.Fatalf("authorize fixture: %+v", auth)
	}
	// The fixture's signature is not one of this key's: refused.
	if resp := ce.handle(t, auth); resp.StatusCode != http.StatusForbidden || !strings.Contains(resp.Body, "signature is not valid") {
		t.Fatalf("authorize fixture: HTTP %d: %s", resp.StatusCode, resp.Body)
	}
	cb := loadEvent(t, "admitad-callback.json")
	if cb.RouteKey != "GET /admitad/callback" || len(cb.Cookies) != 1 || cb.QueryStringParameters["code"] == "" {
		t.Fatalf("callback fixture: %+v", cb)
	}
	if resp := ce.handle(t, cb); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("callback fixture: HTTP %d: %s", resp.StatusCode, resp.Body)
	}
	if n := ce.srv.TokenRequests(); n != 0 {
		t.Fatalf("%d token requests", n)
	}
	other := cb
	other.RawPath, other.RouteKey = "/admitad/other", "GET /admitad/other"
	other.RequestContext.HTTP.Path = other.RawPath
	if resp := ce.handle(t, other); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("other path: HTTP %d", resp.StatusCode)
	}
}

func TestCallbackConnects(t *testing.T) {
	ce := newCallbackEnv(t)
	f := ce.start(t)

	q := f.location.Query()
	want := map[string]string{
		"client_id":     ce.creds["client_id"],
		"redirect_uri":  "https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/admitad/callback",
		"scope":         ce.creds["scope"],
		"response_type": "code",
	}
	for k, v := range want {
		if q.Get(k) != v {
			t.Errorf("authorize %s = %q, want %q", k, q.Get(k), v)
		}
	}
	if q.Get("state") == "" || !strings.HasPrefix(f.location.String(), ce.srv.AuthorizeURL()+"?") {
		t.Errorf("authorize URL %s", f.location.Redacted())
	}
	for _, attr := range []string{"HttpOnly", "Secure", "SameSite=Lax", "Path=/admitad", "Max-Age=600"} {
		if !strings.Contains(f.setCookie, attr) {
			t.Errorf("Set-Cookie lacks %s", attr)
		}
	}

	code := f.callback.Get("code")
	resp := ce.finish(t, f.callback, f.cookie)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("callback: HTTP %d: %s", resp.StatusCode, resp.Body)
	}
	for _, s := range []string{"Admitad connected", admitadtest.Username, ce.creds["scope"], "Access token expires"} {
		if !strings.Contains(resp.Body, s) {
			t.Errorf("page lacks %q", s)
		}
	}
	if resp.Headers["Content-Type"] != "text/html; charset=utf-8" || resp.Headers["Cache-Control"] != "no-store" || resp.Headers["Referrer-Policy"] != "no-referrer" {
		t.Errorf("headers %v", resp.Headers)
	}
	if len(resp.Cookies) != 1 || !strings.Contains(resp.Cookies[0], "Max-Age=0") || !strings.Contains(resp.Cookies[0], "Path=/admitad") {
		t.Errorf("the cookie is not cleared: %q", resp.Cookies)
	}

	conn := ce.connection(t)
	if !ce.srv.RefreshTokenValid(conn.RefreshToken) || conn.Username != admitadtest.Username || conn.ConnectState == "" || conn.ConnectedAt.IsZero() {
		t.Fatalf("connection %+v", conn.Username)
	}
	tok, err := token.Parse(ce.get(t, ce.tokID).String)
	if err != nil {
		t.Fatal(err)
	}
	if !ce.srv.Valid(tok.AccessToken) || tok.Extras["username"] != admitadtest.Username || tok.Extras["scope"] != ce.creds["scope"] || tok.Refresher != "token-refresher-admitad" {
		t.Fatalf("token secret: %+v", tok.Extras)
	}
	if tok.Connection != "default" || tok.Trigger != token.TriggerConnect {
		t.Errorf("token secret: connection %q, trigger %q; want default and %s", tok.Connection, tok.Trigger, token.TriggerConnect)
	}
	if !strings.Contains(ce.log.String(), `"outcome":"connected"`) || !strings.Contains(ce.log.String(), tok.Fingerprint) {
		t.Errorf("no connected log line with the fingerprint:\n%s", ce.log.String())
	}
	ce.assertAllClean(t, code)
}

// TestCallbackRefuses: bad states and replays get 400, call no vendor and
// store nothing.
func TestCallbackRefuses(t *testing.T) {
	for _, tc := range []struct {
		name    string
		prepare func(t *testing.T, ce *callbackEnv) (url.Values, []string)
		want    string
	}{
		{"missing state", func(t *testing.T, ce *callbackEnv) (url.Values, []string) {
			f := ce.start(t)
			q := url.Values{"code": {f.callback.Get("code")}}
			return q, []string{f.cookie}
		}, "no state"},
		{"forged state", func(t *testing.T, ce *callbackEnv) (url.Values, []string) {
			f := ce.start(t)
			forged, _ := admitad.NewState([]byte(strings.Repeat("f", 32)), f.cookie, ce.clock.now(), 0)
			f.callback.Set("state", forged)
			return f.callback, []string{f.cookie}
		}, "not issued to this browser"},
		{"expired state", func(t *testing.T, ce *callbackEnv) (url.Values, []string) {
			f := ce.start(t)
			ce.clock.add(admitad.StateTTL + time.Second)
			return f.callback, []string{f.cookie}
		}, "expired"},
		{"state without its cookie", func(t *testing.T, ce *callbackEnv) (url.Values, []string) {
			return ce.start(t).callback, nil
		}, "no connect cookie"},
		{"state with another cookie", func(t *testing.T, ce *callbackEnv) (url.Values, []string) {
			a, b := ce.start(t), ce.start(t)
			return a.callback, []string{b.cookie}
		}, "not issued to this browser"},
		{"replayed callback URL", func(t *testing.T, ce *callbackEnv) (url.Values, []string) {
			f := ce.start(t)
			if resp := ce.finish(t, f.callback, f.cookie); resp.StatusCode != http.StatusOK {
				t.Fatalf("first callback: HTTP %d", resp.StatusCode)
			}
			return f.callback, []string{f.cookie}
		}, "already completed"},
		{"older flow after a newer connect", func(t *testing.T, ce *callbackEnv) (url.Values, []string) {
			old := ce.start(t)
			ce.clock.add(time.Second)
			f := ce.start(t)
			if resp := ce.finish(t, f.callback, f.cookie); resp.StatusCode != http.StatusOK {
				t.Fatalf("newer callback: HTTP %d", resp.StatusCode)
			}
			return old.callback, []string{old.cookie}
		}, "newer connection"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ce := newCallbackEnv(t)
			q, cookies := tc.prepare(t, ce)
			before, requests := ce.versions(t), ce.srv.TokenRequests()
			resp := ce.finish(t, q, cookies...)
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(resp.Body, tc.want) {
				t.Fatalf("HTTP %d, want 400 saying %q:\n%s", resp.StatusCode, tc.want, resp.Body)
			}
			if n := ce.srv.TokenRequests() - requests; n != 0 {
				t.Errorf("%d token requests", n)
			}
			if ce.versions(t) != before {
				t.Error("a secret was written")
			}
			ce.assertAllClean(t, q.Get("code"))
		})
	}
}

func TestAuthorizeRefuses(t *testing.T) {
	const base = "https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/admitad/authorize"
	for _, tc := range []struct {
		name string
		link func(ce *callbackEnv) string
		want string
	}{
		{"no signature", func(ce *callbackEnv) string { return base }, "no expiry or signature"},
		{"bad signature", func(ce *callbackEnv) string {
			return admitad.MintLink([]byte(strings.Repeat("x", 32)), base, 0, ce.clock.now())
		}, "signature is not valid"},
		{"tampered expiry", func(ce *callbackEnv) string {
			return strings.Replace(admitad.MintLink(ce.key, base, 0, ce.clock.now()), "exp=", "exp=1", 1)
		}, "signature is not valid"},
		{"expired", func(ce *callbackEnv) string {
			return admitad.MintLink(ce.key, base, 5*time.Minute, ce.clock.now().Add(-6*time.Minute))
		}, "expired"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ce := newCallbackEnv(t)
			u, _ := url.Parse(tc.link(ce))
			resp := ce.handle(t, withQuery(loadEvent(t, "admitad-authorize.json"), u.Query()))
			if resp.StatusCode != http.StatusForbidden || !strings.Contains(resp.Body, tc.want) {
				t.Fatalf("HTTP %d, want 403 saying %q:\n%s", resp.StatusCode, tc.want, resp.Body)
			}
			if len(resp.Cookies) != 0 || resp.Headers["Location"] != "" {
				t.Fatal("a refused link set a cookie or redirected")
			}
			if !strings.Contains(resp.Body, "ask your operator for a new link") || strings.Contains(resp.Body, "`") || strings.Contains(resp.Body, "tokenctl") {
				t.Error("the page does not say, in words, how to get a new link")
			}
		})
	}
}

func TestCallbackVendorErrors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		prepare func(t *testing.T, ce *callbackEnv) flow
		status  int
		want    []string
		notWant []string
	}{
		{"access denied", func(t *testing.T, ce *callbackEnv) flow {
			ce.srv.DenyNext()
			return ce.start(t)
		}, http.StatusBadRequest, []string{"access_denied", "The user denied access", "choose Allow"}, nil},
		{"invalid client", func(t *testing.T, ce *callbackEnv) flow {
			creds := map[string]string{"client_id": "not-our-client", "client_secret": "x", "scope": ce.creds["scope"]}
			b, _ := json.Marshal(creds)
			ce.put(t, ce.credID, string(b))
			return ce.start(t)
		}, http.StatusBadRequest, []string{"invalid_client", "doesn&#39;t exist"}, nil},
		{"script in the description", func(t *testing.T, ce *callbackEnv) flow {
			f := ce.start(t)
			f.callback.Del("code")
			f.callback.Set("error", "server_error")
			f.callback.Set("error_description", `<script>alert("x")</script>`)
			return f
		}, http.StatusBadRequest, []string{"&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;"}, []string{"<script>"}},
		{"wrong account", func(t *testing.T, ce *callbackEnv) flow {
			ce.srv.SetUsername("someone-else")
			return ce.start(t)
		}, http.StatusForbidden, []string{"Wrong Admitad account", "someone-else", admitadtest.Username, "Nothing was stored"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ce := newCallbackEnv(t)
			f := tc.prepare(t, ce)
			before := ce.versions(t)
			resp := ce.finish(t, f.callback, f.cookie)
			if resp.StatusCode != tc.status {
				t.Fatalf("HTTP %d, want %d:\n%s", resp.StatusCode, tc.status, resp.Body)
			}
			for _, s := range tc.want {
				if !strings.Contains(resp.Body, s) {
					t.Errorf("page lacks %q:\n%s", s, resp.Body)
				}
			}
			for _, s := range tc.notWant {
				if strings.Contains(resp.Body, s) {
					t.Errorf("page contains %q", s)
				}
			}
			if ce.versions(t) != before {
				t.Error("a secret was written")
			}
			if len(resp.Cookies) != 1 || !strings.Contains(resp.Cookies[0], "Max-Age=0") {
				t.Error("the cookie is not cleared")
			}
			ce.assertAllClean(t, f.callback.Get("code"))
		})
	}
}

// TestCallbackStage: an API served from a named stage has the stage in
// its paths; the cookie and redirect_uri follow it.
func TestCallbackStage(t *testing.T) {
	ce := newCallbackEnv(t)
	link := admitad.MintLink(ce.key, "https://x/prod/admitad/authorize", 0, ce.clock.now())
	u, _ := url.Parse(link)
	ev := withQuery(loadEvent(t, "admitad-authorize.json"), u.Query())
	ev.RawPath, ev.RequestContext.HTTP.Path, ev.RequestContext.Stage = "/prod/admitad/authorize", "/prod/admitad/authorize", "prod"
	resp := ce.handle(t, ev)
	if resp.StatusCode != http.StatusFound || !strings.Contains(resp.Cookies[0], "Path=/prod/admitad") {
		t.Fatalf("HTTP %d, cookies %q", resp.StatusCode, resp.Cookies)
	}
	loc, _ := url.Parse(resp.Headers["Location"])
	if got := loc.Query().Get("redirect_uri"); got != "https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/prod/admitad/callback" {
		t.Fatalf("redirect_uri %q", got)
	}
}

// TestCallbackSaveFails: Admitad grants, but the refresh token cannot be
// saved: the page says so, and no access token is published.
func TestCallbackSaveFails(t *testing.T) {
	ce := newCallbackEnv(t)
	f := ce.start(t)
	ce.h.Store = &secretstore.Store{API: &flakyAPI{API: ce.sm, failPuts: -1}}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	before := ce.versions(t)
	resp, _ := ce.h.Handle(ctx, withQuery(loadEvent(t, "admitad-callback.json"), f.callback, f.cookie))
	ce.pages = append(ce.pages, resp.Body)
	if resp.StatusCode != http.StatusInternalServerError || !strings.Contains(resp.Body, "refresh token could not be saved") {
		t.Fatalf("HTTP %d:\n%s", resp.StatusCode, resp.Body)
	}
	if ce.versions(t) != before {
		t.Error("a secret was written")
	}
	ce.assertAllClean(t, f.callback.Get("code"), ce.srv.CurrentRefreshToken())
}

// assertNoFragment fails if text holds any piece of 8 bytes or more of a
// secret: no secret may appear whole or in part.
func assertNoFragment(t *testing.T, what, text string, secrets []string) {
	t.Helper()
	for i, s := range secrets {
		for at := 0; at+8 <= len(s); at++ {
			if strings.Contains(text, s[at:at+8]) {
				t.Errorf("%s holds a piece of secret %d (%d bytes long) at its byte %d", what, i, len(s), at)
				return
			}
		}
	}
}

// TestCallbackScrubsBeforeCutting: Admitad's error text, on the token call
// or in its redirect, echoes the client secret at offsets that put it
// across every cut; neither the page nor the log holds a piece of it.
func TestCallbackScrubsBeforeCutting(t *testing.T) {
	ce := newCallbackEnv(t)
	sec := ce.creds["client_secret"]
	for off := 0; off <= 340; off += 9 {
		desc := strings.Repeat("x", off) + sec + " is wrong"
		t.Run("token call, offset "+strconv.Itoa(off), func(t *testing.T) {
			f := ce.start(t)
			body, _ := json.Marshal(map[string]string{"error": "invalid_client", "error_description": desc})
			ce.srv.Inject(vendortest.Fault{Status: 401, Body: string(body)})
			resp := ce.finish(t, f.callback, f.cookie)
			if resp.StatusCode != http.StatusBadGateway || !strings.Contains(resp.Body, "invalid_client") {
				t.Fatalf("HTTP %d:\n%s", resp.StatusCode, resp.Body)
			}
			assertNoFragment(t, "page", resp.Body, []string{sec})
		})
		t.Run("redirect, offset "+strconv.Itoa(off), func(t *testing.T) {
			f := ce.start(t)
			f.callback.Del("code")
			f.callback.Set("error", "server_error")
			f.callback.Set("error_description", desc)
			resp := ce.finish(t, f.callback, f.cookie)
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(resp.Body, "server_error") {
				t.Fatalf("HTTP %d:\n%s", resp.StatusCode, resp.Body)
			}
			assertNoFragment(t, "page", resp.Body, []string{sec})
		})
		t.Run("code in the redirect, offset "+strconv.Itoa(off), func(t *testing.T) {
			f := ce.start(t)
			f.callback.Del("code")
			f.callback.Set("error", strings.Repeat("e", off%80)+sec)
			resp := ce.finish(t, f.callback, f.cookie)
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("HTTP %d:\n%s", resp.StatusCode, resp.Body)
			}
			assertNoFragment(t, "page", resp.Body, []string{sec})
		})
	}
	assertNoFragment(t, "log", ce.log.String(), []string{sec})
}

// countingAPI counts the reads of one secret.
type countingAPI struct {
	secretstore.API
	id    string
	reads atomic.Int32
}

func (c *countingAPI) GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opt ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	if aws.ToString(in.SecretId) == c.id {
		c.reads.Add(1)
	}
	return c.API.GetSecretValue(ctx, in, opt...)
}

// TestCallbackCachesSigningKey: the signing key is read once per
// SigningKeyTTL, not on every request: requests anyone can send (forged
// links) cost at most one more read per SigningKeyRecheck, and a key an
// operator rotates is picked up by the next link after that.
func TestCallbackCachesSigningKey(t *testing.T) {
	ce := newCallbackEnv(t)
	api := &countingAPI{API: ce.sm, id: ce.keyID}
	ce.h.Store = &secretstore.Store{API: api}
	const base = "https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/admitad/authorize"
	forged := func(t *testing.T, n int) {
		t.Helper()
		for i := range n {
			u, _ := url.Parse(admitad.MintLink([]byte(randomHex(t, 32)), base, 0, ce.clock.now()))
			if resp := ce.handle(t, withQuery(loadEvent(t, "admitad-authorize.json"), u.Query())); resp.StatusCode != http.StatusForbidden {
				t.Fatalf("forged link %d: HTTP %d", i, resp.StatusCode)
			}
		}
	}
	wantReads := func(t *testing.T, want int32, when string) {
		t.Helper()
		if got := api.reads.Load(); got != want {
			t.Fatalf("%s: the signing key was read %d times, want %d", when, got, want)
		}
	}
	forged(t, 20)
	wantReads(t, 1, "20 forged links")
	f := ce.start(t)
	if resp := ce.finish(t, f.callback, f.cookie); resp.StatusCode != http.StatusOK {
		t.Fatalf("connect: HTTP %d: %s", resp.StatusCode, resp.Body)
	}
	wantReads(t, 1, "a whole connect")

	ce.clock.add(admitad.SigningKeyRecheck)
	forged(t, 20)
	wantReads(t, 2, "20 forged links a recheck interval later")

	ce.clock.add(admitad.SigningKeyTTL)
	ce.start(t)
	wantReads(t, 3, "a link after the key's time to live")

	// An operator rotates the key; a link minted with the new one works
	// once the recheck interval since the last read has passed.
	rotated := randomHex(t, 32)
	ce.put(t, ce.keyID, rotated)
	link := func() events.APIGatewayV2HTTPResponse {
		u, _ := url.Parse(admitad.MintLink([]byte(rotated), base, 0, ce.clock.now()))
		return ce.handle(t, withQuery(loadEvent(t, "admitad-authorize.json"), u.Query()))
	}
	if resp := link(); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("new-key link right after a read: HTTP %d, want 403 until the recheck interval passes", resp.StatusCode)
	}
	wantReads(t, 3, "a new-key link right after a read")
	ce.clock.add(admitad.SigningKeyRecheck)
	if resp := link(); resp.StatusCode != http.StatusFound {
		t.Fatalf("new-key link after the recheck interval: HTTP %d: %s", resp.StatusCode, resp.Body)
	}
	wantReads(t, 4, "a new-key link after the recheck interval")
	ce.assertAllClean(t, rotated)
}

// failingKeyAPI fails every read of one secret while fail is set.
type failingKeyAPI struct {
	countingAPI
	fail atomic.Bool
}

func (f *failingKeyAPI) GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opt ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	if aws.ToString(in.SecretId) == f.id && f.fail.Load() {
		f.reads.Add(1)
		// Not retried by the store: one read, one call.
		return nil, &types.InvalidRequestException{Message: aws.String("injected: secret unavailable")}
	}
	return f.countingAPI.GetSecretValue(ctx, in, opt...)
}

// TestCallbackSigningKeyReadFails: while the key cannot be read, requests
// do not each retry the read; a key read before keeps working.
func TestCallbackSigningKeyReadFails(t *testing.T) {
	ce := newCallbackEnv(t)
	api := &failingKeyAPI{countingAPI: countingAPI{API: ce.sm, id: ce.keyID}}
	ce.h.Store = &secretstore.Store{API: api}
	const base = "https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/admitad/authorize"
	authorize := func() events.APIGatewayV2HTTPResponse {
		u, _ := url.Parse(admitad.MintLink(ce.key, base, 0, ce.clock.now()))
		return ce.handle(t, withQuery(loadEvent(t, "admitad-authorize.json"), u.Query()))
	}
	api.fail.Store(true)
	for i := range 10 {
		if resp := authorize(); resp.StatusCode != http.StatusInternalServerError || !strings.Contains(resp.Body, "signing key could not be read") {
			t.Fatalf("request %d: HTTP %d: %s", i, resp.StatusCode, resp.Body)
		}
	}
	if got := api.reads.Load(); got != 1 {
		t.Fatalf("10 requests while the key is unreadable made %d reads, want 1", got)
	}
	ce.clock.add(admitad.SigningKeyRetry)
	api.fail.Store(false)
	if resp := authorize(); resp.StatusCode != http.StatusFound {
		t.Fatalf("after the store recovered: HTTP %d: %s", resp.StatusCode, resp.Body)
	}
	// The key expires while the store is down: the one read before stays
	// in use.
	api.fail.Store(true)
	ce.clock.add(admitad.SigningKeyTTL)
	for i := range 5 {
		if resp := authorize(); resp.StatusCode != http.StatusFound {
			t.Fatalf("stale key, request %d: HTTP %d: %s", i, resp.StatusCode, resp.Body)
		}
	}
	if got := api.reads.Load(); got != 3 {
		t.Errorf("reads = %d, want 3 (one failed, one good, one failed retry)", got)
	}
	ce.assertAllClean(t)
}

// The callback reads exactly the environment the stack sets (package
// vendors); infra/tokenrefresher's tests check the stack's side.
func TestCallbackReadsTheContract(t *testing.T) {
	spec := vendors.MustLookup(admitad.Name)
	refreshtest.EnvContract(t, spec, vendors.CallbackEnv(spec), func(getenv func(string) string) error {
		_, err := admitad.LoadCallbackConfig(getenv)
		return err
	})
}
