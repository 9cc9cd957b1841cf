package admitad_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/token-refresher/token-refresher/shared/admitad"
	"github.com/token-refresher/token-refresher/shared/admitad/admitadtest"
	"github.com/token-refresher/token-refresher/shared/secretstore"
	"github.com/token-refresher/token-refresher/shared/token"
	"github.com/token-refresher/token-refresher/shared/vendors"
)

const authorizeBase = "https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/admitad/authorize"

// recordingAPI records every Secrets Manager call as "<call> <secret id>".
type recordingAPI struct {
	secretstore.API
	mu    sync.Mutex
	calls []string
}

func (r *recordingAPI) add(call string, id *string) {
	r.mu.Lock()
	r.calls = append(r.calls, call+" "+aws.ToString(id))
	r.mu.Unlock()
}

func (r *recordingAPI) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.calls
	r.calls = nil
	return out
}

func (r *recordingAPI) GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opt ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	r.add("GetSecretValue", in.SecretId)
	return r.API.GetSecretValue(ctx, in, opt...)
}

func (r *recordingAPI) PutSecretValue(ctx context.Context, in *secretsmanager.PutSecretValueInput, opt ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error) {
	r.add("PutSecretValue", in.SecretId)
	return r.API.PutSecretValue(ctx, in, opt...)
}

func (r *recordingAPI) UpdateSecretVersionStage(ctx context.Context, in *secretsmanager.UpdateSecretVersionStageInput, opt ...func(*secretsmanager.Options)) (*secretsmanager.UpdateSecretVersionStageOutput, error) {
	r.add("UpdateSecretVersionStage", in.SecretId)
	return r.API.UpdateSecretVersionStage(ctx, in, opt...)
}

// connIDs are one connection's secrets.
type connIDs struct{ cred, tok, ref string }

// connsEnv is a callback serving the default connection and named ones,
// each with its own three secrets, on one moto, behind a recordingAPI.
type connsEnv struct {
	*callbackEnv
	ids map[string]connIDs
	api *recordingAPI
}

// newConnsEnv serves the default connection and names. expected gives
// a connection's expected_username.
func newConnsEnv(t *testing.T, names []string, expected map[string]string) *connsEnv {
	t.Helper()
	return newConnsEnvWith(t, names, expected, nil)
}

// newConnsEnvWith is newConnsEnv where imported names, for some
// connections, an imported credentials secret (CREDENTIALS_SECRET_IDS)
// that replaces the connection's own.
func newConnsEnvWith(t *testing.T, names []string, expected, imported map[string]string) *connsEnv {
	t.Helper()
	ce := newCallbackEnv(t)
	prefix := "cb-" + randomHex(t, 6)
	e := &connsEnv{callbackEnv: ce, ids: map[string]connIDs{vendors.DefaultConnection: {ce.credID, ce.tokID, ce.refID}}}
	for _, n := range append([]string{vendors.DefaultConnection}, names...) {
		if n != vendors.DefaultConnection {
			e.ids[n] = connIDs{
				vendors.SecretName(prefix, vendors.Admitad, n, vendors.RoleCredentials),
				vendors.SecretName(prefix, vendors.Admitad, n, vendors.RoleToken),
				vendors.SecretName(prefix, vendors.Admitad, n, vendors.RoleRefreshToken),
			}
			if id := imported[n]; id != "" {
				e.ids[n] = connIDs{id, e.ids[n].tok, e.ids[n].ref}
			}
			ce.create(t, e.ids[n].tok, randomHex(t, 16))
			ce.create(t, e.ids[n].ref, randomHex(t, 16))
			ce.create(t, e.ids[n].cred, "{}")
		}
		creds := map[string]string{}
		for k, v := range ce.creds {
			creds[k] = v
		}
		delete(creds, "expected_username")
		if u := expected[n]; u != "" {
			creds["expected_username"] = u
		}
		b, _ := json.Marshal(creds)
		ce.put(t, e.ids[n].cred, string(b))
	}
	importedJSON := ""
	if len(imported) > 0 {
		b, _ := json.Marshal(imported)
		importedJSON = string(b)
	}
	cfg, err := admitad.LoadCallbackConfig(func(k string) string {
		return map[string]string{
			"CREDENTIALS_SECRET_ID": ce.credID, "TOKEN_SECRET_ID": ce.tokID, "REFRESH_SECRET_ID": ce.refID,
			"CONNECTIONS": strings.Join(names, ","), "NAME_PREFIX": prefix, "CREDENTIALS_SECRET_IDS": importedJSON,
			"SIGNING_KEY_SECRET_ID": ce.keyID, "TOKEN_URL": ce.srv.TokenURL(), "AUTHORIZE_URL": ce.srv.AuthorizeURL(),
			"REFRESHER_FUNCTION_NAME": "token-refresher-admitad",
		}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	e.api = &recordingAPI{API: ce.sm}
	ce.h = admitad.NewCallbackWith(cfg, &secretstore.Store{API: e.api}, newTestLogger(ce.log))
	ce.h.Client.HTTP = fastHTTP
	ce.h.Now = ce.clock.now
	return e
}

// allVersions are the current versions of every connection's token and
// refresh-token secrets.
func (e *connsEnv) allVersions(t *testing.T) map[string][2]string {
	t.Helper()
	out := map[string][2]string{}
	for n, id := range e.ids {
		out[n] = [2]string{e.get(t, id.tok).VersionID, e.get(t, id.ref).VersionID}
	}
	return out
}

// startConn follows a link of connection conn to Admitad and back,
// stopping before the callback.
func (e *connsEnv) startConn(t *testing.T, conn string) flow {
	t.Helper()
	return e.startLink(t, admitad.MintConnectionLink(e.key, authorizeBase, conn, 0, e.clock.now()), conn)
}

func (e *connsEnv) startLink(t *testing.T, link, conn string) flow {
	t.Helper()
	u, _ := url.Parse(link)
	resp := e.handle(t, withQuery(loadEvent(t, "admitad-authorize.json"), u.Query()))
	if resp.StatusCode != http.StatusFound || len(resp.Cookies) != 1 {
		t.Fatalf("authorize %s: HTTP %d, %d cookies: %s", conn, resp.StatusCode, len(resp.Cookies), resp.Body)
	}
	f := flow{setCookie: resp.Cookies[0]}
	c, err := http.ParseSetCookie(resp.Cookies[0])
	if err != nil || c.Name != admitad.ConnectionCookieName(conn) {
		t.Fatalf("authorize %s: Set-Cookie %q (%v), want cookie %s", conn, resp.Cookies[0], err, admitad.ConnectionCookieName(conn))
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

// finishWith sends the callback with cookies given as name=value pairs.
func (e *connsEnv) finishWith(t *testing.T, q url.Values, cookies ...string) events.APIGatewayV2HTTPResponse {
	t.Helper()
	ev := withQuery(loadEvent(t, "admitad-callback.json"), q)
	ev.Cookies = cookies
	return e.handle(t, ev)
}

// finishConn completes f as the browser that started it.
func (e *connsEnv) finishConn(t *testing.T, conn string, f flow) events.APIGatewayV2HTTPResponse {
	t.Helper()
	return e.finishWith(t, f.callback, admitad.ConnectionCookieName(conn)+"="+f.cookie)
}

// assertTouched fails unless every call in calls is on the signing key or
// on a secret of conn.
func (e *connsEnv) assertTouched(t *testing.T, conn string, calls []string) {
	t.Helper()
	own := map[string]bool{e.keyID: true, e.ids[conn].cred: true, e.ids[conn].tok: true, e.ids[conn].ref: true}
	for _, c := range calls {
		_, id, _ := strings.Cut(c, " ")
		if !own[id] {
			t.Errorf("a flow of connection %s called %s", conn, c)
		}
	}
}

// TestCallbackConnectsEachConnection: the default connection and two named
// ones connect, each as its own Admitad account, into its own secrets only;
// the success page and the token name the connection.
func TestCallbackConnectsEachConnection(t *testing.T) {
	names := []string{"eu", "us"}
	e := newConnsEnv(t, names, map[string]string{"eu": "adv-eu", "us": "adv-us"})
	refresh := map[string]string{}
	for _, conn := range append([]string{vendors.DefaultConnection}, names...) {
		t.Run(conn, func(t *testing.T) {
			user := map[string]string{vendors.DefaultConnection: admitadtest.Username}[conn]
			if user == "" {
				user = "adv-" + conn
			}
			e.srv.SetUsername(user)
			before := e.allVersions(t)
			e.api.take()
			var f flow
			if conn == vendors.DefaultConnection {
				// A link as minted before connections: no connection.
				f = e.startLink(t, admitad.MintLink(e.key, authorizeBase, 0, e.clock.now()), conn)
			} else {
				f = e.startConn(t, conn)
			}
			if strings.Contains(f.location.Query().Get("state"), "."+conn+".") != (conn != vendors.DefaultConnection) {
				t.Errorf("state %q: a named connection's names it, the default's does not", f.location.Query().Get("state"))
			}
			resp := e.finishConn(t, conn, f)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("callback: HTTP %d: %s", resp.StatusCode, resp.Body)
			}
			for _, s := range []string{"Admitad connected", "<dt>Connection</dt><dd>" + conn + "</dd>", `connection &#34;` + conn + `&#34;`, user} {
				if !strings.Contains(resp.Body, s) {
					t.Errorf("page lacks %q:\n%s", s, resp.Body)
				}
			}
			if len(resp.Cookies) != 1 || !strings.HasPrefix(resp.Cookies[0], admitad.ConnectionCookieName(conn)+"=;") || !strings.Contains(resp.Cookies[0], "Max-Age=0") {
				t.Errorf("the connection's cookie is not cleared: %q", resp.Cookies)
			}
			e.assertTouched(t, conn, e.api.take())
			after := e.allVersions(t)
			for n := range e.ids {
				if changed := after[n] != before[n]; changed != (n == conn) {
					t.Errorf("connect %s: connection %s's secrets changed: %v", conn, n, changed)
				}
			}
			c, err := admitad.ParseConnection(e.get(t, e.ids[conn].ref).String)
			if err != nil || c.Username != user || !e.srv.RefreshTokenValid(c.RefreshToken) {
				t.Fatalf("refresh-token secret: %v, user %q", err, c.Username)
			}
			refresh[conn] = c.RefreshToken
			tok, err := token.Parse(e.get(t, e.ids[conn].tok).String)
			if err != nil || tok.Connection != conn || tok.Trigger != token.TriggerConnect || tok.Extras["username"] != user || !e.srv.Valid(tok.AccessToken) {
				t.Fatalf("token secret: %v, connection %q, trigger %q, username %q", err, tok.Connection, tok.Trigger, tok.Extras["username"])
			}
			if !strings.Contains(e.log.String(), `"connection":"`+conn+`"`) {
				t.Errorf("no log line names connection %s", conn)
			}
		})
	}
	if len(refresh) != 3 || refresh["eu"] == refresh["us"] || refresh["eu"] == refresh[vendors.DefaultConnection] {
		t.Errorf("connections share a refresh token")
	}
	for conn, rt := range refresh {
		if !e.srv.RefreshTokenValid(rt) {
			t.Errorf("connection %s's refresh token is no longer valid", conn)
		}
	}
	e.assertAllClean(t, refresh["eu"], refresh["us"])
}

// TestCallbackConnectionCannotCross: a link or state minted for one
// connection can never read or write another's secrets: every tampering is
// refused with no call to Admitad and no secret written; a connection the
// function does not serve is refused before any Secrets Manager call.
func TestCallbackConnectionCannotCross(t *testing.T) {
	editLink := func(link string, f func(q url.Values)) url.Values {
		u, _ := url.Parse(link)
		q := u.Query()
		f(q)
		return q
	}
	editState := func(q url.Values, f func(parts []string) []string) url.Values {
		out := url.Values{}
		for k, v := range q {
			out[k] = append([]string(nil), v...)
		}
		out.Set("state", strings.Join(f(strings.Split(q.Get("state"), ".")), "."))
		return out
	}
	type attempt struct {
		authorize url.Values // a link's query, or
		callback  url.Values // a callback's query
		cookies   []string
	}
	cookie := func(conn, value string) string { return admitad.ConnectionCookieName(conn) + "=" + value }
	for _, tc := range []struct {
		name    string
		prepare func(t *testing.T, e *connsEnv) attempt
		status  int
		want    string
		// noCalls: refused before any Secrets Manager call.
		noCalls bool
	}{
		{"link: connection changed", func(t *testing.T, e *connsEnv) attempt {
			return attempt{authorize: editLink(admitad.MintConnectionLink(e.key, authorizeBase, "eu", 0, e.clock.now()), func(q url.Values) { q.Set("connection", "us") })}
		}, http.StatusForbidden, "signature is not valid", false},
		{"link: connection removed", func(t *testing.T, e *connsEnv) attempt {
			return attempt{authorize: editLink(admitad.MintConnectionLink(e.key, authorizeBase, "eu", 0, e.clock.now()), func(q url.Values) { q.Del("connection") })}
		}, http.StatusForbidden, "signature is not valid", false},
		{"link: connection added to a default link", func(t *testing.T, e *connsEnv) attempt {
			return attempt{authorize: editLink(admitad.MintLink(e.key, authorizeBase, 0, e.clock.now()), func(q url.Values) { q.Set("connection", "eu") })}
		}, http.StatusForbidden, "signature is not valid", false},
		{"link: a connection not served", func(t *testing.T, e *connsEnv) attempt {
			return attempt{authorize: editLink(admitad.MintConnectionLink(e.key, authorizeBase, "apac", 0, e.clock.now()), func(url.Values) {})}
		}, http.StatusForbidden, `connection &#34;apac&#34;, which this deployment does not serve`, true},
		{"link: an invalid connection name", func(t *testing.T, e *connsEnv) attempt {
			return attempt{authorize: editLink(admitad.MintLink(e.key, authorizeBase, 0, e.clock.now()), func(q url.Values) { q.Set("connection", "<b>EU</b>") })}
		}, http.StatusForbidden, "&lt;b&gt;EU&lt;/b&gt;", true},
		{"state: connection changed", func(t *testing.T, e *connsEnv) attempt {
			f := e.startConn(t, "eu")
			return attempt{callback: editState(f.callback, func(p []string) []string { p[3] = "us"; return p }), cookies: []string{cookie("us", f.cookie), cookie("eu", f.cookie)}}
		}, http.StatusBadRequest, "not issued to this browser", false},
		{"state: named turned default", func(t *testing.T, e *connsEnv) attempt {
			f := e.startConn(t, "eu")
			return attempt{callback: editState(f.callback, func(p []string) []string { return []string{"v1", p[1], p[2], p[4], p[5]} }), cookies: []string{cookie("", f.cookie), cookie("eu", f.cookie)}}
		}, http.StatusBadRequest, "not issued to this browser", false},
		{"state: default turned named", func(t *testing.T, e *connsEnv) attempt {
			f := e.startConn(t, "")
			return attempt{callback: editState(f.callback, func(p []string) []string { return []string{"v2", p[1], p[2], "eu", p[3], p[4]} }), cookies: []string{cookie("", f.cookie), cookie("eu", f.cookie)}}
		}, http.StatusBadRequest, "not issued to this browser", false},
		{"state of one connection with another's cookie", func(t *testing.T, e *connsEnv) attempt {
			eu, us := e.startConn(t, "eu"), e.startConn(t, "us")
			return attempt{callback: eu.callback, cookies: []string{cookie("eu", us.cookie), cookie("us", us.cookie)}}
		}, http.StatusBadRequest, "not issued to this browser", false},
		{"state of one connection, only another's cookie sent", func(t *testing.T, e *connsEnv) attempt {
			eu := e.startConn(t, "eu")
			return attempt{callback: eu.callback, cookies: []string{cookie("us", eu.cookie)}}
		}, http.StatusBadRequest, "no connect cookie", false},
		{"state of a connection not served", func(t *testing.T, e *connsEnv) attempt {
			st, err := admitad.NewConnectionState(e.key, "c00kie", "apac", e.clock.now(), 0)
			if err != nil {
				t.Fatal(err)
			}
			return attempt{callback: url.Values{"code": {"c0de"}, "state": {st}}, cookies: []string{cookie("apac", "c00kie")}}
		}, http.StatusBadRequest, `connection &#34;apac&#34;, which this deployment does not serve`, true},
		{"replayed callback of one connection", func(t *testing.T, e *connsEnv) attempt {
			f := e.startConn(t, "eu")
			if resp := e.finishConn(t, "eu", f); resp.StatusCode != http.StatusOK {
				t.Fatalf("first callback: HTTP %d: %s", resp.StatusCode, resp.Body)
			}
			return attempt{callback: f.callback, cookies: []string{cookie("eu", f.cookie)}}
		}, http.StatusBadRequest, "already completed", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newConnsEnv(t, []string{"eu", "us"}, nil)
			a := tc.prepare(t, e)
			before, requests := e.allVersions(t), e.srv.TokenRequests()
			e.api.take()
			var resp events.APIGatewayV2HTTPResponse
			if a.authorize != nil {
				resp = e.handle(t, withQuery(loadEvent(t, "admitad-authorize.json"), a.authorize))
			} else {
				resp = e.finishWith(t, a.callback, a.cookies...)
			}
			calls := e.api.take()
			if resp.StatusCode != tc.status || !strings.Contains(resp.Body, tc.want) {
				t.Fatalf("HTTP %d, want %d saying %q:\n%s", resp.StatusCode, tc.status, tc.want, resp.Body)
			}
			if tc.noCalls && len(calls) != 0 {
				t.Errorf("refused after Secrets Manager calls %v", calls)
			}
			for _, c := range calls {
				if !strings.HasPrefix(c, "GetSecretValue ") {
					t.Errorf("a refusal made the call %s", c)
				}
			}
			if strings.Contains(resp.Body, "eu, us") || strings.Contains(resp.Body, "default, eu") {
				t.Error("the page lists the connections served")
			}
			if resp.Headers["Location"] != "" || (a.authorize != nil && len(resp.Cookies) != 0) {
				t.Error("a refusal redirected or set a cookie")
			}
			if n := e.srv.TokenRequests() - requests; n != 0 {
				t.Errorf("%d token requests", n)
			}
			if after := e.allVersions(t); len(after) != len(before) || after["eu"] != before["eu"] || after["us"] != before["us"] || after[vendors.DefaultConnection] != before[vendors.DefaultConnection] {
				t.Error("a secret was written")
			}
			e.assertAllClean(t, a.callback.Get("code"))
		})
	}
}

// TestCallbackReplayPerConnection: the replay protections (connect_state,
// connected_at) are each connection's own: a newer connect of one
// connection does not stop an older flow of another, but does stop an
// older flow of the same connection.
func TestCallbackReplayPerConnection(t *testing.T) {
	e := newConnsEnv(t, []string{"eu", "us"}, nil)
	oldEU := e.startConn(t, "eu")
	oldUS := e.startConn(t, "us")
	e.clock.add(time.Second)
	newUS := e.startConn(t, "us")
	if resp := e.finishConn(t, "us", newUS); resp.StatusCode != http.StatusOK {
		t.Fatalf("newer us connect: HTTP %d: %s", resp.StatusCode, resp.Body)
	}
	if resp := e.finishConn(t, "eu", oldEU); resp.StatusCode != http.StatusOK {
		t.Fatalf("an older eu flow after a newer us connect: HTTP %d: %s", resp.StatusCode, resp.Body)
	}
	before := e.allVersions(t)
	if resp := e.finishConn(t, "us", oldUS); resp.StatusCode != http.StatusBadRequest || !strings.Contains(resp.Body, "A newer connection exists") || !strings.Contains(resp.Body, "us") {
		t.Fatalf("an older us flow after a newer us connect: HTTP %d: %s", resp.StatusCode, resp.Body)
	}
	if e.allVersions(t)["us"] != before["us"] {
		t.Error("the refused flow wrote us's secrets")
	}
	// Two flows of different connections in one browser keep their own
	// cookies; each completes with its own.
	e.clock.add(time.Second)
	a, b := e.startConn(t, "eu"), e.startConn(t, "us")
	both := []string{admitad.ConnectionCookieName("eu") + "=" + a.cookie, admitad.ConnectionCookieName("us") + "=" + b.cookie}
	for _, f := range []struct {
		conn string
		fl   flow
	}{{"us", b}, {"eu", a}} {
		if resp := e.finishWith(t, f.fl.callback, both...); resp.StatusCode != http.StatusOK || !strings.Contains(resp.Body, "<dd>"+f.conn+"</dd>") {
			t.Fatalf("%s in a browser holding both cookies: HTTP %d: %s", f.conn, resp.StatusCode, resp.Body)
		}
	}
	e.assertAllClean(t)
}

// TestCallbackExpectedUsernamePerConnection: expected_username is read from
// the connection's own credentials secret.
func TestCallbackExpectedUsernamePerConnection(t *testing.T) {
	e := newConnsEnv(t, []string{"eu", "us"}, map[string]string{"eu": "adv-eu"})
	e.srv.SetUsername("adv-us")
	before := e.allVersions(t)
	resp := e.finishConn(t, "eu", e.startConn(t, "eu"))
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(resp.Body, "Wrong Admitad account") || !strings.Contains(resp.Body, "adv-eu") {
		t.Fatalf("eu as adv-us: HTTP %d: %s", resp.StatusCode, resp.Body)
	}
	if e.allVersions(t)["eu"] != before["eu"] {
		t.Error("a wrong account was stored")
	}
	// us sets no expected_username: adv-us may connect it.
	if resp := e.finishConn(t, "us", e.startConn(t, "us")); resp.StatusCode != http.StatusOK {
		t.Fatalf("us as adv-us: HTTP %d: %s", resp.StatusCode, resp.Body)
	}
	e.srv.SetUsername("adv-eu")
	if resp := e.finishConn(t, "eu", e.startConn(t, "eu")); resp.StatusCode != http.StatusOK {
		t.Fatalf("eu as adv-eu: HTTP %d: %s", resp.StatusCode, resp.Body)
	}
	e.assertAllClean(t)
}

// TestCallbackImportedCredentials: a connection whose credentials secret is
// imported (CREDENTIALS_SECRET_IDS) connects with that secret's
// credentials, expected_username included.
func TestCallbackImportedCredentials(t *testing.T) {
	imported := "ops/admitad-eu-" + randomHex(t, 4)
	e := newConnsEnvWith(t, []string{"eu"}, map[string]string{"eu": "adv-eu"}, map[string]string{"eu": imported})
	e.srv.SetUsername("adv-other")
	if resp := e.finishConn(t, "eu", e.startConn(t, "eu")); resp.StatusCode != http.StatusForbidden || !strings.Contains(resp.Body, "adv-eu") {
		t.Fatalf("eu as adv-other: HTTP %d: %s", resp.StatusCode, resp.Body)
	}
	e.srv.SetUsername("adv-eu")
	e.api.take()
	if resp := e.finishConn(t, "eu", e.startConn(t, "eu")); resp.StatusCode != http.StatusOK {
		t.Fatalf("eu as adv-eu: HTTP %d: %s", resp.StatusCode, resp.Body)
	}
	calls := strings.Join(e.api.take(), "\n")
	if !strings.Contains(calls, "GetSecretValue "+imported) {
		t.Errorf("the imported credentials secret was not read:\n%s", calls)
	}
	e.assertAllClean(t)
}

// TestLoadCallbackConfig: the callback reads its connections as the
// refresher does; a wrong variable is named.
func TestLoadCallbackConfig(t *testing.T) {
	base := map[string]string{
		"CREDENTIALS_SECRET_ID": "tr/admitad/credentials", "TOKEN_SECRET_ID": "tr/admitad/token",
		"REFRESH_SECRET_ID": "tr/admitad/refresh-token", "SIGNING_KEY_SECRET_ID": "tr/admitad/signing-key",
	}
	for _, tc := range []struct {
		name    string
		env     map[string]string
		want    []string // connections served
		wantErr string
	}{
		{"default only", nil, []string{vendors.DefaultConnection}, ""},
		{"named, prefix from the token secret", map[string]string{"CONNECTIONS": "us,eu"}, []string{vendors.DefaultConnection, "eu", "us"}, ""},
		{"no signing key", map[string]string{"SIGNING_KEY_SECRET_ID": ""}, nil, "SIGNING_KEY_SECRET_ID is not set"},
		{"no refresh-token secret", map[string]string{"REFRESH_SECRET_ID": ""}, nil, "REFRESH_SECRET_ID is not set"},
		{"a bad connection name", map[string]string{"CONNECTIONS": "eu,EU"}, nil, "CONNECTIONS"},
		{"the default declared", map[string]string{"CONNECTIONS": "default"}, nil, "CONNECTIONS"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range base {
				env[k] = v
			}
			for k, v := range tc.env {
				env[k] = v
			}
			cfg, err := admitad.LoadCallbackConfig(func(k string) string { return env[k] })
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one naming %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(cfg.Targets.Names(), ","); got != strings.Join(tc.want, ",") {
				t.Fatalf("connections %s, want %s", got, strings.Join(tc.want, ","))
			}
			if len(tc.want) > 1 {
				eu, err := cfg.Targets.Lookup(vendors.Admitad, "eu")
				if err != nil || eu.RefreshSecretID != "tr/admitad/eu/refresh-token" || eu.TokenSecretID != "tr/admitad/eu/token" || eu.CredentialsSecretID != "tr/admitad/eu/credentials" {
					t.Fatalf("eu: %+v, %v", eu, err)
				}
			}
		})
	}
}
