package main

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"
)

// Targets the figures are held to.
const (
	budgetSize = 10_000_000 // bytes, stripped arm64 bootstrap
	budgetRSS  = 20 * 1024  // KiB (20 MiB), peak resident memory after 100 invokes
	// budgetRSSGrowth is the most the resident set may grow from the 100th
	// invoke to the last: more would be memory kept per invoke.
	budgetRSSGrowth = 512 // KiB
	// growthFrom is the invoke after which the heap has reached its
	// steady size: growth is measured from it to the last.
	growthFrom = 200
	// CPU against the empty Go function of the same run.
	targetColdRatio = 2.5
	targetWarmRatio = 4.0
	budgetOwnWork   = time.Millisecond // the refresh core's go test -bench
)

// report is everything bench prints.
type report struct {
	Host                   string
	Load                   string // the machine's load average at the start and end
	ProfileNote            string // why there is no instruction profile
	Starts, Invokes, Count int
	Functions              []*fnResult
	Baseline               *baseline
	GoBench                *goBenchResult
	Took                   time.Duration
}

// row is one line of the details table.
type row struct {
	fn, figure, value, budget, result string
}

func verdict(ok bool) string {
	if ok {
		return "OK"
	}
	return "**OVER**"
}

// ratio is a/b, 0 when b is 0.
func ratio(a, b time.Duration) float64 {
	if b <= 0 {
		return 0
	}
	return float64(a) / float64(b)
}

func irRatio(a, b int64) float64 {
	if b <= 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// coldCPU and warmCPU are the medians the CPU targets are about.
func (r *fnResult) coldCPU() time.Duration {
	return percentile(durations(r.Cold, func(c coldSample) time.Duration { return c.CPU }), 50)
}

func (r *fnResult) warmCPU() time.Duration {
	return percentile(warmDurations(r.Warm, func(w warmSample) time.Duration { return w.CPU }), 50)
}

func (b *baseline) coldCPU() time.Duration { return percentile(b.ColdCPU, 50) }
func (b *baseline) warmCPU() time.Duration { return percentile(b.WarmCPU, 50) }

// floor is the empty function r's CPU multiples are taken against: the
// one measured beside r, else the run's first.
func (rep *report) floor(r *fnResult) *baseline {
	if r.Floor != nil && len(r.Floor.ColdCPU) > 0 && len(r.Floor.WarmCPU) > 0 {
		return r.Floor
	}
	return rep.Baseline
}

// targetsTable sums up every target: met, or which figures miss it.
func (rep *report) targetsTable(b *strings.Builder) {
	type line struct {
		target string
		misses []string
		n      int // figures checked
	}
	calls := line{target: "Secrets Manager calls: skip 1; scheduled refresh ≤ 3 cold, ≤ 2 warm; forced ≤ 2; Admitad refresh ≤ 4"}
	cold := line{target: fmt.Sprintf("cold CPU ≤ %.1f× the empty function's", targetColdRatio)}
	warm := line{target: fmt.Sprintf("warm CPU per invoke ≤ %.0f× the empty function's", targetWarmRatio)}
	size := line{target: "stripped arm64 bootstrap ≤ 10 MB"}
	rss := line{target: "peak RSS ≤ 20 MiB after 100 invokes"}
	growth := line{target: fmt.Sprintf("no memory growth: RSS from the %dth invoke to the last grows ≤ %d KiB", growthFrom, budgetRSSGrowth)}
	for _, r := range rep.Functions {
		for _, c := range r.Calls {
			if c.Max == 0 {
				continue
			}
			calls.n++
			if !c.OK() {
				calls.misses = append(calls.misses, fmt.Sprintf("%s %s: %d", r.Name, c.Name, c.Calls()))
			}
		}
		size.n++
		if r.Size > budgetSize {
			size.misses = append(size.misses, r.Name+" "+fmtBytes(r.Size))
		}
		if len(r.Cold) > 0 && len(r.Warm) > 0 && rep.Baseline != nil {
			fl := rep.floor(r)
			cold.n++
			if x := ratio(r.coldCPU(), fl.coldCPU()); x > targetColdRatio {
				cold.misses = append(cold.misses, fmt.Sprintf("%s %.2f×", r.Name, x))
			}
			warm.n++
			if x := ratio(r.warmCPU(), fl.warmCPU()); x > targetWarmRatio {
				warm.misses = append(warm.misses, fmt.Sprintf("%s %.2f×", r.Name, x))
			}
		}
		if m, ok := r.memAt(100); ok {
			rss.n++
			if m.HWMk > budgetRSS {
				rss.misses = append(rss.misses, r.Name+" "+fmtKiB(m.HWMk))
			}
		}
		if g, ok := r.rssGrowth(); ok {
			growth.n++
			if g > budgetRSSGrowth {
				growth.misses = append(growth.misses, fmt.Sprintf("%s %+d KiB", r.Name, g))
			}
		}
	}
	b.WriteString("## Targets\n\n| Target | Result | Misses |\n|---|---|---|\n")
	for _, l := range []line{calls, cold, warm, size, rss, growth} {
		result := "not measured"
		switch {
		case l.n == 0:
		case len(l.misses) == 0:
			result = fmt.Sprintf("OK (%d of %d)", l.n, l.n)
		default:
			result = fmt.Sprintf("**OVER** (%d of %d)", len(l.misses), l.n)
		}
		fmt.Fprintf(b, "| %s | %s | %s |\n", l.target, result, strings.Join(l.misses, "; "))
	}
	b.WriteString("\n")
}

// cpuTable is the headline: CPU per function against the empty function.
func (rep *report) cpuTable(b *strings.Builder) {
	base := rep.Baseline
	if base == nil {
		return
	}
	fmt.Fprintf(b, "## CPU against the empty Go function of this run\n\n")
	fmt.Fprintf(b, "Cold: the bootstrap's CPU time from its start to the reply of the first invoke (a forced refresh; admitad-callback: a connect link), median of %d cold starts. Warm: CPU time per invoke, median of %d. Each function's multiples are of the empty Go function measured beside it (a cold start of each in turn; the empty function's warm invokes just before the function's), in the \"empty\" columns, so both saw the same load. Targets: cold ≤ %.1f×, warm ≤ %.0f× the empty function's. The instruction counts (callgrind, one run each) barely depend on the load.\n\n",
		len(base.ColdCPU), len(base.WarmCPU), targetColdRatio, targetWarmRatio)
	b.WriteString("| Function | cold CPU | empty | × empty | target ≤ 2.5× | warm CPU per invoke | empty | × empty | target ≤ 4× |")
	prof := base.Profile != nil
	if prof {
		b.WriteString(" cold instructions (× empty) | warm instructions per invoke (× empty) |")
	}
	b.WriteString("\n|---|---|---|---|---|---|---|---|---|")
	if prof {
		b.WriteString("---|---|")
	}
	b.WriteString("\n")
	for _, r := range rep.Functions {
		if len(r.Cold) == 0 || len(r.Warm) == 0 {
			continue
		}
		fl := rep.floor(r)
		cr, wr := ratio(r.coldCPU(), fl.coldCPU()), ratio(r.warmCPU(), fl.warmCPU())
		fmt.Fprintf(b, "| %s | %s | %s | %.2f× | %s | %s | %s | %.2f× | %s |", r.Name, fmtDur(r.coldCPU()), fmtDur(fl.coldCPU()), cr, verdict(cr <= targetColdRatio), fmtDur(r.warmCPU()), fmtDur(fl.warmCPU()), wr, verdict(wr <= targetWarmRatio))
		if prof {
			if p := r.Profile; p != nil {
				fmt.Fprintf(b, " %s (%.2f×) | %s (%.2f×) |", fmtIr(p.ColdIr), irRatio(p.ColdIr, base.Profile.ColdIr), fmtIr(p.WarmIr), irRatio(p.WarmIr, base.Profile.WarmIr))
			} else {
				b.WriteString(" | |")
			}
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(b, "| empty Go function (first measurement) | %s | | 1× | | %s | | 1× | |", fmtDur(base.coldCPU()), fmtDur(base.warmCPU()))
	if prof {
		fmt.Fprintf(b, " %s | %s |", fmtIr(base.Profile.ColdIr), fmtIr(base.Profile.WarmIr))
	}
	b.WriteString("\n\n")
}

// callsTable is the Secrets Manager calls per kind of run.
func (rep *report) callsTable(b *strings.Builder) {
	counted := false
	for _, r := range rep.Functions {
		counted = counted || len(r.Calls) > 0
	}
	if !counted {
		return
	}
	b.WriteString("## Secrets Manager calls per kind of run\n\n")
	b.WriteString("Counted where moto_server receives them. Each row is one invoke under aws-lambda-rie, in this order per function; \"cold\" is the first invoke of a new process. The CPU is that one invoke's (cold: from the process start), a single sample.\n\n")
	b.WriteString("| Function | Run | Reply | Calls | Operations | CPU | Target | Result |\n|---|---|---|---|---|---|---|---|\n")
	for _, r := range rep.Functions {
		for _, c := range r.Calls {
			target, result := "", ""
			if c.Max > 0 {
				target = fmt.Sprintf("≤ %d", c.Max)
				if c.Max == maxSkip && c.Action == "skipped" {
					target = "1"
				}
				if c.Note != "" {
					target += " (" + c.Note + ")"
				}
				result = verdict(c.OK())
			}
			action := c.Action
			if action == "" {
				action = "redirect"
			}
			fmt.Fprintf(b, "| %s | %s | %s | %d | %s | %s | %s | %s |\n", r.Name, c.Name, action, c.Calls(), fmtOps(c.Ops), fmtDur(c.CPU), target, result)
		}
	}
	b.WriteString("\n")
}

// fmtOps lists operations in order, runs of one written "Op ×n".
func fmtOps(ops []string) string {
	var parts []string
	for i := 0; i < len(ops); {
		j := i
		for j < len(ops) && ops[j] == ops[i] {
			j++
		}
		op := ops[i]
		if op == "" {
			op = "(not an AWS call)"
		}
		if j-i > 1 {
			op += fmt.Sprintf(" ×%d", j-i)
		}
		parts = append(parts, op)
		i = j
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// wallTable splits the wall time of a cold start and a warm invoke.
func (rep *report) wallTable(b *strings.Builder) {
	b.WriteString("## Wall time: waiting on Secrets Manager, on the vendor, and the rest\n\n")
	b.WriteString("Median / p95. Cold: from sending the first invoke to a fresh emulator (which only then starts the bootstrap) to the reply. Warm: an invoke's round trip through the emulator. Waiting is timed where moto_server and the vendor's fake answer; the rest is process start, Go runtime, the function's own work, the emulator, and waiting for a CPU.\n\n")
	b.WriteString("| Function | Invoke | Total | Waiting on Secrets Manager | Waiting on the vendor | The rest |\n|---|---|---|---|---|---|\n")
	for _, r := range rep.Functions {
		if len(r.Cold) > 0 {
			fmt.Fprintf(b, "| %s | cold (%s) | %s | %s | %s | %s |\n", r.Name, callsLabel(r.Cold[len(r.Cold)-1].SecretsCalls),
				spread(durations(r.Cold, func(c coldSample) time.Duration { return c.Total })),
				spread(durations(r.Cold, func(c coldSample) time.Duration { return c.Secrets })),
				spread(durations(r.Cold, func(c coldSample) time.Duration { return c.Vendor })),
				spread(durations(r.Cold, coldSample.Own)))
		}
		if len(r.Warm) > 0 {
			fmt.Fprintf(b, "| %s | warm (%s) | %s | %s | %s | %s |\n", r.Name, callsLabel(r.Warm[len(r.Warm)-1].SecretsCalls),
				spread(warmDurations(r.Warm, func(w warmSample) time.Duration { return w.RoundTrip })),
				spread(warmDurations(r.Warm, func(w warmSample) time.Duration { return w.Secrets })),
				spread(warmDurations(r.Warm, func(w warmSample) time.Duration { return w.Vendor })),
				spread(warmDurations(r.Warm, warmSample.Rest)))
		}
	}
	if base := rep.Baseline; base != nil {
		fmt.Fprintf(b, "| empty Go function | cold | %s | | | %s |\n| empty Go function | warm | %s | | | %s |\n", spread(base.Cold), spread(base.Cold), spread(base.Warm), spread(base.Warm))
	}
	b.WriteString("\n")
}

func callsLabel(n int) string {
	if n == 1 {
		return "1 Secrets Manager call"
	}
	return fmt.Sprintf("%d Secrets Manager calls", n)
}

// memTable is the bootstrap size and the memory over the invokes.
func (rep *report) memTable(b *strings.Builder) {
	b.WriteString("## Size and memory\n\n")
	b.WriteString("Memory of the bootstrap process of the first emulator after that many invokes (the cold one counts): RSS is VmRSS, the peak VmHWM. The Go heap grows to its steady size over the first hundred or two invokes; memory kept per invoke would show as growth after that, from the 200th invoke to the last.\n\n")
	b.WriteString("| Function | bootstrap (linux/arm64, stripped) | ≤ 10 MB | RSS after 1 / 10 / 100 invokes | peak RSS after 100 | ≤ 20 MiB | RSS after the last | growth 200 → last | ≤ 512 KiB |\n|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range rep.Functions {
		line := fmt.Sprintf("| %s | %s | %s |", r.Name, fmtBytes(r.Size), verdict(r.Size <= budgetSize))
		if len(r.Mem) == 0 {
			b.WriteString(line + " | | | | | |\n")
			continue
		}
		var rss []string
		for _, m := range r.Mem {
			if m.Invokes <= 100 {
				rss = append(rss, fmtKiB(m.RSSk))
			}
		}
		peak, pv := "", ""
		if m, ok := r.memAt(100); ok {
			peak, pv = fmtKiB(m.HWMk), verdict(m.HWMk <= budgetRSS)
		}
		last := r.Mem[len(r.Mem)-1]
		growth, gv := "", ""
		if g, ok := r.rssGrowth(); ok {
			growth, gv = fmt.Sprintf("%+d KiB", g), verdict(g <= budgetRSSGrowth)
		}
		fmt.Fprintf(b, "%s %s | %s | %s | %s (after %d) | %s | %s |\n", line, strings.Join(rss, " / "), peak, pv, fmtKiB(last.RSSk), last.Invokes, growth, gv)
	}
	if base := rep.Baseline; base != nil && base.PeakRSSk > 0 {
		fmt.Fprintf(b, "| empty Go function | | | | %s (after %d) | | | | |\n", fmtKiB(base.PeakRSSk), len(base.Warm)+1)
	}
	b.WriteString("\n")
}

func (r *fnResult) memAt(invokes int) (memReading, bool) {
	for _, m := range r.Mem {
		if m.Invokes == invokes {
			return m, true
		}
	}
	return memReading{}, false
}

// rssGrowth is the RSS after the last invoke less the RSS after the
// 100th, when there were more.
func (r *fnResult) rssGrowth() (int64, bool) {
	m, ok := r.memAt(growthFrom)
	if !ok || len(r.Mem) == 0 || r.Mem[len(r.Mem)-1].Invokes <= growthFrom {
		return 0, false
	}
	return r.Mem[len(r.Mem)-1].RSSk - m.RSSk, true
}

// profileTables show where the instructions go, per category.
func (rep *report) profileTables(b *strings.Builder) {
	base := rep.Baseline
	if base == nil || base.Profile == nil {
		return
	}
	var fns []*fnResult
	for _, r := range rep.Functions {
		if r.Profile != nil {
			fns = append(fns, r)
		}
	}
	b.WriteString("## Where the CPU goes: instructions by package (callgrind)\n\n")
	fmt.Fprintf(b, "Each function ran under `valgrind --tool=callgrind` in aws-lambda-rie: once for the cold invoke, once for it and %d warm ones; a warm invoke is the difference divided by %d. Instruction counts barely change from run to run or with the machine's load. Each instruction is counted in the function that executed it (self cost), grouped by the function's package; the kernel's work in system calls is not counted. Thousands of instructions (k) or millions (M).\n\n", base.Profile.Invokes, base.Profile.Invokes)
	for _, part := range []struct {
		title string
		pick  func(*profile) []cost
		total func(*profile) int64
	}{
		{"Warm, per invoke", func(p *profile) []cost { return p.WarmBy }, func(p *profile) int64 { return p.WarmIr }},
		{"Cold, process start to the first reply", func(p *profile) []cost { return p.ColdBy }, func(p *profile) int64 { return p.ColdIr }},
	} {
		fmt.Fprintf(b, "**%s**\n\n| Where | empty Go function |", part.title)
		for _, r := range fns {
			fmt.Fprintf(b, " %s |", r.Name)
		}
		b.WriteString("\n|---|---|")
		for range fns {
			b.WriteString("---|")
		}
		b.WriteString("\n")
		cats := categoryOrder(append([]*profile{base.Profile}, profiles(fns)...), part.pick)
		for _, cat := range cats {
			fmt.Fprintf(b, "| %s | %s |", cat, fmtIr(costOf(part.pick(base.Profile), cat)))
			for _, r := range fns {
				fmt.Fprintf(b, " %s |", fmtIr(costOf(part.pick(r.Profile), cat)))
			}
			b.WriteString("\n")
		}
		fmt.Fprintf(b, "| **total** | **%s** |", fmtIr(part.total(base.Profile)))
		for _, r := range fns {
			fmt.Fprintf(b, " **%s** (%.2f×) |", fmtIr(part.total(r.Profile)), irRatio(part.total(r.Profile), part.total(base.Profile)))
		}
		b.WriteString("\n\n")
	}
	b.WriteString("Package initialisation in a cold start, as the Go runtime reports it (`GODEBUG=inittrace=1`, a run outside callgrind; clock time, so it carries the machine's noise; allocations are exact):\n\n| Function | init clock | allocated | allocations | slowest packages |\n|---|---|---|---|---|\n")
	for _, r := range append([]*fnResult{{Name: "empty Go function", Profile: base.Profile}}, fns...) {
		in := r.Profile.Init
		var top []string
		for _, p := range in.Top {
			top = append(top, fmt.Sprintf("`%s` %s", p.Pkg, fmtDur(p.Clock)))
		}
		fmt.Fprintf(b, "| %s | %s | %s | %d | %s |\n", r.Name, fmtDur(in.Clock), fmtB(float64(in.Bytes)), in.Allocs, strings.Join(top, ", "))
	}
	b.WriteString("\nThe functions with the most instructions per warm invoke (self cost):\n\n")
	for _, r := range append([]*fnResult{{Name: "empty Go function", Profile: base.Profile}}, fns...) {
		var top []string
		for _, c := range r.Profile.WarmTop {
			top = append(top, fmt.Sprintf("`%s` %s", c.Name, fmtIr(c.Ir)))
		}
		fmt.Fprintf(b, "- %s: %s\n", r.Name, strings.Join(top, ", "))
	}
	b.WriteString("\n")
}

func profiles(fns []*fnResult) []*profile {
	out := make([]*profile, len(fns))
	for i, r := range fns {
		out[i] = r.Profile
	}
	return out
}

// categoryOrder lists the categories by their largest cost in any profile.
func categoryOrder(ps []*profile, pick func(*profile) []cost) []string {
	most := map[string]int64{}
	for _, p := range ps {
		for _, c := range pick(p) {
			most[c.Name] = max(most[c.Name], c.Ir)
		}
	}
	cs := make([]cost, 0, len(most))
	for n, ir := range most {
		cs = append(cs, cost{n, ir})
	}
	sortCosts(cs)
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Name
	}
	return out
}

func costOf(cs []cost, name string) int64 {
	for _, c := range cs {
		if c.Name == name {
			return c.Ir
		}
	}
	return 0
}

func fmtIr(n int64) string {
	switch a := math.Abs(float64(n)); {
	case a >= 10e6:
		return fmt.Sprintf("%.1f M", float64(n)/1e6)
	case a >= 1e6:
		return fmt.Sprintf("%.2f M", float64(n)/1e6)
	case a >= 1e3:
		return fmt.Sprintf("%.0f k", float64(n)/1e3)
	default:
		return fmt.Sprint(n)
	}
}

func fmtKiB(k int64) string { return fmt.Sprintf("%.1f MiB", float64(k)/1024) }

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
			rows = append(rows,
				row{r.Name, fmt.Sprintf("cold start: emulator gets the invoke → reply, median / p95 of %d", len(total)), spread(total), "", ""},
				row{r.Name, fmt.Sprintf("… of which waiting on Secrets Manager (%d calls)", r.Cold[len(r.Cold)-1].SecretsCalls), spread(durations(r.Cold, func(c coldSample) time.Duration { return c.Secrets })), "", ""},
				row{r.Name, "… of which waiting on the vendor", spread(durations(r.Cold, func(c coldSample) time.Duration { return c.Vendor })), "", ""})
			if r.LogsRun {
				rows = append(rows, row{r.Name, "… of which before the refresh began (process start, Go runtime, config, emulator hand-over)", spread(durations(r.Cold, coldSample.Init)), "", ""})
			}
			rows = append(rows,
				row{r.Name, "… of which the init phase as the emulator reports it (Lambda's Init Duration)", spread(durations(r.Cold, func(c coldSample) time.Duration { return c.EmulatorInit })), "", ""},
				row{r.Name, "… CPU time of the bootstrap from its start to the reply", spread(durations(r.Cold, func(c coldSample) time.Duration { return c.CPU })), "", ""},
				row{r.Name, "cold start less waiting on the vendor and Secrets Manager", spread(durations(r.Cold, coldSample.Own)), "", ""},
			)
		}
		if len(r.Warm) > 0 {
			calls := r.Warm[len(r.Warm)-1].SecretsCalls
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
				row{r.Name, "CPU time of the bootstrap per invoke", spread(warmDurations(r.Warm, func(w warmSample) time.Duration { return w.CPU })), "", ""},
				row{r.Name, "… user / kernel, mean per invoke (from 10 ms ticks)", fmtPair(r.WarmUser/time.Duration(len(r.Warm)), r.WarmSys/time.Duration(len(r.Warm))), "", ""})
		}
		if r.PeakRSSk > 0 {
			rows = append(rows, row{r.Name, fmt.Sprintf("peak RSS (VmHWM) after the cold start + %d invokes", len(r.Warm)), fmtKiB(r.PeakRSSk), "≤ " + fmtKiB(budgetRSS), verdict(r.PeakRSSk <= budgetRSS)})
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
			row{name, "peak RSS (VmHWM)", fmtKiB(b.PeakRSSk), "", ""},
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
	fmt.Fprintf(&b, "# make bench\n\nMeasured on %s in %s. %s\n\n", rep.Host, rep.Took.Round(time.Second), rep.Load)
	rep.targetsTable(&b)
	rep.cpuTable(&b)
	rep.callsTable(&b)
	rep.wallTable(&b)
	rep.memTable(&b)
	rep.profileTables(&b)
	if rep.ProfileNote != "" {
		b.WriteString(rep.ProfileNote + "\n\n")
	}
	b.WriteString("## Every figure\n\n")
	b.WriteString("| Function | Figure (median / p95 unless noted) | Value | Budget | Result |\n|---|---|---|---|---|\n")
	for _, r := range rep.rows() {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", r.fn, r.figure, r.value, r.budget, r.result)
	}
	fmt.Fprintf(&b, "\nCold starts: %d per function, each in a fresh aws-lambda-rie. The emulator starts the bootstrap only when the first invoke arrives, so a cold start covers process start, Go runtime and package init, configuration, the emulator's hand-over, the first invoke and the reply. Refreshers get {\"force\":true}, a full refresh against moto_server and the vendor's fake; admitad-callback gets a signed connect link (GET /admitad/authorize), which reads two secrets and redirects. Binaries run here are built for this machine with the flags of `make build`.\n", rep.Starts)
	fmt.Fprintf(&b, "Warm: %d more invokes in the first emulator. Waiting is measured where moto and the vendor's fake answer (loopback proxies that time each request); the CPU time is the bootstrap's own, from /proc/<pid>/task/*/schedstat; memory is VmRSS and VmHWM from /proc/<pid>/status.\n", rep.Invokes)
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
