package admitad_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestCallbackPagesForPeople: the pages a person sees in a browser say
// what happened in words, with no Markdown and no shell commands. A
// callback replayed in the browser that completed it (its cookie cleared)
// says the link was already used, not that a cookie is missing.
func TestCallbackPagesForPeople(t *testing.T) {
	for _, tc := range []struct {
		name     string
		prepare  func(t *testing.T, ce *callbackEnv) (url.Values, []string)
		want     []string
		dontWant []string
	}{
		{"replayed in the same browser", func(t *testing.T, ce *callbackEnv) (url.Values, []string) {
			f := ce.start(t)
			if resp := ce.finish(t, f.callback, f.cookie); resp.StatusCode != http.StatusOK {
				t.Fatalf("first callback: HTTP %d", resp.StatusCode)
			}
			return f.callback, nil // the first answer cleared the cookie
		}, []string{"already used", "Nothing was changed"}, []string{"cookie"}},
		{"started in another browser", func(t *testing.T, ce *callbackEnv) (url.Values, []string) {
			return ce.start(t).callback, nil
		}, []string{"no connect cookie", "ask your operator for a new link"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ce := newCallbackEnv(t)
			q, cookies := tc.prepare(t, ce)
			before, requests := ce.versions(t), ce.srv.TokenRequests()
			resp := ce.finish(t, q, cookies...)
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("HTTP %d, want 400:\n%s", resp.StatusCode, resp.Body)
			}
			for _, w := range tc.want {
				if !strings.Contains(resp.Body, w) {
					t.Errorf("page lacks %q:\n%s", w, resp.Body)
				}
			}
			for _, w := range append(tc.dontWant, "`", "tokenctl", "make connect", "$(") {
				if strings.Contains(resp.Body, w) {
					t.Errorf("page shows %q:\n%s", w, resp.Body)
				}
			}
			if n := ce.srv.TokenRequests() - requests; n != 0 {
				t.Errorf("%d token requests", n)
			}
			if ce.versions(t) != before {
				t.Error("a secret was written")
			}
		})
	}
}
