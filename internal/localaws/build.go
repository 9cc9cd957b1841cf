package localaws

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

// ModuleRoot returns the directory holding the go.mod of the module the
// current directory belongs to (from `go env GOMOD`).
func ModuleRoot() (string, error) {
	gobin, err := goTool()
	if err != nil {
		return "", fmt.Errorf("localaws: module root: %w", err)
	}
	out, err := exec.Command(gobin, "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("localaws: module root: go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("localaws: module root: current directory is not inside a Go module")
	}
	return filepath.Dir(gomod), nil
}

// Build compiles ./functions/<fn> of the module at moduleRoot for the host
// (GOOS/GOARCH of this process, CGO_ENABLED=0, -tags lambda.norpc, -trimpath)
// and returns the absolute path of outDir/<fn>/bootstrap. A failed build's
// error carries the compiler output.
func Build(ctx context.Context, moduleRoot, fn, outDir string) (string, error) {
	if fn == "" || fn != filepath.Base(fn) || strings.HasPrefix(fn, ".") {
		return "", fmt.Errorf("localaws: build: function name %q is not a plain directory name under functions/", fn)
	}
	return buildPackage(ctx, moduleRoot, "./functions/"+fn, fn, outDir)
}

// buildPackage builds the main package pkg (relative to moduleRoot) into
// outDir/<name>/bootstrap.
func buildPackage(ctx context.Context, moduleRoot, pkg, name, outDir string) (string, error) {
	gobin, err := goTool()
	if err != nil {
		return "", fmt.Errorf("localaws: build %s: %w", name, err)
	}
	out, err := filepath.Abs(filepath.Join(outDir, name, "bootstrap"))
	if err != nil {
		return "", fmt.Errorf("localaws: build %s: output path: %w", name, err)
	}
	cmd := exec.CommandContext(ctx, gobin, "build", "-tags", "lambda.norpc", "-trimpath", "-o", out, pkg)
	cmd.Dir = moduleRoot
	cmd.Env = append(os.Environ(), "GOOS="+runtime.GOOS, "GOARCH="+runtime.GOARCH, "CGO_ENABLED=0")
	var combined bytes.Buffer
	cmd.Stdout = &combined
	cmd.Stderr = &combined
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("localaws: build %s: go build %s: %w\n%s", name, pkg, err, combined.String())
	}
	return out, nil
}

// goTool finds the go command on PATH.
func goTool() (string, error) {
	p, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("go command not found on PATH")
	}
	return p, nil
}
