//go:build linux

package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/token-refresher/token-refresher/internal/localaws"
)

// TestDevStops stops a running dev each way a person does and checks the
// full cleanup: every process dev started has exited, the build folder is
// gone, and dev says so (on stderr when stdout is gone).
func TestDevStops(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole system; skipped with -short")
	}
	root, err := localaws.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin := buildDev(t, t.TempDir())
	cases := []struct {
		name string
		json bool
		stop func(t *testing.T, cmd *exec.Cmd, stdout io.Closer)
	}{
		{"SIGINT", true, signalStop(syscall.SIGINT)},
		{"SIGTERM", true, signalStop(syscall.SIGTERM)},
		{"SIGHUP", true, signalStop(syscall.SIGHUP)},
		// `dev | head`, or `dev | tee` with tee gone: the reader of stdout
		// closes it.
		{"stdout closed", false, func(t *testing.T, _ *exec.Cmd, stdout io.Closer) { _ = stdout.Close() }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tmp := t.TempDir()
			args := []string{"-base-port", strconv.Itoa(freeBase(t)), "-log", filepath.Join(tmp, "dev.log")}
			if tc.json {
				args = append(args, "-json")
			}
			cmd := exec.Command(bin, args...)
			cmd.Dir = root
			cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
			cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
			stderr := &lockedBuffer{}
			cmd.Stderr = stderr
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			done := false
			t.Cleanup(func() {
				if !done {
					_ = cmd.Process.Kill()
					<-exited
				}
			})

			// Read until dev is ready.
			ready := make(chan []string, 1)
			go func() {
				var lines []string
				sc := bufio.NewScanner(stdout)
				sc.Buffer(make([]byte, 1<<20), 1<<20)
				for sc.Scan() {
					lines = append(lines, sc.Text())
					if strings.Contains(sc.Text(), `"event":"ready"`) || strings.Contains(sc.Text(), "Ctrl-C stops everything.") {
						ready <- lines
						return
					}
				}
				ready <- lines
			}()
			var lines []string
			select {
			case lines = <-ready:
			case <-time.After(4 * time.Minute):
				t.Fatalf("dev not ready; stderr:\n%s", stderr.String())
			}
			if tc.json {
				for _, l := range lines {
					if !json.Valid([]byte(l)) {
						t.Fatalf("stdout line is not JSON: %s", l)
					}
				}
			} else if !strings.Contains(strings.Join(lines, "\n"), "built fyber (") {
				t.Errorf("no progress line for building fyber:\n%s", strings.Join(lines, "\n"))
			}
			kids := descendantsOf(cmd.Process.Pid)
			if n := countCmd(kids, "aws-lambda-rie"); n != 6 {
				t.Fatalf("%d emulators below dev, want 6", n)
			}
			dirs, _ := filepath.Glob(filepath.Join(tmp, buildDirPrefix+"*"))
			if len(dirs) != 1 {
				t.Fatalf("build folders in TMPDIR: %v", dirs)
			}
			if tc.json {
				// Keep reading, as a terminal would, until the stop.
				go func() { _, _ = io.Copy(io.Discard, stdout) }()
			}

			tc.stop(t, cmd, stdout)
			select {
			case err := <-exited:
				done = true
				if err != nil {
					t.Errorf("dev exited with %v; stderr:\n%s", err, stderr.String())
				}
			case <-time.After(30 * time.Second):
				t.Fatalf("dev still runs 30s after the stop; stderr:\n%s", stderr.String())
			}
			for _, k := range kids {
				if k.alive() {
					t.Errorf("process %d (%s) still runs after dev stopped", k.pid, k.cmdline)
				}
			}
			if dirs, _ := filepath.Glob(filepath.Join(tmp, buildDirPrefix+"*")); len(dirs) != 0 {
				t.Errorf("build folder left behind: %v", dirs)
			}
			if !tc.json && !strings.Contains(stderr.String(), "Stopped: every process dev started has exited.") {
				t.Errorf("no Stopped line on stderr after stdout closed:\n%s", stderr.String())
			}
		})
	}
}

func signalStop(sig syscall.Signal) func(*testing.T, *exec.Cmd, io.Closer) {
	return func(t *testing.T, cmd *exec.Cmd, _ io.Closer) {
		if err := cmd.Process.Signal(sig); err != nil {
			t.Fatal(err)
		}
	}
}

func countCmd(ps []proc, name string) int {
	n := 0
	for _, p := range ps {
		if strings.Contains(p.cmdline, name) {
			n++
		}
	}
	return n
}

// TestRemoveStaleBuildDirs: a folder of a dev that no longer runs is
// removed at the next start; a running one's is kept.
func TestRemoveStaleBuildDirs(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(tmp, fmt.Sprintf("%s%d-1", buildDirPrefix, dead.Process.Pid))
	live := filepath.Join(tmp, fmt.Sprintf("%s%d-1", buildDirPrefix, os.Getppid()))
	for _, d := range []string{stale, live} {
		if err := os.MkdirAll(filepath.Join(d, "fyber"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	removeStaleBuildDirs()
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("stale folder kept: %v", err)
	}
	if _, err := os.Stat(live); err != nil {
		t.Errorf("folder of a running process removed: %v", err)
	}
}
