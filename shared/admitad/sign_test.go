package admitad_test

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/token-refresher/token-refresher/shared/admitad"
	"github.com/token-refresher/token-refresher/shared/vendors"
)

// TestCheckKeyRefusesPlainlyNonRandom: a key of the right length that is
// plainly not random is refused, saying why and never quoting it.
func TestCheckKeyRefusesPlainlyNonRandom(t *testing.T) {
	for _, tc := range []struct {
		name, key, want string
	}{
		{"short", "Kx7pQ2mZ9vR4tL8w", "shorter than the 32-byte minimum"},
		{"32 a's", strings.Repeat("a", 32), "only 1 distinct bytes"},
		{"two letters", strings.Repeat("ab", 20), "only 2 distinct bytes"},
		{"one long run", strings.Repeat("a", 31) + "b", "only 2 distinct bytes"},
		{"a word repeated", strings.Repeat("password", 4), "repeats one 8-byte pattern"},
		{"digits repeated", "01234567890123456789012345678901", "repeats one 10-byte pattern"},
		{"the alphabet", "abcdefghijklmnopqrstuvwxyz012345", "run of 26 equal or consecutive bytes"},
		{"pairs climbing", "aabbccddeeffgghhiijjkkllmmnnoopp", "run of 32 equal or consecutive bytes"},
		{"two bytes, mostly", "acacacaecacacacgacacacaeacacacca", "estimated entropy of 46 bits"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, secret := range []string{tc.key, `{"key":"` + tc.key + `"}`} {
				_, err := admitad.ParseSigningKey(secret)
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("ParseSigningKey = %v, want an error saying %q", err, tc.want)
				}
				if strings.Contains(err.Error(), tc.key[:8]) {
					t.Errorf("the error quotes the key: %v", err)
				}
			}
		})
	}
}

// TestCheckKeyAcceptsRandomKeys: random keys in every usual alphabet pass,
// including the stack's (64 letters and digits) and openssl rand -hex 32.
func TestCheckKeyAcceptsRandomKeys(t *testing.T) {
	const alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	gen := map[string]func(b []byte) string{
		"hex":    hex.EncodeToString,
		"base64": base64.RawURLEncoding.EncodeToString,
		"letters and digits": func(b []byte) string {
			out := make([]byte, len(b))
			for i, c := range b {
				out[i] = alnum[int(c)%len(alnum)]
			}
			return string(out)
		},
		"decimal digits": func(b []byte) string {
			out := make([]byte, len(b))
			for i, c := range b {
				out[i] = '0' + c%10
			}
			return string(out)
		},
		"raw bytes": func(b []byte) string { return string(b) },
	}
	for name, enc := range gen {
		t.Run(name, func(t *testing.T) {
			for range 2000 {
				b := make([]byte, 32)
				rand.Read(b)
				if key := enc(b); len(key) >= admitad.MinKeyLen {
					if err := admitad.CheckKey([]byte(key)); err != nil {
						t.Fatalf("a random %s key is refused: %v", name, err)
					}
				}
			}
		})
	}
	for _, key := range []string{
		"k3y-0123456789abcdef0123456789abcdef-signing", // tokenctl's tests
		"correct horse battery staple ok!",
	} {
		if err := admitad.CheckKey([]byte(key)); err != nil {
			t.Errorf("CheckKey(%.8q…) = %v", key, err)
		}
	}
}

// TestConnectionLink: a link names its connection inside what is signed:
// changing, adding or removing the connection breaks the signature, and a
// link minted before connections existed still stands for the default
// connection.
func TestConnectionLink(t *testing.T) {
	key := []byte(strings.Repeat("k", 32))
	now := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	const base = "https://api.example/admitad/authorize"
	eu := admitad.MintConnectionLink(key, base, "eu", 15*time.Minute, now)
	def := admitad.MintConnectionLink(key, base, "", 15*time.Minute, now)
	// A link as minted before connections: exp and its HMAC only.
	exp := strconv.FormatInt(now.Add(15*time.Minute).Unix(), 10)
	m := hmac.New(sha256.New, key)
	m.Write([]byte("admitad-connect-link\x00" + exp))
	old := base + "?exp=" + exp + "&sig=" + hex.EncodeToString(m.Sum(nil))
	edit := func(link string, f func(q url.Values)) string {
		u, _ := url.Parse(link)
		q := u.Query()
		f(q)
		u.RawQuery = q.Encode()
		return u.String()
	}
	for _, tc := range []struct {
		name, link, want, wantErr string
	}{
		{"named", eu, "eu", ""},
		{"default", def, vendors.DefaultConnection, ""},
		{"default, named default", admitad.MintConnectionLink(key, base, vendors.DefaultConnection, 15*time.Minute, now), vendors.DefaultConnection, ""},
		{"minted before connections", old, vendors.DefaultConnection, ""},
		{"MintLink is the default's", admitad.MintLink(key, base, 15*time.Minute, now), vendors.DefaultConnection, ""},
		{"connection changed", edit(eu, func(q url.Values) { q.Set("connection", "us") }), "", "signature is not valid"},
		{"connection removed", edit(eu, func(q url.Values) { q.Del("connection") }), "", "signature is not valid"},
		{"connection added to a default link", edit(def, func(q url.Values) { q.Set("connection", "eu") }), "", "signature is not valid"},
		{"connection added to an old link", edit(old, func(q url.Values) { q.Set("connection", "eu") }), "", "signature is not valid"},
		{"default named explicitly", edit(def, func(q url.Values) { q.Set("connection", vendors.DefaultConnection) }), "", "signature is not valid"},
		{"connection twice", edit(eu, func(q url.Values) { q.Add("connection", "us") }), "", "more than one connection"},
		{"connection empty", edit(eu, func(q url.Values) { q.Set("connection", "") }), "", "connection is empty"},
		{"expiry of another link", edit(eu, func(q url.Values) { q.Set("exp", exp+"0") }), "", "signature is not valid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, err := url.Parse(tc.link)
			if err != nil {
				t.Fatal(err)
			}
			got, err := admitad.VerifyConnectionLink(key, u.Query(), now.Add(time.Minute))
			if tc.wantErr != "" {
				if !errors.Is(err, admitad.ErrLink) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("VerifyConnectionLink = %q, %v; want ErrLink saying %q", got, err, tc.wantErr)
				}
				if admitad.VerifyLink(key, u.Query(), now.Add(time.Minute)) == nil {
					t.Fatal("VerifyLink accepts what VerifyConnectionLink refuses")
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("VerifyConnectionLink = %q, %v; want %q", got, err, tc.want)
			}
			if lc := admitad.LinkConnection(u.Query()); lc != tc.want {
				t.Errorf("LinkConnection = %q, want %q", lc, tc.want)
			}
		})
	}
	if strings.Contains(def, "connection=") || !strings.Contains(eu, "connection=eu") {
		t.Errorf("links %q, %q: the default's names no connection, a named one names it", def, eu)
	}
	// A query the operator's URL carried is kept; a stale connection in it
	// is replaced.
	link := admitad.MintConnectionLink(key, base+"?connection=us&x=1", "eu", 0, now)
	u, _ := url.Parse(link)
	if q := u.Query(); q.Get("x") != "1" || len(q["connection"]) != 1 || q.Get("connection") != "eu" {
		t.Errorf("link %q", link)
	}
}

// TestConnectionState: a state names its connection inside what is
// signed and bound to the cookie; a default connection's state keeps the
// form from before connections.
func TestConnectionState(t *testing.T) {
	key := []byte(strings.Repeat("k", 32))
	now := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	const cookie = "cookie-value-BBBBBBBBBBBBBBBBBBBBBBBBBBB"
	eu, err := admitad.NewConnectionState(key, cookie, "eu", now, 0)
	if err != nil {
		t.Fatal(err)
	}
	def, err := admitad.NewConnectionState(key, cookie, vendors.DefaultConnection, now, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(def, "v1.") || strings.Count(def, ".") != 4 || !strings.HasPrefix(eu, "v2.") || !strings.Contains(eu, ".eu.") {
		t.Fatalf("states %q, %q", def, eu)
	}
	if _, err := admitad.NewConnectionState(key, cookie, "EU!", now, 0); err == nil {
		t.Error("a state for an invalid connection name was issued")
	}
	parts := strings.Split(eu, ".")
	with := func(i int, v string) string {
		p := append([]string(nil), parts...)
		p[i] = v
		return strings.Join(p, ".")
	}
	asDefault := strings.Join([]string{"v1", parts[1], parts[2], parts[4], parts[5]}, ".")
	for _, tc := range []struct {
		name, state, cookie, want, wantErr string
	}{
		{"named", eu, cookie, "eu", ""},
		{"default", def, cookie, vendors.DefaultConnection, ""},
		{"connection changed", with(3, "us"), cookie, "", "not issued to this browser"},
		{"named as default", with(3, vendors.DefaultConnection), cookie, "", "not one this service issued"},
		{"turned into a default state", asDefault, cookie, "", "not issued to this browser"},
		{"another cookie", eu, cookie + "x", "", "not issued to this browser"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, err := admitad.VerifyState(key, tc.state, []string{tc.cookie}, now.Add(time.Minute))
			if tc.wantErr != "" {
				if !errors.Is(err, admitad.ErrState) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("VerifyState = %+v, %v; want ErrState saying %q", st, err, tc.wantErr)
				}
				return
			}
			if err != nil || st.Connection != tc.want || !st.IssuedAt.Equal(now) {
				t.Fatalf("VerifyState = %+v, %v; want connection %q", st, err, tc.want)
			}
			if got := admitad.StateConnection(tc.state); got != tc.want {
				t.Errorf("StateConnection = %q, want %q", got, tc.want)
			}
		})
	}
	if got := admitad.StateConnection("garbage"); got != "" {
		t.Errorf("StateConnection(garbage) = %q", got)
	}
	if a, b := admitad.ConnectionCookieName(""), admitad.ConnectionCookieName("eu"); a != admitad.CookieName || b == a || admitad.ConnectionCookieName(vendors.DefaultConnection) != a {
		t.Errorf("cookie names %q, %q", a, b)
	}
}
