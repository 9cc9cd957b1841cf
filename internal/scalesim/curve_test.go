package scalesim

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var (
	curve    = flag.Bool("curve", false, "measure the scale curve (make simulate; part of make bench)")
	curveOut = flag.String("curve-out", "", "also write the curve's Markdown table to this file")
)

// CurveDuration is how long each point of the curve simulates.
const CurveDuration = 3 * time.Hour

// CurveConcurrency is the queued design's cap in the curve: the
// MaximumConcurrency it proposed.
const CurveConcurrency = 10

// CurveLanes is the lanes design's number of lanes in the curve: the
// recommended default (docs/deploying.md).
const CurveLanes = 10

// TestCurve measures lateness and expired tokens for N = 10, 100, 1,000
// connections of Fyber and a vendor answering in 0.1, 1 and 10 s, today,
// queued and in lanes; at 1,000 connections also with 2, 5 and 20 lanes,
// and 30 at 10 s. The lanes rows carry two bursts of rejects of connection c0 from
// three apps, through the front. It runs only with -curve: make simulate.
func TestCurve(t *testing.T) {
	if !*curve {
		t.Skip("the scale curve runs with -curve (make simulate, make bench)")
	}
	var rows []Result
	// 10 s is the vendor client's attempt timeout: the vendor answers just
	// inside it, so a run lasts about 10 s.
	latencies := []time.Duration{100 * time.Millisecond, time.Second, 9950 * time.Millisecond}
	for _, n := range []int{10, 100, 1000} {
		for _, lat := range latencies {
			for _, d := range []Design{Today, Queued, Lanes} {
				cfg := Config{Design: d, Connections: n, VendorLatency: lat, Duration: CurveDuration, Seed: 1}
				switch d {
				case Queued:
					cfg.Concurrency = CurveConcurrency
				case Lanes:
					cfg.Lanes, cfg.Reports = CurveLanes, rejectBursts(0)
				}
				start := time.Now()
				res := simulate(t, cfg)
				res.Wall = time.Since(start)
				rows = append(rows, res)
				t.Log(row(res))
			}
		}
	}
	extra := []Config{
		// The cap a vendor at 10 s needs: 1,000 connections at C = 2 and 50.
		{Design: Queued, Connections: 1000, VendorLatency: 9950 * time.Millisecond, Concurrency: 2},
		{Design: Queued, Connections: 1000, VendorLatency: 9950 * time.Millisecond, Concurrency: 50},
		// Schedules spread over the period instead of firing at once:
		// the peak rate of Secrets Manager calls falls.
		{Design: Queued, Connections: 1000, VendorLatency: 100 * time.Millisecond, Concurrency: CurveConcurrency, Stagger: true},
		{Design: Today, Connections: 1000, VendorLatency: 100 * time.Millisecond, Stagger: true},
		{Design: Today, Connections: 1000, VendorLatency: time.Second, Stagger: true},
	}
	// The number of lanes at 1,000 connections: fewer and more than the
	// default, and the first with no event dropped at 10 s.
	for _, l := range []int{2, 5, 20} {
		for _, lat := range latencies {
			extra = append(extra, Config{Design: Lanes, Connections: 1000, VendorLatency: lat, Lanes: l, Reports: rejectBursts(0)})
		}
	}
	extra = append(extra, Config{Design: Lanes, Connections: 1000, VendorLatency: 9950 * time.Millisecond, Lanes: 30, Reports: rejectBursts(0)})
	for _, cfg := range extra {
		cfg.Duration, cfg.Seed = CurveDuration, 1
		start := time.Now()
		res := simulate(t, cfg)
		res.Wall = time.Since(start)
		rows = append(rows, res)
		t.Log(row(res))
	}
	table := Table(rows)
	fmt.Println(table)
	if *curveOut != "" {
		if err := os.MkdirAll(filepath.Dir(*curveOut), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(*curveOut, []byte(table), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// Table is the curve as Markdown.
func Table(rows []Result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "| design | N | vendor answers in | a run done after its schedule's time, at most | × period | events dropped | tokens expired (time expired) | no token at the end | runs | vendor calls | throttled attempts | Secrets Manager calls (most in one second) | most runs at once | most runs of one connection at once | reject-caused vendor calls (shortest gap) | reports lost: front busy / lane busy to the front's deadline | simulated in |\n")
	fmt.Fprintf(&b, "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range rows {
		b.WriteString(row(r))
		b.WriteString("\n")
	}
	return b.String()
}

func row(r Result) string {
	c := r.Config
	design := "today (reserved concurrency 1)"
	switch c.Design {
	case Queued:
		design = fmt.Sprintf("queued, C = %d", c.Concurrency)
	case Lanes:
		design = fmt.Sprintf("lanes, L = %d (largest %d connections)", c.Lanes, r.LargestLane)
	}
	late := r.MaxLateness.Round(100 * time.Millisecond).String()
	if r.Incomplete {
		late = "never (dropped), done ones " + late
	}
	expired := fmt.Sprintf("%d", r.Expired)
	if r.Expired > 0 {
		expired += fmt.Sprintf(" (%s)", r.ExpiredFor.Round(time.Second))
	}
	if c.Stagger && c.Design != Lanes {
		design += ", schedules spread over the period"
	}
	rejects, lost := "–", "–"
	if len(c.Reports) > 0 {
		rejects = fmt.Sprintf("%d (%s)", r.RejectCalls, r.MinRejectGap.Round(time.Second))
		if r.RejectCalls < 2 {
			rejects = fmt.Sprintf("%d", r.RejectCalls)
		}
		lost = fmt.Sprintf("%d / %d", r.ReportsLost, r.HandoffsTimedOut)
	}
	return fmt.Sprintf("| %s | %d | %s | %s | %.2f | %d of %d | %s | %d | %d | %d | %d | %d (%d) | %d | %d | %s | %s | %s |",
		design, c.Connections, c.VendorLatency, late, r.LatenessOfPeriod(), r.Dropped, r.Events, expired, r.NoToken,
		r.Runs, r.VendorCalls, r.Throttles, r.SecretsCalls, r.PeakSecretsPerSecond, r.MaxConcurrent, r.MaxOverlap, rejects, lost, r.Wall.Round(10*time.Millisecond))
}
