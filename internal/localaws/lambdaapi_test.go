package localaws

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

var errRefused = errors.New("refused on the alias")

// lambdaClient is the real SDK client pointed at url.
func lambdaClient(url string) *lambda.Client {
	return lambda.New(lambda.Options{
		Region:       Region,
		BaseEndpoint: aws.String(url),
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
		Retryer:      aws.NopRetryer{},
	})
}

// TestLambdaAPIWithSDK drives LambdaAPI with aws-sdk-go-v2's Lambda
// client, as apps and tools do with AWS_ENDPOINT_URL_LAMBDA.
func TestLambdaAPIWithSDK(t *testing.T) {
	var mu sync.Mutex
	var got []string
	echo := invokerFunc(func(_ context.Context, p []byte) (Result, error) {
		mu.Lock()
		got = append(got, string(p))
		mu.Unlock()
		return Result{Payload: []byte(`{"echo":` + string(p) + `}`)}, nil
	})
	failing := invokerFunc(func(context.Context, []byte) (Result, error) {
		return Result{Payload: []byte(`{"errorType":"wrapError","errorMessage":"fyber: HTTP 500"}`), ErrorType: "wrapError", ErrorMessage: "fyber: HTTP 500"}, nil
	})
	timedOut := invokerFunc(func(context.Context, []byte) (Result, error) {
		return Result{Payload: []byte("Task timed out after 1.00 seconds"), ErrorType: ErrorTypeTimeout, ErrorMessage: "Task timed out after 1.00 seconds"}, nil
	})
	broken := invokerFunc(func(context.Context, []byte) (Result, error) {
		return Result{}, errors.New("emulator is not running")
	})
	api := NewLambdaAPI(map[string]LambdaFunction{
		"tr-echo": {Invoker: echo, Aliases: map[string]func([]byte) error{
			"reject": func(p []byte) error {
				if strings.Contains(string(p), "force") {
					return fmt.Errorf("echo: %w", errRefused)
				}
				return nil
			},
		}},
		"tr-failing": {Invoker: failing},
		"tr-timeout": {Invoker: timedOut},
		"tr-broken":  {Invoker: broken},
	})
	mux := http.NewServeMux()
	mux.Handle(LambdaInvokePath, api)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	client := lambdaClient(srv.URL)

	cases := []struct {
		name, fn, qualifier, payload string
		wantPayload                  string
		wantFuncErr                  bool
		wantAPIErr                   any // pointer to the SDK error type
		wantStatus                   int
	}{
		{name: "by name", fn: "tr-echo", payload: `{"a":1}`, wantPayload: `{"echo":{"a":1}}`},
		{name: "empty payload", fn: "tr-echo", wantPayload: `{"echo":{}}`},
		{name: "$LATEST", fn: "tr-echo", qualifier: "$LATEST", payload: `{}`, wantPayload: `{"echo":{}}`},
		{name: "alias allows", fn: "tr-echo", qualifier: "reject", payload: `{"rejected_fingerprint":"x"}`, wantPayload: `{"echo":{"rejected_fingerprint":"x"}}`},
		{name: "alias refuses", fn: "tr-echo", qualifier: "reject", payload: `{"force":true}`, wantFuncErr: true, wantPayload: `{"errorMessage":"echo: refused on the alias","errorType":"wrapError"}`},
		{name: "alias in the name", fn: "tr-echo:reject", payload: `{"force":true}`, wantFuncErr: true},
		{name: "full ARN", fn: "arn:aws:lambda:us-east-1:123456789012:function:tr-echo", payload: `{}`, wantPayload: `{"echo":{}}`},
		{name: "partial ARN with alias", fn: "123456789012:function:tr-echo:reject", payload: `{}`, wantPayload: `{"echo":{}}`},
		{name: "function error", fn: "tr-failing", payload: `{}`, wantFuncErr: true, wantPayload: `{"errorType":"wrapError","errorMessage":"fyber: HTTP 500"}`},
		{name: "timeout", fn: "tr-timeout", payload: `{}`, wantFuncErr: true, wantPayload: `{"errorMessage":"Task timed out after 1.00 seconds","errorType":"Sandbox.Timedout"}`},
		{name: "unknown function", fn: "tr-nope", payload: `{}`, wantAPIErr: new(*ltypes.ResourceNotFoundException), wantStatus: 404},
		{name: "unknown alias", fn: "tr-echo", qualifier: "live", payload: `{}`, wantAPIErr: new(*ltypes.ResourceNotFoundException), wantStatus: 404},
		{name: "version", fn: "tr-echo", qualifier: "3", payload: `{}`, wantAPIErr: new(*ltypes.ResourceNotFoundException), wantStatus: 404},
		{name: "qualifiers disagree", fn: "tr-echo:reject", qualifier: "$LATEST", payload: `{}`, wantAPIErr: new(*ltypes.InvalidParameterValueException), wantStatus: 400},
		{name: "not JSON", fn: "tr-echo", payload: `force`, wantAPIErr: new(*ltypes.InvalidRequestContentException), wantStatus: 400},
		{name: "emulator down", fn: "tr-broken", payload: `{}`, wantAPIErr: new(*ltypes.ServiceException), wantStatus: 500},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := &lambda.InvokeInput{FunctionName: aws.String(tc.fn)}
			if tc.payload != "" {
				in.Payload = []byte(tc.payload)
			}
			if tc.qualifier != "" {
				in.Qualifier = aws.String(tc.qualifier)
			}
			out, err := client.Invoke(context.Background(), in)
			if tc.wantAPIErr != nil {
				if err == nil {
					t.Fatalf("no error; reply %s", out.Payload)
				}
				if !errors.As(err, tc.wantAPIErr) {
					t.Fatalf("error %v is not a %T", err, tc.wantAPIErr)
				}
				var re interface{ HTTPStatusCode() int }
				if errors.As(err, &re) && re.HTTPStatusCode() != tc.wantStatus {
					t.Errorf("HTTP %d, want %d", re.HTTPStatusCode(), tc.wantStatus)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if out.StatusCode != 200 {
				t.Errorf("status %d", out.StatusCode)
			}
			if (out.FunctionError != nil) != tc.wantFuncErr {
				t.Errorf("FunctionError = %v, want set: %v", aws.ToString(out.FunctionError), tc.wantFuncErr)
			}
			if tc.wantFuncErr && aws.ToString(out.FunctionError) != "Unhandled" {
				t.Errorf("FunctionError = %q, want Unhandled", aws.ToString(out.FunctionError))
			}
			if tc.wantPayload != "" && string(out.Payload) != tc.wantPayload {
				t.Errorf("payload %s, want %s", out.Payload, tc.wantPayload)
			}
		})
	}
	mu.Lock()
	defer mu.Unlock()
	for _, p := range got {
		if strings.Contains(p, "force") {
			t.Errorf("a refused event reached the function: %s", p)
		}
	}
}

func TestLambdaAPIInvocationTypes(t *testing.T) {
	done := make(chan string, 1)
	api := NewLambdaAPI(map[string]LambdaFunction{
		"tr-echo": {Invoker: invokerFunc(func(_ context.Context, p []byte) (Result, error) {
			return Result{Payload: p}, nil
		})},
	})
	api.OnAsyncDone = func(name string, res Result, err error) { done <- name + " " + string(res.Payload) }
	srv := httptest.NewServer(api)
	defer srv.Close()
	client := lambdaClient(srv.URL)
	out, err := client.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String("tr-echo"), InvocationType: ltypes.InvocationTypeEvent, Payload: []byte(`{"x":1}`)})
	if err != nil || out.StatusCode != http.StatusAccepted {
		t.Fatalf("Event: %v, status %v", err, out)
	}
	select {
	case got := <-done:
		if got != `tr-echo {"x":1}` {
			t.Errorf("async invoke ran with %s", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the Event invocation never ran")
	}
	out, err = client.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String("tr-echo"), InvocationType: ltypes.InvocationTypeDryRun})
	if err != nil || out.StatusCode != http.StatusNoContent {
		t.Fatalf("DryRun: %v, status %v", err, out)
	}
	resp, err := http.Post(srv.URL+"/2015-03-31/functions/tr-echo/invocations", "application/json", strings.NewReader(strings.Repeat(" ", MaxSyncPayload+1)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge || resp.Header.Get("X-Amzn-ErrorType") != "RequestTooLargeException" {
		t.Errorf("oversized payload: HTTP %d %s", resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"))
	}
}

// TestLambdaAPIWithFunction serves a real bootstrap under aws-lambda-rie
// by its name, and a concurrent burst reaches it one at a time.
func TestLambdaAPIWithFunction(t *testing.T) {
	fn := startFunctionForTest(t, echoBootstrap(t), []string{"AWS_LAMBDA_FUNCTION_NAME=tr-echofn"})
	api := NewLambdaAPI(map[string]LambdaFunction{fn.Name: {Invoker: fn}})
	srv := httptest.NewServer(api)
	defer srv.Close()
	client := lambdaClient(srv.URL)
	var wg sync.WaitGroup
	errs := make(chan error, 6)
	for i := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			payload := fmt.Sprintf(`{"n":%d,"sleep_ms":50}`, i)
			out, err := client.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String("tr-echofn"), Payload: []byte(payload)})
			if err != nil {
				errs <- err
				return
			}
			var r struct {
				Event json.RawMessage `json:"event"`
			}
			if json.Unmarshal(out.Payload, &r) != nil || string(r.Event) != payload {
				errs <- fmt.Errorf("reply %s to %s", out.Payload, payload)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	out, err := client.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String("tr-echofn"), Payload: []byte(`{"fail":true}`)})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(out.FunctionError) != "Unhandled" || !strings.Contains(string(out.Payload), "echofn: asked to fail") {
		t.Errorf("handler error: FunctionError %q, payload %s", aws.ToString(out.FunctionError), out.Payload)
	}
}

func TestParseFunctionName(t *testing.T) {
	cases := []struct {
		raw, q, wantName, wantQ, wantErr string
	}{
		{"f", "", "f", "", ""},
		{"f", "reject", "f", "reject", ""},
		{"f:reject", "", "f", "reject", ""},
		{"f:reject", "reject", "f", "reject", ""},
		{"f:reject", "$LATEST", "", "", "does not match"},
		{"123456789012:function:f", "", "f", "", ""},
		{"arn:aws:lambda:eu-west-1:123456789012:function:f:7", "", "f", "7", ""},
		{"a:b:c:d:e", "", "", "", "is not a name"},
		{"", "", "", "", "empty"},
	}
	for _, tc := range cases {
		name, q, err := parseFunctionName(tc.raw, tc.q)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%q: error %v, want %q", tc.raw, err, tc.wantErr)
			}
			continue
		}
		if err != nil || name != tc.wantName || q != tc.wantQ {
			t.Errorf("%q %q: %q %q %v, want %q %q", tc.raw, tc.q, name, q, err, tc.wantName, tc.wantQ)
		}
	}
}

// TestLambdaAPIReservedConcurrency: with a reserved concurrency of 1, a
// RequestResponse invoke while another runs is throttled as Lambda
// throttles it, and an Event invoke waits for the unit.
func TestLambdaAPIReservedConcurrency(t *testing.T) {
	started := make(chan string, 4)
	release := make(chan struct{})
	var mu sync.Mutex
	running, most := 0, 0
	api := NewLambdaAPI(map[string]LambdaFunction{
		"tr-lane": {ReservedConcurrency: 1, Invoker: invokerFunc(func(_ context.Context, p []byte) (Result, error) {
			mu.Lock()
			running++
			most = max(most, running)
			mu.Unlock()
			started <- string(p)
			<-release
			mu.Lock()
			running--
			mu.Unlock()
			return Result{Payload: p}, nil
		})},
		"tr-free": {Invoker: invokerFunc(func(_ context.Context, p []byte) (Result, error) { return Result{Payload: p}, nil })},
	})
	done := make(chan string, 4)
	api.OnAsyncDone = func(name string, res Result, err error) { done <- string(res.Payload) }
	srv := httptest.NewServer(api)
	defer srv.Close()
	client := lambdaClient(srv.URL)
	ctx := context.Background()

	first := make(chan error, 1)
	go func() {
		_, err := client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("tr-lane"), Payload: []byte(`{"n":1}`)})
		first <- err
	}()
	if got := <-started; got != `{"n":1}` {
		t.Fatalf("first invoke ran with %s", got)
	}
	_, err := client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("tr-lane"), Payload: []byte(`{"n":2}`)})
	var tm *ltypes.TooManyRequestsException
	if !errors.As(err, &tm) || tm.Reason != ltypes.ThrottleReasonReservedFunctionConcurrentInvocationLimitExceeded {
		t.Fatalf("invoke while busy: %v, want TooManyRequestsException", err)
	}
	if n := api.Throttles("tr-lane"); n != 1 {
		t.Errorf("Throttles = %d, want 1", n)
	}
	if _, err := client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("tr-free"), Payload: []byte(`{}`)}); err != nil {
		t.Errorf("a function without a reserved concurrency: %v", err)
	}
	if _, err := client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("tr-lane"), InvocationType: ltypes.InvocationTypeEvent, Payload: []byte(`{"n":3}`)}); err != nil {
		t.Fatalf("Event while busy: %v", err)
	}
	close(release)
	if err := <-first; err != nil {
		t.Fatalf("first invoke: %v", err)
	}
	if got := <-started; got != `{"n":3}` {
		t.Errorf("the Event invoke ran with %s", got)
	}
	if got := <-done; got != `{"n":3}` {
		t.Errorf("the Event invoke replied %s", got)
	}
	mu.Lock()
	defer mu.Unlock()
	if most != 1 {
		t.Errorf("%d invocations ran at once, want 1", most)
	}
}
