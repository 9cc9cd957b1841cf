package testservers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/token-refresher/token-refresher/shared/fyber/fybertest"
	"github.com/token-refresher/token-refresher/shared/invoca/invocatest"
	"github.com/token-refresher/token-refresher/shared/merchenta/merchentatest"
	"github.com/token-refresher/token-refresher/shared/vendors"
	"github.com/token-refresher/token-refresher/shared/vendortest"
)

func TestEveryVendorIssuesValidDistinctTokens(t *testing.T) {
	for _, vc := range vendorCases() {
		t.Run(vc.name, func(t *testing.T) {
			s := vc.new(vendortest.Options{})
			defer s.Close()
			seen := map[string]bool{}
			for i := 0; i < 3; i++ {
				r := send(t, vc.request(t, s))
				if r.status != http.StatusOK {
					t.Fatalf("status %d, want 200; body %s", r.status, r.body)
				}
				if r.header.Get("Date") == "" {
					t.Error("reply has no Date header")
				}
				tok := vc.token(t, s, r.body)
				if !s.Valid(tok) {
					t.Error("issued token is not Valid")
				}
				seen[tok] = true
			}
			if vc.name != vendors.Invoca && len(seen) != 3 {
				t.Errorf("%d distinct tokens from 3 requests", len(seen))
			}
			if got := s.TokenRequests(); got != 3 {
				t.Errorf("TokenRequests = %d, want 3", got)
			}
			for tok := range seen {
				if !contains(s.Issued(), tok) {
					t.Error("Issued() lacks a token the server handed out")
				}
			}
			s.RevokeAll()
			for tok := range seen {
				if s.Valid(tok) {
					t.Error("token still Valid after RevokeAll")
				}
			}
			if s.Valid("never-issued") || s.Valid("") {
				t.Error("an unknown token is Valid")
			}
		})
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestFaults(t *testing.T) {
	type step struct {
		status      int
		retryAfter  string
		bodyHas     string
		contentType string
	}
	faults := []struct {
		name   string
		faults func(vc vendorCase) []vendortest.Fault
		steps  func(vc vendorCase) []step
	}{
		{
			name: "status with Retry-After for Count requests, then normal",
			faults: func(vendorCase) []vendortest.Fault {
				return []vendortest.Fault{{Status: 503, RetryAfter: "7", Count: 2}}
			},
			steps: func(vendorCase) []step {
				return []step{{status: 503, retryAfter: "7"}, {status: 503, retryAfter: "7"}, {status: 200}}
			},
		},
		{
			name:   "Count 0 means once",
			faults: func(vendorCase) []vendortest.Fault { return []vendortest.Fault{{Status: 429}} },
			steps:  func(vendorCase) []step { return []step{{status: 429}, {status: 200}} },
		},
		{
			name: "faults are served in the order queued",
			faults: func(vendorCase) []vendortest.Fault {
				return []vendortest.Fault{{Status: 502}, {Status: 500, Count: 2}, {Status: 429}}
			},
			steps: func(vendorCase) []step {
				return []step{{status: 502}, {status: 500}, {status: 500}, {status: 429}, {status: 200}}
			},
		},
		{
			name: "given body is sent as is",
			faults: func(vendorCase) []vendortest.Fault {
				return []vendortest.Fault{{Status: 502, Body: "<html>bad gateway</html>"}}
			},
			steps: func(vendorCase) []step {
				return []step{{status: 502, bodyHas: "<html>bad gateway</html>", contentType: "text/html"}, {status: 200}}
			},
		},
		{
			name:   "2xx status with empty body is a malformed success",
			faults: func(vendorCase) []vendortest.Fault { return []vendortest.Fault{{Status: 200}} },
			steps:  func(vendorCase) []step { return []step{{status: 200, bodyHas: "\x00empty"}, {status: 200}} },
		},
		{
			name: "Retry-After alone keeps the normal reply",
			faults: func(vendorCase) []vendortest.Fault {
				return []vendortest.Fault{{RetryAfter: "Wed, 21 Oct 2037 07:28:00 GMT"}}
			},
			steps: func(vendorCase) []step {
				return []step{{status: 200, retryAfter: "Wed, 21 Oct 2037 07:28:00 GMT"}, {status: 200}}
			},
		},
	}
	for _, vc := range vendorCases() {
		for status, frag := range vc.defaults {
			faults = append(faults, struct {
				name   string
				faults func(vc vendorCase) []vendortest.Fault
				steps  func(vc vendorCase) []step
			}{
				name:   fmt.Sprintf("documented body for %d", status),
				faults: func(v vendorCase) []vendortest.Fault { return []vendortest.Fault{{Status: status}} },
				steps: func(v vendorCase) []step {
					if v.name != vc.name {
						return nil
					}
					return []step{{status: status, bodyHas: frag, contentType: "application/json"}, {status: 200}}
				},
			})
		}
	}
	for _, vc := range vendorCases() {
		for _, fc := range faults {
			steps := fc.steps(vc)
			if steps == nil {
				continue
			}
			t.Run(vc.name+"/"+fc.name, func(t *testing.T) {
				s := vc.new(vendortest.Options{})
				defer s.Close()
				for _, f := range fc.faults(vc) {
					s.Inject(f)
				}
				for i, st := range steps {
					r := send(t, vc.request(t, s))
					if r.status != st.status {
						t.Fatalf("request %d: status %d, want %d (body %s)", i, r.status, st.status, r.body)
					}
					if got := r.header.Get("Retry-After"); got != st.retryAfter {
						t.Errorf("request %d: Retry-After %q, want %q", i, got, st.retryAfter)
					}
					switch {
					case st.bodyHas == "\x00empty":
						if r.body != "" {
							t.Errorf("request %d: body %q, want empty", i, r.body)
						}
					case st.bodyHas != "" && !strings.Contains(r.body, st.bodyHas):
						t.Errorf("request %d: body %s lacks %s", i, r.body, st.bodyHas)
					}
					if st.contentType != "" && !strings.HasPrefix(r.header.Get("Content-Type"), st.contentType) {
						t.Errorf("request %d: Content-Type %q, want %s", i, r.header.Get("Content-Type"), st.contentType)
					}
					if r.header.Get("Date") == "" {
						t.Errorf("request %d: no Date header", i)
					}
					if st.status == 200 && st.bodyHas == "" {
						vc.token(t, s, r.body)
					}
				}
				if got := s.TokenRequests(); got != len(steps) {
					t.Errorf("TokenRequests = %d, want %d", got, len(steps))
				}
				if got := s.PendingFaults(); got != 0 {
					t.Errorf("PendingFaults = %d after all steps, want 0", got)
				}
			})
		}
	}
}

func TestFaultDropAndDelay(t *testing.T) {
	for _, vc := range vendorCases() {
		t.Run(vc.name+"/drop", func(t *testing.T) {
			s := vc.new(vendortest.Options{})
			defer s.Close()
			s.Inject(vendortest.Fault{Drop: true, Status: 500})
			_, err := fresh().Do(vc.request(t, s))
			if err == nil {
				t.Fatal("dropped request succeeded")
			}
			if r := send(t, vc.request(t, s)); r.status != 200 {
				t.Fatalf("after the drop: status %d, want 200", r.status)
			}
			if got := s.TokenRequests(); got != 2 {
				t.Errorf("TokenRequests = %d, want 2", got)
			}
		})
		t.Run(vc.name+"/delay then status", func(t *testing.T) {
			s := vc.new(vendortest.Options{})
			defer s.Close()
			s.Inject(vendortest.Fault{Delay: 150 * time.Millisecond, Status: 503, RetryAfter: "1"})
			start := time.Now()
			r := send(t, vc.request(t, s))
			if took := time.Since(start); took < 150*time.Millisecond {
				t.Errorf("answered after %v, want at least 150ms", took)
			}
			if r.status != 503 || r.header.Get("Retry-After") != "1" {
				t.Errorf("status %d Retry-After %q, want 503 and 1", r.status, r.header.Get("Retry-After"))
			}
		})
		t.Run(vc.name+"/delay only", func(t *testing.T) {
			s := vc.new(vendortest.Options{})
			defer s.Close()
			s.Inject(vendortest.Fault{Delay: 100 * time.Millisecond})
			start := time.Now()
			r := send(t, vc.request(t, s))
			if took := time.Since(start); took < 100*time.Millisecond {
				t.Errorf("answered after %v, want at least 100ms", took)
			}
			if r.status != 200 {
				t.Fatalf("status %d, want 200", r.status)
			}
			vc.token(t, s, r.body)
		})
		t.Run(vc.name+"/delay honours client cancel", func(t *testing.T) {
			s := vc.new(vendortest.Options{})
			defer s.Close()
			s.Inject(vendortest.Fault{Delay: time.Minute, Count: 1})
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			start := time.Now()
			_, err := fresh().Do(vc.request(t, s).WithContext(ctx))
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("error %v, want the client's deadline", err)
			}
			if took := time.Since(start); took > 5*time.Second {
				t.Fatalf("cancel took %v", took)
			}
			if r := send(t, vc.request(t, s)); r.status != 200 {
				t.Fatalf("after the cancelled delay: status %d, want 200", r.status)
			}
		})
	}
}

func TestCloseCutsDelays(t *testing.T) {
	s := fybertest.NewServer(vendortest.Options{})
	s.Inject(vendortest.Fault{Delay: time.Minute})
	vc := vendorCases()[1]
	errc := make(chan error, 1)
	go func() {
		_, err := fresh().Do(vc.request(t, s))
		errc <- err
	}()
	for s.TokenRequests() == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	start := time.Now()
	s.Close()
	s.Close() // idempotent
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("Close waited %v for a delayed request", took)
	}
	if err := <-errc; err == nil {
		t.Fatal("delayed request got an answer after Close")
	}
}

func TestControlEndpoints(t *testing.T) {
	for _, vc := range vendorCases() {
		t.Run(vc.name, func(t *testing.T) {
			s := vc.new(vendortest.Options{})
			defer s.Close()
			r := send(t, newReq(t, http.MethodPost, s.URL()+"/_fault",
				`{"status":429,"retry_after":"3","delay":"20ms","count":2}`, nil))
			if r.status != 200 || decode(t, r.body)["pending_faults"] != float64(2) {
				t.Fatalf("POST /_fault: %d %s", r.status, r.body)
			}
			for i := 0; i < 2; i++ {
				if r := send(t, vc.request(t, s)); r.status != 429 || r.header.Get("Retry-After") != "3" {
					t.Fatalf("request %d: %d Retry-After %q, want 429 and 3", i, r.status, r.header.Get("Retry-After"))
				}
			}
			send(t, newReq(t, http.MethodPost, s.URL()+"/_fault", `{"Status":500,"RetryAfter":"9"}`, nil))
			if r := send(t, vc.request(t, s)); r.status != 500 || r.header.Get("Retry-After") != "9" {
				t.Fatalf("Go-cased fault: %d Retry-After %q", r.status, r.header.Get("Retry-After"))
			}
			send(t, newReq(t, http.MethodPost, s.URL()+"/_fault", `{"drop":true,"count":3}`, nil))
			if r := send(t, newReq(t, http.MethodDelete, s.URL()+"/_fault", "", nil)); r.status != http.StatusNoContent {
				t.Fatalf("DELETE /_fault: %d", r.status)
			}
			ok := send(t, vc.request(t, s))
			if ok.status != 200 {
				t.Fatalf("after DELETE /_fault: %d", ok.status)
			}
			tok := vc.token(t, s, ok.body)

			for _, bad := range []string{`{"delay":"soon"}`, `{"delay":"-1s"}`, `{"status":42}`, `not json`, `{"statuss":500}`, `{"status":500,"cnt":2}`} {
				if r := send(t, newReq(t, http.MethodPost, s.URL()+"/_fault", bad, nil)); r.status != 400 {
					t.Errorf("POST /_fault %s: %d, want 400", bad, r.status)
				}
			}
			if n := s.PendingFaults(); n != 0 {
				t.Errorf("refused faults queued %d faults", n)
			}

			r = send(t, newReq(t, http.MethodGet, s.URL()+"/_stats", "", nil))
			var st vendortest.Stats
			if err := json.Unmarshal([]byte(r.body), &st); err != nil || r.status != 200 {
				t.Fatalf("GET /_stats: %d %v", r.status, err)
			}
			want := vendortest.Stats{Vendor: vc.name, TokenRequests: 4, Issued: len(s.Issued()), Valid: len(s.Issued())}
			if st != want {
				t.Errorf("stats %+v, want %+v", st, want)
			}
			if strings.Contains(r.body, tok) {
				t.Error("/_stats shows a token")
			}

			if r := send(t, newReq(t, http.MethodPost, s.URL()+"/_revoke", "", nil)); r.status != http.StatusNoContent {
				t.Fatalf("POST /_revoke: %d", r.status)
			}
			if s.Valid(tok) {
				t.Error("token Valid after POST /_revoke")
			}
			if st := s.Stats(); st.Valid != 0 {
				t.Errorf("stats valid = %d after revoke, want 0", st.Valid)
			}
		})
	}
}

func TestFaultJSONRoundTrip(t *testing.T) {
	for _, f := range []vendortest.Fault{
		{},
		{Status: 503, Body: `{"x":1}`, RetryAfter: "5", Delay: 1500 * time.Millisecond, Count: 3, Drop: true},
		{Delay: 2 * time.Second},
	} {
		b, err := json.Marshal(f)
		if err != nil {
			t.Fatal(err)
		}
		var got vendortest.Fault
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("unmarshal %s: %v", b, err)
		}
		if !reflect.DeepEqual(got, f) {
			t.Errorf("round trip %s: got %+v, want %+v", b, got, f)
		}
	}
	var f vendortest.Fault
	if err := json.Unmarshal([]byte(`{"delay":"2s"}`), &f); err != nil || f.Delay != 2*time.Second {
		t.Errorf(`{"delay":"2s"} → %+v, %v`, f, err)
	}
}

func TestOnlyLoopbackPeersAreServed(t *testing.T) {
	s := fybertest.NewServer(vendortest.Options{})
	defer s.Close()
	for _, tc := range []struct {
		remote string
		want   int
	}{
		{"10.1.2.3:5555", http.StatusForbidden},
		{"[2001:db8::1]:5555", http.StatusForbidden},
		{"127.0.0.1:5555", http.StatusOK},
		{"[::1]:5555", http.StatusOK},
		{"192.0.2.1:1234", http.StatusOK}, // httptest.NewRequest's default
	} {
		t.Run(tc.remote, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "/_stats", nil)
			req.RemoteAddr = tc.remote
			w := httptest.NewRecorder()
			s.Handler().ServeHTTP(w, req)
			if w.Code != tc.want {
				t.Errorf("status %d, want %d", w.Code, tc.want)
			}
		})
	}
}

func TestListenAddress(t *testing.T) {
	s := merchentatest.NewServer(vendortest.Options{Addr: "127.0.0.1:0"})
	defer s.Close()
	u, err := url.Parse(s.URL())
	if err != nil || !strings.HasPrefix(u.Host, "127.0.0.1:") {
		t.Fatalf("URL %s is not on 127.0.0.1", s.URL())
	}
	if !strings.HasPrefix(s.TokenURL(), s.URL()+"/") || !strings.HasSuffix(s.TokenURL(), s.TokenPath()) {
		t.Errorf("TokenURL %s does not join URL and TokenPath", s.TokenURL())
	}
	for _, addr := range []string{"0.0.0.0:0", ":0", "192.0.2.1:0"} {
		t.Run(addr, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("listening on %s did not panic", addr)
				}
			}()
			merchentatest.NewServer(vendortest.Options{Addr: addr}).Close()
		})
	}
}

func TestClockAndLifetime(t *testing.T) {
	start := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, vc := range vendorCases() {
		if vc.name == vendors.Invoca {
			continue
		}
		t.Run(vc.name, func(t *testing.T) {
			c := &clock{t: start}
			s := vc.new(vendortest.Options{Lifetime: 90 * time.Second, Now: c.Now})
			defer s.Close()
			r := send(t, vc.request(t, s))
			if r.status != 200 {
				t.Fatalf("status %d", r.status)
			}
			if got := r.header.Get("Date"); got != start.Format(http.TimeFormat) {
				t.Errorf("Date %q, want the fake clock's %q", got, start.Format(http.TimeFormat))
			}
			m := decode(t, r.body)
			for _, k := range []string{"expires_in", "expiresIn"} {
				if v, ok := m[k]; ok && v != float64(90) {
					t.Errorf("%s = %v, want 90", k, v)
				}
			}
			tok := vc.token(t, s, r.body)
			c.Add(89 * time.Second)
			if !s.Valid(tok) {
				t.Error("token invalid before its lifetime ended")
			}
			c.Add(time.Second)
			if s.Valid(tok) {
				t.Error("token still valid when its lifetime ended")
			}
		})
	}
	t.Run("invoca never expires", func(t *testing.T) {
		c := &clock{t: start}
		s := invocatest.NewServer(vendortest.Options{Lifetime: time.Second, Now: c.Now})
		defer s.Close()
		c.Add(10 * 365 * 24 * time.Hour)
		if !s.Valid(vendortest.Credentials(vendors.Invoca)["api_token"]) {
			t.Error("Invoca sandbox token expired")
		}
	})
}

func TestConcurrentUse(t *testing.T) {
	for _, vc := range vendorCases() {
		t.Run(vc.name, func(t *testing.T) {
			s := vc.new(vendortest.Options{})
			defer s.Close()
			const workers, each = 6, 15
			var wg sync.WaitGroup
			var mu sync.Mutex
			var faults int
			var bodies []string
			tokens := map[string]int{}
			client := &http.Client{Timeout: 10 * time.Second}
			for w := 0; w < workers; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; i < each; i++ {
						resp, err := client.Do(vc.request(t, s))
						if err != nil {
							t.Error(err)
							return
						}
						var r reply
						r.status = resp.StatusCode
						var sb strings.Builder
						buf := make([]byte, 4096)
						for {
							n, err := resp.Body.Read(buf)
							sb.Write(buf[:n])
							if err != nil {
								break
							}
						}
						resp.Body.Close()
						r.body = sb.String()
						mu.Lock()
						if r.status == 200 {
							bodies = append(bodies, r.body)
						} else {
							faults++
						}
						mu.Unlock()
					}
				}()
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 10; i++ {
					s.Inject(vendortest.Fault{Status: 503})
					_ = s.Issued()
					_ = s.Stats()
					_ = s.Valid("x")
					time.Sleep(time.Millisecond)
				}
			}()
			wg.Wait()
			oks := len(bodies)
			for _, b := range bodies {
				tokens[vc.token(t, s, b)]++
			}
			if oks+faults != workers*each {
				t.Fatalf("%d replies, want %d", oks+faults, workers*each)
			}
			if got := s.TokenRequests(); got != workers*each {
				t.Errorf("TokenRequests = %d, want %d", got, workers*each)
			}
			if faults+s.PendingFaults() != 10 {
				t.Errorf("%d faulted + %d pending, want 10 injected", faults, s.PendingFaults())
			}
			if vc.name != vendors.Invoca {
				if len(tokens) != oks {
					t.Errorf("%d distinct tokens for %d successes", len(tokens), oks)
				}
				if got := len(s.Issued()); got != oks {
					t.Errorf("Issued() has %d, want %d", got, oks)
				}
			}
		})
	}
}

func TestCredentials(t *testing.T) {
	// The vendors whose servers this package holds; a vendor package's own
	// server is checked by internal/vendorcheck.
	for _, name := range vendortest.Registered() {
		spec, err := vendors.Lookup(name)
		if err != nil {
			continue // registered by a test
		}
		t.Run(spec.Name, func(t *testing.T) {
			c := vendortest.Credentials(spec.Name)
			for _, f := range spec.CredentialFields {
				if c[f] == "" {
					t.Errorf("field %s is missing", f)
				}
			}
			allowed := map[string]bool{}
			for _, f := range append(spec.CredentialFields, spec.OptionalFields...) {
				allowed[f] = true
			}
			for f := range c {
				if !allowed[f] {
					t.Errorf("field %s is not in the vendor table", f)
				}
			}
			c["mutated"] = "x"
			if _, ok := vendortest.Credentials(spec.Name)["mutated"]; ok {
				t.Error("vendortest.Credentials returns a shared map")
			}
		})
	}
	if vendortest.Credentials("nobody") != nil {
		t.Error("unknown vendor has credentials")
	}
}

// TestFaultUnknownKeys: a fault with a key the server does not know is
// refused, naming the key and the known ones; every known key, in any
// case, is taken.
func TestFaultUnknownKeys(t *testing.T) {
	s := fybertest.NewServer(vendortest.Options{})
	defer s.Close()
	cases := []struct {
		name, body string
		wantStatus int
		wantIn     []string
	}{
		{"typo", `{"statuss":500}`, 400, []string{`unknown key "statuss"`, "status, body, retry_after, delay, count, drop, after_reply, omit_fields"}},
		{"unknown beside known", `{"status":500,"times":3}`, 400, []string{`unknown key "times"`}},
		{"every known key", `{"status":503,"body":"x","retry_after":"1","delay":"1ms","count":1,"drop":false,"after_reply":false,"omit_fields":[]}`, 200, []string{`"pending_faults":1`}},
		{"Go spelling", `{"Status":500,"RetryAfter":"2","Count":1}`, 200, []string{`"pending_faults":2`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := send(t, newReq(t, http.MethodPost, s.URL()+"/_fault", tc.body, nil))
			if r.status != tc.wantStatus {
				t.Fatalf("POST /_fault %s: HTTP %d %s, want %d", tc.body, r.status, r.body, tc.wantStatus)
			}
			for _, w := range tc.wantIn {
				if !strings.Contains(r.body, w) {
					t.Errorf("answer %q lacks %q", r.body, w)
				}
			}
		})
	}
}
