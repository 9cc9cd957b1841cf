package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/token-refresher/token-refresher/internal/localaws"
	"github.com/token-refresher/token-refresher/shared/vendors"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// tokenctlBinary builds tokenctl once per test binary.
func tokenctlBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		root, err := localaws.ModuleRoot()
		if err != nil {
			buildErr = err
			return
		}
		dir, err := os.MkdirTemp("", "tokenctl-test-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "tokenctl")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/tokenctl")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/tokenctl: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// ptySession is tokenctl running on a pseudo-terminal.
type ptySession struct {
	t    *testing.T
	tty  *os.File
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  strings.Builder
	done chan struct{}
}

func startOnPTY(t *testing.T, env []string, args ...string) *ptySession {
	t.Helper()
	cmd := exec.Command(tokenctlBinary(t), args...)
	cmd.Env = env
	tty, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 40, Cols: 200})
	if err != nil {
		t.Fatal(err)
	}
	s := &ptySession{t: t, tty: tty, cmd: cmd, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		buf := make([]byte, 4096)
		for {
			n, err := tty.Read(buf)
			s.mu.Lock()
			s.out.Write(buf[:n])
			s.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_, _ = cmd.Process.Wait()
		_ = tty.Close()
	})
	return s
}

func (s *ptySession) output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.String()
}

// waitFor waits until the screen shows want (failing after a generous
// deadline: this is not a timing assertion).
func (s *ptySession) waitFor(want string) {
	s.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(s.output(), want) {
		if time.Now().After(deadline) {
			s.t.Fatalf("the terminal never showed %q; it shows:\n%s", want, s.output())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (s *ptySession) send(keys string) {
	s.t.Helper()
	if _, err := io.WriteString(s.tty, keys); err != nil {
		s.t.Fatal(err)
	}
}

// wait returns the exit code. It sends nothing more: a prompt that does not
// end at once on Ctrl-C or Ctrl-D never exits, and the deadline fails the
// test.
func (s *ptySession) wait() int {
	s.t.Helper()
	exited := make(chan error, 1)
	go func() { exited <- s.cmd.Wait() }()
	select {
	case err := <-exited:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			s.t.Fatal(err)
		}
		return 0
	case <-time.After(30 * time.Second):
		s.t.Fatalf("tokenctl did not exit; the terminal shows:\n%s", s.output())
		return -1
	}
}

// Ctrl-C and Ctrl-D at the prompt end it at once with nothing written;
// fields that are not secret echo, secret ones do not.
func TestPromptOnATerminal(t *testing.T) {
	if testing.Short() {
		t.Skip("builds tokenctl")
	}
	sm, prefix := localStack(t, "")
	env := append(localaws.MotoForTest(t).Env(), "PATH="+os.Getenv("PATH"), "HOME="+t.TempDir(),
		"AWS_CONFIG_FILE="+os.DevNull, "AWS_SHARED_CREDENTIALS_FILE="+os.DevNull)
	const before = `{"client_id":"<fill in>","client_secret":"<fill in>"}`
	tests := []struct {
		name     string
		keys     []string // sent after each prompt in turn: "client_id", "client_secret"
		wantCode int
		want     string // the secret after the run
		screen   []string
	}{
		{name: "Ctrl-C at a hidden field", keys: []string{"cid-typed\r", "s3cr\x03"}, wantCode: exitInterrupt, want: before,
			screen: []string{"client_id: cid-typed", "interrupted (Ctrl-C); nothing written"}},
		{name: "Ctrl-C at a visible field", keys: []string{"cid\x03"}, wantCode: exitInterrupt, want: before,
			screen: []string{"interrupted (Ctrl-C); nothing written"}},
		{name: "Ctrl-D", keys: []string{"\x04"}, wantCode: exitFail, want: before,
			screen: []string{"input ended (Ctrl-D or end of file); nothing written"}},
		{name: "every field", keys: []string{"cid-typed\r", "s3cr3t-pty\r"}, wantCode: exitOK,
			want:   `{"client_id":"cid-typed","client_secret":"s3cr3t-pty"}`,
			screen: []string{"client_id: cid-typed", "wrote credentials (client_id, client_secret)"}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := fmt.Sprintf("%s-pty-%d", prefix, i)
			id := vendors.SecretName(p, "fyber", "", vendors.RoleCredentials)
			createTagged(t, sm, id, before, vendors.SecretTags("fyber", "", vendors.RoleCredentials))
			s := startOnPTY(t, env, "--prefix", p, "set-credentials", "fyber")
			for j, k := range tt.keys {
				s.waitFor([]string{"client_id: ", "client_secret [hidden]: "}[j])
				s.send(k)
			}
			if code := s.wait(); code != tt.wantCode {
				t.Errorf("exit %d, want %d; the terminal shows:\n%s", code, tt.wantCode, s.output())
			}
			<-s.done
			screen := s.output()
			for _, w := range tt.screen {
				if !strings.Contains(screen, w) {
					t.Errorf("the terminal does not show %q:\n%s", w, screen)
				}
			}
			if strings.Contains(screen, "s3cr") {
				t.Errorf("a secret field was echoed:\n%s", screen)
			}
			if got := secretValue(t, sm, id); got != tt.want {
				t.Errorf("secret = %q, want %q", got, tt.want)
			}
		})
	}
}
