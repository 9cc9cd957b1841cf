package admitad_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/token-refresher/token-refresher/shared/admitad"
	"github.com/token-refresher/token-refresher/shared/admitad/admitadtest"
	"github.com/token-refresher/token-refresher/shared/refresh"
	"github.com/token-refresher/token-refresher/shared/secretstore"
	"github.com/token-refresher/token-refresher/shared/token"
	"github.com/token-refresher/token-refresher/shared/vendors"
)

// run performs one scheduled refresh with the refresh-token secret
// written through api (the token secret through the plain store).
func (e *env) run(t *testing.T, ctx context.Context, api secretstore.API, endpoint string, log *logBuffer) (refresh.Summary, error) {
	t.Helper()
	if endpoint == "" {
		endpoint = e.srv.TokenURL()
	}
	r := &refresh.Refresher{
		Spec:         vendors.MustLookup(vendors.Admitad),
		Vendor:       refresh.WithState(&admitad.Client{HTTP: fastHTTP, Store: &secretstore.Store{API: api}}),
		Store:        e.store,
		Endpoint:     endpoint,
		FunctionName: "admitad",
	}
	if log != nil {
		r.Log = newTestLogger(log)
		r.Metrics = log
	}
	return r.Run(ctx, refresh.Target{CredentialsSecretID: e.credID, TokenSecretID: e.tokID, RefreshSecretID: e.refID}, refresh.Event{})
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestRefresherRotates(t *testing.T) {
	e := newEnv(t)
	before := e.connect(t)
	var log logBuffer
	sum, err := e.run(t, ctxFor(t, 20*time.Second), e.sm, "", &log)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Action != refresh.ActionRefreshed {
		t.Fatalf("action %q", sum.Action)
	}
	after := e.connection(t)
	switch {
	case e.srv.RefreshTokenValid(before.RefreshToken):
		t.Fatal("the old refresh token still works: no rotation")
	case after.RefreshToken != e.srv.CurrentRefreshToken() || after.RefreshToken == "":
		t.Fatal("the stored refresh token is not the one Admitad issued last")
	case !after.ConnectedAt.Equal(before.ConnectedAt) || after.ConnectState != before.ConnectState:
		t.Fatal("the refresh changed connected_at or connect_state")
	case !after.RotatedAt.After(before.RotatedAt):
		t.Fatal("rotated_at did not move")
	}
	tok, err := token.Parse(e.get(t, e.tokID).String)
	if err != nil {
		t.Fatal(err)
	}
	if !e.srv.Valid(tok.AccessToken) || tok.Vendor != "admitad" || tok.Extras["username"] != admitadtest.Username || tok.Extras["scope"] != e.creds["scope"] || tok.Refresher != "admitad" {
		t.Fatalf("token secret %+v", tok.Extras)
	}
	if strings.Contains(e.get(t, e.tokID).String, after.RefreshToken) {
		t.Fatal("the token secret holds the refresh token")
	}
	assertClean(t, "log", log.String(), e.secrets(before.RefreshToken, after.RefreshToken))
}

func TestRefresherNotConnected(t *testing.T) {
	e := newEnv(t)
	var log logBuffer
	_, err := e.run(t, ctxFor(t, 20*time.Second), e.sm, "", &log)
	if !errors.Is(err, admitad.ErrNotConnected) || !errors.Is(err, admitad.ErrReconnect) {
		t.Fatalf("error %v, want ErrNotConnected", err)
	}
	for _, want := range []string{"not connected", "make connect-admitad", "tokenctl connect admitad", e.refID} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if n := e.srv.TokenRequests(); n != 0 {
		t.Fatalf("%d token requests", n)
	}
}

func TestRefresherRefused(t *testing.T) {
	e := newEnv(t)
	before := e.connect(t)
	e.srv.RevokeGrant()
	version := e.get(t, e.refID).VersionID
	var log logBuffer
	_, err := e.run(t, ctxFor(t, 20*time.Second), e.sm, "", &log)
	if !errors.Is(err, admitad.ErrReconnect) || !strings.Contains(err.Error(), "invalid_grant") || !strings.Contains(err.Error(), "reconnect Admitad") {
		t.Fatalf("error %v", err)
	}
	if n := e.srv.TokenRequests(); n != 1 {
		t.Fatalf("%d token requests, want 1: no retry loop on invalid_grant", n)
	}
	if e.get(t, e.refID).VersionID != version {
		t.Fatal("the refresh-token secret was written")
	}
	if !strings.Contains(log.String(), `"RefreshFailure":1`) {
		t.Fatal("no failure metric")
	}
	assertClean(t, "error", err.Error(), e.secrets(before.RefreshToken))
	assertClean(t, "log", log.String(), e.secrets(before.RefreshToken))
}

// TestRefresherWriteRetried: the refresh-token secret's writes fail a few
// times, then work: nothing is lost.
func TestRefresherWriteRetried(t *testing.T) {
	for _, tc := range []struct {
		name string
		api  func(*flakyAPI)
	}{
		{"put fails twice", func(f *flakyAPI) { f.failPuts = 2 }},
		{"swap fails twice", func(f *flakyAPI) { f.failSwaps = 2 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			before := e.connect(t)
			flaky := &flakyAPI{API: e.sm}
			tc.api(flaky)
			sum, err := e.run(t, ctxFor(t, 20*time.Second), flaky, "", nil)
			if err != nil || sum.Action != refresh.ActionRefreshed {
				t.Fatalf("%+v, %v", sum, err)
			}
			after := e.connection(t)
			if after.RefreshToken == before.RefreshToken || !e.srv.RefreshTokenValid(after.RefreshToken) {
				t.Fatal("the stored refresh token is not the valid new one")
			}
			if flaky.puts+flaky.swaps < 4 {
				t.Fatalf("only %d writes: the fault did not happen", flaky.puts+flaky.swaps)
			}
		})
	}
}

// TestRefresherLosesToken: Admitad rotates, then writes of the
// refresh-token secret fail until the deadline. The run fails (the
// alarmable outcome) and publishes nothing. When nothing could be written
// it says plainly that the refresh token is lost; when the new refresh
// token was written as pending and only the label move failed, it says
// that the next run makes it current, and asks no one to reconnect.
func TestRefresherLosesToken(t *testing.T) {
	for _, tc := range []struct {
		name      string
		want      []string
		reconnect bool
		api       func(*flakyAPI)
	}{
		{"put always fails", []string{"refresh token is lost", "reconnect Admitad", "make connect-admitad", "never written"}, true, func(f *flakyAPI) { f.failPuts = -1 }},
		{"swap always fails", []string{"saved as pending", admitad.PendingStage, "the next run makes it current", "no reconnect is needed"}, false, func(f *flakyAPI) { f.failSwaps = -1 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			before := e.connect(t)
			tokBefore := e.get(t, e.tokID)
			flaky := &flakyAPI{API: e.sm}
			tc.api(flaky)
			var log logBuffer
			start := time.Now()
			_, err := e.run(t, ctxFor(t, 2*time.Second), flaky, "", &log)
			if err == nil {
				t.Fatal("no error")
			}
			if time.Since(start) > 3*time.Second {
				t.Fatalf("gave up after %s, past the deadline", time.Since(start))
			}
			for _, want := range tc.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
			if !tc.reconnect && (strings.Contains(err.Error(), "lost") || strings.Contains(err.Error(), "connect-admitad")) {
				t.Errorf("error %q says the refresh token is lost, but the next run recovers it", err)
			}
			if errors.Is(err, admitad.ErrReconnect) != tc.reconnect {
				t.Errorf("errors.Is(err, ErrReconnect) = %v, want %v", !tc.reconnect, tc.reconnect)
			}
			var re *refresh.Error
			if !errors.As(err, &re) {
				t.Error("not a failed run")
			}
			if !strings.Contains(log.String(), `"RefreshFailure":1`) || !strings.Contains(log.String(), `"level":"ERROR"`) {
				t.Error("no failure metric or error log line")
			}
			if e.get(t, e.tokID).VersionID != tokBefore.VersionID {
				t.Error("the access token was published although its refresh token was lost")
			}
			if e.srv.RefreshTokenValid(before.RefreshToken) {
				t.Fatal("the fault did not happen after the rotation")
			}
			newRT := e.srv.CurrentRefreshToken()
			assertClean(t, "error", err.Error(), e.secrets(before.RefreshToken, newRT))
			assertClean(t, "log", log.String(), e.secrets(before.RefreshToken, newRT))
		})
	}
}

// TestRefresherRace: a reconnect lands while a refresh is in flight. The
// reconnect is the newer intent and wins: the refresh-token secret ends
// with the reconnect's refresh token, valid at Admitad.
func TestRefresherRace(t *testing.T) {
	reconnect := func(e *env, t *testing.T) func() admitad.Connection {
		var c admitad.Connection
		return func() admitad.Connection {
			if c.RefreshToken != "" {
				return c
			}
			c = admitad.Connection{RefreshToken: e.srv.IssueRefreshToken(), Username: admitadtest.Username, Scope: e.creds["scope"], ConnectedAt: time.Now(), RotatedAt: time.Now(), ConnectState: "fedcba9876543210"}
			if err := admitad.SaveConnection(context.Background(), e.store, e.refID, c); err != nil {
				t.Error(err)
			}
			return c
		}
	}
	t.Run("reconnect before the swap", func(t *testing.T) {
		e := newEnv(t)
		e.connect(t)
		tokBefore := e.get(t, e.tokID).VersionID
		rc := reconnect(e, t)
		flaky := &flakyAPI{API: e.sm, beforeSwap: func() { rc() }}
		sum, err := e.run(t, ctxFor(t, 20*time.Second), flaky, "", nil)
		if err != nil || sum.Action != refresh.ActionSuperseded {
			t.Fatalf("%+v, %v; want superseded", sum, err)
		}
		won := rc()
		if got := e.connection(t); got.RefreshToken != won.RefreshToken || !e.srv.RefreshTokenValid(got.RefreshToken) {
			t.Fatal("the reconnect's refresh token is not the stored one, or not valid")
		}
		if e.get(t, e.tokID).VersionID != tokBefore {
			t.Fatal("a superseded run published")
		}
	})
	t.Run("reconnect after the swap", func(t *testing.T) {
		e := newEnv(t)
		e.connect(t)
		rc := reconnect(e, t)
		flaky := &flakyAPI{API: e.sm, afterSwap: func() { rc() }}
		sum, err := e.run(t, ctxFor(t, 20*time.Second), flaky, "", nil)
		if err != nil || sum.Action != refresh.ActionRefreshed {
			t.Fatalf("%+v, %v; want refreshed", sum, err)
		}
		won := rc()
		if got := e.connection(t); got.RefreshToken != won.RefreshToken || !e.srv.RefreshTokenValid(got.RefreshToken) {
			t.Fatal("the reconnect's refresh token is not the stored one, or not valid")
		}
	})
	t.Run("reconnect while Admitad refuses the old token", func(t *testing.T) {
		e := newEnv(t)
		e.connect(t)
		var won admitad.Connection
		// A person reconnects while the refresh request is on its way;
		// Admitad has revoked the old grant.
		front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if won.RefreshToken == "" {
				e.srv.RevokeGrant()
				won = reconnect(e, t)()
			}
			e.srv.Handler().ServeHTTP(w, r)
		}))
		defer front.Close()
		sum, err := e.run(t, ctxFor(t, 20*time.Second), e.sm, front.URL+e.srv.TokenPath(), nil)
		if err != nil || sum.Action != refresh.ActionSuperseded {
			t.Fatalf("%+v, %v; want superseded", sum, err)
		}
		if got := e.connection(t); got.RefreshToken != won.RefreshToken || !e.srv.RefreshTokenValid(got.RefreshToken) {
			t.Fatal("the reconnect's refresh token is not the stored one, or not valid")
		}
	})
}

// TestSwapIsCompareAndSwap checks, against moto, the Secrets Manager
// behaviour the race handling rests on.
func TestSwapIsCompareAndSwap(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	read := e.get(t, e.refID)
	pending, err := e.store.PutPending(ctx, e.refID, `{"refresh_token":"from-refresh"}`, admitad.PendingStage)
	if err != nil {
		t.Fatal(err)
	}
	if e.get(t, e.refID).VersionID != read.VersionID {
		t.Fatal("a pending write became current")
	}
	e.put(t, e.refID, `{"refresh_token":"from-reconnect"}`)
	if err := e.store.Swap(ctx, e.refID, read.VersionID, pending); !errors.Is(err, secretstore.ErrChanged) {
		t.Fatalf("swap from a stale version: %v, want ErrChanged", err)
	}
	if got := e.get(t, e.refID).String; got != `{"refresh_token":"from-reconnect"}` {
		t.Fatalf("current value %q", got)
	}
	cur := e.get(t, e.refID)
	if err := e.store.Swap(ctx, e.refID, cur.VersionID, pending); err != nil {
		t.Fatalf("swap from the current version: %v", err)
	}
	if got := e.get(t, e.refID).String; got != `{"refresh_token":"from-refresh"}` {
		t.Fatalf("current value %q", got)
	}
}
