package scalesim

import (
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/token-refresher/token-refresher/shared/refresh"
	"github.com/token-refresher/token-refresher/shared/vendors"
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

// summary is r's figures without its configuration's reports.
func summary(r Result) string {
	r.Config.Reports = nil
	return fmt.Sprintf("%+v", r)
}

// rejectBursts is three apps reporting the current token of connection
// conn every 10 s for 3 minutes, twice: 5 minutes after its schedule's
// first time (a fresh token), and a minute before its third, around the
// scheduled refresh at half the token's life. Then three apps report the
// token that the connection's next vendor call from its fourth time
// replaces, while that run is under way.
func rejectBursts(conn int) []Report {
	every := vendors.MustLookup(vendors.Fyber).Every
	offset := vendors.ScheduleOffset(fmt.Sprintf("c%d", conn), every)
	var reports []Report
	for _, from := range []time.Duration{offset + 5*time.Minute, offset + 2*every - time.Minute} {
		for at := from; at < from+3*time.Minute; at += 10 * time.Second {
			reports = append(reports, Report{At: at, Connection: conn, Apps: 3})
		}
	}
	return append(reports, Report{At: offset + 3*every, Connection: conn, Apps: 3, AtRefresh: true})
}

// TestLanesRunConnectionsInParallelAndBeatToday is the lanes design at a
// reduced size where today's single function falls behind: 100
// connections of a vendor that takes 10 s, in 4 lanes, with bursts of
// rejects of one connection through the front. Connections run in
// parallel up to the number of lanes, two runs of one connection never
// overlap, rejects make at most one vendor call a minute, and every
// connection is refreshed inside its period, which today's function does
// not manage. Behaviour only; the speed figures are make bench's
// (TestCurve).
func TestLanesRunConnectionsInParallelAndBeatToday(t *testing.T) {
	const lanes = 4
	cfg := Config{Connections: 100, VendorLatency: 9950 * time.Millisecond, Duration: 3 * time.Hour, Seed: 1, Reports: rejectBursts(0)}
	lanesCfg := cfg
	lanesCfg.Design, lanesCfg.Lanes = Lanes, lanes
	res := simulate(t, lanesCfg)
	t.Logf("lanes: %s", summary(res))
	if res.Failed != 0 {
		t.Errorf("%d runs failed, want 0", res.Failed)
	}
	if res.MaxOverlap != 1 {
		t.Errorf("runs of one connection overlapped: at most %d at once, want 1", res.MaxOverlap)
	}
	if res.MaxConcurrent < 2 || res.MaxConcurrent > lanes {
		t.Errorf("at most %d runs at once, want between 2 (the parallel path) and the lanes, %d", res.MaxConcurrent, lanes)
	}
	if res.Expired != 0 || res.NoToken != 0 {
		t.Errorf("%d tokens expired and %d connections have none, want 0", res.Expired, res.NoToken)
	}
	if res.Incomplete || res.Dropped != 0 {
		t.Errorf("%d events dropped, want 0", res.Dropped)
	}
	period := vendors.MustLookup(vendors.Fyber).Every
	if res.MaxLateness >= period {
		t.Errorf("a run ended %s after its schedule's time, want inside the period %s", res.MaxLateness, period)
	}
	// Two reject-caused calls are needed to measure a gap between them.
	// RefreshedAt is kept to the second: a reject may follow the last by
	// a minute less that second.
	if res.RejectCalls < 2 {
		t.Errorf("%d reject-caused vendor calls, want at least 2: the front hands reports to the lane", res.RejectCalls)
	}
	if res.MinRejectGap < refresh.MinRejectInterval-time.Second {
		t.Errorf("two reject-caused vendor calls of one connection %s apart, want at least %s", res.MinRejectGap, refresh.MinRejectInterval-time.Second)
	}
	// Two bursts of 3 minutes: at most one call a minute, and a fourth
	// when a burst straddles its minutes.
	if res.RejectCalls > 2*4 {
		t.Errorf("%d reject-caused vendor calls for one connection over two 3-minute bursts, want at most 8", res.RejectCalls)
	}

	todayCfg := cfg
	todayCfg.Design = Today
	today := simulate(t, todayCfg)
	t.Logf("today: %s", summary(today))
	if today.Dropped == 0 || today.Expired == 0 {
		t.Errorf("today's function dropped %d events and let %d tokens expire at this size; the comparison needs it to fall behind", today.Dropped, today.Expired)
	}
	if today.MaxLateness <= res.MaxLateness {
		t.Errorf("today's runs end at most %s after their schedules, lanes' %s: want lanes sooner", today.MaxLateness, res.MaxLateness)
	}
}
