package scalesim

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/token-refresher/token-refresher/shared/refresh"
)

// simulate runs cfg in a synctest bubble: simulated time.
func simulate(t *testing.T, cfg Config) Result {
	t.Helper()
	var res Result
	synctest.Test(t, func(t *testing.T) {
		var err error
		if res, err = Run(cfg); err != nil {
			t.Fatal(err)
		}
	})
	return res
}

// TestQueuedConnectionsRunInParallelNeverOverlap is the proposed design at
// a reduced size: connections of one vendor run in parallel up to the
// cap, but two runs of one connection never overlap, and bursts of rejects
// from several apps make at most one vendor call per connection a minute.
// Behaviour only; the speed figures are make bench's (TestCurve).
func TestQueuedConnectionsRunInParallelNeverOverlap(t *testing.T) {
	var reports []Report
	// Three apps report the current token of connections 0–2 every 10 s
	// for 3 minutes, twice: once while tokens are fresh, once near a
	// scheduled refresh.
	for _, from := range []time.Duration{5 * time.Minute, 29 * time.Minute} {
		for at := from; at < from+3*time.Minute; at += 10 * time.Second {
			for c := range 3 {
				reports = append(reports, Report{At: at, Connection: c, Apps: 3})
			}
		}
	}
	const limit = 4
	res := simulate(t, Config{Design: Queued, Connections: 20, VendorLatency: time.Second, Concurrency: limit, Duration: 2 * time.Hour, Seed: 1, Reports: reports})
	t.Logf("%+v", res)
	if res.Failed != 0 {
		t.Errorf("%d runs failed, want 0", res.Failed)
	}
	if res.MaxOverlap != 1 {
		t.Errorf("runs of one connection overlapped: at most %d at once, want 1", res.MaxOverlap)
	}
	if res.MaxConcurrent < 2 || res.MaxConcurrent > limit {
		t.Errorf("at most %d runs at once, want between 2 (the parallel path) and the cap %d", res.MaxConcurrent, limit)
	}
	if res.RejectCalls == 0 {
		t.Errorf("no reject made a vendor call; the reports should have")
	}
	// RefreshedAt is kept to the second: a reject may follow the last by
	// a minute less that second.
	if res.MinRejectGap != 0 && res.MinRejectGap < refresh.MinRejectInterval-time.Second {
		t.Errorf("two reject-caused vendor calls of one connection %s apart, want at least %s", res.MinRejectGap, refresh.MinRejectInterval-time.Second)
	}
	if res.RejectCalls > 3*2*4 {
		t.Errorf("%d reject-caused vendor calls for 3 connections over two 3-minute bursts, want at most 24", res.RejectCalls)
	}
	if res.Expired != 0 || res.NoToken != 0 {
		t.Errorf("%d tokens expired and %d connections have none, want 0", res.Expired, res.NoToken)
	}
	if res.Incomplete || res.Dropped != 0 {
		t.Errorf("%d events dropped, want 0", res.Dropped)
	}
}

// TestTodaySerialisesEveryRun models today's deployment: one run of the
// vendor at a time, so none overlap, and a small fleet is served.
func TestTodaySerialisesEveryRun(t *testing.T) {
	res := simulate(t, Config{Design: Today, Connections: 10, VendorLatency: 100 * time.Millisecond, Duration: time.Hour, Seed: 1})
	t.Logf("%+v", res)
	if res.MaxConcurrent != 1 || res.MaxOverlap != 1 {
		t.Errorf("at most %d runs at once (%d of one connection), want 1", res.MaxConcurrent, res.MaxOverlap)
	}
	if res.Failed != 0 || res.Expired != 0 || res.NoToken != 0 || res.Dropped != 0 {
		t.Errorf("failed %d, expired %d, no token %d, dropped %d; want none", res.Failed, res.Expired, res.NoToken, res.Dropped)
	}
	if res.Throttles == 0 {
		t.Errorf("no throttled attempt: 10 connections due at once should queue")
	}
}
