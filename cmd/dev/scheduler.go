package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"

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
)

// runState is what the scheduler knows about one vendor's runs. Guarded by
// scheduler.mu.
type runState struct {
	Runs        int       `json:"runs"`
	Failures    int       `json:"failures"`
	LastRun     time.Time `json:"last_run,omitzero"`
	LastOutcome string    `json:"last_outcome,omitempty"`
	// LastError is the function's error message (it never holds a secret:
	// the refresher scrubs its errors).
	LastError string    `json:"last_error,omitempty"`
	NextRun   time.Time `json:"next_run,omitzero"`
	Running   bool      `json:"running"`
}

// scheduler invokes each refresher every period, the first time at once,
// as EventBridge Scheduler does after a deploy with a sped-up clock. A run
// still going when the next is due delays it (the stack's reserved
// concurrency of 1 lets no two runs of a vendor overlap either).
type scheduler struct {
	vendors []*vendorRun
	events  *eventLog
	json    bool

	mu    sync.Mutex
	state map[string]*runState
}

func newScheduler(vs []*vendorRun, events *eventLog, jsonOut bool) *scheduler {
	s := &scheduler{vendors: vs, events: events, json: jsonOut, state: map[string]*runState{}}
	for _, v := range vs {
		s.state[v.spec.Name] = &runState{NextRun: time.Now()}
	}
	return s
}

// run schedules every vendor until ctx ends.
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
		s.update(v.spec.Name, func(st *runState) { st.NextRun = next })
		t := time.NewTimer(time.Until(next))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		s.invoke(ctx, v, scheduledEvent, "")
		for now := time.Now(); !next.After(now); {
			next = next.Add(v.every)
		}
	}
}

func (s *scheduler) update(vendor string, f func(*runState)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s.state[vendor])
}

// snapshot returns a copy of every vendor's state.
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
// sends (infra: ScheduleTargetInput_FromObject of an empty object).
var scheduledEvent = []byte("{}")

// invoke runs the refresher once with payload and records the outcome;
// by names who asked when it was not the schedule. Invokes of one vendor
// queue behind each other (one emulator runs one invoke at a time).
func (s *scheduler) invoke(ctx context.Context, v *vendorRun, payload []byte, by string) (localaws.Result, error) {
	name := v.spec.Name
	start := time.Now()
	s.update(name, func(st *runState) { st.Running = true })
	ictx, cancel := context.WithTimeout(ctx, invokeTimeout)
	res, err := v.fn.Invoke(ictx, payload)
	cancel()
	if ctx.Err() != nil {
		s.update(name, func(st *runState) { st.Running = false })
		return res, err // stopping, or the caller left: not an outcome
	}
	outcome, detail := "", ""
	var sum refresh.Summary
	switch {
	case err != nil:
		outcome, detail = outcomeError, err.Error()
	case res.Failed():
		outcome, detail = outcomeFailed, res.ErrorMessage
	case json.Unmarshal(res.Payload, &sum) != nil || sum.Action == "":
		outcome, detail = outcomeError, fmt.Sprintf("reply is not a refresh summary: %.200q", res.Payload)
	default:
		outcome = sum.Action
	}
	s.update(name, func(st *runState) {
		st.Running = false
		st.Runs++
		st.LastRun = start
		st.LastOutcome = outcome
		st.LastError = detail
		if detail != "" {
			st.Failures++
		}
	})
	s.event(name, start, outcome, detail, sum, by)
	return res, err
}

// event prints one line per run.
func (s *scheduler) event(vendor string, at time.Time, outcome, detail string, sum refresh.Summary, by string) {
	if s.json {
		b, _ := json.Marshal(map[string]any{
			"event": "run", "vendor": vendor, "at": at.UTC().Format(time.RFC3339Nano), "by": by,
			"outcome": outcome, "error": detail, "fingerprint": sum.Fingerprint, "expires_at": sum.ExpiresAt,
		})
		s.events.add(string(b))
		return
	}
	line := fmt.Sprintf("%s  %-9s %s", at.Format("15:04:05"), vendor, outcome)
	if by != "" {
		line += " (" + by + ")"
	}
	if sum.Fingerprint != "" {
		line += "  token " + sum.Fingerprint
	}
	if sum.ExpiresAt != "" {
		if t, err := time.Parse(time.RFC3339, sum.ExpiresAt); err == nil {
			line += "  expires in " + roundDur(time.Until(t))
		}
	}
	if detail != "" {
		line += ": " + detail
	}
	s.events.add(line)
}

// eventLog keeps the latest event lines for the live display and, when
// echo is set, prints each as it comes.
type eventLog struct {
	mu    sync.Mutex
	lines []string
	echo  io.Writer
}

const keptEvents = 12

func (l *eventLog) add(line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, line)
	if len(l.lines) > keptEvents {
		l.lines = l.lines[len(l.lines)-keptEvents:]
	}
	if l.echo != nil {
		fmt.Fprintln(l.echo, line)
	}
}

func (l *eventLog) latest() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...)
}
