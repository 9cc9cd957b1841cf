package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// fakeLambda records invocations and answers with reply.
type fakeLambda struct {
	err      error
	mu       sync.Mutex
	names    []string
	payloads []string
	reply    func(payload []byte) []byte
}

func (f *fakeLambda) Invoke(_ context.Context, in *lambda.InvokeInput, _ ...func(*lambda.Options)) (*lambda.InvokeOutput, error) {
	f.mu.Lock()
	f.names = append(f.names, aws.ToString(in.FunctionName))
	f.payloads = append(f.payloads, string(in.Payload))
	f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	return &lambda.InvokeOutput{StatusCode: 200, Payload: f.reply(in.Payload)}, nil
}

// echoReply answers as a refresher that knows connections would.
func echoReply(vendor string) func([]byte) []byte {
	return func(p []byte) []byte {
		var ev forceEvent
		_ = json.Unmarshal(p, &ev)
		b, _ := json.Marshal(map[string]string{"vendor": vendor, "action": "refreshed", "fingerprint": "0123456789abcdef",
			"expires_at": "2025-03-01T13:00:00Z", "connection": map[bool]string{true: ev.Connection, false: "default"}[ev.Connection != ""]})
		return b
	}
}

// runFake runs tokenctl with a fake Lambda client; stderr may be a
// terminal.
func runFake(t *testing.T, fl *fakeLambda, stderrTerminal bool, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	e := &env{
		stdin: strings.NewReader(""), stdout: &out, stderr: &errOut,
		getenv: func(string) string { return "" },
		now:    func() time.Time { return t0 },
		clients: func(context.Context) (clientSet, error) {
			return clientSet{lambda: fl, region: "eu-west-1"}, nil
		},
		stderrTerminal: stderrTerminal,
	}
	code := run(context.Background(), args, e)
	return result{code: code, stdout: out.String(), stderr: errOut.String()}
}

// refresh invokes the unqualified function <prefix>-<vendor> and sends a
// connection only for a named one.
func TestRefreshEvent(t *testing.T) {
	tests := []struct {
		args     []string
		vendor   string
		function string
		payload  string
		out      string
	}{
		{[]string{"refresh", "fyber"}, "fyber", "token-refresher-fyber", `{"force":true}`,
			"fyber: refreshed, fingerprint 0123456789abcdef, expires 2025-03-01T13:00:00Z (in 1h)\n"},
		{[]string{"refresh", "fyber/default"}, "fyber", "token-refresher-fyber", `{"force":true}`, "fyber: refreshed"},
		{[]string{"--prefix", "tr-stage", "refresh", "merchenta/acme"}, "merchenta", "tr-stage-merchenta", `{"force":true,"connection":"acme"}`,
			"merchenta/acme: refreshed"},
		{[]string{"refresh", "merchenta/acme", "--function", "function"}, "merchenta", "function", `{"force":true,"connection":"acme"}`, "merchenta/acme: refreshed"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			fl := &fakeLambda{reply: echoReply(tt.vendor)}
			r := runFake(t, fl, false, tt.args...)
			if r.code != exitOK {
				t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
			}
			if len(fl.names) != 1 || fl.names[0] != tt.function || fl.payloads[0] != tt.payload {
				t.Errorf("invoked %q with %q, want %s with %s", fl.names, fl.payloads, tt.function, tt.payload)
			}
			if !strings.HasPrefix(r.stdout, tt.out) {
				t.Errorf("stdout %q, want it to start %q", r.stdout, tt.out)
			}
			if r.stderr != "" {
				t.Errorf("piped stderr got %q; progress belongs on a terminal only", r.stderr)
			}
		})
	}

	// A reply for another connection is refused.
	fl := &fakeLambda{reply: func([]byte) []byte {
		return []byte(`{"vendor":"merchenta","action":"refreshed","connection":"other"}`)
	}}
	if r := runFake(t, fl, false, "refresh", "merchenta/acme"); r.code != exitFail || !strings.Contains(r.stderr, `replied for connection "other", not acme`) {
		t.Errorf("other connection: exit %d, stderr %q", r.code, r.stderr)
	}
	// A function that does not exist: wrong --prefix or region.
	fl = &fakeLambda{err: &lambdatypes.ResourceNotFoundException{Message: aws.String("Function not found")}}
	if r := runFake(t, fl, false, "--prefix", "typo", "refresh", "fyber"); r.code != exitFail ||
		!strings.Contains(r.stderr, `function typo-fyber: not found in region eu-west-1: check --prefix (now "typo")`) {
		t.Errorf("missing function: exit %d, stderr %q", r.code, r.stderr)
	}
	// --json prints the reply, parsed back here.
	fl = &fakeLambda{reply: echoReply("fyber")}
	r := runFake(t, fl, false, "refresh", "fyber", "--json")
	var got refreshReply
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || got.Vendor != "fyber" || got.Action != "refreshed" || got.Connection != "default" {
		t.Errorf("--json printed %q (%v)", r.stdout, err)
	}
}

// On a terminal, refresh says what it waits on, and clears the line.
func TestRefreshProgress(t *testing.T) {
	fl := &fakeLambda{reply: echoReply("fyber")}
	r := runFake(t, fl, true, "refresh", "fyber")
	if r.code != exitOK {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "refresh fyber: waiting on function token-refresher-fyber") || !strings.HasSuffix(r.stderr, "\r\x1b[K") {
		t.Errorf("stderr %q: want the waiting line, then the line cleared", r.stderr)
	}
	if strings.Contains(r.stdout, "waiting") {
		t.Errorf("progress went to stdout: %q", r.stdout)
	}
}
