package functions_test

// What apps read is the truth: the real admitad bootstrap under
// aws-lambda-rie, Secrets Manager through the fault proxy, a strict
// one-use Admitad test server. A run decides from the token secret (what
// apps read), repairs a publish that failed, judges a reject against the
// published token, waits for a slow answer instead of resending a refresh
// token that may have been used, and reports only what is true.

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/token-refresher/token-refresher/internal/smfault"
	"github.com/token-refresher/token-refresher/shared/admitad"
	"github.com/token-refresher/token-refresher/shared/refresh"
	"github.com/token-refresher/token-refresher/shared/token"
	"github.com/token-refresher/token-refresher/shared/vendors"
	"github.com/token-refresher/token-refresher/shared/vendortest"
)

// published returns the token apps read, nil when the token secret holds
// none.
func (e *admEnv) published() *token.Token {
	e.t.Helper()
	tok, err := publishedToken(e.t, e.sm, e.tokID)
	if err != nil {
		return nil
	}
	return &tok
}

// lastMetrics returns the metrics line of the function's last run.
func (e *admEnv) lastMetrics() map[string]any {
	e.t.Helper()
	lines := strings.Split(e.fn.Output(), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		l := strings.TrimSpace(lines[i])
		if !strings.Contains(l, `"_aws"`) {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l[strings.Index(l, "{"):]), &m); err == nil {
			return m
		}
	}
	e.t.Fatal("the function wrote no metrics line")
	return nil
}

// failPublishing makes every write of the token secret fail, and runs
// payload: Admitad rotates, the refresh token is saved with its record,
// and the access token never reaches the token secret.
func (e *admEnv) failPublishing(payload string) admitad.Connection {
	e.t.Helper()
	e.proxy.Add(smfault.Rule{Op: "PutSecretValue", SecretID: e.tokID, Action: smfault.Fail, Count: -1})
	if s, msg := e.run(payload); msg == "" {
		e.t.Fatalf("run with the token secret unwritable = %+v; want an error", s)
	}
	e.proxy.Clear()
	c := e.stored()
	if !e.srv.RefreshTokenValid(c.RefreshToken) || c.Access.Fingerprint == "" {
		e.t.Fatal("the refresh token and its record were not saved before publishing")
	}
	return c
}

// TestAdmitadRepairsAFailedPublish: the access token's write failed after
// the rotated refresh token was saved. The next scheduled run publishes
// the recorded token, with no call to Admitad; from then on runs skip,
// and every reply and metric describes the token apps read.
func TestAdmitadRepairsAFailedPublish(t *testing.T) {
	e := newAdmitadEnv(t, 30)
	c := e.failPublishing(`{}`)
	if p := e.published(); p != nil {
		t.Fatalf("the token secret holds %s although every write failed", p.Fingerprint)
	}
	requests := e.srv.TokenRequests()

	s, msg := e.run(`{}`)
	if msg != "" || s.Action != refresh.ActionRefreshed {
		t.Fatalf("run after the failed publish = %+v %q; want refreshed (published)", s, msg)
	}
	if n := e.srv.TokenRequests() - requests; n != 0 {
		t.Errorf("the repair made %d token requests; the recorded token was fresh", n)
	}
	p := e.published()
	if p == nil || p.Fingerprint != c.Access.Fingerprint || !e.srv.Valid(p.AccessToken) {
		t.Fatalf("published %v; want the recorded token %s, valid at Admitad", p, c.Access.Fingerprint)
	}
	if s.Fingerprint != p.Fingerprint || s.ExpiresAt != p.ExpiresAt.UTC().Format(time.RFC3339) {
		t.Errorf("reply %+v does not describe the published token", s)
	}
	m := e.lastMetrics()
	if left, _ := m[refresh.MetricUntilExpiry].(float64); m[refresh.MetricSuccess] != 1.0 || math.Abs(left-time.Until(p.ExpiresAt).Seconds()) > 60 {
		t.Errorf("metrics %v do not describe the published token (expires %s)", m, p.ExpiresAt)
	}

	s, msg = e.run(`{}`)
	if msg != "" || s.Action != refresh.ActionSkipped || s.Fingerprint != p.Fingerprint {
		t.Fatalf("the run after the repair = %+v %q; want skipped on the published token", s, msg)
	}
}

// TestAdmitadNothingPublishedIsNotASuccess: while apps have no token, a
// run that cannot publish one fails, and its metrics say nothing about a
// token apps do not have.
func TestAdmitadNothingPublishedIsNotASuccess(t *testing.T) {
	e := newAdmitadEnv(t, 30)
	e.failPublishing(`{}`)
	e.proxy.Add(smfault.Rule{Op: "PutSecretValue", SecretID: e.tokID, Action: smfault.Fail, Count: -1})
	s, msg := e.run(`{}`)
	if msg == "" {
		t.Fatalf("run = %+v; the token secret is still unwritable, want an error", s)
	}
	m := e.lastMetrics()
	if _, ok := m[refresh.MetricUntilExpiry]; ok || m[refresh.MetricFailure] != 1.0 {
		t.Errorf("metrics %v: want a failure and no expiry while apps hold no token", m)
	}
}

// TestAdmitadRejectJudgedAgainstPublished: an app is refused with the
// token it read; the refresher's record holds a newer token whose publish
// failed. The reject is about the published token: it must be replaced.
func TestAdmitadRejectJudgedAgainstPublished(t *testing.T) {
	e := newAdmitadEnv(t, 30)
	if s, msg := e.run(`{"force":true}`); msg != "" || s.Action != refresh.ActionRefreshed {
		t.Fatalf("first run = %+v %q", s, msg)
	}
	refused := e.published()
	e.failPublishing(`{"force":true}`)
	if p := e.published(); p.Fingerprint != refused.Fingerprint {
		t.Fatal("the failed publish changed the token secret")
	}
	s, msg := e.run(`{"rejected_fingerprint":"` + refused.Fingerprint + `"}`)
	if msg != "" || s.Action != refresh.ActionRefreshed {
		t.Fatalf("reject of the published token = %+v %q; want it replaced", s, msg)
	}
	p := e.published()
	if p.Fingerprint == refused.Fingerprint || !e.srv.Valid(p.AccessToken) || s.Fingerprint != p.Fingerprint {
		t.Fatalf("after the reject apps read %s (refused %s, reply %s)", p.Fingerprint, refused.Fingerprint, s.Fingerprint)
	}
}

// TestAdmitadWaitsForASlowAnswer: Admitad rotates at once and answers
// late, after a 429 or not. The run waits for the answer within its
// vendor budget instead of resending the refresh token it has used.
func TestAdmitadWaitsForASlowAnswer(t *testing.T) {
	slow := func(d time.Duration) vendortest.Fault { return vendortest.Fault{AfterReply: true, Delay: d} }
	for _, tc := range []struct {
		name   string
		faults []vendortest.Fault
	}{
		{"a 12 s answer", []vendortest.Fault{slow(12 * time.Second)}},
		{"a 429, then a 12 s answer", []vendortest.Fault{{Status: 429, RetryAfter: "1"}, slow(12 * time.Second)}},
		{"a 429, then a 15 s answer", []vendortest.Fault{{Status: 429, RetryAfter: "1"}, slow(15 * time.Second)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newAdmitadEnv(t, 60)
			for _, f := range tc.faults {
				e.srv.Inject(f)
			}
			s, msg := e.run(`{"force":true}`)
			if msg != "" || s.Action != refresh.ActionRefreshed {
				t.Fatalf("run = %+v %q; want refreshed with the slow answer", s, msg)
			}
			if c := e.stored(); !e.srv.RefreshTokenValid(c.RefreshToken) {
				t.Fatal("the stored refresh token is not the one Admitad issued last")
			}
			e.recovers()
		})
	}
}

// TestAdmitadNeverResendsAUsedRefreshToken: the connection resets after
// Admitad rotated. The run does not send the refresh token again in the
// same run, and says that the answer was lost.
func TestAdmitadNeverResendsAUsedRefreshToken(t *testing.T) {
	e := newAdmitadEnv(t, 30)
	e.srv.Inject(vendortest.Fault{AfterReply: true, Drop: true})
	before := e.srv.TokenRequests()
	_, msg := e.run(`{"force":true}`)
	if n := e.srv.TokenRequests() - before; n != 1 {
		t.Errorf("the run sent %d token requests after a reset that may have followed the rotation; want 1", n)
	}
	for _, want := range []string{"answer was lost", "not sent again"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not say %q", msg, want)
		}
	}
}

// TestAdmitadPendingVerdict: every label move hangs until the deadline,
// after the rotated refresh token was written as pending. The error says
// what is true (saved as pending; the next run makes it current), and the
// next run does.
func TestAdmitadPendingVerdict(t *testing.T) {
	e := newAdmitadEnv(t, 30)
	e.proxy.Add(smfault.Rule{Op: "UpdateSecretVersionStage", SecretID: e.refID, Action: smfault.Hang, Count: -1})
	_, msg := e.run(`{"force":true}`)
	for _, want := range []string{"saved as pending", "the next run makes it current"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not say %q", msg, want)
		}
	}
	for _, wrong := range []string{"lost", "connect-admitad"} {
		if strings.Contains(msg, wrong) {
			t.Errorf("error %q says %q, but nothing is lost", msg, wrong)
		}
	}
	e.recovers()
}

// TestAdmitadScrubsEchoedFragments: Admitad echoes 16-byte pieces of the
// client secret and of a refresh token the process rotated away two runs
// before. Neither reaches the function's output or its error (the scan
// that every admEnv runs at cleanup fails on any 8 bytes of them).
func TestAdmitadScrubsEchoedFragments(t *testing.T) {
	e := newAdmitadEnv(t, 30)
	first := e.conn.RefreshToken
	for range 2 {
		if s, msg := e.run(`{"force":true}`); msg != "" || s.Action != refresh.ActionRefreshed {
			t.Fatalf("run = %+v %q", s, msg)
		}
	}
	secret := vendortest.Credentials(vendors.Admitad)["client_secret"]
	body, _ := json.Marshal(map[string]string{
		"error":             "invalid_request",
		"error_description": "unknown refresh_token " + first[:16] + "; client_secret starts " + secret[:16],
	})
	e.srv.Inject(vendortest.Fault{Status: 400, Body: string(body)})
	if _, msg := e.run(`{"force":true}`); !strings.Contains(msg, "invalid_request") || !strings.Contains(msg, refresh.Redacted) {
		t.Errorf("error %q does not show the vendor's error with the secrets redacted", msg)
	}
}
