package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"

	"github.com/token-refresher/token-refresher/shared/vendors"
)

// buildFlags are the flags `make build` uses (GO_BUILD_FLAGS).
var buildFlags = []string{"-tags", "lambda.norpc", "-trimpath", "-ldflags=-s -w"}

// discover lists the functions: every functions/<fn>/main.go, as the
// Makefile finds them, restricted to only when it is not nil.
func discover(root string, only map[string]bool) ([]string, error) {
	mains, err := filepath.Glob(filepath.Join(root, "functions", "*", "main.go"))
	if err != nil {
		return nil, fmt.Errorf("bench: list functions: %w", err)
	}
	var fns []string
	for _, m := range mains {
		fn := filepath.Base(filepath.Dir(m))
		if only == nil || only[fn] {
			fns = append(fns, fn)
		}
	}
	sort.Strings(fns)
	for fn := range only {
		if !contains(fns, fn) {
			return nil, fmt.Errorf("bench: no functions/%s/main.go", fn)
		}
	}
	if len(fns) == 0 {
		return nil, fmt.Errorf("bench: no functions/*/main.go under %s", root)
	}
	return fns, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// functionSpec finds the vendor whose refresher (callback false) or
// authorization-code callback (callback true) fn is.
func functionSpec(fn string) (spec vendors.Spec, callback, ok bool) {
	for _, s := range vendors.All() {
		switch fn {
		case s.FunctionName():
			return s, false, true
		case s.CallbackFunctionName():
			return s, true, true
		}
	}
	return vendors.Spec{}, false, false
}

// buildSize builds fn exactly as `make build` does (linux/arm64, stripped)
// into dir and returns the bootstrap's size in bytes.
func buildSize(ctx context.Context, root, fn, dir string) (int64, error) {
	out := filepath.Join(dir, fn, "bootstrap")
	if err := goBuild(ctx, root, fn, out, "linux", "arm64"); err != nil {
		return 0, err
	}
	st, err := os.Stat(out)
	if err != nil {
		return 0, fmt.Errorf("bench: size of %s: %w", fn, err)
	}
	return st.Size(), nil
}

// buildHost builds fn with the same flags for this machine, to run under
// the emulator, and returns the bootstrap's path.
func buildHost(ctx context.Context, root, fn, dir string) (string, error) {
	out := filepath.Join(dir, fn, "bootstrap")
	if err := goBuild(ctx, root, fn, out, runtime.GOOS, runtime.GOARCH); err != nil {
		return "", err
	}
	return out, nil
}

func goBuild(ctx context.Context, root, fn, out, goos, goarch string) error {
	return goBuildPkg(ctx, root, "./functions/"+fn, out, goos, goarch)
}

func goBuildPkg(ctx context.Context, root, pkg, out, goos, goarch string) error {
	fn := pkg
	args := append([]string{"build"}, buildFlags...)
	args = append(args, "-o", out, pkg)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS="+goos, "GOARCH="+goarch, "CGO_ENABLED=0")
	var combined bytes.Buffer
	cmd.Stdout, cmd.Stderr = &combined, &combined
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("bench: build %s for %s/%s: %w\n%s", fn, goos, goarch, err, combined.String())
	}
	return nil
}

// hostInfo describes the machine and toolchain the figures come from.
func hostInfo(ctx context.Context) string {
	cpu := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	moto := "moto"
	if v := motoVersion(ctx); v != "" {
		moto += " " + v
	}
	return fmt.Sprintf("%s/%s, %d CPUs (%s), %s, %s", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), cpu, runtime.Version(), moto)
}

// motoVersion asks python3 (the Python moto_server runs on, with pyenv or
// a plain pip install) for moto's version; "" if that fails.
func motoVersion(ctx context.Context) string {
	out, err := exec.CommandContext(ctx, "python3", "-c", "import moto; print(moto.__version__)").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// loadAverage is the first three fields of /proc/loadavg ("?" if unknown).
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " / ")
}
