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

// CurveConcurrency is the proposed design's cap in the curve: the
// documented default MaximumConcurrency (docs/deploying.md).
const CurveConcurrency = 10

// TestCurve measures lateness and expired tokens for N = 10, 100, 1,000
// connections of Fyber and a vendor answering in 0.1, 1 and 10 s, today
// and in the proposed design. It runs only with -curve: make simulate.
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
			for _, d := range []Design{Today, Queued} {
				cfg := Config{Design: d, Connections: n, VendorLatency: lat, Duration: CurveDuration, Seed: 1}
				if d == Queued {
					cfg.Concurrency = CurveConcurrency
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
	fmt.Fprintf(&b, "| design | N | vendor answers in | a run done after its schedule fired, at most | × period | events dropped | tokens expired (time expired) | no token at the end | runs | vendor calls | Secrets Manager calls (most in one second) | most runs at once | simulated in |\n")
	fmt.Fprintf(&b, "|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range rows {
		b.WriteString(row(r))
		b.WriteString("\n")
	}
	return b.String()
}

func row(r Result) string {
	c := r.Config
	design := "today (reserved concurrency 1)"
	if c.Design == Queued {
		design = fmt.Sprintf("queued, C = %d", c.Concurrency)
	}
	late := r.MaxLateness.Round(100 * time.Millisecond).String()
	if r.Incomplete {
		late = "never (dropped), done ones " + late
	}
	expired := fmt.Sprintf("%d", r.Expired)
	if r.Expired > 0 {
		expired += fmt.Sprintf(" (%s)", r.ExpiredFor.Round(time.Second))
	}
	if c.Stagger {
		design += ", schedules spread over the period"
	}
	return fmt.Sprintf("| %s | %d | %s | %s | %.2f | %d of %d | %s | %d | %d | %d | %d (%d) | %d | %s |",
		design, c.Connections, c.VendorLatency, late, r.LatenessOfPeriod(), r.Dropped, r.Events, expired, r.NoToken,
		r.Runs, r.VendorCalls, r.SecretsCalls, r.PeakSecretsPerSecond, r.MaxConcurrent, r.Wall.Round(10*time.Millisecond))
}
