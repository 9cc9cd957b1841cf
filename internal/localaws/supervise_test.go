package localaws

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func superviseForTest(t *testing.T, onRestart func(Restart)) *Supervised {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := Supervise(ctx, echoBootstrap(t), nil, SuperviseOptions{Log: testLog(), OnRestart: onRestart, Poll: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Error(err)
		}
	})
	return s
}

// mustEcho invokes s and fails t unless the echo function replied.
func mustEcho(t *testing.T, s *Supervised) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := s.Invoke(ctx, []byte(`{}`))
	if err != nil {
		t.Fatalf("invoke: %v", err)
	}
	if res.Failed() {
		t.Fatalf("invoke failed: %s: %s", res.ErrorType, res.ErrorMessage)
	}
	var r struct{ PID int }
	if err := json.Unmarshal(res.Payload, &r); err != nil || r.PID == 0 {
		t.Fatalf("reply %s is not the echo", res.Payload)
	}
	return r.PID
}

// TestSupervisedRestarts kills the emulator, then the bootstrap, each
// between invokes, and sees the next invoke succeed on a new emulator.
func TestSupervisedRestarts(t *testing.T) {
	cases := []struct {
		name       string
		kill       func(t *testing.T, s *Supervised) int
		wantReason string
	}{
		{"emulator SIGKILL", func(t *testing.T, s *Supervised) int {
			pid := s.Current().PID()
			if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			return pid
		}, "emulator (pid"},
		{"bootstrap SIGKILL", func(t *testing.T, s *Supervised) int {
			pid, err := s.Current().BootstrapPID()
			if err != nil {
				t.Fatal(err)
			}
			if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			return pid
		}, "bootstrap (pid"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var seen []Restart
			s := superviseForTest(t, func(r Restart) { mu.Lock(); seen = append(seen, r); mu.Unlock() })
			first := mustEcho(t, s)
			oldEmulator := s.Current().PID()
			killed := tc.kill(t, s)
			if !eventually(func() bool { return len(s.Restarts()) == 1 }) {
				t.Fatalf("no restart after killing pid %d", killed)
			}
			r := s.Restarts()[0]
			if !strings.HasPrefix(r.Reason, tc.wantReason) || r.Err != "" {
				t.Errorf("restart %+v, want reason starting %q", r, tc.wantReason)
			}
			if len(r.Output) == 0 {
				t.Errorf("restart keeps none of the output")
			}
			if s.Current().PID() == oldEmulator {
				t.Errorf("emulator pid unchanged after the restart")
			}
			if !eventually(func() bool { return processGone(oldEmulator) }) {
				t.Errorf("old emulator %d still runs", oldEmulator)
			}
			if got := mustEcho(t, s); got == first {
				t.Errorf("reply from the killed bootstrap %d", first)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(seen) != 1 {
				t.Errorf("OnRestart called %d times, want 1", len(seen))
			}
		})
	}
}

// TestSupervisedBootstrapDiesJustBeforeInvoke: a bootstrap killed right
// before an invoke (before the watcher polls) is found dead by Invoke.
func TestSupervisedBootstrapDiesJustBeforeInvoke(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := Supervise(ctx, echoBootstrap(t), nil, SuperviseOptions{Log: testLog(), Poll: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	mustEcho(t, s)
	pid, err := s.Current().BootstrapPID()
	if err != nil {
		t.Fatal(err)
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	if !eventually(func() bool { return processGone(pid) }) {
		t.Fatal("bootstrap not gone")
	}
	mustEcho(t, s)
	if n := len(s.Restarts()); n != 1 {
		t.Fatalf("%d restarts, want 1", n)
	}
}

// TestSupervisedEmulatorDiesDuringInvoke: the invoke in flight fails, the
// next succeeds.
func TestSupervisedEmulatorDiesDuringInvoke(t *testing.T) {
	s := superviseForTest(t, nil)
	mustEcho(t, s)
	pid := s.Current().PID()
	boot, err := s.Current().BootstrapPID()
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := s.Invoke(context.Background(), []byte(`{"sleep_ms":3000}`))
		errc <- err
	}()
	time.Sleep(300 * time.Millisecond)
	_ = syscall.Kill(pid, syscall.SIGKILL)
	select {
	case err := <-errc:
		if err == nil {
			t.Error("invoke on the killed emulator did not fail")
		}
	case <-time.After(20 * time.Second):
		t.Fatal("invoke on the killed emulator still waits")
	}
	mustEcho(t, s)
	if n := len(s.Restarts()); n != 1 {
		t.Fatalf("%d restarts, want 1", n)
	}
	if !eventually(func() bool { return processGone(boot) }) {
		t.Errorf("the dead emulator's bootstrap %d still runs", boot)
	}
}

func TestSupervisedStopLeavesNoProcess(t *testing.T) {
	ctx := context.Background()
	s, err := Supervise(ctx, echoBootstrap(t), nil, SuperviseOptions{Log: testLog()})
	if err != nil {
		t.Fatal(err)
	}
	mustEcho(t, s)
	emu := s.Current().PID()
	boot, err := s.Current().BootstrapPID()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	for _, pid := range []int{emu, boot} {
		if !eventually(func() bool { return processGone(pid) }) {
			t.Errorf("pid %d still runs after Stop", pid)
		}
	}
	if _, err := s.Invoke(ctx, []byte(`{}`)); err == nil {
		t.Error("Invoke after Stop did not fail")
	}
	if n := len(s.Restarts()); n != 0 {
		t.Errorf("Stop counted as %d restarts", n)
	}
}

func TestLastLines(t *testing.T) {
	cases := []struct {
		in   string
		n    int
		want []string
	}{
		{"", 3, nil},
		{"a\nb\n\nc\n", 2, []string{"b", "c"}},
		{"a\nb", 5, []string{"a", "b"}},
	}
	for _, tc := range cases {
		got := lastLines(tc.in, tc.n)
		if strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("lastLines(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}
