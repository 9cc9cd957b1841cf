package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/token-refresher/token-refresher/internal/localaws"
	"github.com/token-refresher/token-refresher/shared/admitad"
	"github.com/token-refresher/token-refresher/shared/refresh"
	"github.com/token-refresher/token-refresher/shared/secretstore"
	"github.com/token-refresher/token-refresher/shared/token"
	"github.com/token-refresher/token-refresher/shared/vendors"
)

// callStep is one kind of run and the Secrets Manager calls it made, as
// moto_server received them.
type callStep struct {
	// Name says what kind of run it was ("cold scheduled run").
	Name string
	// Cold: the run was the first of a new process.
	Cold bool
	// Force: the event was {"force":true}.
	Force bool
	// Action is the reply's action ("" for a function that is not a
	// refresher).
	Action string
	// Ops are the calls' operations in order.
	Ops []string
	// CPU is the bootstrap's CPU time for the run; for a cold run, from
	// the process start.
	CPU time.Duration
	// Max is the target (the most calls allowed); 0 means none.
	Max int
	// Note explains a target that differs from the kind's.
	Note string
}

// Calls is how many calls the run made.
func (c callStep) Calls() int { return len(c.Ops) }

// OK reports whether the run is within its target (true when it has none).
func (c callStep) OK() bool { return c.Max == 0 || c.Calls() <= c.Max }

// Targets for Secrets Manager calls per kind of run.
const (
	maxSkip          = 1
	maxScheduledCold = 3
	maxScheduledWarm = 2
	maxForcedCold    = 2
	// A forced run reads the credentials fresh: an operator's proof.
	maxForcedWarm      = 2
	maxAuthCodeRefresh = 4
)

// callTarget is the most calls a run of this kind may make; 0 when there
// is no target (a function that is not a refresher).
func callTarget(vendor string, callback, cold, force bool, action string) int {
	switch {
	case callback:
		return 0
	case action == refresh.ActionSkipped:
		return maxSkip
	case vendors.MustLookup(vendor).AuthCode:
		return maxAuthCodeRefresh
	case force && cold:
		return maxForcedCold
	case force:
		return maxForcedWarm
	case cold:
		return maxScheduledCold
	default:
		return maxScheduledWarm
	}
}

// callsPerRun runs fn through each kind of run, counting the calls moto
// receives: a scheduled run that finds the token due, one that skips, a
// forced one, each in a new process (cold) and a running one (warm).
func (e *env) callsPerRun(ctx context.Context, fn string, spec vendors.Spec, callback bool, w workload, bootstrap string, env []string, vendorFront *meteredServer) ([]callStep, error) {
	var steps []callStep
	var f *localaws.Function
	stop := func() error {
		if f == nil {
			return nil
		}
		err := f.Stop()
		f = nil
		return err
	}
	defer stop()
	start := func() error {
		if err := stop(); err != nil {
			return err
		}
		var err error
		f, err = localaws.StartFunction(ctx, bootstrap, env, nil)
		return err
	}
	cold := true
	step := func(name string, payload []byte) error {
		if f == nil {
			if err := start(); err != nil {
				return fmt.Errorf("bench: %s: calls: %w", fn, err)
			}
			cold = true
		}
		var before time.Duration
		if !cold {
			pid, err := f.BootstrapPID()
			if err != nil {
				return fmt.Errorf("bench: %s: calls: %w", fn, err)
			}
			if before, err = cpuTime(pid); err != nil {
				return fmt.Errorf("bench: %s: calls: %w", fn, err)
			}
		}
		vendorFront.take()
		e.smFor.take()
		action, err := invokeAction(ctx, f, payload, w, callback)
		sm := e.smFor.take()
		if err != nil {
			return fmt.Errorf("bench: %s: calls: %s: %w", fn, name, err)
		}
		pid, err := f.BootstrapPID()
		if err != nil {
			return fmt.Errorf("bench: %s: calls: %w", fn, err)
		}
		after, err := cpuTime(pid)
		if err != nil {
			return fmt.Errorf("bench: %s: calls: %w", fn, err)
		}
		force := strings.Contains(string(payload), `"force":true`)
		s := callStep{Name: name, Cold: cold, Force: force, Action: action, Ops: sm.Ops, CPU: after - before}
		s.Max = callTarget(spec.Name, callback, cold, force, action)
		if spec.AuthCode && !callback && action != refresh.ActionSkipped {
			s.Note = "Admitad: any refresh"
		}
		steps = append(steps, s)
		cold = false
		return nil
	}
	newProcess := func() error { return stop() }

	if callback {
		if err := step("cold connect link (GET /admitad/authorize)", w.payload); err != nil {
			return nil, err
		}
		if err := step("warm connect link", w.payload); err != nil {
			return nil, err
		}
		return steps, stop()
	}

	scheduled, forced := []byte(`{}`), forceEvent
	first := "cold scheduled run, token as the stack creates it"
	if spec.AuthCode {
		first = "cold scheduled run, the first after a connect"
	}
	plan := []struct {
		name    string
		before  func() error
		payload []byte
	}{
		{first, nil, scheduled},
		{"warm scheduled run", nil, scheduled},
		{"warm forced run", nil, forced},
		{"warm scheduled run, token due", func() error { return e.age(ctx, spec, env) }, scheduled},
		{"cold scheduled run", newProcess, scheduled},
		{"cold forced run", newProcess, forced},
		{"cold scheduled run, token due", func() error {
			if err := e.age(ctx, spec, env); err != nil {
				return err
			}
			return newProcess()
		}, scheduled},
	}
	for _, p := range plan {
		if p.before != nil {
			if err := p.before(); err != nil {
				return nil, fmt.Errorf("bench: %s: calls: %s: %w", fn, p.name, err)
			}
		}
		if err := step(p.name, p.payload); err != nil {
			return nil, err
		}
	}
	return steps, stop()
}

// invokeAction invokes payload and returns the reply's action (refreshers)
// or checks it as w does (the callback).
func invokeAction(ctx context.Context, f *localaws.Function, payload []byte, w workload, callback bool) (string, error) {
	if callback {
		return "", w.invoke(ctx, f)
	}
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	res, err := f.Invoke(ctx, payload)
	if err != nil {
		return "", err
	}
	if res.Failed() {
		return "", fmt.Errorf("function failed: %s: %s", res.ErrorType, res.ErrorMessage)
	}
	var s refresh.Summary
	if err := json.Unmarshal(res.Payload, &s); err != nil {
		return "", fmt.Errorf("reply %q: %w", res.Payload, err)
	}
	return s.Action, nil
}

// age rewrites the token secret as if the token had been obtained long
// ago, so that the next scheduled run finds it due. A token that does not
// expire (Invoca) is left alone.
func (e *env) age(ctx context.Context, spec vendors.Spec, env []string) error {
	if spec.AuthCode {
		return e.ageConnection(ctx, envValue(env, "REFRESH_SECRET_ID"))
	}
	id := envValue(env, "TOKEN_SECRET_ID")
	out, err := e.sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(id), VersionStage: aws.String("AWSCURRENT")})
	if err != nil {
		return err
	}
	tok, err := token.Parse(aws.ToString(out.SecretString))
	if err != nil {
		return err
	}
	if tok.ExpiresAt.IsZero() {
		return nil
	}
	tok.RefreshedAt, tok.ExpiresAt = agedTimes(tok.RefreshedAt, tok.ExpiresAt)
	b, err := json.Marshal(tok)
	if err != nil {
		return err
	}
	_, err = e.sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(id), SecretString: aws.String(string(b))})
	return err
}

// ageConnection rewrites the access token's record in Admitad's
// refresh-token secret id, which is what decides its runs, as a refresh
// writes it: as if the token had been obtained long ago.
func (e *env) ageConnection(ctx context.Context, id string) error {
	c, _, err := admitad.ReadConnection(ctx, &secretstore.Store{API: e.sm}, id)
	if err != nil {
		return err
	}
	if c.Access.ExpiresAt.IsZero() {
		return fmt.Errorf("refresh-token secret %s records no access token", id)
	}
	c.Access.RefreshedAt, c.Access.ExpiresAt = agedTimes(c.Access.RefreshedAt, c.Access.ExpiresAt)
	c.RotatedAt = c.RotatedAt.Add(time.Millisecond)
	return e.writeConnection(ctx, id, c, false)
}

// agedTimes moves a token's refresh and expiry back so that two minutes of
// its lifetime are left.
func agedTimes(refreshed, expires time.Time) (time.Time, time.Time) {
	life := expires.Sub(refreshed)
	return refreshed.Add(-life + time.Minute), expires.Add(-life + 2*time.Minute)
}

func envValue(env []string, key string) string {
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key {
			return v
		}
	}
	return ""
}
