//go:build linux

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/token-refresher/token-refresher/internal/localaws"
)

// TestMakeDevFirstRun: on a machine without aws-lambda-rie, every slow
// step of make dev says what it is doing before it starts and how long it
// took when done: the go install of the emulator and the build of
// ./cmd/dev. Stand-ins for go and moto_server keep it fast and offline.
func TestMakeDevFirstRun(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make is not installed")
	}
	root, err := localaws.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	stubs, gobin := filepath.Join(tmp, "stubs"), filepath.Join(tmp, "gobin")
	for _, d := range []string{stubs, gobin} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(name, script string) {
		if err := os.WriteFile(filepath.Join(stubs, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// go: no emulator installed yet; install and build create stand-ins.
	write("go", `#!/bin/sh
case "$1" in
env) [ "$2" = GOBIN ] && echo "$STUB_GOBIN"; [ "$2" = GOPATH ] && echo "$STUB_GOBIN/.."; exit 0 ;;
version) exit 1 ;;
install) printf '#!/bin/sh\n' > "$STUB_GOBIN/aws-lambda-rie"; chmod +x "$STUB_GOBIN/aws-lambda-rie"; exit 0 ;;
build) mkdir -p "$(dirname "$3")"; printf '#!/bin/sh\necho "dev ran $*"\n' > "$3"; chmod +x "$3"; exit 0 ;;
esac
exit 3
`)
	write("moto_server", "#!/bin/sh\nexit 0\n")
	cmd := exec.Command("make", "--no-print-directory", "-s", "dev", "BUILD_DIR="+filepath.Join(tmp, "build"), "DEV_ARGS=-help")
	cmd.Dir = root
	cmd.Env = []string{"PATH=" + stubs + ":/usr/bin:/bin", "HOME=" + tmp, "STUB_GOBIN=" + gobin}
	out, err := cmd.CombinedOutput()
	t.Logf("make dev:\n%s", out)
	if err != nil {
		t.Fatalf("make dev: %v", err)
	}
	dur := `(\d+ms|\d+(\.\d)?s|\d+m(\d+s)?|\d+h(\d+m)?)`
	steps := []string{
		`aws-lambda-rie: installing \S+ with go install \(downloads and compiles it[^\n]*\.\.\.\n`,
		`aws-lambda-rie: installed \S+ \([^)]*\) in ` + dur + `\n`,
		`make: building \./cmd/dev[^\n]*\.\.\.\n`,
		`make: building \./cmd/dev[^\n]*: done \(` + dur + `\)\n`,
		`dev ran -help`,
	}
	rest := string(out)
	for _, s := range steps {
		loc := regexp.MustCompile(s).FindStringIndex(rest)
		if loc == nil {
			t.Fatalf("make dev's output lacks, in order, %q", s)
		}
		rest = rest[loc[1]:]
	}
	if strings.Contains(string(out), "failed") {
		t.Errorf("make dev reports a failure")
	}
}
