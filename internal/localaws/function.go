package localaws

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Error types Result carries for failures the emulator reports in its own
// words rather than as a handler error document.
const (
	// ErrorTypeTimeout: the invoke ran past AWS_LAMBDA_FUNCTION_TIMEOUT
	// (Lambda's own name for it).
	ErrorTypeTimeout = "Sandbox.Timedout"
	// ErrorTypeInit: the bootstrap failed before asking for its first event
	// (the emulator answers HTTP 502 with no body); Output tells why.
	ErrorTypeInit = "Runtime.InitError"
)

// DefaultFunctionTimeout is the AWS_LAMBDA_FUNCTION_TIMEOUT, in seconds,
// StartFunction sets when env does not.
const DefaultFunctionTimeout = 30

const rieInstallHint = "install it with `make tools` (scripts/install-tools.sh)"

// Invoker is anything that takes a Lambda event and returns the function's
// reply; *Function is one.
type Invoker interface {
	Invoke(ctx context.Context, payload []byte) (Result, error)
}

var _ Invoker = (*Function)(nil)

// Result is the outcome of one invoke that reached the function.
type Result struct {
	// Payload is the function's reply, or the emulator's error body.
	Payload []byte
	// ErrorMessage and ErrorType are set when the function failed: a handler
	// error, a crash, a timeout (ErrorTypeTimeout) or a failed init
	// (ErrorTypeInit).
	ErrorMessage, ErrorType string
}

// Failed reports whether the function failed instead of replying.
func (r Result) Failed() bool { return r.ErrorType != "" || r.ErrorMessage != "" }

// Function is a Lambda bootstrap running under aws-lambda-rie on loopback.
// Invoke, Output, PID and Stop are safe for concurrent use; invokes are
// serialised (see the package doc).
type Function struct {
	// URL is the invoke URL:
	// http://127.0.0.1:PORT/2015-03-31/functions/function/invocations.
	URL string
	// Name is AWS_LAMBDA_FUNCTION_NAME.
	Name string

	proc    *process
	timeout time.Duration
	sem     chan struct{} // one invoke at a time
	client  *http.Client
}

// StartFunction runs bootstrap under aws-lambda-rie with the emulator and
// Runtime API on free 127.0.0.1 ports (never 9001), in its own process
// group, and returns once both accept connections. ctx bounds the start
// only; call Stop to end it.
//
// The function sees exactly env plus AWS_LAMBDA_FUNCTION_TIMEOUT (default
// DefaultFunctionTimeout) and AWS_LAMBDA_FUNCTION_NAME (default: the name of
// bootstrap's directory) unless env sets them; nothing is inherited from
// this process, so local AWS credentials never reach it. Its working
// directory is bootstrap's directory, as /var/task is in Lambda.
// logw, if not nil, receives everything the emulator and bootstrap print.
//
// aws-lambda-rie is looked up on PATH, then in $(go env GOPATH)/bin.
func StartFunction(ctx context.Context, bootstrap string, env []string, logw io.Writer) (*Function, error) {
	bootstrap, err := filepath.Abs(bootstrap)
	if err != nil {
		return nil, fmt.Errorf("localaws: start function: bootstrap path: %w", err)
	}
	if st, err := os.Stat(bootstrap); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
		return nil, fmt.Errorf("localaws: start function: %s is not an executable file", bootstrap)
	}
	env, name, timeout, err := functionEnv(env, filepath.Base(filepath.Dir(bootstrap)))
	if err != nil {
		return nil, err
	}
	rie, err := findRIE()
	if err != nil {
		return nil, err
	}
	var lastErr error
	for range 3 {
		f, err := startFunction(ctx, rie, bootstrap, env, name, timeout, logw)
		if err == nil {
			return f, nil
		}
		lastErr = err
		if !errors.Is(err, errPortInUse) {
			break
		}
	}
	return nil, lastErr
}

func startFunction(ctx context.Context, rie, bootstrap string, env []string, name string, timeout time.Duration, logw io.Writer) (*Function, error) {
	apiPort, err := freeLoopbackPort()
	if err != nil {
		return nil, fmt.Errorf("localaws: start function %s: pick port: %w", name, err)
	}
	runtimePort, err := freeLoopbackPort()
	if err != nil {
		return nil, fmt.Errorf("localaws: start function %s: pick port: %w", name, err)
	}
	args := []string{
		"--runtime-interface-emulator-address", loopbackAddr(apiPort),
		"--runtime-api-address", loopbackAddr(runtimePort),
		bootstrap,
	}
	proc, err := startProcess(rie, args, env, filepath.Dir(bootstrap), logw)
	if err != nil {
		return nil, fmt.Errorf("localaws: start function %s: run %s: %w", name, rie, err)
	}
	f := &Function{
		URL:     "http://" + loopbackAddr(apiPort) + "/2015-03-31/functions/function/invocations",
		Name:    name,
		proc:    proc,
		timeout: timeout,
		sem:     make(chan struct{}, 1),
		client:  &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}},
	}
	if err := waitListening(ctx, proc, loopbackAddr(apiPort), loopbackAddr(runtimePort)); err != nil {
		_ = proc.stop()
		return nil, fmt.Errorf("localaws: start function %s: %w", name, err)
	}
	return f, nil
}

// functionEnv completes env with the emulator's settings.
func functionEnv(env []string, defaultName string) ([]string, string, time.Duration, error) {
	out := make([]string, 0, len(env)+2)
	name, timeoutStr := "", ""
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "AWS_LAMBDA_MAX_CONCURRENCY":
			return nil, "", 0, fmt.Errorf("localaws: start function: AWS_LAMBDA_MAX_CONCURRENCY switches aws-lambda-rie to another mode; leave it unset")
		case "AWS_LAMBDA_FUNCTION_NAME":
			name = v
		case "AWS_LAMBDA_FUNCTION_TIMEOUT":
			timeoutStr = v
		}
		out = append(out, kv)
	}
	if name == "" {
		name = defaultName
		out = append(out, "AWS_LAMBDA_FUNCTION_NAME="+name)
	}
	secs := DefaultFunctionTimeout
	if timeoutStr == "" {
		out = append(out, "AWS_LAMBDA_FUNCTION_TIMEOUT="+strconv.Itoa(secs))
	} else {
		n, err := strconv.Atoi(timeoutStr)
		if err != nil || n <= 0 {
			return nil, "", 0, fmt.Errorf("localaws: start function: AWS_LAMBDA_FUNCTION_TIMEOUT=%q is not a positive number of seconds", timeoutStr)
		}
		secs = n
	}
	return out, name, time.Duration(secs) * time.Second, nil
}

// findRIE looks for aws-lambda-rie on PATH, then in $(go env GOPATH)/bin.
func findRIE() (string, error) {
	if p, err := exec.LookPath("aws-lambda-rie"); err == nil {
		return p, nil
	}
	if gobin, err := goTool(); err == nil {
		if out, err := exec.Command(gobin, "env", "GOPATH").Output(); err == nil {
			for _, dir := range filepath.SplitList(strings.TrimSpace(string(out))) {
				p := filepath.Join(dir, "bin", "aws-lambda-rie")
				if st, err := os.Stat(p); err == nil && !st.IsDir() {
					return p, nil
				}
			}
		}
	}
	return "", fmt.Errorf("localaws: start function: aws-lambda-rie not found on PATH or in $(go env GOPATH)/bin; %s", rieInstallHint)
}

// waitListening waits until every addr accepts TCP connections, the process
// exits, or ctx ends (30 s when ctx has no deadline).
func waitListening(ctx context.Context, proc *process, addrs ...string) error {
	ctx, cancel := withDefaultTimeout(ctx, 30*time.Second)
	defer cancel()
	pending := addrs
	for {
		var still []string
		for _, a := range pending {
			c, err := net.DialTimeout("tcp", a, 200*time.Millisecond)
			if err != nil {
				still = append(still, a)
				continue
			}
			_ = c.Close()
		}
		pending = still
		if proc.exited() {
			out := proc.out.tail(2000)
			if strings.Contains(out, "address already in use") {
				return fmt.Errorf("emulator port taken: %w; output:\n%s", errPortInUse, out)
			}
			return fmt.Errorf("emulator exited (%v) before it was ready; output:\n%s", proc.err, out)
		}
		if len(pending) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("emulator not listening on %s: %w; output:\n%s", strings.Join(pending, ", "), context.Cause(ctx), proc.out.tail(2000))
		case <-proc.done:
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Invoke sends payload to the function and returns its reply. A failure of
// the function (handler error, crash, timeout, failed init) is a Result with
// Failed() true and a nil error; the error is for the emulator itself
// failing or ctx ending.
//
// Invokes are serialised. If ctx ends while the emulator is still working,
// Invoke returns at once, but the next Invoke waits until the emulator has
// finished the abandoned one (at most the function timeout).
func (f *Function) Invoke(ctx context.Context, payload []byte) (Result, error) {
	select {
	case f.sem <- struct{}{}:
	case <-ctx.Done():
		return Result{}, fmt.Errorf("localaws: invoke %s: waiting for the previous invoke: %w", f.Name, context.Cause(ctx))
	case <-f.proc.done:
		return Result{}, fmt.Errorf("localaws: invoke %s: emulator is not running", f.Name)
	}
	type outcome struct {
		res Result
		err error
	}
	ch := make(chan outcome, 1)
	go func() {
		defer func() { <-f.sem }()
		res, err := f.invoke(payload)
		ch <- outcome{res, err}
	}()
	select {
	case o := <-ch:
		return o.res, o.err
	case <-ctx.Done():
		return Result{}, fmt.Errorf("localaws: invoke %s: %w", f.Name, context.Cause(ctx))
	}
}

func (f *Function) invoke(payload []byte) (Result, error) {
	// The emulator enforces the function timeout; this only guards against
	// an emulator that hangs.
	ctx, cancel := context.WithTimeout(context.Background(), f.timeout+30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.URL, bytes.NewReader(payload))
	if err != nil {
		return Result{}, fmt.Errorf("localaws: invoke %s: %w", f.Name, err)
	}
	resp, err := f.client.Do(req)
	if err != nil {
		return Result{}, fmt.Errorf("localaws: invoke %s: %w", f.Name, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return Result{}, fmt.Errorf("localaws: invoke %s: read reply: %w", f.Name, err)
	}
	return interpretReply(f.Name, resp.StatusCode, body)
}

// interpretReply maps the emulator's answer to a Result (see the package
// doc for the shapes).
func interpretReply(name string, status int, body []byte) (Result, error) {
	res := Result{Payload: body}
	switch status {
	case http.StatusOK:
		if bytes.HasPrefix(body, []byte("Task timed out after ")) {
			res.ErrorType, res.ErrorMessage = ErrorTypeTimeout, string(body)
			return res, nil
		}
		if typ, msg, ok := errorDocument(body); ok {
			res.ErrorType, res.ErrorMessage = typ, msg
		}
		return res, nil
	case http.StatusBadGateway:
		if typ, msg, ok := errorDocument(body); ok {
			res.ErrorType, res.ErrorMessage = typ, msg
			return res, nil
		}
		res.ErrorType = ErrorTypeInit
		res.ErrorMessage = "the function failed before it could take the event (emulator replied 502 without a body); see its output"
		return res, nil
	default:
		const max = 500
		b := body
		if len(b) > max {
			b = b[:max]
		}
		return Result{}, fmt.Errorf("localaws: invoke %s: emulator replied HTTP %d: %q", name, status, b)
	}
}

// errorDocument recognises Lambda's error reply: a JSON object with
// errorMessage and errorType and nothing else but an optional stackTrace.
func errorDocument(body []byte) (typ, msg string, ok bool) {
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(body, &doc); err != nil {
		return "", "", false
	}
	rawType, hasType := doc["errorType"]
	rawMsg, hasMsg := doc["errorMessage"]
	if !hasType || !hasMsg {
		return "", "", false
	}
	for k := range doc {
		if k != "errorType" && k != "errorMessage" && k != "stackTrace" {
			return "", "", false
		}
	}
	if json.Unmarshal(rawType, &typ) != nil || json.Unmarshal(rawMsg, &msg) != nil {
		return "", "", false
	}
	return typ, msg, true
}

// Output returns everything the emulator and the bootstrap have printed so
// far.
func (f *Function) Output() string { return f.proc.out.String() }

// WaitOutput reports whether the output contains s, waiting up to within
// for it. A reply can arrive before the lines the bootstrap printed while
// handling it have been read from the pipe they share with the emulator.
func (f *Function) WaitOutput(s string, within time.Duration) bool {
	deadline := time.Now().Add(within)
	for {
		if strings.Contains(f.proc.out.String(), s) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// PID returns the process id of aws-lambda-rie (the leader of its process
// group). The bootstrap runs as its child in a process group of its own.
func (f *Function) PID() int { return f.proc.pid() }

// BootstrapPID returns the process id of the bootstrap the emulator runs;
// the emulator starts it at the first invoke.
func (f *Function) BootstrapPID() (int, error) { return BootstrapPID(f.PID()) }

// Stop kills the emulator, the bootstrap and anything they started, and
// waits for the emulator to exit. It is idempotent.
func (f *Function) Stop() error {
	if err := f.proc.stop(); err != nil {
		return fmt.Errorf("localaws: stop function %s: %w", f.Name, err)
	}
	return nil
}
