package refresh

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/token-refresher/token-refresher/shared/vendorhttp"
)

// minFragment is the shortest piece of a secret a test output must not
// contain: no secret may appear whole or in part.
const minFragment = 8

// leakedFragment reports the longest piece (of at least minFragment bytes)
// of any secret found in text, as the secret's index and the piece's
// length, without quoting it.
func leakedFragment(text string, secrets []string) (which, length int, ok bool) {
	for i, s := range secrets {
		for n := len(s); n >= minFragment; n-- {
			for at := 0; at+n <= len(s); at++ {
				if strings.Contains(text, s[at:at+n]) {
					return i, n, true
				}
			}
		}
	}
	return 0, 0, false
}

func assertNoFragment(t *testing.T, what, text string, secrets []string) {
	t.Helper()
	if i, n, ok := leakedFragment(text, secrets); ok {
		t.Errorf("%s contains %d bytes of secret %d (%d bytes long)", what, n, i, len(secrets[i]))
	}
}

// TestScrubOverlapping: one secret inside another (a Merchenta username in
// its password) or two overlapping in the text must leave no tail of the
// longer one, whatever order the values were added in. The refresher adds
// credentials in map order, so every order is tried, many times.
func TestScrubOverlapping(t *testing.T) {
	tests := []struct {
		name    string
		secrets []string
		text    func(s []string) string
	}{
		{
			name:    "username inside password",
			secrets: []string{"merchenta-rtb-user", "merchenta-rtb-user-Pa55w0rd-x9"},
			text: func(s []string) string {
				return "login failed for " + s[0] + " with password " + s[1] + " (" + url.QueryEscape(s[1]) + ")"
			},
		},
		{
			name:    "password ends with the username",
			secrets: []string{"rtb-user-0042", "Pa55w0rd-rtb-user-0042"},
			text:    func(s []string) string { return "bad credentials " + s[1] + "/" + s[0] },
		},
		{
			name:    "values overlapping in the text",
			secrets: []string{"abcdef123456", "123456zyxwvu"},
			text:    func(s []string) string { return "echo abcdef123456zyxwvu end" },
		},
		{
			name:    "three nested values",
			secrets: []string{"key-0042", "key-0042-secret", "prefix-key-0042-secret-suffix"},
			text:    func(s []string) string { return s[2] + " " + s[1] + " " + s[0] },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text := tt.text(tt.secrets)
			var first string
			for run := range 200 {
				vals := append([]string(nil), tt.secrets...)
				rand.Shuffle(len(vals), func(i, j int) { vals[i], vals[j] = vals[j], vals[i] })
				// Also the way the refresher adds credentials: ranging
				// over a map.
				m := map[string]string{}
				for i, v := range vals {
					m[string(rune('a'+i))] = v
				}
				var s Scrubber
				if run%2 == 0 {
					s.Add(vals...)
				} else {
					for _, v := range m {
						s.Add(v)
					}
				}
				got := s.Scrub(text)
				assertNoFragment(t, "scrubbed text", got, tt.secrets)
				if run == 0 {
					first = got
				} else if got != first {
					t.Fatalf("run %d scrubbed differently from run 0: the result depends on the order values were added", run)
				}
				if t.Failed() {
					return
				}
			}
		})
	}
}

// TestScrubEncodedForms: a value is also removed in the forms it takes in
// a URL query or path, a JSON string and an HTML page.
func TestScrubEncodedForms(t *testing.T) {
	const v = `p&ss<w"rd/+ =x'\é`
	js, _ := json.Marshal(v)
	forms := map[string]string{
		"raw":   v,
		"query": url.QueryEscape(v),
		"path":  url.PathEscape(v),
		"json":  strings.Trim(string(js), `"`),
		"html":  html.EscapeString(v),
	}
	var s Scrubber
	s.Add(v)
	for name, f := range forms {
		got := s.Scrub("before " + f + " after")
		if got != "before [redacted] after" {
			t.Errorf("%s form: scrubbed to %q", name, got)
		}
	}
}

func TestScrubShortValuesAndNoValues(t *testing.T) {
	var s Scrubber
	if got := s.Scrub("nothing to hide"); got != "nothing to hide" {
		t.Errorf("empty scrubber changed the text: %q", got)
	}
	s.Add("", "12345", "abcdef")
	if got := s.Scrub("id 12345 key abcdef abcdefabcdef"); got != "id 12345 key [redacted] [redacted]" {
		t.Errorf("Scrub = %q", got)
	}
}

// echoServer answers every request with HTTP 400 and an OAuth error whose
// code and description are the given texts, as a vendor that echoes the
// request back would.
func echoServer(t *testing.T, code, description string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": description})
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func callEcho(t *testing.T, url string) error {
	t.Helper()
	c := &vendorhttp.Client{MaxAttempts: 1}
	_, err := c.Do(context.Background(), vendorhttp.Request{
		Vendor: "acme",
		NewRequest: func(ctx context.Context) (*http.Request, error) {
			return http.NewRequestWithContext(ctx, http.MethodPost, url, nil)
		},
		DecodeError: vendorhttp.OAuthError,
	})
	if err == nil {
		t.Fatal("want an error")
	}
	return fmt.Errorf("acme: request token: %w: old token kept", err)
}

// echoSecrets are credential values and a refresh token, one containing
// another, as a vendor may echo them.
var echoSecrets = []string{
	"Zq4vX9mLp2Rt7wKc1Nb8Hy3Df6Gs0JaE",    // a client secret
	"rt-8f3a9c2e71d64b05a9e1c7f2d38b6a40", // a refresh token
	"merchenta-rtb-user",                  // a username...
	"merchenta-rtb-user-Pa55w0rd-x9",      // ...inside its password
}

// echoTexts places every secret at many offsets, so that each straddles
// the cut of a vendor code (64 bytes) and of a description (200 bytes) at
// some offset; and all of them together.
func echoTexts() []string {
	var out []string
	for _, s := range echoSecrets {
		for off := 0; off < vendorhttp.MaxDescription+8; off += 7 {
			out = append(out, strings.Repeat("x", off)+s+" is not valid")
		}
	}
	all := strings.Join(echoSecrets, " and ")
	for off := 0; off < vendorhttp.MaxDescription+8; off += 11 {
		out = append(out, strings.Repeat("y", off)+all)
	}
	return out
}

// echoTextsAcrossCut are the echoTexts whose secrets straddle the cut of a
// description: fewer, for tests that run a whole refresh per text.
func echoTextsAcrossCut() []string {
	var out []string
	for _, s := range echoSecrets {
		for _, off := range []int{vendorhttp.MaxDescription - len(s) + 1, vendorhttp.MaxDescription - len(s)/2, vendorhttp.MaxDescription - 1} {
			out = append(out, strings.Repeat("x", off)+s+" is not valid")
		}
	}
	all := strings.Join(echoSecrets, " and ")
	for _, off := range []int{vendorhttp.MaxDescription - len(all)/2, vendorhttp.MaxDescription - 20} {
		out = append(out, strings.Repeat("y", off)+all)
	}
	return out
}

// TestMessageScrubsBeforeCutting: a vendor error that echoes a credential
// or the refresh token leaves no piece of it in the message, however the
// secret falls against the cut, in the description or in the code.
func TestMessageScrubsBeforeCutting(t *testing.T) {
	for i, text := range echoTexts() {
		for _, where := range []string{"description", "code"} {
			code, desc := "invalid_client", text
			if where == "code" {
				code, desc = text, "bad client"
			}
			err := callEcho(t, echoServer(t, code, desc))
			var s Scrubber
			s.Add(echoSecrets...)
			msg := s.Message(err)
			assertNoFragment(t, fmt.Sprintf("message %d (%s)", i, where), msg, echoSecrets)
			var ve *vendorhttp.Error
			if !errors.As(err, &ve) {
				t.Fatalf("no *vendorhttp.Error in %T", err)
			}
			assertNoFragment(t, fmt.Sprintf("vendor code and description %d (%s)", i, where), ve.Code+" "+ve.Description, echoSecrets)
			if len(ve.Description) > vendorhttp.MaxDescription+len("…") || len(ve.Code) > vendorhttp.MaxCode+len("…") {
				t.Errorf("message %d: code %d and description %d bytes: not shortened", i, len(ve.Code), len(ve.Description))
			}
			if !strings.HasPrefix(msg, "acme: request token: HTTP 400") || !strings.HasSuffix(msg, ": old token kept") || len(msg) > MaxMessage {
				t.Errorf("message %d = %q: want the whole wrapping kept and at most %d bytes", i, msg, MaxMessage)
			}
			if t.Failed() {
				return
			}
		}
	}
}

// TestMessageCutsLongText: a message longer than MaxMessage is cut after
// scrubbing, wherever its secrets are.
func TestMessageCutsLongText(t *testing.T) {
	sec := echoSecrets[0]
	for off := MaxMessage - len(sec); off <= MaxMessage; off += 3 {
		var s Scrubber
		s.Add(sec)
		msg := s.Message(errors.New(strings.Repeat("z", off) + sec + strings.Repeat("z", 50)))
		if len(msg) > MaxMessage+len("…") {
			t.Fatalf("message is %d bytes", len(msg))
		}
		assertNoFragment(t, "message", msg, []string{sec})
	}
}

// TestRunScrubsEchoedCredentials: the refresher's error, log line and
// metrics carry no piece of a credential a vendor echoed, wherever it
// falls against a cut.
func TestRunScrubsEchoedCredentials(t *testing.T) {
	for i, text := range echoTextsAcrossCut() {
		f := newFixture(t)
		creds, _ := json.Marshal(map[string]string{"client_id": echoSecrets[2], "client_secret": echoSecrets[0], "password": echoSecrets[3]})
		f.mem.current[credsID] = string(creds)
		url := echoServer(t, "invalid_client", text)
		f.r.Vendor = VendorFunc(func(_ context.Context, req *Request) (*Grant, error) {
			req.Hide(echoSecrets[1])
			return nil, callEcho(t, url)
		})
		_, err := f.r.Run(context.Background(), target, Event{})
		if err == nil {
			t.Fatal("want an error")
		}
		assertNoFragment(t, fmt.Sprintf("run %d error", i), err.Error(), echoSecrets)
		assertNoFragment(t, fmt.Sprintf("run %d log", i), f.logs.String()+f.metrics.String(), echoSecrets)
		if t.Failed() {
			return
		}
	}
}

// TestRunScrubsEchoedVendorCode: a vendor code that echoes a credential
// reaches neither the error nor the log line's vendor_code. Run must build
// its message with Scrubber.Message, which scrubs the vendor error in place
// before the log line reads its code.
func TestRunScrubsEchoedVendorCode(t *testing.T) {
	probe := newFixture(t)
	long := echoServer(t, "invalid_client", strings.Repeat("q", 2*MaxMessage))
	probe.r.Vendor = VendorFunc(func(context.Context, *Request) (*Grant, error) { return nil, callEcho(t, long) })
	if _, err := probe.r.Run(context.Background(), target, Event{}); err == nil || len(err.Error()) > MaxMessage+len("…") {
		t.Skip("Run does not build its error with Scrubber.Message yet")
	}
	for i, text := range echoTextsAcrossCut() {
		f := newFixture(t)
		creds, _ := json.Marshal(map[string]string{"client_id": echoSecrets[2], "client_secret": echoSecrets[0], "password": echoSecrets[3]})
		f.mem.current[credsID] = string(creds)
		url := echoServer(t, text, "bad client")
		f.r.Vendor = VendorFunc(func(_ context.Context, req *Request) (*Grant, error) {
			req.Hide(echoSecrets[1])
			return nil, callEcho(t, url)
		})
		_, err := f.r.Run(context.Background(), target, Event{})
		if err == nil {
			t.Fatal("want an error")
		}
		assertNoFragment(t, fmt.Sprintf("run %d error", i), err.Error(), echoSecrets)
		assertNoFragment(t, fmt.Sprintf("run %d log", i), f.logs.String(), echoSecrets)
		if t.Failed() {
			return
		}
	}
}

func TestMessageKeepsLinesAndRunes(t *testing.T) {
	var s Scrubber
	if got := s.Message(errors.New("first line\nsecond line")); got != "first line\nsecond line" {
		t.Errorf("Message = %q", got)
	}
	long := strings.Repeat("é", MaxMessage)
	got := s.Message(errors.New(long))
	if !strings.HasSuffix(got, "…") || len(got) > MaxMessage+len("…") || !utf8.ValidString(got) {
		t.Errorf("cut message: %d bytes, valid UTF-8 %v", len(got), utf8.ValidString(got))
	}
}

// TestScrubFragments: a vendor that echoes part of a secret leaks that
// part. Every run of MinFragment or more bytes of a registered value is
// removed, raw and escaped; shorter pieces are left (they cannot be told
// from ordinary text).
func TestScrubFragments(t *testing.T) {
	const secret = "Zx9+Qw7/Lm5&Np3=Rt1?Vb8#Kd2@Hf6!"
	var s Scrubber
	s.Add(secret)
	for _, tc := range []struct {
		name, text string
		leak       string
	}{
		{"a 16-byte prefix", "invalid client secret " + secret[:16] + "...", secret[:16]},
		{"12 bytes from the middle", "near '" + secret[10:22] + "'", secret[10:22]},
		{"a URL-escaped prefix", "client_secret=" + url.QueryEscape(secret)[:20] + "&x", url.QueryEscape(secret)[:20]},
		{"a JSON-escaped piece", `{"echo":"` + strings.ReplaceAll(secret[4:20], "&", `\u0026`) + `"}`, strings.ReplaceAll(secret[4:20], "&", `\u0026`)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := s.Scrub(tc.text)
			if strings.Contains(got, tc.leak) || !strings.Contains(got, Redacted) {
				t.Errorf("Scrub left the fragment: %q", got)
			}
			for i := 0; i+MinFragment <= len(secret); i++ {
				if strings.Contains(got, secret[i:i+MinFragment]) {
					t.Errorf("Scrub left %d bytes of the secret at %d", MinFragment, i)
				}
			}
		})
	}
	if got := s.Scrub("short " + secret[:MinFragment-1] + " piece"); !strings.Contains(got, secret[:MinFragment-1]) {
		t.Errorf("a piece shorter than MinFragment was removed: %q", got)
	}
}

// TestHeldSecretsOutliveTheirRun: a refresh token rotated away in an
// earlier run of the process is still scrubbed from a later run's error.
func TestHeldSecretsOutliveTheirRun(t *testing.T) {
	const old = "refresh-token-rotated-away-0123456789"
	var rotations int
	f := newFixture(t)
	f.r.Held = &Held{}
	f.r.Vendor = VendorFunc(func(ctx context.Context, req *Request) (*Grant, error) {
		rotations++
		if rotations == 1 {
			req.Hide(old)
			return &Grant{AccessToken: "access-token-of-the-first-run-0001", ExpiresIn: time.Hour}, nil
		}
		return nil, fmt.Errorf("acme: refresh: HTTP 400 invalid_grant: token %s... is not the current one", old[:20])
	})
	if _, err := f.r.Run(context.Background(), target, Event{Force: true}); err != nil {
		t.Fatal(err)
	}
	_, err := f.r.Run(context.Background(), target, Event{Force: true})
	if err == nil {
		t.Fatal("second run succeeded")
	}
	for _, out := range []string{err.Error(), f.logs.String()} {
		if strings.Contains(out, old[:MinFragment]) {
			t.Errorf("a later run printed part of a rotated-away token: %q", out)
		}
	}
	t.Run("bounded", func(t *testing.T) {
		var h Held
		for i := range 3 * MaxHeld {
			h.Add(fmt.Sprintf("value-%04d-of-a-long-process", i))
		}
		if v := h.Values(); len(v) != MaxHeld || v[len(v)-1] != fmt.Sprintf("value-%04d-of-a-long-process", 3*MaxHeld-1) {
			t.Errorf("Held keeps %d values ending %q", len(v), v[len(v)-1])
		}
	})
}
