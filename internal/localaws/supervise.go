package localaws

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync"
	"time"
)

// Restart records one restart of a Supervised function.
type Restart struct {
	// At is when the dead emulator was noticed.
	At time.Time `json:"at"`
	// Reason says what died: the emulator (with its exit status) or the
	// bootstrap between invokes.
	Reason string `json:"reason"`
	// Output is the last lines the emulator and bootstrap printed before.
	Output []string `json:"output,omitempty"`
	// Err is set when starting the new emulator failed; it is tried again.
	Err string `json:"error,omitempty"`
}

// SuperviseOptions configure Supervise.
type SuperviseOptions struct {
	// Log, if not nil, receives everything every emulator and bootstrap
	// prints, across restarts.
	Log io.Writer
	// OnRestart, if not nil, is called after each restart (outside any
	// lock).
	OnRestart func(Restart)
	// Poll is how often the emulator and bootstrap are checked between
	// invokes (default 200 ms).
	Poll time.Duration
}

// Supervised is a function under aws-lambda-rie that is started again when
// its emulator dies, or when its bootstrap dies between invokes (the
// emulator would fail the next invoke with Runtime.ExitError without
// running it). It is an Invoker; invokes are serialised as Function's are.
//
// An invoke the dying emulator was running fails (an error, as for
// Function); the next one runs on the new emulator, a cold start.
type Supervised struct {
	bootstrap string
	env       []string
	opts      SuperviseOptions

	mu       sync.Mutex
	fn       *Function
	bootPID  int // bootstrap seen after the last invoke; 0: none yet
	busy     int
	restarts []Restart
	retryAt  time.Time // after a failed restart
	backoff  time.Duration
	stopped  bool

	stop chan struct{}
	done chan struct{}
}

var _ Invoker = (*Supervised)(nil)

// outputLines is how many lines of output a Restart keeps.
const outputLines = 6

// Supervise starts bootstrap under the emulator as StartFunction does and
// keeps it running until Stop. ctx bounds the first start only.
func Supervise(ctx context.Context, bootstrap string, env []string, opts SuperviseOptions) (*Supervised, error) {
	if opts.Poll <= 0 {
		opts.Poll = 200 * time.Millisecond
	}
	fn, err := StartFunction(ctx, bootstrap, env, opts.Log)
	if err != nil {
		return nil, err
	}
	s := &Supervised{
		bootstrap: bootstrap,
		env:       append([]string(nil), env...),
		opts:      opts,
		fn:        fn,
		stop:      make(chan struct{}),
		done:      make(chan struct{}),
	}
	go s.watch()
	return s, nil
}

// Name is the function's AWS_LAMBDA_FUNCTION_NAME.
func (s *Supervised) Name() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fn.Name
}

// Current returns the Function now running (it changes at each restart).
func (s *Supervised) Current() *Function {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fn
}

// Restarts returns every restart so far, oldest first.
func (s *Supervised) Restarts() []Restart {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Restart(nil), s.restarts...)
}

// Invoke sends payload to the running emulator; see Function.Invoke. A
// bootstrap or emulator found dead before the invoke is restarted first.
func (s *Supervised) Invoke(ctx context.Context, payload []byte) (Result, error) {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return Result{}, errors.New("localaws: invoke: the supervised function is stopped")
	}
	restarted := s.checkLocked(true)
	fn := s.fn
	s.busy++
	s.mu.Unlock()
	s.notify(restarted)

	res, err := fn.Invoke(ctx, payload)

	s.mu.Lock()
	s.busy--
	var after *Restart
	if s.fn == fn && !s.stopped {
		if !emulatorAlive(fn) {
			after = s.restartLocked(s.exitReason(fn))
		} else if pid, perr := BootstrapPID(fn.PID()); perr == nil {
			s.bootPID = pid
		} else {
			s.bootPID = 0
		}
	}
	s.mu.Unlock()
	s.notify(after)
	return res, err
}

func (s *Supervised) notify(r *Restart) {
	if r != nil && s.opts.OnRestart != nil {
		s.opts.OnRestart(*r)
	}
}

// watch checks the emulator and the bootstrap every Poll until Stop.
func (s *Supervised) watch() {
	defer close(s.done)
	t := time.NewTicker(s.opts.Poll)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		s.mu.Lock()
		var r *Restart
		if !s.stopped {
			r = s.checkLocked(s.busy == 0)
		}
		s.mu.Unlock()
		s.notify(r)
	}
}

// checkLocked restarts the emulator if it has exited, or, when idle is
// set, if the bootstrap it ran has died. It returns the restart made.
func (s *Supervised) checkLocked(idle bool) *Restart {
	if !emulatorAlive(s.fn) {
		if !s.retryAt.IsZero() && time.Now().Before(s.retryAt) {
			return nil
		}
		return s.restartLocked(s.exitReason(s.fn))
	}
	if idle && s.bootPID != 0 && !Running(s.bootPID) {
		return s.restartLocked(fmt.Sprintf("bootstrap (pid %d) exited between invokes", s.bootPID))
	}
	// Keep track of the bootstrap, also one started during an invoke, so
	// that an emulator's death cannot leave it running unseen.
	if pid, err := BootstrapPID(s.fn.PID()); err == nil {
		s.bootPID = pid
	}
	return nil
}

// emulatorAlive reports whether fn's emulator still runs. An emulator that
// died is seen at once in /proc, before Function notices (its bootstrap,
// in a process group of its own, can hold the output pipe open).
func emulatorAlive(fn *Function) bool {
	return !fn.proc.exited() && (runtime.GOOS != "linux" || Running(fn.PID()))
}

func (s *Supervised) exitReason(fn *Function) string {
	if s.retryAt.IsZero() {
		status := "killed or crashed"
		select {
		case <-fn.proc.done:
			status = fmt.Sprint(fn.proc.err)
		case <-time.After(100 * time.Millisecond):
		}
		return fmt.Sprintf("emulator (pid %d) exited (%s)", fn.PID(), status)
	}
	return "restart failed earlier; trying again"
}

// restartLocked stops the current emulator and starts a new one.
func (s *Supervised) restartLocked(reason string) *Restart {
	old := s.fn
	r := Restart{At: time.Now(), Reason: reason, Output: lastLines(old.Output(), outputLines)}
	// The bootstrap of an emulator that died is an orphan that Stop cannot
	// find below the emulator any more.
	if s.bootPID != 0 && Running(s.bootPID) {
		killTree(s.bootPID)
	}
	_ = old.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	fn, err := StartFunction(ctx, s.bootstrap, s.env, s.opts.Log)
	cancel()
	s.bootPID = 0
	if err != nil {
		r.Err = err.Error()
		s.backoff = min(max(2*s.backoff, time.Second), 30*time.Second)
		s.retryAt = time.Now().Add(s.backoff)
	} else {
		s.fn = fn
		s.backoff, s.retryAt = 0, time.Time{}
	}
	s.restarts = append(s.restarts, r)
	return &r
}

// lastLines returns the last n non-empty lines of out.
func lastLines(out string, n int) []string {
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	var keep []string
	for i := len(lines) - 1; i >= 0 && len(keep) < n; i-- {
		if l := strings.TrimSpace(lines[i]); l != "" {
			keep = append(keep, l)
		}
	}
	for i, j := 0, len(keep)-1; i < j; i, j = i+1, j-1 {
		keep[i], keep[j] = keep[j], keep[i]
	}
	return keep
}

// Stop ends supervision and stops the emulator with its bootstrap. It is
// idempotent.
func (s *Supervised) Stop() error {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		<-s.done
		return nil
	}
	s.stopped = true
	close(s.stop)
	fn, boot := s.fn, s.bootPID
	s.mu.Unlock()
	<-s.done
	err := fn.Stop()
	if boot != 0 && Running(boot) {
		killTree(boot)
	}
	return err
}
