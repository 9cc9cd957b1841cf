package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/token-refresher/token-refresher/shared/refresh"
	"github.com/token-refresher/token-refresher/shared/vendors"
)

func TestChart(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 10, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	type obs struct {
		at  int
		fp  string
		exp int // seconds after t0; -1: never expires
	}
	cases := []struct {
		name      string
		lifetime  time.Duration
		obs       []obs
		marks     []int
		wantLines string
		wantMarks int
	}{
		{"sawtooth", time.Minute, []obs{{0, "a", 60}, {10, "a", 60}, {30, "b", 90}},
			nil, "[[[0 1] [0.5 0.5] [0.5 1] [1 0.5]]]", 0},
		{"expired then refreshed", time.Minute, []obs{{0, "a", 20}, {40, "b", 100}},
			nil, "[[[0 0.3333] [0.3333 0] [0.6667 0] [0.6667 1] [1 0.6667]]]", 0},
		{"no token breaks the line", time.Minute, []obs{{0, "a", 60}, {20, "", 0}, {40, "b", 100}},
			nil, "[[[0 1] [0.3333 0.6667]] [[0.6667 1] [1 0.6667]]]", 0},
		{"started before the window", time.Minute, []obs{{-30, "a", 30}},
			nil, "[[[0 0.5] [0.5 0] [1 0]]]", 0},
		{"never expires", 0, []obs{{0, "a", -1}, {30, "a", -1}},
			nil, "[[[0 1] [1 1]]]", 0},
		{"marks outside the window are left out", time.Minute, []obs{{0, "a", 60}},
			[]int{-90, 10, 59}, "[[[0 1] [1 0]]]", 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHistory(time.Minute)
			for _, o := range tc.obs {
				exp := time.Time{}
				if o.exp >= 0 && o.fp != "" {
					exp = at(o.exp)
				}
				h.observe(at(o.at), o.fp, exp)
			}
			for _, m := range tc.marks {
				h.mark(at(m), markRefreshed, "")
			}
			c := h.chart(at(60), tc.lifetime, 0.5, 60)
			if got := fmt.Sprint(c.Lines); got != tc.wantLines {
				t.Errorf("lines %s, want %s", got, tc.wantLines)
			}
			if len(c.Marks) != tc.wantMarks {
				t.Errorf("%d marks, want %d: %+v", len(c.Marks), tc.wantMarks, c.Marks)
			}
			if c.WindowSeconds != 3600 {
				t.Errorf("window %v dev seconds, want 3600", c.WindowSeconds)
			}
			if c.NoExpiry != (tc.lifetime == 0) {
				t.Errorf("NoExpiry %v", c.NoExpiry)
			}
		})
	}
}

func TestChartMarkAgoIsDevTime(t *testing.T) {
	now := time.Date(2026, 1, 2, 10, 0, 0, 0, time.UTC)
	h := newHistory(time.Minute)
	h.mark(now.Add(-30*time.Second), markFailed, "fyber: HTTP 500")
	c := h.chart(now, time.Minute, 0.5, 60)
	if len(c.Marks) != 1 || c.Marks[0].Ago != "30m ago" || c.Marks[0].X != 0.5 || c.Marks[0].Note != "fyber: HTTP 500" {
		t.Fatalf("marks %+v", c.Marks)
	}
}

func TestFaultsPendingMarksRises(t *testing.T) {
	now := time.Date(2026, 1, 2, 10, 0, 0, 0, time.UTC)
	h := newHistory(time.Minute)
	for i, n := range []int{0, 4, 3, 0, 0, 1} {
		h.faultsPending(now.Add(time.Duration(i)*time.Second), n)
	}
	c := h.chart(now.Add(10*time.Second), time.Minute, 0.5, 1)
	if len(c.Marks) != 2 || c.Marks[0].Kind != markFault || c.Marks[1].Kind != markFault {
		t.Fatalf("marks %+v, want two faults", c.Marks)
	}
}

func TestHistoryPrunes(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 10, 0, 0, 0, time.UTC)
	h := newHistory(time.Minute)
	for i := range 1000 {
		at := t0.Add(time.Duration(i) * time.Second)
		h.observe(at, fmt.Sprint(i), at.Add(time.Minute))
		h.mark(at, markSkipped, "")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.segments) > 130 || len(h.marks) > 130 {
		t.Fatalf("kept %d segments and %d marks for a one-minute window", len(h.segments), len(h.marks))
	}
}

func TestRowState(t *testing.T) {
	now := time.Date(2026, 1, 2, 10, 0, 0, 0, time.UTC)
	fyber := &vendorRun{spec: vendors.MustLookup(vendors.Fyber), lifetime: time.Minute, every: 15 * time.Second}
	no, yes := false, true
	cases := []struct {
		name string
		vs   vendorStatus
		want string
	}{
		{"not connected", vendorStatus{Connected: &no, runState: runState{Runs: 1, LastOutcome: outcomeFailed}}, stateNotConnected},
		{"connected after a failed run", vendorStatus{Connected: &yes, Fingerprint: "f", ExpiresAt: now.Add(50 * time.Second), runState: runState{Runs: 1, LastOutcome: outcomeConnected}}, stateOK},
		{"failing", vendorStatus{Fingerprint: "f", ExpiresAt: now.Add(40 * time.Second), runState: runState{Runs: 2, LastOutcome: outcomeFailed, LastError: "x"}}, stateFailing},
		{"emulator error", vendorStatus{runState: runState{Runs: 2, LastOutcome: outcomeError}}, stateFailing},
		{"starting", vendorStatus{}, stateStarting},
		{"no token after runs", vendorStatus{runState: runState{Runs: 1, LastOutcome: "skipped"}}, stateStale},
		{"expired", vendorStatus{Fingerprint: "f", ExpiresAt: now.Add(-time.Second), runState: runState{Runs: 3, LastOutcome: "skipped"}}, stateStale},
		{"overdue", vendorStatus{Fingerprint: "f", ExpiresAt: now.Add(10 * time.Second), runState: runState{Runs: 3, LastOutcome: "skipped"}}, stateStale},
		{"due soon", vendorStatus{Fingerprint: "f", ExpiresAt: now.Add(20 * time.Second), runState: runState{Runs: 3, LastOutcome: "skipped"}}, stateOK},
		{"never expires", vendorStatus{Fingerprint: "f", runState: runState{Runs: 1, LastOutcome: "validated"}}, stateOK},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, text := rowState(tc.vs, fyber, now)
			if got != tc.want || text == "" {
				t.Errorf("state %q (%q), want %q", got, text, tc.want)
			}
		})
	}
}

// TestFailureStaysUntilSuccess: a failed run keeps the row failing, with
// its error, through later skips; only a run that succeeds clears it.
func TestFailureStaysUntilSuccess(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 10, 0, 0, 0, time.UTC)
	fyber := &vendorRun{spec: vendors.MustLookup(vendors.Fyber), lifetime: 20 * time.Minute, every: 15 * time.Second}
	var st runState
	st.record(t0, refresh.ActionRefreshed, "")
	steps := []struct {
		after     time.Duration
		outcome   string
		detail    string
		wantState string
		wantText  string
	}{
		{time.Second, outcomeFailed, "fyber: request token: HTTP 500", stateFailing, "last refresh failed 0s ago"},
		{2 * time.Second, refresh.ActionSkipped, "", stateFailing, "last refresh failed 1s ago; the token is still valid for 10m"},
		{20 * time.Second, refresh.ActionSkipped, "", stateFailing, "last refresh failed 19s ago"},
		{21 * time.Second, outcomeError, "emulator gone", stateFailing, "last refresh failed 0s ago"},
		{30 * time.Second, refresh.ActionRefreshed, "", stateOK, "left"},
		{31 * time.Second, refresh.ActionSkipped, "", stateOK, "left"},
	}
	for _, s := range steps {
		at := t0.Add(s.after)
		st.record(at, s.outcome, s.detail)
		vs := vendorStatus{Fingerprint: "f", ExpiresAt: at.Add(10 * time.Minute), runState: st}
		got, text := rowState(vs, fyber, at)
		if got != s.wantState || !strings.Contains(text, s.wantText) {
			t.Errorf("after %s at +%s: state %q (%q), want %q with %q", s.outcome, s.after, got, text, s.wantState, s.wantText)
		}
		if s.wantState == stateFailing && st.Failure == "" {
			t.Errorf("after %s at +%s: /status has no failure", s.outcome, s.after)
		}
		if s.wantState == stateOK && (st.Failure != "" || !st.FailedAt.IsZero()) {
			t.Errorf("after %s at +%s: failure %q still recorded", s.outcome, s.after, st.Failure)
		}
	}
	if st.Failures != 2 || st.Runs != 7 {
		t.Errorf("%d runs, %d failures; want 7 and 2", st.Runs, st.Failures)
	}
}

func TestSummarize(t *testing.T) {
	rows := func(states ...string) []vendorStatus {
		var out []vendorStatus
		for _, s := range states {
			out = append(out, vendorStatus{State: s})
		}
		return out
	}
	cases := []struct {
		name             string
		rows             []vendorStatus
		wantText, wantTi string
	}{
		{"one failing", rows(stateOK, stateOK, stateFailing, stateOK, stateOK, stateOK, stateOK),
			"6 ok · 1 failing · 0 stale · 0 not connected", "1 failing — token-refresher dev"},
		{"all ok", rows(stateOK, stateOK), "2 ok · 0 failing · 0 stale · 0 not connected", "all 2 ok — token-refresher dev"},
		{"mixed", rows(stateNotConnected, stateStale, stateFailing, stateStarting),
			"0 ok · 1 failing · 1 stale · 1 not connected · 1 starting", "1 failing, 1 stale, 1 not connected, 1 starting — token-refresher dev"},
		{"nothing", nil, "0 ok · 0 failing · 0 stale · 0 not connected", "token-refresher dev"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sm := summarize(tc.rows)
			if sm.Text != tc.wantText || sm.Title != tc.wantTi {
				t.Errorf("text %q, title %q; want %q, %q", sm.Text, sm.Title, tc.wantText, tc.wantTi)
			}
		})
	}
}
