package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/token-refresher/token-refresher/internal/humandur"
	"github.com/token-refresher/token-refresher/internal/localaws"
	"github.com/token-refresher/token-refresher/shared/refresh"
)

// invokeTimeout bounds one scheduled invoke: the function timeout plus the
// emulator's own start-up.
const invokeTimeout = (functionTimeout + 30) * time.Second

// outcomeFailed is the outcome of a run the function failed; outcomeError
// of a run the emulator could not carry out.
const (
	outcomeFailed = "failed"
	outcomeError  = "emulator-error"
	// outcomeConnected is the state after a person connected the vendor
	// through the callback.
	outcomeConnected = "connected"
)

// runState is what the scheduler knows about one connection's runs.
// Guarded by scheduler.mu.
type runState struct {
	Runs        int       `json:"runs"`
	Failures    int       `json:"failures"`
	LastRun     time.Time `json:"last_run,omitzero"`
	LastOutcome string    `json:"last_outcome,omitempty"`
	// LastError is the function's error message (it never holds a secret:
	// the refresher scrubs its errors).
	LastError string    `json:"last_error,omitempty"`
	NextRun   time.Time `json:"next_run,omitzero"`
	Running   bool      `json:"running,omitempty"`
	// FailedAt and Failure are the last failed run and its error, kept
	// until a run succeeds (refreshed, validated, superseded, or a
	// connect): a skip does not clear them, so a failure stays on the
	// page and in /status while the stored token still serves apps.
	FailedAt time.Time `json:"failed_at,omitzero"`
	Failure  string    `json:"failure,omitempty"`
	// Restarts counts restarts of the vendor's emulators (refresher and
	// callback); RestartReason and RestartOutput tell why the last one
	// happened, from the emulator's last lines of output.
	Restarts      int       `json:"restarts,omitempty"`
	LastRestart   time.Time `json:"last_restart,omitzero"`
	RestartReason string    `json:"restart_reason,omitempty"`
	RestartOutput []string  `json:"restart_output,omitempty"`
}

// record notes a finished run that started at start: its outcome, and
// detail, the error of a failed one. A failure stays recorded (FailedAt,
// Failure) until a run succeeds; a skip leaves it.
func (st *runState) record(start time.Time, outcome, detail string) {
	st.Runs++
	st.LastRun = start
	st.LastOutcome = outcome
	st.LastError = detail
	switch {
	case detail != "":
		st.Failures++
		st.FailedAt, st.Failure = start, detail
	case clearsFailure(outcome):
		st.FailedAt, st.Failure = time.Time{}, ""
	}
}

// clearsFailure reports whether a run with this outcome shows the vendor
// works again: anything but a skip (which did not call the vendor) or a
// failure.
func clearsFailure(outcome string) bool {
	switch outcome {
	case refresh.ActionSkipped, outcomeFailed, outcomeError:
		return false
	}
	return true
}

// scheduler invokes each refresher every period, the first time at once,
// as EventBridge Scheduler does after a deploy with a sped-up clock: one
// schedule per connection, each with its connection's event. A run still
// going when the next is due delays it; runs of a vendor's connections
// queue on its one emulator, as the stack's reserved concurrency of 1
// serialises them in AWS.
type scheduler struct {
	vendors []*vendorRun
	events  *eventLog

	mu    sync.Mutex
	state map[string]*runState // by vendorRun.key
}

func newScheduler(vs []*vendorRun, events *eventLog) *scheduler {
	s := &scheduler{vendors: vs, events: events, state: map[string]*runState{}}
	for _, v := range vs {
		s.state[v.key()] = &runState{NextRun: time.Now()}
	}
	return s
}

// run schedules every connection until ctx ends.
func (s *scheduler) run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, v := range s.vendors {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.loop(ctx, v)
		}()
	}
	wg.Wait()
}

func (s *scheduler) loop(ctx context.Context, v *vendorRun) {
	next := time.Now()
	for {
		s.update(v.key(), func(st *runState) { st.NextRun = next })
		t := time.NewTimer(time.Until(next))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		s.invoke(ctx, v, v.event(), "")
		for now := time.Now(); !next.After(now); {
			next = next.Add(v.every)
		}
	}
}

func (s *scheduler) update(key string, f func(*runState)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s.state[key])
}

// snapshot returns a copy of every connection's state, by vendorRun.key.
func (s *scheduler) snapshot() map[string]runState {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]runState, len(s.state))
	for k, v := range s.state {
		out[k] = *v
	}
	return out
}

// scheduledEvent is the input the stack's EventBridge Scheduler schedule
// of a default connection sends (infra: ScheduleTargetInput_FromObject of
// an empty object); a named connection's names it (vendorRun.event).
var scheduledEvent = []byte("{}")

// invoke runs the refresher once with payload (an event for v's
// connection) and records the outcome on v's row; by names who asked when
// it was not the schedule. Invokes of one vendor queue behind each other
// (one emulator runs one invoke at a time). A reply for another vendor or
// connection than v's is an error.
func (s *scheduler) invoke(ctx context.Context, v *vendorRun, payload []byte, by string) (localaws.Result, error) {
	name := v.key()
	start := time.Now()
	s.update(name, func(st *runState) { st.Running = true })
	ictx, cancel := context.WithTimeout(ctx, invokeTimeout)
	res, err := v.fn.Invoke(ictx, payload)
	cancel()
	if ctx.Err() != nil {
		s.update(name, func(st *runState) { st.Running = false })
		return res, err // stopping, or the caller left: not an outcome
	}
	end := time.Now()
	outcome, detail := "", ""
	var sum refresh.Summary
	switch {
	case err != nil:
		outcome, detail = outcomeError, err.Error()
	case res.Failed():
		outcome, detail = outcomeFailed, res.ErrorMessage
	case json.Unmarshal(res.Payload, &sum) != nil || sum.Action == "":
		outcome, detail = outcomeError, fmt.Sprintf("reply is not a refresh summary: %.200q", res.Payload)
	case sum.Vendor != v.spec.Name || sum.Connection != v.connection:
		outcome, detail = outcomeError, fmt.Sprintf("reply for %s/%s, not %s", sum.Vendor, sum.Connection, v.key())
		sum = refresh.Summary{}
	default:
		outcome = sum.Action
	}
	s.update(name, func(st *runState) {
		st.Running = false
		st.record(start, outcome, detail)
	})
	v.history.mark(end, markKind(outcome), detail)
	if sum.Fingerprint != "" {
		if exp, perr := time.Parse(time.RFC3339, sum.ExpiresAt); perr == nil || sum.ExpiresAt == "" {
			v.history.observe(end, sum.Fingerprint, exp)
		}
	}
	s.event(v, start, outcome, detail, sum, by)
	return res, err
}

// restarted records a restart of one of v's vendor's emulators, on the
// rows of all its connections (they share the function).
func (s *scheduler) restarted(v *vendorRun, function string, r localaws.Restart) {
	for _, c := range s.vendors {
		if c.spec.Name != v.spec.Name {
			continue
		}
		s.update(c.key(), func(st *runState) {
			st.Restarts++
			st.LastRestart = r.At
			st.RestartReason = function + ": " + r.Reason
			if r.Err != "" {
				st.RestartReason += "; starting it again failed: " + r.Err
			}
			st.RestartOutput = r.Output
		})
		c.history.mark(r.At, markRestart, function+": "+r.Reason)
	}
	line := fmt.Sprintf("%s  %-9s emulator of %s restarted: %s", clock(r.At), v.spec.Name, function, r.Reason)
	s.events.add(line, runEvent{Event: "restart", Vendor: v.spec.Name, Connection: v.connection, Function: function, At: r.At.UTC().Format(time.RFC3339Nano), Error: r.Reason})
}

// connected records that v was connected by a person (the callback stored
// the connection and published a token): a failure of an earlier run
// ("not connected yet") no longer describes the vendor.
func (s *scheduler) connected(v *vendorRun, at time.Time, fingerprint string) {
	s.update(v.key(), func(st *runState) {
		st.LastRun = at
		st.LastOutcome = outcomeConnected
		st.LastError = ""
		st.FailedAt, st.Failure = time.Time{}, ""
	})
	v.history.mark(at, markConnected, "")
	line := fmt.Sprintf("%s  %-9s connected through the callback", clock(at), v.label())
	if fingerprint != "" {
		line += "  token " + fingerprint
	}
	s.events.add(line, runEvent{Event: "connected", Vendor: v.spec.Name, Connection: v.connection, At: at.UTC().Format(time.RFC3339Nano), Fingerprint: fingerprint})
}

// runEvent is one JSON line of -json for a run, a restart or a connect.
// Fields without a value are left out.
type runEvent struct {
	Event       string `json:"event"`
	Vendor      string `json:"vendor"`
	Connection  string `json:"connection,omitempty"`
	Function    string `json:"function,omitempty"`
	At          string `json:"at"`
	By          string `json:"by,omitempty"`
	Outcome     string `json:"outcome,omitempty"`
	Error       string `json:"error,omitempty"`
	Fingerprint string `json:"fingerprint,omitempty"`
	ExpiresAt   string `json:"expires_at,omitempty"`
}

// event prints one line per run.
func (s *scheduler) event(v *vendorRun, at time.Time, outcome, detail string, sum refresh.Summary, by string) {
	line := fmt.Sprintf("%s  %-9s %s", clock(at), v.label(), outcome)
	if by != "" {
		line += " (" + by + ")"
	}
	if sum.Fingerprint != "" {
		line += "  token " + sum.Fingerprint
	}
	if sum.ExpiresAt != "" {
		if t, err := time.Parse(time.RFC3339, sum.ExpiresAt); err == nil {
			line += "  expires in " + humandur.Format(time.Until(t))
		}
	}
	if detail != "" {
		line += ": " + detail
	}
	s.events.add(line, runEvent{
		Event: "run", Vendor: v.spec.Name, Connection: v.connection, At: at.UTC().Format(time.RFC3339Nano), By: by,
		Outcome: outcome, Error: detail, Fingerprint: sum.Fingerprint, ExpiresAt: sum.ExpiresAt,
	})
}

// eventLog keeps the latest event lines for the live display and, when
// echo is set, prints each as it comes: the line, or with -json its
// event.
type eventLog struct {
	out  *console
	echo bool

	mu    sync.Mutex
	lines []string
}

const keptEvents = 12

func (l *eventLog) add(line string, ev any) {
	l.mu.Lock()
	l.lines = append(l.lines, line)
	if len(l.lines) > keptEvents {
		l.lines = l.lines[len(l.lines)-keptEvents:]
	}
	l.mu.Unlock()
	if l.echo && l.out != nil {
		l.out.text(line + "\n")
		l.out.emit(ev)
	}
}

func (l *eventLog) latest() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...)
}
