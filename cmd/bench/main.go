// Command bench measures token-refresher's functions on this machine and
// prints a markdown report, also written to bench/results.md:
//
//   - CPU, the headline: per function, the bootstrap's CPU time from its
//     start to the first refresh done (cold) and per warm refresh, each
//     absolute and as a multiple of an empty Go function measured in the
//     same run, so figures carry from one machine to another;
//   - Secrets Manager calls per kind of run (scheduled run that skips or
//     refreshes, forced run; cold and warm), counted where moto_server
//     receives them, against their targets;
//   - wall time of a cold start and a warm invoke, split into waiting on
//     Secrets Manager, waiting on the vendor, and the rest;
//   - the size of each function's stripped linux/arm64 bootstrap, built as
//     `make build` builds it, and the bootstrap's memory after 1, 10 and
//     100 invokes;
//   - where the CPU goes: instruction counts from valgrind --tool=callgrind
//     (cold, and per warm invoke), by package, against the empty
//     function's, and the package initialisation of a cold start
//     (GODEBUG=inittrace=1);
//   - `go test -bench` of the refresh path and the token reader, run with
//     -count so benchstat can compare two commits (raw output in bench/out/).
//
// Each function, built for this machine with make build's flags, runs under
// aws-lambda-rie against moto_server and the vendor's fake from
// shared/vendortest; every cold start is a fresh emulator and its first
// invoke is {"force":true}, so it really refreshes.
//
// Usage (from the module root; `make bench` runs it):
//
//	go run ./cmd/bench [-starts 20] [-invokes 599] [-count 6] [-only fyber,invoca]
//	go run ./cmd/bench -starts 3 -invokes 12 -profile-invokes 3 -no-gobench   # a quick look
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/token-refresher/token-refresher/internal/localaws"
)

type options struct {
	starts    int
	invokes   int
	count     int
	only      map[string]bool
	out       string
	rawDir    string
	noGoBench bool
	noCalls   bool
	// profile: run each function under callgrind for its instruction
	// counts and where they go; profileInvokes warm invokes.
	profile        bool
	profileInvokes int
	verbose        bool
	fnEnv          []string
}

func main() {
	var o options
	var only string
	flag.IntVar(&o.starts, "starts", 20, "cold starts per function (at least 20 for the published figures)")
	flag.IntVar(&o.invokes, "invokes", 599, "warm invokes per function after the first cold start (599: memory after 100, 200 and 600 invokes)")
	flag.IntVar(&o.count, "count", 6, "go test -count for the Go benchmarks (benchstat wants at least 6)")
	flag.StringVar(&only, "only", "", "comma-separated functions to measure (default: every functions/*/main.go)")
	flag.StringVar(&o.out, "out", "bench/results.md", "markdown file the table is written to")
	flag.StringVar(&o.rawDir, "raw", "bench/out", "folder for the raw go test -bench output")
	flag.BoolVar(&o.noGoBench, "no-gobench", false, "skip the go test -bench part")
	flag.BoolVar(&o.noCalls, "no-calls", false, "skip counting the Secrets Manager calls per kind of run")
	flag.BoolVar(&o.profile, "profile", true, "run each function under valgrind --tool=callgrind: instruction counts and where they go")
	flag.IntVar(&o.profileInvokes, "profile-invokes", 20, "warm invokes of the callgrind run")
	flag.Func("fn-env", "KEY=VALUE added to every function's environment (repeatable), to try a setting such as GOMAXPROCS=1", func(kv string) error {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			return fmt.Errorf("want KEY=VALUE, got %q", kv)
		}
		o.fnEnv = append(o.fnEnv, kv)
		return nil
	})
	flag.BoolVar(&o.verbose, "v", false, "print progress and the emulator's output of the first start")
	flag.Parse()
	if only != "" {
		o.only = map[string]bool{}
		for _, f := range strings.Split(only, ",") {
			o.only[strings.TrimSpace(f)] = true
		}
	}
	if o.starts < 1 || o.invokes < 1 || o.count < 1 || o.profileInvokes < 1 {
		fmt.Fprintln(os.Stderr, "bench: -starts, -invokes, -count and -profile-invokes must be positive")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	root, err := localaws.ModuleRoot()
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	fns, err := discover(root, o.only)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "token-refresher-bench-")
	if err != nil {
		return fmt.Errorf("bench: temp folder: %w", err)
	}
	defer os.RemoveAll(tmp)

	logf := func(format string, args ...any) {
		if o.verbose {
			fmt.Fprintf(os.Stderr, format+"\n", args...)
		}
	}
	started := time.Now()
	rep := &report{Host: hostInfo(ctx), Starts: o.starts, Invokes: o.invokes, Count: o.count}
	loadStart := loadAverage()

	for _, fn := range fns {
		logf("build %s", fn)
		size, err := buildSize(ctx, root, fn, filepath.Join(tmp, "arm64"))
		if err != nil {
			return err
		}
		rep.Functions = append(rep.Functions, &fnResult{Name: fn, Size: size})
	}

	env, err := startEnv(ctx, logf)
	if err != nil {
		return err
	}
	defer env.stop()
	logf("measure the empty function")
	echo := filepath.Join(tmp, "host", "baseline", "bootstrap")
	if err := goBuildPkg(ctx, root, baselinePkg, echo, runtime.GOOS, runtime.GOARCH); err != nil {
		return err
	}
	if rep.Baseline, err = measureBaseline(ctx, echo, o); err != nil {
		return err
	}
	if o.profile {
		for _, tool := range []string{"valgrind", "callgrind_annotate"} {
			if _, err := exec.LookPath(tool); err != nil && o.profile {
				o.profile = false
				rep.ProfileNote = "The instruction profile was not run: " + tool + " is not on PATH (install valgrind, e.g. `apt-get install valgrind`)."
				fmt.Fprintln(os.Stderr, "bench: "+rep.ProfileNote)
			}
		}
	}
	if o.profile {
		logf("profile the empty function under callgrind")
		sym := filepath.Join(tmp, "symbols", "baseline", "bootstrap")
		if err := hostProfileBuild(ctx, root, baselinePkg, sym); err != nil {
			return err
		}
		profileBaseline(ctx, &o, rep, sym)
	}
	for _, r := range rep.Functions {
		if _, _, ok := functionSpec(r.Name); !ok {
			r.Skipped = "not in the vendor table: bench does not know how to invoke it"
			continue
		}
		bin, err := buildHost(ctx, root, r.Name, filepath.Join(tmp, "host"))
		if err != nil {
			return err
		}
		sym := ""
		if o.profile {
			sym = filepath.Join(tmp, "symbols", r.Name, "bootstrap")
			if err := hostProfileBuild(ctx, root, "./functions/"+r.Name, sym); err != nil {
				return err
			}
		}
		logf("measure %s, interleaved with the empty function", r.Name)
		if err := env.measure(ctx, r, bin, sym, echo, o, logf); err != nil {
			return err
		}
		if r.profileErr != nil {
			rep.skipProfile(&o, r.Name, r.profileErr)
		}
	}
	env.stop()

	if !o.noGoBench {
		logf("go test -bench (count %d)", o.count)
		raw := o.rawDir
		if !filepath.IsAbs(raw) {
			raw = filepath.Join(root, raw)
		}
		gb, err := goBench(ctx, root, o.count, raw)
		if err != nil {
			return err
		}
		rep.GoBench = gb
	}
	rep.Took = time.Since(started)
	rep.Load = fmt.Sprintf("Load average over 1 / 5 / 15 minutes at the start %s, at the end %s (%d CPUs: a load above that means other work shared them).", loadStart, loadAverage(), runtime.NumCPU())

	md := rep.markdown()
	fmt.Print(md)
	out := o.out
	if !filepath.IsAbs(out) {
		out = filepath.Join(root, out)
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return fmt.Errorf("bench: write %s: %w", o.out, err)
	}
	if err := os.WriteFile(out, []byte(md), 0o644); err != nil {
		return fmt.Errorf("bench: write %s: %w", o.out, err)
	}
	fmt.Fprintf(os.Stderr, "bench: table written to %s\n", o.out)
	return nil
}

// profileBaseline runs the empty function under callgrind. A profiler that
// fails (valgrind 3.19's callgrind crashed on it) does not stop the bench:
// the instruction counts are skipped, with a note in the results.
func profileBaseline(ctx context.Context, o *options, rep *report, sym string) {
	p, err := profileRuns(ctx, *o, sym, echoInvoke, baselineEnv(*o))
	if err != nil {
		rep.skipProfile(o, "the empty function", err)
		return
	}
	rep.Baseline.Profile = p
}

// skipProfile turns the instruction profile off for the rest of the bench
// after callgrind failed on what, drops the profiles taken so far (the
// tables compare every function with the empty one) and says why in the
// results and on stderr.
func (rep *report) skipProfile(o *options, what string, err error) {
	o.profile = false
	if rep.Baseline != nil {
		rep.Baseline.Profile = nil
	}
	for _, r := range rep.Functions {
		r.Profile = nil
	}
	first, _, _ := strings.Cut(err.Error(), "\n")
	rep.ProfileNote = fmt.Sprintf("The instruction profile was skipped: valgrind --tool=callgrind failed on %s (%s). Every other figure was measured; run `make bench` on a machine whose valgrind runs Go programs for the instruction counts.", what, first)
	fmt.Fprintln(os.Stderr, "bench: "+rep.ProfileNote)
}
