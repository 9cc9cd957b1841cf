package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// benchPackages are the packages whose benchmarks bench runs, if they exist:
// the refresh core's own work, the whole refresh path in process, and the
// token reader apps use.
var benchPackages = []string{"./shared/refresh", "./functions", "./shared/reader"}

// goBenchResult is the Go benchmark part of the report.
type goBenchResult struct {
	// Raw is the file holding go test's output, for benchstat.
	Raw        string
	Benchmarks []benchStat
}

// benchStat is one benchmark over its -count runs.
type benchStat struct {
	Name string
	Runs int
	// Median of each unit over the runs, by unit ("ns/op", "B/op", ...).
	Median map[string]float64
	Min    map[string]float64
	Max    map[string]float64
	Units  []string // in the order go test printed them
}

// goBench runs `go test -run ^$ -bench . -benchmem -count count` over the
// benchmark packages that exist, writes the output to rawDir/<commit>.txt
// and summarises it.
func goBench(ctx context.Context, root string, count int, rawDir string) (*goBenchResult, error) {
	var pkgs []string
	for _, p := range benchPackages {
		if hasBenchmarks(filepath.Join(root, p)) {
			pkgs = append(pkgs, p)
		}
	}
	if len(pkgs) == 0 {
		return nil, fmt.Errorf("bench: go test -bench: none of %v has benchmarks", benchPackages)
	}
	args := append([]string{"test", "-run", "^$", "-bench", ".", "-benchmem", "-count", strconv.Itoa(count), "-timeout", "60m"}, pkgs...)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	runErr := cmd.Run()
	if err := os.MkdirAll(rawDir, 0o755); err != nil {
		return nil, fmt.Errorf("bench: raw output folder: %w", err)
	}
	raw := filepath.Join(rawDir, commitName(ctx, root)+".txt")
	if err := os.WriteFile(raw, out.Bytes(), 0o644); err != nil {
		return nil, fmt.Errorf("bench: write %s: %w", raw, err)
	}
	if runErr != nil {
		return nil, fmt.Errorf("bench: go %s: %w (output in %s)\n%s", strings.Join(args, " "), runErr, raw, tail(out.String(), 3000))
	}
	stats, err := parseBench(&out)
	if err != nil {
		return nil, err
	}
	rel, err := filepath.Rel(root, raw)
	if err != nil {
		rel = raw
	}
	return &goBenchResult{Raw: rel, Benchmarks: stats}, nil
}

// hasBenchmarks reports whether a _test.go file in dir declares a
// benchmark.
func hasBenchmarks(dir string) bool {
	files, _ := filepath.Glob(filepath.Join(dir, "*_test.go"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err == nil && bytes.Contains(b, []byte("\nfunc Benchmark")) {
			return true
		}
	}
	return false
}

// commitName names the raw output after the commit measured, with
// "-dirty" when the tree has changes, so two runs can be compared with
// `benchstat bench/out/A.txt bench/out/B.txt`.
func commitName(ctx context.Context, root string) string {
	cmd := exec.CommandContext(ctx, "git", "rev-parse", "--short", "HEAD")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		return "worktree"
	}
	name := strings.TrimSpace(string(out))
	cmd = exec.CommandContext(ctx, "git", "status", "--porcelain", "--untracked-files=no")
	cmd.Dir = root
	if st, err := cmd.Output(); err == nil && len(bytes.TrimSpace(st)) > 0 {
		name += "-dirty"
	}
	return name
}

// parseBench reads go test -bench output: "pkg:" lines and benchmark lines
// "BenchmarkName-P  N  v unit  v unit ...". Names are prefixed with the
// package's last path element.
func parseBench(r io.Reader) ([]benchStat, error) {
	type acc struct {
		units  []string
		values map[string][]float64
		runs   int
	}
	byName := map[string]*acc{}
	var order []string
	pkg := ""
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if p, ok := strings.CutPrefix(line, "pkg: "); ok {
			pkg = filepath.Base(strings.TrimSpace(p))
			continue
		}
		if !strings.HasPrefix(line, "Benchmark") {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 4 || len(f)%2 != 0 {
			continue
		}
		if _, err := strconv.Atoi(f[1]); err != nil {
			continue
		}
		name := trimProcs(f[0])
		if pkg != "" {
			name = pkg + "." + name
		}
		a := byName[name]
		if a == nil {
			a = &acc{values: map[string][]float64{}}
			byName[name] = a
			order = append(order, name)
		}
		a.runs++
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				return nil, fmt.Errorf("bench: benchmark line %q: value %q: %w", line, f[i], err)
			}
			unit := f[i+1]
			if _, seen := a.values[unit]; !seen {
				a.units = append(a.units, unit)
			}
			a.values[unit] = append(a.values[unit], v)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("bench: read benchmark output: %w", err)
	}
	out := make([]benchStat, 0, len(order))
	for _, name := range order {
		a := byName[name]
		s := benchStat{Name: name, Runs: a.runs, Units: a.units, Median: map[string]float64{}, Min: map[string]float64{}, Max: map[string]float64{}}
		for unit, vs := range a.values {
			sort.Float64s(vs)
			s.Median[unit] = medianFloat(vs)
			s.Min[unit] = vs[0]
			s.Max[unit] = vs[len(vs)-1]
		}
		out = append(out, s)
	}
	return out, nil
}

// trimProcs drops go test's "-GOMAXPROCS" suffix from a benchmark name.
func trimProcs(name string) string {
	i := strings.LastIndexByte(name, '-')
	if i < 0 {
		return name
	}
	if _, err := strconv.Atoi(name[i+1:]); err != nil {
		return name
	}
	return name[:i]
}

func medianFloat(sorted []float64) float64 {
	n := len(sorted)
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}
