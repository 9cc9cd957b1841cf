package main

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"
)

// Budgets the figures are held to.
const (
	budgetSize    = 10_000_000 // bytes, stripped arm64 bootstrap
	budgetCold    = 20 * time.Millisecond
	budgetOwnWork = time.Millisecond
	budgetRSS     = 30_000 // KB (10^3 bytes), peak resident memory
)

// report is everything bench prints.
type report struct {
	Host                   string
	Starts, Invokes, Count int
	Functions              []*fnResult
	Baseline               *baseline
	GoBench                *goBenchResult
	Took                   time.Duration
}

// row is one line of the table.
type row struct {
	fn, figure, value, budget, result string
}

func verdict(ok bool) string {
	if ok {
		return "OK"
	}
	return "**OVER**"
}

func (rep *report) rows() []row {
	var rows []row
	for _, r := range rep.Functions {
		rows = append(rows, row{r.Name, "bootstrap size (linux/arm64, stripped)", fmtBytes(r.Size), "≤ " + fmtBytes(budgetSize), verdict(r.Size <= budgetSize)})
		if r.Skipped != "" {
			rows = append(rows, row{r.Name, "cold start, warm invokes, memory", "not measured: " + r.Skipped, "", ""})
			continue
		}
		if len(r.Cold) > 0 {
			total := durations(r.Cold, func(c coldSample) time.Duration { return c.Total })
			own := durations(r.Cold, coldSample.Own)
			p95Total, p95Own := percentile(total, 95), percentile(own, 95)
			rows = append(rows,
				row{r.Name, fmt.Sprintf("cold start: emulator gets the invoke → reply, median / p95 of %d", len(total)), spread(total), "≤ " + fmtDur(budgetCold) + " (p95)", verdict(p95Total <= budgetCold)},
				row{r.Name, "… of which waiting on the vendor and Secrets Manager", spread(durations(r.Cold, func(c coldSample) time.Duration { return c.Vendor + c.Secrets })), "", ""})
			if r.LogsRun {
				rows = append(rows, row{r.Name, "… of which before the refresh began (process start, Go runtime, config, emulator hand-over)", spread(durations(r.Cold, coldSample.Init)), "", ""})
			}
			rows = append(rows,
				row{r.Name, "… of which the init phase as the emulator reports it (Lambda's Init Duration)", spread(durations(r.Cold, func(c coldSample) time.Duration { return c.EmulatorInit })), "", ""},
				row{r.Name, "… CPU time of the bootstrap from its start to the reply", spread(durations(r.Cold, func(c coldSample) time.Duration { return c.CPU })), "", ""},
				row{r.Name, "cold start less waiting on the vendor and Secrets Manager", spread(own), "≤ " + fmtDur(budgetCold) + " (p95)", verdict(p95Own <= budgetCold)},
			)
		}
		if len(r.Warm) > 0 {
			calls := r.Warm[0].SecretsCalls
			cpu := warmDurations(r.Warm, func(w warmSample) time.Duration { return w.CPU })
			rows = append(rows, row{r.Name, fmt.Sprintf("warm invoke round trip through the emulator, median / p95 of %d", len(r.Warm)), spread(warmDurations(r.Warm, func(w warmSample) time.Duration { return w.RoundTrip })), "", ""})
			rest := "… the rest: the invoke less the waiting (own work, the emulator, waiting for a CPU)"
			if r.LogsRun {
				rows = append(rows, row{r.Name, "warm refresh in the function (its duration_us)", spread(warmDurations(r.Warm, func(w warmSample) time.Duration { return w.Run })), "", ""})
				rest = "… the rest: the refresh less the waiting (own work and waiting for a CPU)"
			}
			rows = append(rows,
				row{r.Name, "… waiting on the vendor", spread(warmDurations(r.Warm, func(w warmSample) time.Duration { return w.Vendor })), "", ""},
				row{r.Name, fmt.Sprintf("… waiting on Secrets Manager (%d calls)", calls), spread(warmDurations(r.Warm, func(w warmSample) time.Duration { return w.Secrets })), "", ""},
				row{r.Name, rest, spread(warmDurations(r.Warm, func(w warmSample) time.Duration { return w.Own(r.LogsRun) })), "", ""},
			)
			cpuRow := row{r.Name, "own work: CPU time of the bootstrap per invoke", spread(cpu), "", ""}
			if r.LogsRun {
				p95CPU := percentile(cpu, 95)
				cpuRow.figure = "own work per refresh: CPU time of the bootstrap per invoke"
				cpuRow.budget, cpuRow.result = "≤ "+fmtDur(budgetOwnWork)+" (p95)", verdict(p95CPU <= budgetOwnWork)
			}
			rows = append(rows, cpuRow,
				row{r.Name, "… user / kernel, mean per invoke (from 10 ms ticks)", fmtPair(r.WarmUser/time.Duration(len(r.Warm)), r.WarmSys/time.Duration(len(r.Warm))), "", ""})
		}
		if r.PeakRSSk > 0 {
			kb := r.PeakRSSk * 1024 / 1000
			rows = append(rows, row{r.Name, fmt.Sprintf("peak RSS (VmHWM) after the cold start + %d invokes", len(r.Warm)), fmtBytes(kb * 1000), "≤ " + fmtBytes(budgetRSS*1000), verdict(kb <= budgetRSS)})
		}
	}
	if b := rep.Baseline; b != nil {
		const name = "empty Go function (floor)"
		rows = append(rows,
			row{name, fmt.Sprintf("cold start: emulator gets the invoke → reply, median / p95 of %d", len(b.Cold)), spread(b.Cold), "", ""},
			row{name, "… of which the init phase as the emulator reports it", spread(b.EmulatorInit), "", ""},
			row{name, "… CPU time of the bootstrap from its start to the reply", spread(b.ColdCPU), "", ""},
			row{name, fmt.Sprintf("warm invoke round trip, median / p95 of %d", len(b.Warm)), spread(b.Warm), "", ""},
			row{name, "CPU time of the bootstrap per invoke", spread(b.WarmCPU), "", ""},
			row{name, "peak RSS (VmHWM)", fmtBytes(b.PeakRSSk * 1024), "", ""},
		)
	}
	if rep.GoBench != nil {
		for _, b := range rep.GoBench.Benchmarks {
			rw := row{"go test -bench", b.Name, fmtBench(b), "", ""}
			// The refresh core's own work per run.
			if strings.HasPrefix(b.Name, "refresh.BenchmarkRun/") {
				ns := b.Max["ns/op"]
				rw.budget = "≤ " + fmtDur(budgetOwnWork) + " (slowest run)"
				rw.result = verdict(time.Duration(ns) <= budgetOwnWork)
			}
			rows = append(rows, rw)
		}
	}
	return rows
}

// markdown renders the report.
func (rep *report) markdown() string {
	var b strings.Builder
	b.WriteString("| Function | Figure (median / p95 unless noted) | Value | Budget | Result |\n|---|---|---|---|---|\n")
	for _, r := range rep.rows() {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", r.fn, r.figure, r.value, r.budget, r.result)
	}
	fmt.Fprintf(&b, "\nMeasured on %s in %s.\n", rep.Host, rep.Took.Round(time.Second))
	fmt.Fprintf(&b, "Cold starts: %d per function, each in a fresh aws-lambda-rie. The emulator starts the bootstrap only when the first invoke arrives, so a cold start covers process start, Go runtime and package init, configuration, the emulator's hand-over, the first invoke and the reply. Refreshers get {\"force\":true}, a full refresh against moto_server and the vendor's fake; admitad-callback gets a signed connect link (GET /admitad/authorize), which reads two secrets and redirects. Binaries run here are built for this machine with the flags of `make build`.\n", rep.Starts)
	fmt.Fprintf(&b, "Warm: %d more invokes in the first emulator. Waiting is measured where moto and the vendor's fake answer (loopback proxies that time each request); the CPU time is the bootstrap's own, from /proc/<pid>/task/*/schedstat; peak RSS is VmHWM from /proc/<pid>/status.\n", rep.Invokes)
	if rep.GoBench != nil {
		fmt.Fprintf(&b, "Go benchmarks: median (min–max) of -count %d, raw output in %s (compare two commits with `benchstat old.txt new.txt`).\n", rep.Count, rep.GoBench.Raw)
	}
	return b.String()
}

func durations(cs []coldSample, f func(coldSample) time.Duration) []time.Duration {
	out := make([]time.Duration, len(cs))
	for i, c := range cs {
		out[i] = f(c)
	}
	return out
}

func warmDurations(ws []warmSample, f func(warmSample) time.Duration) []time.Duration {
	out := make([]time.Duration, len(ws))
	for i, w := range ws {
		out[i] = f(w)
	}
	return out
}

// percentile returns the p-th percentile (nearest rank) of ds; 50 is the
// median of an odd count and the lower middle of an even one.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	rank := int(math.Ceil(p / 100 * float64(len(s))))
	return s[min(max(rank, 1), len(s))-1]
}

func fmtDur(d time.Duration) string {
	ms := float64(d) / float64(time.Millisecond)
	switch {
	case ms >= 100:
		return fmt.Sprintf("%.0f ms", ms)
	case ms >= 10:
		return fmt.Sprintf("%.1f ms", ms)
	default:
		return fmt.Sprintf("%.2f ms", ms)
	}
}

// spread is "median / p95" of ds.
func spread(ds []time.Duration) string {
	return fmtPair(percentile(ds, 50), percentile(ds, 95))
}

func fmtPair(a, b time.Duration) string {
	return strings.TrimSuffix(fmtDur(a), " ms") + " / " + fmtDur(b)
}

// fmtBytes prints decimal megabytes, as the budgets are written.
func fmtBytes(n int64) string {
	return fmt.Sprintf("%.1f MB", float64(n)/1e6)
}

func fmtBench(b benchStat) string {
	var parts []string
	for _, unit := range b.Units {
		v := b.Median[unit]
		var s string
		switch unit {
		case "ns/op":
			s = fmtNs(v) + "/op"
			if b.Runs > 1 {
				s += " (" + fmtNs(b.Min[unit]) + "–" + fmtNs(b.Max[unit]) + ")"
			}
		case "B/op":
			s = fmtB(v) + "/op"
		case "allocs/op":
			s = fmt.Sprintf("%.0f allocs/op", v)
		default:
			s = fmt.Sprintf("%.4g %s", v, unit)
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}

func fmtNs(ns float64) string {
	switch {
	case ns >= 1e9:
		return fmt.Sprintf("%.2f s", ns/1e9)
	case ns >= 1e6:
		return fmt.Sprintf("%.2f ms", ns/1e6)
	case ns >= 1e3:
		return fmt.Sprintf("%.1f µs", ns/1e3)
	default:
		return fmt.Sprintf("%.0f ns", ns)
	}
}

func fmtB(b float64) string {
	switch {
	case b >= 1e6:
		return fmt.Sprintf("%.1f MB", b/1e6)
	case b >= 1e3:
		return fmt.Sprintf("%.1f kB", b/1e3)
	default:
		return fmt.Sprintf("%.0f B", b)
	}
}
