// Command bench measures token-refresher's functions on this machine and
// prints one markdown table, also written to bench/results.md:
//
//   - the size of each function's stripped linux/arm64 bootstrap, built as
//     `make build` builds it;
//   - cold starts: each function, built for this machine with the same
//     flags, runs under aws-lambda-rie against moto_server and the vendor's
//     fake from shared/vendortest; every start is a fresh emulator and the
//     first invoke is {"force":true}, so it really refreshes;
//   - warm invokes: 100 forced refreshes in the first emulator, split into
//     the time the function waited on the vendor and on Secrets Manager and
//     the time it spent on its own work;
//   - peak resident memory (VmHWM) of the bootstrap process after the cold
//     start and the warm invokes;
//   - `go test -bench` of the refresh path and the token reader, run with
//     -count so benchstat can compare two commits (raw output in bench/out/).
//
// Each figure is printed with its budget and OK or OVER.
//
// Usage (from the module root; `make bench` runs it):
//
//	go run ./cmd/bench [-starts 20] [-invokes 100] [-count 6] [-only fyber,invoca]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
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
	verbose   bool
	fnEnv     []string
}

func main() {
	var o options
	var only string
	flag.IntVar(&o.starts, "starts", 20, "cold starts per function (at least 20 for the published figures)")
	flag.IntVar(&o.invokes, "invokes", 100, "warm invokes per function after the first cold start")
	flag.IntVar(&o.count, "count", 6, "go test -count for the Go benchmarks (benchstat wants at least 6)")
	flag.StringVar(&only, "only", "", "comma-separated functions to measure (default: every functions/*/main.go)")
	flag.StringVar(&o.out, "out", "bench/results.md", "markdown file the table is written to")
	flag.StringVar(&o.rawDir, "raw", "bench/out", "folder for the raw go test -bench output")
	flag.BoolVar(&o.noGoBench, "no-gobench", false, "skip the go test -bench part")
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
	if o.starts < 1 || o.invokes < 1 || o.count < 1 {
		fmt.Fprintln(os.Stderr, "bench: -starts, -invokes and -count must be positive")
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
	for _, r := range rep.Functions {
		if _, _, ok := functionSpec(r.Name); !ok {
			r.Skipped = "not in the vendor table: bench does not know how to invoke it"
			continue
		}
		bin, err := buildHost(ctx, root, r.Name, filepath.Join(tmp, "host"))
		if err != nil {
			return err
		}
		logf("measure %s", r.Name)
		if err := env.measure(ctx, r, bin, o, logf); err != nil {
			return err
		}
	}
	env.stop()

	if !o.noGoBench {
		logf("go test -bench (count %d)", o.count)
		gb, err := goBench(ctx, root, o.count, filepath.Join(root, o.rawDir))
		if err != nil {
			return err
		}
		rep.GoBench = gb
	}
	rep.Took = time.Since(started)

	md := rep.markdown()
	fmt.Print(md)
	out := filepath.Join(root, o.out)
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return fmt.Errorf("bench: write %s: %w", o.out, err)
	}
	if err := os.WriteFile(out, []byte(md), 0o644); err != nil {
		return fmt.Errorf("bench: write %s: %w", o.out, err)
	}
	fmt.Fprintf(os.Stderr, "bench: table written to %s\n", o.out)
	return nil
}
