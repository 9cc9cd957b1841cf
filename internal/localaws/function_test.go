package localaws

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

type echoReply struct {
	Event    json.RawMessage `json:"event"`
	EnvValue string          `json:"env_value"`
	PID      int             `json:"pid"`
}

func invokeEcho(t *testing.T, f *Function, payload string) (Result, echoReply) {
	t.Helper()
	res, err := f.Invoke(t.Context(), []byte(payload))
	if err != nil {
		t.Fatalf("invoke %s: %v", payload, err)
	}
	var r echoReply
	if !res.Failed() {
		if err := json.Unmarshal(res.Payload, &r); err != nil {
			t.Fatalf("reply %q: %v", res.Payload, err)
		}
	}
	return res, r
}

func TestFunctionInvoke(t *testing.T) {
	f := startFunctionForTest(t, echoBootstrap(t), []string{"ECHO_VAR=hello"})

	t.Run("success echoes the event", func(t *testing.T) {
		res, r := invokeEcho(t, f, `{"a":1}`)
		if res.Failed() {
			t.Fatalf("failed: %s %s", res.ErrorType, res.ErrorMessage)
		}
		if string(r.Event) != `{"a":1}` {
			t.Fatalf("event = %s", r.Event)
		}
	})
	t.Run("handler error", func(t *testing.T) {
		res, _ := invokeEcho(t, f, `{"fail":true}`)
		if !res.Failed() || res.ErrorMessage != "echofn: asked to fail" || res.ErrorType == "" {
			t.Fatalf("result = %+v; want the handler error", res)
		}
	})
	t.Run("output holds the log line", func(t *testing.T) {
		if !f.WaitOutput("echofn: handling event", 5*time.Second) {
			t.Fatalf("output lacks the function's log line:\n%s", f.Output())
		}
	})
	env := []struct{ name, want string }{
		{"ECHO_VAR", "hello"},
		{"AWS_LAMBDA_FUNCTION_NAME", "echofn"},
		{"AWS_LAMBDA_FUNCTION_TIMEOUT", "30"},
		{"PATH", ""}, // nothing leaks from the test process
		{"HOME", ""},
	}
	for _, tc := range env {
		t.Run("env "+tc.name, func(t *testing.T) {
			_, r := invokeEcho(t, f, `{"env":"`+tc.name+`"}`)
			if r.EnvValue != tc.want {
				t.Fatalf("%s = %q, want %q", tc.name, r.EnvValue, tc.want)
			}
		})
	}
	t.Run("sequential invokes share one bootstrap", func(t *testing.T) {
		_, a := invokeEcho(t, f, `{}`)
		_, b := invokeEcho(t, f, `{}`)
		if a.PID == 0 || a.PID != b.PID {
			t.Fatalf("pids %d and %d; want one warm bootstrap", a.PID, b.PID)
		}
	})
}

func TestFunctionSerialisesConcurrentInvokes(t *testing.T) {
	f := startFunctionForTest(t, echoBootstrap(t), nil)
	const n = 4
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			res, err := f.Invoke(t.Context(), []byte(`{"sleep_ms":150}`))
			if err == nil && res.Failed() {
				err = errors.New(res.ErrorType + ": " + res.ErrorMessage)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent invoke: %v\n%s", err, f.Output())
		}
	}
	if d := time.Since(start); d < n*150*time.Millisecond {
		t.Fatalf("%d invokes of 150 ms took %v; they overlapped", n, d)
	}
}

func TestFunctionFailures(t *testing.T) {
	bs := echoBootstrap(t)
	t.Run("timeout, then a fresh bootstrap", func(t *testing.T) {
		f := startFunctionForTest(t, bs, []string{"AWS_LAMBDA_FUNCTION_TIMEOUT=1"})
		_, before := invokeEcho(t, f, `{}`)
		res, _ := invokeEcho(t, f, `{"sleep_ms":3000}`)
		if res.ErrorType != ErrorTypeTimeout || !strings.Contains(res.ErrorMessage, "timed out after 1.00 seconds") {
			t.Fatalf("result = %+v; want a timeout", res)
		}
		res, after := invokeEcho(t, f, `{}`)
		if res.Failed() || after.PID == before.PID {
			t.Fatalf("after timeout: %+v pid %d (before %d); want success from a new bootstrap", res, after.PID, before.PID)
		}
		if !eventually(func() bool { return processGone(before.PID) }) {
			t.Fatalf("timed-out bootstrap %d still runs", before.PID)
		}
	})
	t.Run("crash mid-invoke", func(t *testing.T) {
		f := startFunctionForTest(t, bs, nil)
		res, _ := invokeEcho(t, f, `{"exit":true}`)
		if res.ErrorType != "Runtime.ExitError" || !strings.Contains(res.ErrorMessage, "exit status 3") {
			t.Fatalf("result = %+v; want Runtime.ExitError", res)
		}
		if res, _ := invokeEcho(t, f, `{}`); res.Failed() {
			t.Fatalf("invoke after crash: %+v", res)
		}
	})
	t.Run("init failure", func(t *testing.T) {
		f := startFunctionForTest(t, bs, []string{"ECHOFN_INIT_FAIL=1"})
		for range 2 { // every invoke retries the init
			res, _ := invokeEcho(t, f, `{}`)
			if res.ErrorType != ErrorTypeInit {
				t.Fatalf("result = %+v; want %s", res, ErrorTypeInit)
			}
		}
		if !strings.Contains(f.Output(), "echofn: init failed on purpose") {
			t.Fatalf("output lacks the init error:\n%s", f.Output())
		}
	})
	t.Run("abandoned invoke does not break the next", func(t *testing.T) {
		f := startFunctionForTest(t, bs, nil)
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		defer cancel()
		if _, err := f.Invoke(ctx, []byte(`{"sleep_ms":800}`)); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v; want deadline exceeded", err)
		}
		if res, _ := invokeEcho(t, f, `{"after":"abandon"}`); res.Failed() {
			t.Fatalf("next invoke: %+v\n%s", res, f.Output())
		}
	})
}

func TestFunctionStopLeavesNoProcess(t *testing.T) {
	f, err := StartFunction(t.Context(), echoBootstrap(t), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Stop while an invoke is running, so the bootstrap is busy.
	go f.Invoke(context.Background(), []byte(`{"sleep_ms":60000}`))
	bootstrap := busyBootstrapPID(t, f)
	rie := f.PID()
	if err := f.Stop(); err != nil {
		t.Fatal(err)
	}
	for _, pid := range []int{rie, bootstrap} {
		if !eventually(func() bool { return processGone(pid) && groupGone(pid) }) {
			t.Errorf("process (group) %d still running after Stop", pid)
		}
	}
	if _, err := f.Invoke(t.Context(), []byte(`{}`)); err == nil {
		t.Fatal("invoke after Stop succeeded")
	}
}

// busyBootstrapPID waits until the bootstrap under f handles an event and
// returns its pid, read from /proc (the emulator itself is busy).
func busyBootstrapPID(t *testing.T, f *Function) int {
	t.Helper()
	var child int
	if !eventually(func() bool {
		for _, d := range Descendants(f.PID()) {
			child = d
			return strings.Contains(f.Output(), "echofn: handling event")
		}
		return false
	}) {
		t.Fatalf("no bootstrap under the emulator:\n%s", f.Output())
	}
	return child
}

func TestStartFunctionErrors(t *testing.T) {
	bs := echoBootstrap(t)
	cases := []struct {
		name, bootstrap string
		env             []string
		want            string
	}{
		{"missing bootstrap", "/nonexistent/bootstrap", nil, "not an executable file"},
		{"concurrency mode", bs, []string{"AWS_LAMBDA_MAX_CONCURRENCY=2"}, "AWS_LAMBDA_MAX_CONCURRENCY"},
		{"bad timeout", bs, []string{"AWS_LAMBDA_FUNCTION_TIMEOUT=soon"}, "positive number"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, err := StartFunction(t.Context(), tc.bootstrap, tc.env, nil)
			if err == nil {
				_ = f.Stop()
				t.Fatal("started")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v; want it to mention %q", err, tc.want)
			}
		})
	}
	t.Run("emulator not installed", func(t *testing.T) {
		t.Setenv("PATH", t.TempDir())
		_, err := StartFunction(t.Context(), bs, nil, nil)
		if err == nil || !strings.Contains(err.Error(), "make tools") {
			t.Fatalf("error = %v; want the install hint", err)
		}
	})
}

func TestInterpretReply(t *testing.T) {
	cases := []struct {
		name     string
		status   int
		body     string
		wantType string
		wantErr  bool
	}{
		{"reply", 200, `{"ok":true}`, "", false},
		{"reply that mentions errorMessage", 200, `{"errorMessage":"x","errorType":"y","other":1}`, "", false},
		{"handler error", 200, `{"errorMessage":"boom","errorType":"errorString"}`, "errorString", false},
		{"handler error with stack", 200, `{"errorMessage":"boom","errorType":"E","stackTrace":[]}`, "E", false},
		{"timeout", 200, `Task timed out after 30.00 seconds`, ErrorTypeTimeout, false},
		{"crash", 502, `{"errorType":"Runtime.ExitError","errorMessage":"exit status 3"}`, "Runtime.ExitError", false},
		{"init failure", 502, ``, ErrorTypeInit, false},
		{"emulator busy", 400, ``, "", true},
		{"emulator reservation", 504, ``, "", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, err := interpretReply("fn", tc.status, []byte(tc.body))
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if res.ErrorType != tc.wantType || res.Failed() != (tc.wantType != "") {
				t.Fatalf("result = %+v; want type %q", res, tc.wantType)
			}
		})
	}
}
