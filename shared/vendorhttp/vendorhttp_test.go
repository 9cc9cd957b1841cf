package vendorhttp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// script answers the n-th request with steps[n] (the last step repeats).
type step struct {
	status     int
	body       string
	retryAfter string
	delay      time.Duration
	drop       bool
}

func serve(t *testing.T, steps ...step) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := int(n.Add(1)) - 1
		if i >= len(steps) {
			i = len(steps) - 1
		}
		s := steps[i]
		if s.delay > 0 {
			select {
			case <-time.After(s.delay):
			case <-r.Context().Done():
				return
			}
		}
		if s.drop {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
			return
		}
		if s.retryAfter != "" {
			w.Header().Set("Retry-After", s.retryAfter)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(s.status)
		fmt.Fprint(w, s.body)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func get(url string) Request {
	return Request{
		Vendor: "acme",
		NewRequest: func(ctx context.Context) (*http.Request, error) {
			return http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		},
		DecodeError: OAuthError,
		Permanent:   func(code string) bool { return code == "invalid_grant" },
	}
}

func TestDo(t *testing.T) {
	big := strings.Repeat("x", 2000)
	tests := []struct {
		name      string
		steps     []step
		maxBody   int64
		wantErr   bool
		wantCalls int32
		wantCode  string
		wantRetry bool
		check     func(t *testing.T, slept []time.Duration)
	}{
		{name: "success", steps: []step{{status: 200, body: `{}`}}, wantCalls: 1},
		{name: "5xx then success", steps: []step{{status: 502, body: `Internal Server Error`}, {status: 503}, {status: 200, body: `{}`}}, wantCalls: 3},
		{name: "429 honours Retry-After", steps: []step{{status: 429, retryAfter: "3"}, {status: 200, body: `{}`}}, wantCalls: 2,
			check: func(t *testing.T, slept []time.Duration) {
				if len(slept) != 1 || slept[0] != 3*time.Second {
					t.Errorf("slept %v, want [3s]", slept)
				}
			}},
		{name: "4xx not retried", steps: []step{{status: 400, body: `{"error":"invalid_client","error_description":"bad"}`}}, wantErr: true, wantCalls: 1, wantCode: "invalid_client"},
		{name: "permanent code on 5xx not retried", steps: []step{{status: 500, body: `{"error":"invalid_grant"}`}}, wantErr: true, wantCalls: 1, wantCode: "invalid_grant"},
		{name: "5xx forever stops at max attempts", steps: []step{{status: 500, body: `{"error":"internal_server_error"}`}}, wantErr: true, wantCalls: 4, wantCode: "internal_server_error", wantRetry: true},
		{name: "dropped connection retried", steps: []step{{drop: true}, {status: 200, body: `{}`}}, wantCalls: 2},
		{name: "oversized body", steps: []step{{status: 200, body: big}}, maxBody: 1000, wantErr: true, wantCalls: 1},
		{name: "oversized error body", steps: []step{{status: 400, body: big}}, maxBody: 1000, wantErr: true, wantCalls: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, calls := serve(t, tt.steps...)
			var slept []time.Duration
			c := &Client{MaxBody: tt.maxBody, Sleep: func(_ context.Context, d time.Duration) error {
				slept = append(slept, d)
				return nil
			}}
			resp, err := c.Do(context.Background(), get(srv.URL))
			if got := calls.Load(); got != tt.wantCalls {
				t.Errorf("calls = %d, want %d", got, tt.wantCalls)
			}
			if tt.check != nil {
				tt.check(t, slept)
			}
			if !tt.wantErr {
				if err != nil {
					t.Fatalf("Do: %v", err)
				}
				if resp.Date.IsZero() {
					t.Error("Date header not parsed")
				}
				if resp.Attempts != int(tt.wantCalls) {
					t.Errorf("Attempts = %d, want %d", resp.Attempts, tt.wantCalls)
				}
				return
			}
			var ve *Error
			if !errors.As(err, &ve) {
				t.Fatalf("error %v is not *Error", err)
			}
			if ve.Code != tt.wantCode {
				t.Errorf("Code = %q, want %q", ve.Code, tt.wantCode)
			}
			if ve.Retryable != tt.wantRetry {
				t.Errorf("Retryable = %v, want %v", ve.Retryable, tt.wantRetry)
			}
		})
	}
}

func TestDoBackoffGrowsWithJitter(t *testing.T) {
	srv, _ := serve(t, step{status: 503})
	var slept []time.Duration
	c := &Client{MaxAttempts: 6, BaseDelay: 100 * time.Millisecond, MaxDelay: 400 * time.Millisecond,
		Sleep: func(_ context.Context, d time.Duration) error { slept = append(slept, d); return nil }}
	if _, err := c.Do(context.Background(), get(srv.URL)); err == nil {
		t.Fatal("want error")
	}
	ceilings := []time.Duration{100, 200, 400, 400, 400}
	if len(slept) != len(ceilings) {
		t.Fatalf("slept %d times, want %d", len(slept), len(ceilings))
	}
	for i, d := range slept {
		if c := ceilings[i] * time.Millisecond; d <= 0 || d > c {
			t.Errorf("wait %d = %v, want in (0, %v]", i, d, c)
		}
	}
}

func TestDoStaysInsideDeadline(t *testing.T) {
	srv, calls := serve(t, step{status: 429, retryAfter: "30"})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	start := time.Now()
	_, err := (&Client{}).Do(ctx, get(srv.URL))
	var ve *Error
	if !errors.As(err, &ve) || ve.Status != 429 {
		t.Fatalf("err = %v, want the 429", err)
	}
	if calls.Load() != 1 {
		t.Errorf("calls = %d: a Retry-After past the deadline must not be waited for", calls.Load())
	}
	if time.Since(start) > time.Second {
		t.Errorf("took %v", time.Since(start))
	}
}

func TestDoAttemptTimeout(t *testing.T) {
	srv, calls := serve(t, step{status: 200, delay: 5 * time.Second}, step{status: 200, body: `{}`})
	c := &Client{AttemptTimeout: 100 * time.Millisecond, Sleep: func(context.Context, time.Duration) error { return nil }}
	resp, err := c.Do(context.Background(), get(srv.URL))
	if err != nil {
		t.Fatalf("Do: %v", err)
	}
	if calls.Load() != 2 || resp.Attempts != 2 {
		t.Errorf("calls = %d, attempts = %d, want 2", calls.Load(), resp.Attempts)
	}
}

func TestTransportErrorHidesQuery(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens: connection refused
	const password = "hunter2-very-secret"
	c := &Client{MaxAttempts: 2, Sleep: func(context.Context, time.Duration) error { return nil }}
	_, err = c.Do(context.Background(), get("http://"+addr+"/token?username=u&password="+password))
	if err == nil {
		t.Fatal("want error")
	}
	if strings.Contains(err.Error(), password) || strings.Contains(fmt.Sprintf("%+v", err), password) {
		t.Fatalf("error leaks the password: %v", err)
	}
	if !strings.Contains(err.Error(), "[redacted]") {
		t.Errorf("error %q does not mark the redaction", err)
	}
	var ve *Error
	if !errors.As(err, &ve) || !ve.Retryable || ve.Status != 0 {
		t.Errorf("want retryable transport *Error, got %#v", err)
	}
}

func TestCheckEndpoint(t *testing.T) {
	tests := []struct {
		url string
		ok  bool
	}{
		{"https://reporting.fyber.com/auth/v1/token", true},
		{"http://127.0.0.1:8080/token", true},
		{"http://localhost:8080/token", true},
		{"http://[::1]:8080/token", true},
		{"http://reporting.fyber.com/auth/v1/token", false},
		{"http://10.0.0.1/token", false},
		{"ftp://example.com/x", false},
		{"https://user:pw@example.com/x", false},
		{"/relative", false},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			err := CheckEndpoint(tt.url)
			if (err == nil) != tt.ok {
				t.Errorf("CheckEndpoint(%q) = %v, want ok=%v", tt.url, err, tt.ok)
			}
			if err != nil && strings.Contains(err.Error(), "pw@") {
				t.Errorf("error leaks user info: %v", err)
			}
		})
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := map[string]time.Duration{
		"":                              0,
		"7":                             7 * time.Second,
		"-1":                            0,
		"soon":                          0,
		"Thu, 01 Jan 2026 00:00:10 GMT": 10 * time.Second,
		"Wed, 31 Dec 2025 23:59:00 GMT": 0,
		"86400":                         24 * time.Hour,
		"9227000000":                    MaxRetryAfter,
		"99999999999999999999":          MaxRetryAfter,
		"Fri, 01 Jan 9999 00:00:00 GMT": MaxRetryAfter,
	}
	for in, want := range tests {
		if got := retryAfter(in, now); got != want {
			t.Errorf("retryAfter(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestDecodeJSONBody(t *testing.T) {
	var v struct {
		A string `json:"a"`
	}
	tests := []struct {
		body, ctype, want string
	}{
		{`<html><body>Bad gateway</body></html>`, "text/html; charset=utf-8", "not a JSON object (text/html"},
		{``, "", "empty"},
		{`{"a": 1}`, "application/json", `field "a" is a JSON number`},
		{`{"a": "x"`, "application/json", "not valid JSON"},
	}
	for _, tt := range tests {
		err := DecodeJSONBody([]byte(tt.body), tt.ctype, &v)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("DecodeJSONBody(%q) = %v, want %q", tt.body, err, tt.want)
		}
	}
}

func TestClean(t *testing.T) {
	if got := Clean("a\nb\x00c", 10); got != "a b c" {
		t.Errorf("Clean = %q", got)
	}
	if got := Clean(strings.Repeat("é", 10), 5); got != "éé…" {
		t.Errorf("Clean cut = %q", got)
	}
}

// TestHugeRetryAfter: a Retry-After too large for time.Duration must not
// wrap into a negative (or tiny) wait that hits the vendor again at once;
// like any wait past the deadline, it fails fast.
func TestHugeRetryAfter(t *testing.T) {
	for _, ra := range []string{"9227000000", "9223372036", "99999999999999999999"} {
		t.Run(ra, func(t *testing.T) {
			srv, calls := serve(t, step{status: 429, retryAfter: ra}, step{status: 200, body: `{}`})
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			var slept []time.Duration
			c := &Client{Sleep: func(_ context.Context, d time.Duration) error { slept = append(slept, d); return nil }}
			_, err := c.Do(ctx, get(srv.URL))
			var ve *Error
			if !errors.As(err, &ve) || ve.Status != 429 {
				t.Fatalf("err = %v, want the 429", err)
			}
			if calls.Load() != 1 || len(slept) != 0 {
				t.Errorf("calls = %d, waits %v: a Retry-After past the deadline must fail fast", calls.Load(), slept)
			}
			if ve.RetryAfter != MaxRetryAfter {
				t.Errorf("RetryAfter = %v, want it clamped to %v", ve.RetryAfter, MaxRetryAfter)
			}
		})
	}
}

func TestQuote(t *testing.T) {
	for in, want := range map[string]string{
		"error":                 `"error"`,
		"a\nb":                  `"a b"`,
		strings.Repeat("s", 33): "(33 bytes)",
	} {
		if got := Quote(in, 32); got != want {
			t.Errorf("Quote(%q) = %s, want %s", in, got, want)
		}
	}
}

// TestErrorScrubThenCut: an Error shows its vendor text whole until Scrub,
// which removes secrets first and cuts after.
func TestErrorScrubThenCut(t *testing.T) {
	const secret = "Zq4vX9mLp2Rt7wKc1Nb8Hy3Df6Gs0JaE"
	desc := strings.Repeat("x", MaxDescription-10) + secret + "\nmore"
	e := &Error{Vendor: "acme", Status: 400, Code: "invalid_client", Description: desc}
	if !strings.Contains(e.Error(), secret) || strings.Contains(e.Error(), "\n") {
		t.Fatalf("before Scrub, Error must show the whole description, cleaned: %q", e.Error())
	}
	e.Scrub(func(s string) string { return strings.ReplaceAll(s, secret, "[redacted]") })
	if strings.Contains(e.Error(), secret[:8]) || len(e.Description) > MaxDescription+len("…") {
		t.Errorf("after Scrub: %q", e.Error())
	}
	again := e.Description
	e.Scrub(func(s string) string { return s })
	if e.Description != again {
		t.Errorf("a second Scrub changed the description")
	}
}

// TestDoUnrepeatable: a request that takes effect even when its answer is
// lost waits for a slow answer past AttemptTimeout, and is sent again only
// after an answer that says the vendor did not act, or a failure that
// proves the request never left.
func TestDoUnrepeatable(t *testing.T) {
	refused := func(t *testing.T) string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		return "http://" + addr + "/token"
	}
	for _, tc := range []struct {
		name      string
		steps     []step
		url       func(t *testing.T) string
		wantCalls int32
		wantErr   bool
	}{
		{"a slow answer is waited for", []step{{status: 200, body: `{}`, delay: 700 * time.Millisecond}}, nil, 1, false},
		{"a reset after sending is not sent again", []step{{drop: true}, {status: 200, body: `{}`}}, nil, 1, true},
		{"a 429 is sent again", []step{{status: 429}, {status: 200, body: `{}`}}, nil, 2, false},
		{"a 503 is sent again", []step{{status: 503}, {status: 200, body: `{}`}}, nil, 2, false},
		{"a refused connection is sent again until attempts run out", nil, refused, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var url string
			var calls *atomic.Int32
			if tc.url != nil {
				url = tc.url(t)
			} else {
				var srv *httptest.Server
				srv, calls = serve(t, tc.steps...)
				url = srv.URL
			}
			var sent atomic.Int32
			req := get(url)
			build := req.NewRequest
			req.NewRequest = func(ctx context.Context) (*http.Request, error) {
				sent.Add(1)
				return build(ctx)
			}
			req.Unrepeatable = true
			c := &Client{AttemptTimeout: 100 * time.Millisecond, Sleep: func(context.Context, time.Duration) error { return nil }}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			_, err := c.Do(ctx, req)
			if (err != nil) != tc.wantErr {
				t.Fatalf("Do: %v, want error %v", err, tc.wantErr)
			}
			if calls != nil && calls.Load() != tc.wantCalls {
				t.Errorf("vendor saw %d requests, want %d", calls.Load(), tc.wantCalls)
			}
			if tc.url != nil && sent.Load() != DefaultMaxAttempts {
				t.Errorf("sent %d times with the connection refused, want %d", sent.Load(), DefaultMaxAttempts)
			}
		})
	}
}

func TestNeverSent(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, dialErr := http.Get("http://" + addr + "/")
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"connection refused", dialErr, true},
		{"DNS", &net.DNSError{Err: "no such host", Name: "vendor.invalid"}, true},
		{"timeout after connecting", &net.OpError{Op: "read", Err: context.DeadlineExceeded}, false},
		{"context deadline", context.DeadlineExceeded, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := NeverSent(tc.err); got != tc.want {
				t.Errorf("NeverSent(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}

func TestDecodeToken(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		naming     Naming
		want       TokenReply
		wantErr    string
		incomplete bool
	}{
		{"standard", `{"access_token":"tok-1","token_type":"Bearer","expires_in":3600,"refresh_token":"rt-1","scope":"a b"}`, SnakeCase,
			TokenReply{AccessToken: "tok-1", TokenType: "Bearer", ExpiresIn: 3600, RefreshToken: "rt-1", Scope: "a b"}, "", false},
		{"expires_in as a numeric string", `{"access_token":"tok-1","expires_in":"3600"}`, SnakeCase, TokenReply{AccessToken: "tok-1", ExpiresIn: 3600}, "", false},
		{"expires_in as a whole float", `{"access_token":"tok-1","expires_in":3600.0}`, SnakeCase, TokenReply{AccessToken: "tok-1", ExpiresIn: 3600}, "", false},
		{"no expires_in", `{"access_token":"tok-1"}`, SnakeCase, TokenReply{AccessToken: "tok-1"}, "", false},
		{"camel case", `{"accessToken":"tok-1","tokenType":"bearer","expiresIn":3600}`, CamelCase, TokenReply{AccessToken: "tok-1", TokenType: "bearer", ExpiresIn: 3600}, "", false},
		{"other fields", `{"access_token":"tok-1","username":"u1","id":7}`, SnakeCase, TokenReply{AccessToken: "tok-1", Fields: map[string]string{"username": "u1"}}, "", false},
		{"camel reply read as snake", `{"accessToken":"tok-1"}`, SnakeCase, TokenReply{Fields: map[string]string{"accessToken": "tok-1"}}, "reply has no access_token", true},
		{"no token, a refresh token", `{"refresh_token":"rt-1"}`, SnakeCase, TokenReply{RefreshToken: "rt-1"}, "reply has no access_token", true},
		{"negative", `{"access_token":"tok-1","expires_in":-1}`, SnakeCase, TokenReply{}, "negative expires_in", true},
		{"expires_in not a number", `{"access_token":"tok-1","expires_in":"soon"}`, SnakeCase, TokenReply{}, `"expires_in" is not a whole number`, false},
		{"expires_in fractional", `{"access_token":"tok-1","expires_in":1.5}`, SnakeCase, TokenReply{}, `"expires_in" is not a whole number`, false},
		{"token not a string", `{"access_token":12}`, SnakeCase, TokenReply{}, `"access_token" is not a string`, false},
		{"html", `<html>tok-1</html>`, SnakeCase, TokenReply{}, "not a JSON object", false},
		{"empty", ` `, SnakeCase, TokenReply{}, "empty", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecodeToken([]byte(tc.body), "application/json", tc.naming)
			if tc.wantErr == "" && err != nil {
				t.Fatal(err)
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				if Incomplete(err) != tc.incomplete {
					t.Errorf("Incomplete = %v, want %v", !tc.incomplete, tc.incomplete)
				}
				if strings.Contains(err.Error(), "tok-1") || strings.Contains(err.Error(), "rt-1") {
					t.Errorf("err quotes the body: %v", err)
				}
			}
			if got.AccessToken != tc.want.AccessToken || got.TokenType != tc.want.TokenType || got.ExpiresIn != tc.want.ExpiresIn ||
				got.RefreshToken != tc.want.RefreshToken || got.Scope != tc.want.Scope || fmt.Sprint(got.Fields) != fmt.Sprint(tc.want.Fields) {
				t.Errorf("reply = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func FuzzDecodeToken(f *testing.F) {
	f.Add([]byte(`{"access_token":"eyJ.a.b","token_type":"Bearer","expires_in":86400}`), false)
	f.Add([]byte(`{"accessToken":"eyJ.a.b","tokenType":"bearer","expiresIn":3600}`), true)
	f.Add([]byte(`{"access_token":"x","expires_in":"3600"}`), false)
	f.Add([]byte(`{"accessToken":123}`), true)
	f.Add([]byte(`{"error":"internal_server_error"}`), false)
	f.Add([]byte(`<html></html>`), false)
	f.Add([]byte(`{"access_token":"x","expires_in":-1}`), false)
	f.Fuzz(func(t *testing.T, body []byte, camel bool) {
		n := SnakeCase
		if camel {
			n = CamelCase
		}
		r, err := DecodeToken(body, "application/json", n)
		if err == nil && (r.AccessToken == "" || r.ExpiresIn < 0) {
			t.Fatal("accepted a reply without a usable token")
		}
		if err != nil && len(body) > 20 && strings.Contains(err.Error(), string(body)) {
			t.Fatal("error echoes the body")
		}
	})
}
