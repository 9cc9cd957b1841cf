package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/token-refresher/token-refresher/internal/localaws"
	"github.com/token-refresher/token-refresher/shared/admitad"
	"github.com/token-refresher/token-refresher/shared/admitad/admitadtest"
	"github.com/token-refresher/token-refresher/shared/refresh"
	"github.com/token-refresher/token-refresher/shared/token"
	"github.com/token-refresher/token-refresher/shared/vendors"
	"github.com/token-refresher/token-refresher/shared/vendortest"
)

func TestMain(m *testing.M) { os.Exit(localaws.RunTests(m)) }

// world is the whole system on loopback: moto as Secrets Manager, a fake
// Admitad, the callback function's real binary under aws-lambda-rie behind
// Front (API Gateway's stand-in, served over TLS so the browser's cookie
// jar sends the Secure cookie as a browser would), and the refresher's
// real binary under aws-lambda-rie.
type world struct {
	sm        *secretsmanager.Client
	srv       *admitadtest.Server
	callback  *localaws.Function
	refresher *localaws.Function
	front     *httptest.Server
	key       []byte
	creds     map[string]string
	ids       map[string]string
	// conns are the named connections' secrets, by connection.
	conns map[string]map[string]string

	mu      sync.Mutex
	seen    []string // codes and refresh tokens seen during the test
	outputs []string // pages and invoke replies
}

func newWorld(t *testing.T) *world { return newWorldWith(t, nil, nil) }

// newWorldWith serves the default connection and the named connections
// names (CONNECTIONS and NAME_PREFIX, as the stack sets them on both
// functions), each with its own credentials, token and refresh-token
// secrets; expected gives a connection's expected_username.
func newWorldWith(t *testing.T, names []string, expected map[string]string) *world {
	t.Helper()
	moto := localaws.MotoForTest(t)
	sm, err := moto.SecretsManager(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	w := &world{sm: sm, creds: vendortest.Credentials(vendors.Admitad)}
	w.srv = admitadtest.NewServer(vendortest.Options{})
	t.Cleanup(w.srv.Close)
	w.key = []byte(randomHex(t, 32))
	prefix := "e2e-admitad-" + randomHex(t, 6) + "-"
	w.ids = map[string]string{
		"CREDENTIALS_SECRET_ID": prefix + "credentials",
		"TOKEN_SECRET_ID":       prefix + "token",
		"REFRESH_SECRET_ID":     prefix + "refresh",
		"SIGNING_KEY_SECRET_ID": prefix + "signing-key",
	}
	credJSON, _ := json.Marshal(w.creds)
	for k, v := range map[string]string{
		"CREDENTIALS_SECRET_ID": string(credJSON),
		"TOKEN_SECRET_ID":       randomHex(t, 16),
		"REFRESH_SECRET_ID":     randomHex(t, 16),
		"SIGNING_KEY_SECRET_ID": string(w.key),
	} {
		if _, err := sm.CreateSecret(context.Background(), &secretsmanager.CreateSecretInput{Name: aws.String(w.ids[k]), SecretString: aws.String(v)}); err != nil {
			t.Fatal(err)
		}
	}
	env := append(moto.Env(), "TOKEN_URL="+w.srv.TokenURL())
	for k, v := range w.ids {
		env = append(env, k+"="+v)
	}
	if len(names) > 0 {
		secretPrefix := "e2e-" + randomHex(t, 6)
		env = append(env, "CONNECTIONS="+strings.Join(names, ","), "NAME_PREFIX="+secretPrefix)
		w.conns = map[string]map[string]string{}
		for _, n := range names {
			creds := map[string]string{}
			for k, v := range w.creds {
				creds[k] = v
			}
			delete(creds, "expected_username")
			if u := expected[n]; u != "" {
				creds["expected_username"] = u
			}
			credJSON, _ := json.Marshal(creds)
			w.conns[n] = map[string]string{}
			for role, value := range map[string]string{
				vendors.RoleCredentials:  string(credJSON),
				vendors.RoleToken:        randomHex(t, 16),
				vendors.RoleRefreshToken: randomHex(t, 16),
			} {
				id := vendors.SecretName(secretPrefix, vendors.Admitad, n, role)
				w.conns[n][role] = id
				if _, err := sm.CreateSecret(context.Background(), &secretsmanager.CreateSecretInput{Name: aws.String(id), SecretString: aws.String(value)}); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	w.callback = localaws.FunctionForTest(t, "admitad-callback", append(env, "AUTHORIZE_URL="+w.srv.AuthorizeURL(), "REFRESHER_FUNCTION_NAME=admitad"))
	w.refresher = localaws.FunctionForTest(t, "admitad", env)
	w.front = httptest.NewTLSServer(localaws.NewFront(map[string]localaws.Invoker{
		"GET /admitad/authorize": w.callback,
		"GET /admitad/callback":  w.callback,
	}))
	t.Cleanup(w.front.Close)
	return w
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

func (w *world) remember(values ...string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.seen = append(w.seen, values...)
}

func (w *world) output(s string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.outputs = append(w.outputs, s)
}

// browser is an HTTP client with a cookie jar that trusts the Front's
// certificate and records the URLs it is redirected through.
type browser struct {
	*http.Client
	mu     sync.Mutex
	visits []*url.URL
	// stopAt, if set, stops following redirects at the first URL whose
	// path it names.
	stopAt string
	// lastCookie is the connect cookie sent with the last callback.
	lastCookie string
}

func (w *world) browser(t *testing.T) *browser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	// Its own client: the Front's Client is one shared value, and a jar
	// set on it would send this browser's cookies with every request.
	client := *w.front.Client()
	b := &browser{Client: &client}
	b.Jar = jar
	b.Timeout = 60 * time.Second
	b.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		b.mu.Lock()
		b.visits = append(b.visits, req.URL)
		if req.URL.Path == admitad.CallbackPath {
			for _, c := range b.Jar.Cookies(req.URL) {
				if c.Name == admitad.CookieName {
					b.lastCookie = c.Value
				}
			}
		}
		b.mu.Unlock()
		if q := req.URL.Query(); q.Get("code") != "" {
			w.remember(q.Get("code"))
		}
		if b.stopAt != "" && req.URL.Path == b.stopAt {
			return http.ErrUseLastResponse
		}
		return nil
	}
	return b
}

// get fetches u and returns the status, body and final response.
func (w *world) get(t *testing.T, c *http.Client, u string, cookie string) (int, string, *http.Response) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cookie != "" {
		req.Header.Set("Cookie", admitad.CookieName+"="+cookie)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if strings.HasPrefix(resp.Request.URL.String(), w.front.URL) {
		// Our pages; a redirect page of Admitad's carries its code.
		w.output(string(body))
	}
	return resp.StatusCode, string(body), resp
}

func (w *world) link(ttl time.Duration, at time.Time) string {
	return admitad.MintLink(w.key, w.front.URL+admitad.AuthorizePath, ttl, at)
}

// current reads the AWSCURRENT version of a secret (naming the stage: see
// package admitad's readCurrent on moto).
func (w *world) current(t *testing.T, env string) (string, string) {
	t.Helper()
	out, err := w.sm.GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: aws.String(w.ids[env]), VersionStage: aws.String("AWSCURRENT")})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.SecretString), aws.ToString(out.VersionId)
}

func (w *world) connection(t *testing.T) admitad.Connection {
	t.Helper()
	v, _ := w.current(t, "REFRESH_SECRET_ID")
	c, err := admitad.ParseConnection(v)
	if err != nil {
		t.Fatalf("refresh-token secret: %v", err)
	}
	w.remember(c.RefreshToken)
	return c
}

func (w *world) token(t *testing.T) token.Token {
	t.Helper()
	v, _ := w.current(t, "TOKEN_SECRET_ID")
	tok, err := token.Parse(v)
	if err != nil {
		t.Fatalf("token secret: %v", err)
	}
	return tok
}

func (w *world) versions(t *testing.T) [2]string {
	_, a := w.current(t, "TOKEN_SECRET_ID")
	_, b := w.current(t, "REFRESH_SECRET_ID")
	return [2]string{a, b}
}

// refresh invokes the refresher binary.
func (w *world) refresh(t *testing.T, event string) (refresh.Summary, localaws.Result) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := w.refresher.Invoke(ctx, []byte(event))
	if err != nil {
		t.Fatal(err)
	}
	w.output(string(res.Payload) + res.ErrorMessage)
	var sum refresh.Summary
	if !res.Failed() {
		if err := json.Unmarshal(res.Payload, &sum); err != nil {
			t.Fatalf("refresher reply: %v", err)
		}
	}
	return sum, res
}

// connect walks the whole flow in b and returns the final page.
func (w *world) connect(t *testing.T, b *browser) (int, string) {
	t.Helper()
	status, body, _ := w.get(t, b.Client, w.link(0, time.Now()), "")
	return status, body
}

// assertClean scans every output for secrets.
func (w *world) assertClean(t *testing.T) {
	t.Helper()
	w.mu.Lock()
	secrets := append([]string{w.creds["client_secret"], string(w.key)}, w.seen...)
	outputs := append([]string{w.callback.Output(), w.refresher.Output()}, w.outputs...)
	w.mu.Unlock()
	secrets = append(secrets, w.srv.Issued()...)
	if rt := w.srv.CurrentRefreshToken(); rt != "" {
		secrets = append(secrets, rt)
	}
	for i, out := range outputs {
		for _, s := range secrets {
			if s != "" && strings.Contains(out, s) {
				t.Errorf("output %d contains a secret value (%d bytes, starting %.3s…)", i, len(s), s)
			}
		}
	}
}

func TestEndToEnd(t *testing.T) {
	w := newWorld(t)
	defer w.assertClean(t)

	// Before anyone connects, the refresher says how to connect.
	if _, res := w.refresh(t, `{}`); !res.Failed() || !strings.Contains(res.ErrorMessage, "make connect-admitad") {
		t.Fatalf("refresher before connect: %s %s", res.Payload, res.ErrorMessage)
	}

	b := w.browser(t)
	status, page := w.connect(t, b)
	if status != http.StatusOK || !strings.Contains(page, "Admitad connected") || !strings.Contains(page, admitadtest.Username) || !strings.Contains(page, w.creds["scope"]) {
		t.Fatalf("final page: HTTP %d:\n%s", status, page)
	}
	// The walk: Front /admitad/authorize → Admitad → Front /admitad/callback.
	var paths []string
	for _, u := range b.visits {
		paths = append(paths, u.Host+u.Path)
	}
	frontHost := strings.TrimPrefix(w.front.URL, "https://")
	adm, _ := url.Parse(w.srv.AuthorizeURL())
	if len(paths) != 2 || paths[0] != adm.Host+adm.Path || paths[1] != frontHost+admitad.CallbackPath {
		t.Fatalf("redirects %v", paths)
	}
	callbackURL := b.visits[1].String()
	if u, _ := url.Parse(w.front.URL); len(b.Jar.Cookies(u.JoinPath(admitad.CallbackPath))) != 0 {
		t.Error("the connect cookie is still in the jar after the callback")
	}

	conn := w.connection(t)
	first := w.token(t)
	if !w.srv.RefreshTokenValid(conn.RefreshToken) || !w.srv.Valid(first.AccessToken) || first.Extras["username"] != admitadtest.Username || first.Refresher != "admitad" {
		t.Fatalf("after connect: refresh token valid %v, access token valid %v, extras %v", w.srv.RefreshTokenValid(conn.RefreshToken), w.srv.Valid(first.AccessToken), first.Extras)
	}

	// The scheduled refresher rotates.
	sum, res := w.refresh(t, `{"force": true}`)
	if res.Failed() || sum.Action != refresh.ActionRefreshed {
		t.Fatalf("refresh: %+v %s", sum, res.ErrorMessage)
	}
	rotated := w.connection(t)
	second := w.token(t)
	switch {
	case w.srv.RefreshTokenValid(conn.RefreshToken):
		t.Error("the old refresh token is still accepted")
	case rotated.RefreshToken == conn.RefreshToken || !w.srv.RefreshTokenValid(rotated.RefreshToken):
		t.Error("the new refresh token is not stored or not valid")
	case second.AccessToken == first.AccessToken || !w.srv.Valid(second.AccessToken) || second.Fingerprint != sum.Fingerprint:
		t.Error("the access token was not updated")
	}

	t.Run("replayed callback URL", func(t *testing.T) {
		before, requests := w.versions(t), w.srv.TokenRequests()
		// In the same browser: the cookie is gone, and the page says
		// what happened: the link was already used.
		if status, body, _ := w.get(t, b.Client, callbackURL, ""); status != http.StatusBadRequest || !strings.Contains(body, "already used") || strings.Contains(body, "no connect cookie") {
			t.Errorf("replay in the browser: HTTP %d:\n%s", status, body)
		}
		// With the cookie put back by hand.
		cookie := replayCookie(t, b)
		if status, body, _ := w.get(t, w.front.Client(), callbackURL, cookie); status != http.StatusBadRequest || !strings.Contains(body, "already completed") {
			t.Errorf("replay with the cookie: HTTP %d:\n%s", status, body)
		}
		if w.versions(t) != before || w.srv.TokenRequests() != requests {
			t.Error("a replay wrote a secret or called Admitad")
		}
	})

	t.Run("refused", func(t *testing.T) {
		cookie := "e2e-cookie-" + randomHex(t, 16)
		state := func(at time.Time) string {
			s, err := admitad.NewState(w.key, cookie, at, admitad.StateTTL)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
		cb := func(q url.Values) string { return w.front.URL + admitad.CallbackPath + "?" + q.Encode() }
		code := "c75ebf64ad48a352630b6d953ce365"
		for _, tc := range []struct {
			name, url, cookie, want string
			status                  int
		}{
			{"forged state", cb(url.Values{"code": {code}, "state": {"v1.1.2.bm9uY2U.c2ln"}}), cookie, "not issued to this browser", 400},
			{"state signed with another key", cb(url.Values{"code": {code}, "state": {mustState(t, []byte(strings.Repeat("z", 32)), cookie)}}), cookie, "not issued to this browser", 400},
			{"expired state", cb(url.Values{"code": {code}, "state": {state(time.Now().Add(-admitad.StateTTL - time.Minute))}}), cookie, "expired", 400},
			{"state without its cookie", cb(url.Values{"code": {code}, "state": {state(time.Now())}}), "", "no connect cookie", 400},
			{"state with another cookie", cb(url.Values{"code": {code}, "state": {state(time.Now())}}), cookie + "x", "not issued to this browser", 400},
			{"no state", cb(url.Values{"code": {code}}), cookie, "no state", 400},
			{"access_denied", cb(url.Values{"error": {"access_denied"}, "error_description": {"The user denied access to your application"}, "state": {state(time.Now())}}), cookie, "The user denied access", 400},
			{"invalid_client", cb(url.Values{"error": {"invalid_client"}, "error_description": {"client_id cb28 doesn't exist"}, "state": {state(time.Now())}}), cookie, "doesn&#39;t exist", 400},
			{"script in error_description", cb(url.Values{"error": {"invalid_request"}, "error_description": {"<script>alert(1)</script>"}, "state": {state(time.Now())}}), cookie, "&lt;script&gt;alert(1)&lt;/script&gt;", 400},
			{"link with a bad signature", admitad.MintLink([]byte(strings.Repeat("z", 32)), w.front.URL+admitad.AuthorizePath, 0, time.Now()), "", "signature is not valid", 403},
			{"expired link", w.link(5*time.Minute, time.Now().Add(-10*time.Minute)), "", "expired", 403},
			{"bare link", w.front.URL + admitad.AuthorizePath, "", "no expiry or signature", 403},
		} {
			t.Run(tc.name, func(t *testing.T) {
				before, requests, authorizes := w.versions(t), w.srv.TokenRequests(), w.srv.Stats().AuthorizeRequests
				c := w.front.Client()
				c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
				status, body, resp := w.get(t, c, tc.url, tc.cookie)
				if status != tc.status || !strings.Contains(body, tc.want) {
					t.Fatalf("HTTP %d, want %d saying %q:\n%s", status, tc.status, tc.want, body)
				}
				if strings.Contains(body, "<script>") {
					t.Error("the page carries an unescaped script")
				}
				if resp.Header.Get("Location") != "" {
					t.Error("a refusal redirected")
				}
				if w.versions(t) != before || w.srv.TokenRequests() != requests || w.srv.Stats().AuthorizeRequests != authorizes {
					t.Error("a refusal wrote a secret or reached Admitad")
				}
			})
		}
	})

	t.Run("denied in the dialogue", func(t *testing.T) {
		before := w.versions(t)
		w.srv.DenyNext()
		status, body := w.connect(t, w.browser(t))
		if status != http.StatusBadRequest || !strings.Contains(body, "access_denied") || !strings.Contains(body, "choose Allow") {
			t.Fatalf("HTTP %d:\n%s", status, body)
		}
		if w.versions(t) != before {
			t.Error("a secret was written")
		}
	})
}

func mustState(t *testing.T, key []byte, cookie string) string {
	t.Helper()
	s, err := admitad.NewState(key, cookie, time.Now(), 0)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// replayCookie is the connect cookie the browser sent with its callback,
// as an attacker holding it would send it again.
func replayCookie(t *testing.T, b *browser) string {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.lastCookie == "" {
		t.Fatal("the browser sent no connect cookie with its callback")
	}
	return b.lastCookie
}

// TestRaceEndToEnd: a person's callback and a scheduled refresh land at
// the same moment, each in its own function process. The reconnect is the
// newer intent: the refresh-token secret must end with the reconnect's
// connection (its token, or one the refresher rotated from it after it
// landed), valid at Admitad.
func TestRaceEndToEnd(t *testing.T) {
	w := newWorld(t)
	defer w.assertClean(t)
	if status, body := w.connect(t, w.browser(t)); status != http.StatusOK {
		t.Fatalf("first connect: HTTP %d:\n%s", status, body)
	}
	outcomes := map[string]int{}
	for i := range 4 {
		before := w.connection(t)
		b := w.browser(t)
		b.stopAt = admitad.CallbackPath
		if status, body, _ := w.get(t, b.Client, w.link(0, time.Now()), ""); status != http.StatusFound {
			t.Fatalf("round %d: walk to Admitad: HTTP %d:\n%s", i, status, body)
		}
		callbackURL := b.visits[len(b.visits)-1].String()
		b.stopAt = ""

		var wg sync.WaitGroup
		var cbStatus int
		var cbBody string
		var cbErr error
		var sum refresh.Summary
		var res localaws.Result
		var invErr error
		start := make(chan struct{})
		wg.Add(2)
		go func() {
			defer wg.Done()
			<-start
			resp, err := b.Get(callbackURL)
			if err != nil {
				cbErr = err
				return
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			cbStatus, cbBody = resp.StatusCode, string(body)
		}()
		go func() {
			defer wg.Done()
			<-start
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			res, invErr = w.refresher.Invoke(ctx, []byte(`{"force": true}`))
			if invErr == nil && !res.Failed() {
				invErr = json.Unmarshal(res.Payload, &sum)
			}
		}()
		close(start)
		wg.Wait()
		w.output(cbBody)
		w.output(string(res.Payload) + res.ErrorMessage)
		if cbErr != nil || invErr != nil {
			t.Fatalf("round %d: callback %v, refresher %v", i, cbErr, invErr)
		}
		if cbStatus != http.StatusOK {
			t.Fatalf("round %d: callback HTTP %d:\n%s", i, cbStatus, cbBody)
		}
		if res.Failed() || (sum.Action != refresh.ActionRefreshed && sum.Action != refresh.ActionSuperseded) {
			t.Fatalf("round %d: refresher %s %s", i, res.Payload, res.ErrorMessage)
		}
		outcomes[sum.Action]++

		after := w.connection(t)
		if after.ConnectState == before.ConnectState || !after.ConnectedAt.After(before.ConnectedAt) {
			t.Fatalf("round %d: the refresh-token secret does not hold the reconnect's connection", i)
		}
		if !w.srv.RefreshTokenValid(after.RefreshToken) {
			t.Fatalf("round %d: the stored refresh token is refused by Admitad", i)
		}
		if tok := w.token(t); !w.srv.Valid(tok.AccessToken) {
			t.Fatalf("round %d: the published access token is not valid", i)
		}
	}
	t.Logf("refresher outcomes: %v", outcomes)

	// And the connection keeps working.
	if sum, res := w.refresh(t, `{"force": true}`); res.Failed() || sum.Action != refresh.ActionRefreshed {
		t.Fatalf("refresh after the races: %s %s", res.Payload, res.ErrorMessage)
	}
	if c := w.connection(t); !w.srv.RefreshTokenValid(c.RefreshToken) {
		t.Fatal("the stored refresh token is refused by Admitad")
	}
}

// secretID is connection conn's secret of role.
func (w *world) secretID(conn, role string) string {
	if conn == vendors.DefaultConnection {
		return w.ids[map[string]string{
			vendors.RoleCredentials:  "CREDENTIALS_SECRET_ID",
			vendors.RoleToken:        "TOKEN_SECRET_ID",
			vendors.RoleRefreshToken: "REFRESH_SECRET_ID",
		}[role]]
	}
	return w.conns[conn][role]
}

// currentOf reads the AWSCURRENT version of secret id.
func (w *world) currentOf(t *testing.T, id string) (string, string) {
	t.Helper()
	out, err := w.sm.GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: aws.String(id), VersionStage: aws.String("AWSCURRENT")})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.SecretString), aws.ToString(out.VersionId)
}

func (w *world) connectionOf(t *testing.T, conn string) admitad.Connection {
	t.Helper()
	v, _ := w.currentOf(t, w.secretID(conn, vendors.RoleRefreshToken))
	c, err := admitad.ParseConnection(v)
	if err != nil {
		t.Fatalf("%s: refresh-token secret: %v", conn, err)
	}
	w.remember(c.RefreshToken)
	return c
}

func (w *world) tokenOf(t *testing.T, conn string) token.Token {
	t.Helper()
	v, _ := w.currentOf(t, w.secretID(conn, vendors.RoleToken))
	tok, err := token.Parse(v)
	if err != nil {
		t.Fatalf("%s: token secret: %v", conn, err)
	}
	return tok
}

// allVersions are the current versions of every connection's token and
// refresh-token secrets.
func (w *world) allVersions(t *testing.T) map[string][2]string {
	t.Helper()
	out := map[string][2]string{}
	for _, conn := range append([]string{vendors.DefaultConnection}, keys(w.conns)...) {
		_, a := w.currentOf(t, w.secretID(conn, vendors.RoleToken))
		_, b := w.currentOf(t, w.secretID(conn, vendors.RoleRefreshToken))
		out[conn] = [2]string{a, b}
	}
	return out
}

func keys(m map[string]map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// onlyChanged fails unless exactly the secrets of conn changed from before.
func (w *world) onlyChanged(t *testing.T, what, conn string, before map[string][2]string) {
	t.Helper()
	after := w.allVersions(t)
	for n, v := range after {
		if changed := v != before[n]; changed != (n == conn) {
			t.Errorf("%s: connection %s's secrets changed: %v", what, n, changed)
		}
	}
}

// TestConnectionsEndToEnd: two connections, the default one and "eu", are
// connected through the real callback, each as its own Admitad account,
// then refreshed by the real refresher, each by its own event; every
// secret holds its own connection's tokens, and a link minted for one
// connection cannot store into the other.
func TestConnectionsEndToEnd(t *testing.T) {
	users := map[string]string{vendors.DefaultConnection: admitadtest.Username, "eu": "adv-eu"}
	// us is served but never connected: nothing may land in it.
	w := newWorldWith(t, []string{"eu", "us"}, map[string]string{"eu": users["eu"]})
	defer w.assertClean(t)
	links := map[string]string{
		// A link as minted before connections.
		vendors.DefaultConnection: w.link(0, time.Now()),
		"eu":                      admitad.MintConnectionLink(w.key, w.front.URL+admitad.AuthorizePath, "eu", 0, time.Now()),
	}

	// A named connection nobody connected yet says how to connect it.
	if _, res := w.refresh(t, `{"connection":"eu"}`); !res.Failed() || !strings.Contains(res.ErrorMessage, w.secretID("eu", vendors.RoleRefreshToken)) {
		t.Fatalf("eu before connect: %s %s", res.Payload, res.ErrorMessage)
	}

	connected := map[string]admitad.Connection{}
	for _, conn := range []string{vendors.DefaultConnection, "eu"} {
		w.srv.SetUsername(users[conn])
		before := w.allVersions(t)
		status, page, _ := w.get(t, w.browser(t).Client, links[conn], "")
		if status != http.StatusOK || !strings.Contains(page, "Admitad connected") || !strings.Contains(page, "<dd>"+conn+"</dd>") || !strings.Contains(page, users[conn]) {
			t.Fatalf("connect %s: HTTP %d:\n%s", conn, status, page)
		}
		w.onlyChanged(t, "connect "+conn, conn, before)
		c := w.connectionOf(t, conn)
		tok := w.tokenOf(t, conn)
		if c.Username != users[conn] || !w.srv.RefreshTokenValid(c.RefreshToken) {
			t.Fatalf("connect %s: refresh-token secret of %q, valid %v", conn, c.Username, w.srv.RefreshTokenValid(c.RefreshToken))
		}
		if tok.Connection != conn || tok.Trigger != token.TriggerConnect || tok.Extras["username"] != users[conn] || !w.srv.Valid(tok.AccessToken) {
			t.Fatalf("connect %s: token secret of connection %q, trigger %q, user %q", conn, tok.Connection, tok.Trigger, tok.Extras["username"])
		}
		connected[conn] = c
	}
	if connected["eu"].RefreshToken == connected[vendors.DefaultConnection].RefreshToken {
		t.Fatal("the connections share a refresh token")
	}

	// Each refreshed by its own event, touching only its own secrets.
	for _, tc := range []struct{ conn, event string }{
		{"eu", `{"force": true, "connection": "eu"}`},
		{vendors.DefaultConnection, `{"force": true}`},
	} {
		w.srv.SetUsername(users[tc.conn])
		before := w.allVersions(t)
		sum, res := w.refresh(t, tc.event)
		if res.Failed() || sum.Action != refresh.ActionRefreshed || sum.Connection != tc.conn {
			t.Fatalf("refresh %s: %+v %s", tc.conn, sum, res.ErrorMessage)
		}
		w.onlyChanged(t, "refresh "+tc.conn, tc.conn, before)
		c := w.connectionOf(t, tc.conn)
		tok := w.tokenOf(t, tc.conn)
		switch {
		case w.srv.RefreshTokenValid(connected[tc.conn].RefreshToken):
			t.Errorf("refresh %s: the old refresh token is still accepted", tc.conn)
		case c.RefreshToken == connected[tc.conn].RefreshToken || !w.srv.RefreshTokenValid(c.RefreshToken):
			t.Errorf("refresh %s: the new refresh token is not stored or not valid", tc.conn)
		case c.ConnectState != connected[tc.conn].ConnectState || c.Username != users[tc.conn]:
			t.Errorf("refresh %s: the connection changed: user %q", tc.conn, c.Username)
		case tok.Connection != tc.conn || tok.Fingerprint != sum.Fingerprint || !w.srv.Valid(tok.AccessToken):
			t.Errorf("refresh %s: token secret of connection %q, fingerprint %s, want %s", tc.conn, tok.Connection, tok.Fingerprint, sum.Fingerprint)
		}
		connected[tc.conn] = c
	}
	for conn, c := range connected {
		if !w.srv.RefreshTokenValid(c.RefreshToken) {
			t.Errorf("%s: the stored refresh token is refused by Admitad", conn)
		}
	}

	t.Run("a link for one connection cannot store into another", func(t *testing.T) {
		// Walk eu's flow to the callback, then try to land it elsewhere.
		b := w.browser(t)
		b.stopAt = admitad.CallbackPath
		if status, body, _ := w.get(t, b.Client, links["eu"], ""); status != http.StatusFound {
			t.Fatalf("walk to Admitad: HTTP %d:\n%s", status, body)
		}
		cb := b.visits[len(b.visits)-1]
		euCookie := ""
		for _, c := range b.Jar.Cookies(cb) {
			if c.Name == admitad.ConnectionCookieName("eu") {
				euCookie = c.Value
			}
		}
		if euCookie == "" {
			t.Fatalf("no %s cookie in the jar", admitad.ConnectionCookieName("eu"))
		}
		q := cb.Query()
		parts := strings.Split(q.Get("state"), ".")
		if len(parts) != 6 || parts[3] != "eu" {
			t.Fatalf("eu's state has %d parts", len(parts))
		}
		asDefault := url.Values{"code": q["code"], "state": {strings.Join([]string{"v1", parts[1], parts[2], parts[4], parts[5]}, ".")}}
		withConn := func(conn string) url.Values {
			p := append([]string(nil), parts...)
			p[3] = conn
			return url.Values{"code": q["code"], "state": {strings.Join(p, ".")}}
		}
		callback := func(v url.Values) string { return w.front.URL + admitad.CallbackPath + "?" + v.Encode() }
		tamper := func(link string, f func(url.Values)) string {
			u, _ := url.Parse(link)
			v := u.Query()
			f(v)
			u.RawQuery = v.Encode()
			return u.String()
		}
		for _, tc := range []struct {
			name, url, cookieName, cookie, want string
			status                              int
		}{
			{"eu's state made the default's, with eu's cookie as the default's", callback(asDefault), admitad.CookieName, euCookie, "not issued to this browser", 400},
			{"eu's state renamed to the default connection", callback(withConn("default")), admitad.CookieName, euCookie, "not one this service issued", 400},
			{"eu's state renamed to another served connection", callback(withConn("us")), admitad.ConnectionCookieName("us"), euCookie, "not issued to this browser", 400},
			{"eu's state, its cookie sent as the default's", callback(q), admitad.CookieName, euCookie, "no connect cookie", 400},
			{"eu's link without its connection", tamper(links["eu"], func(v url.Values) { v.Del("connection") }), "", "", "signature is not valid", 403},
			{"the default's link naming eu", tamper(links[vendors.DefaultConnection], func(v url.Values) { v.Set("connection", "eu") }), "", "", "signature is not valid", 403},
			{"a link for a connection not served", admitad.MintConnectionLink(w.key, w.front.URL+admitad.AuthorizePath, "apac", 0, time.Now()), "", "", "does not serve", 403},
		} {
			t.Run(tc.name, func(t *testing.T) {
				before, requests, authorizes := w.allVersions(t), w.srv.TokenRequests(), w.srv.Stats().AuthorizeRequests
				c := &http.Client{Transport: w.front.Client().Transport, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
				req, err := http.NewRequest(http.MethodGet, tc.url, nil)
				if err != nil {
					t.Fatal(err)
				}
				if tc.cookieName != "" {
					req.Header.Set("Cookie", tc.cookieName+"="+tc.cookie)
				}
				resp, err := c.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				w.output(string(body))
				if resp.StatusCode != tc.status || !strings.Contains(string(body), tc.want) {
					t.Fatalf("HTTP %d, want %d saying %q:\n%s", resp.StatusCode, tc.status, tc.want, body)
				}
				after := w.allVersions(t)
				for n := range before {
					if after[n] != before[n] {
						t.Errorf("connection %s's secrets were written", n)
					}
				}
				if w.srv.TokenRequests() != requests || w.srv.Stats().AuthorizeRequests != authorizes {
					t.Error("a refusal reached Admitad")
				}
			})
		}
		// The untampered callback still completes eu, and only eu.
		w.srv.SetUsername(users["eu"])
		before := w.allVersions(t)
		if status, body, _ := w.get(t, b.Client, cb.String(), ""); status != http.StatusOK || !strings.Contains(body, "<dd>eu</dd>") {
			t.Fatalf("eu's own callback: HTTP %d:\n%s", status, body)
		}
		w.onlyChanged(t, "eu's own callback", "eu", before)
	})
}
