package lambdafn

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/token-refresher/token-refresher/internal/localaws"
	"github.com/token-refresher/token-refresher/shared/clientcreds"
	"github.com/token-refresher/token-refresher/shared/refresh"
	"github.com/token-refresher/token-refresher/shared/secretstore"
	"github.com/token-refresher/token-refresher/shared/vendors"
)

func TestLoadLanes(t *testing.T) {
	for _, tc := range []struct {
		name, lanes, lane string
		want              Lanes
		err               string
	}{
		{name: "off", want: Lanes{Lane: -1}},
		{name: "the vendor's function", lanes: "10", want: Lanes{Count: 10, Lane: -1}},
		{name: "a lane", lanes: "10", lane: "9", want: Lanes{Count: 10, Lane: 9}},
		{name: "lane 0", lanes: "2", lane: "0", want: Lanes{Count: 2, Lane: 0}},
		{name: "one lane is no lanes", lanes: "1", err: "CONNECTION_LANES=\"1\" is not a number of lanes from 2 to 50"},
		{name: "too many", lanes: "51", err: "CONNECTION_LANES=\"51\""},
		{name: "not a number", lanes: "ten", err: "CONNECTION_LANES=\"ten\""},
		{name: "lane out of range", lanes: "4", lane: "4", err: "CONNECTION_LANE=\"4\" is not a lane from 0 to 3"},
		{name: "negative lane", lanes: "4", lane: "-1", err: "CONNECTION_LANE=\"-1\""},
		{name: "a lane without lanes", lane: "0", err: "CONNECTION_LANE is set but CONNECTION_LANES is not"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{vendors.EnvConnectionLanes: tc.lanes, vendors.EnvConnectionLane: tc.lane}
			got, err := loadLanes(func(k string) string { return env[k] })
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("loadLanes = %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
	t.Run("the vendor's function needs its name", func(t *testing.T) {
		env := map[string]string{
			"CREDENTIALS_SECRET_ID": "token-refresher/fyber/credentials", "TOKEN_SECRET_ID": "token-refresher/fyber/token",
			vendors.EnvConnectionLanes: "3",
		}
		_, err := LoadConfig(vendors.MustLookup(vendors.Fyber), func(k string) string { return env[k] })
		if err == nil || !strings.Contains(err.Error(), "AWS_LAMBDA_FUNCTION_NAME") {
			t.Fatalf("err = %v, want one naming AWS_LAMBDA_FUNCTION_NAME", err)
		}
	})
}

// invoker is a lane function in process.
type invoker func(ctx context.Context, payload []byte) (localaws.Result, error)

func (f invoker) Invoke(ctx context.Context, p []byte) (localaws.Result, error) { return f(ctx, p) }

// laneRig is a fyber function of three lanes: the vendor's function (or a
// lane) built by NewHandler, its lanes served by a real Lambda Invoke API
// on loopback, and a Secrets Manager endpoint that counts calls and fails
// them (a run handed to a lane must make none).
type laneRig struct {
	api     *localaws.LambdaAPI
	env     map[string]string
	smCalls atomic.Int64

	mu      sync.Mutex
	invoked map[string][]string // lane function -> payloads
	reply   func(lane string, payload []byte) (localaws.Result, error)
	// echo replies a refresh of the event's connection.
	echo func(lane string, payload []byte) (localaws.Result, error)
}

const rigLanes = 3

// rigConnections has a connection in every lane of three.
var rigConnections = []string{"acme", "globex", "initech", "umbrella", "hooli", "stark"}

func newLaneRig(t *testing.T) *laneRig {
	t.Helper()
	rig := &laneRig{invoked: map[string][]string{}}
	rig.echo = func(_ string, p []byte) (localaws.Result, error) {
		var ev refresh.Event
		_ = json.Unmarshal(p, &ev)
		if ev.Connection == "" {
			ev.Connection = vendors.DefaultConnection
		}
		b, _ := json.Marshal(refresh.Summary{Vendor: vendors.Fyber, Connection: ev.Connection, Action: refresh.ActionRefreshed, Fingerprint: "0123456789abcdef"})
		return localaws.Result{Payload: b}, nil
	}
	rig.reply = rig.echo
	fns := map[string]localaws.LambdaFunction{}
	lanes := map[int]bool{}
	for _, c := range rigConnections {
		lanes[vendors.LaneOf(c, rigLanes)] = true
	}
	if len(lanes) != rigLanes {
		t.Fatalf("the rig's connections use %d of %d lanes", len(lanes), rigLanes)
	}
	for i := range rigLanes {
		name := vendors.LaneFunctionName("token-refresher-fyber", i)
		fns[name] = localaws.LambdaFunction{ReservedConcurrency: 1, Invoker: invoker(func(_ context.Context, p []byte) (localaws.Result, error) {
			rig.mu.Lock()
			rig.invoked[name] = append(rig.invoked[name], string(p))
			reply := rig.reply
			rig.mu.Unlock()
			return reply(name, p)
		})}
	}
	rig.api = localaws.NewLambdaAPI(fns)
	lam := httptest.NewServer(rig.api)
	t.Cleanup(lam.Close)
	sm := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rig.smCalls.Add(1)
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("X-Amzn-ErrorType", "AccessDeniedException")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"__type":"AccessDeniedException","message":"denied"}`))
	}))
	t.Cleanup(sm.Close)
	rig.env = map[string]string{
		"AWS_REGION":                       "eu-west-1",
		"AWS_ACCESS_KEY_ID":                "test",
		"AWS_SECRET_ACCESS_KEY":            "test",
		"AWS_ENDPOINT_URL_SECRETS_MANAGER": sm.URL,
		"AWS_ENDPOINT_URL_LAMBDA":          lam.URL,
		"AWS_LAMBDA_FUNCTION_NAME":         "token-refresher-fyber",
		"CREDENTIALS_SECRET_ID":            "token-refresher/fyber/credentials",
		"TOKEN_SECRET_ID":                  "token-refresher/fyber/token",
		"NAME_PREFIX":                      "token-refresher",
		"CONNECTIONS":                      strings.Join(rigConnections, ","),
		vendors.EnvConnectionLanes:         "3",
		"TOKEN_URL":                        "http://127.0.0.1:1/auth/v1/token",
	}
	return rig
}

// handler builds the function with extra environment over the rig's.
func (rig *laneRig) handler(t *testing.T, set map[string]string) *Handler {
	t.Helper()
	env := map[string]string{}
	for k, v := range rig.env {
		env[k] = v
	}
	for k, v := range set {
		env[k] = v
	}
	h, err := NewHandler(context.Background(), vendors.MustLookup(vendors.Fyber), func(k string) string { return env[k] },
		func(c Config, _ *secretstore.Store) (refresh.Vendor, error) { return clientcreds.New(c.Spec) }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func (rig *laneRig) invocations() map[string][]string {
	rig.mu.Lock()
	defer rig.mu.Unlock()
	out := map[string][]string{}
	for k, v := range rig.invoked {
		out[k] = append([]string(nil), v...)
	}
	return out
}

// viaAlias is the context of an invocation through the function's
// qualifier (the reject alias), as Lambda gives it.
func viaAlias(qualifier string) context.Context {
	return lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{
		AwsRequestID:       "req-1",
		InvokedFunctionArn: "arn:aws:lambda:eu-west-1:123456789012:function:token-refresher-fyber" + qualifier,
	})
}

func TestTheVendorFunctionHandsEveryRunToItsLane(t *testing.T) {
	for _, tc := range []struct {
		name, event, qualifier string
	}{
		{name: "scheduled", event: `{"connection":"%s"}`},
		{name: "the default connection", event: `{}`},
		{name: "forced by an operator", event: `{"connection":"%s","force":true}`},
		{name: "rejected through the alias", event: `{"connection":"%s","rejected_fingerprint":"0123456789abcdef"}`, qualifier: ":" + vendors.RejectAlias},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rig := newLaneRig(t)
			h := rig.handler(t, nil)
			conns := rigConnections
			if !strings.Contains(tc.event, "%s") {
				conns = []string{vendors.DefaultConnection}
			}
			for _, conn := range conns {
				payload := strings.ReplaceAll(tc.event, "%s", conn)
				rig.mu.Lock()
				rig.reply = rig.echo
				rig.mu.Unlock()
				sum, err := h.Invoke(viaAlias(tc.qualifier), json.RawMessage(payload))
				if err != nil || sum.Connection != conn || sum.Action != refresh.ActionRefreshed || sum.Fingerprint != "0123456789abcdef" {
					t.Fatalf("%s: %+v, %v", conn, sum, err)
				}
				lane := vendors.LaneFunctionName("token-refresher-fyber", vendors.LaneOf(conn, rigLanes))
				got := rig.invocations()[lane]
				if len(got) == 0 || got[len(got)-1] != payload {
					t.Errorf("%s: lane %s got %q, want the event %s as sent", conn, lane, got, payload)
				}
			}
			total := 0
			for _, p := range rig.invocations() {
				total += len(p)
			}
			if total != len(conns) {
				t.Errorf("%d lane invocations for %d runs", total, len(conns))
			}
			if n := rig.smCalls.Load(); n != 0 {
				t.Errorf("the vendor's function made %d Secrets Manager calls for runs it handed on", n)
			}
		})
	}
}

func TestTheVendorFunctionRefusesBeforeHandingOn(t *testing.T) {
	rig := newLaneRig(t)
	h := rig.handler(t, nil)
	for _, tc := range []struct {
		name, event, qualifier, errorType string
	}{
		{name: "an unknown connection is refused", event: `{"connection":"wayne"}`, errorType: ErrorTypeUnknownConnection},
		{name: "force through the alias is refused", event: `{"connection":"acme","force":true}`, qualifier: ":" + vendors.RejectAlias, errorType: ErrorTypeForceRefused},
		{name: "an invalid event is refused", event: `{"connection":"acme","rejected_fingerprint":"nope"}`, errorType: ErrorTypeInvalidEvent},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := rig.smCalls.Load()
			_, err := h.Invoke(viaAlias(tc.qualifier), json.RawMessage(tc.event))
			if got := ErrorType(err); got != tc.errorType {
				t.Fatalf("errorType %q (%v), want %q", got, err, tc.errorType)
			}
			if rig.smCalls.Load() != before {
				t.Error("refused after a Secrets Manager call")
			}
			if n := len(rig.invocations()); n != 0 {
				t.Errorf("a lane was invoked: %v", rig.invocations())
			}
		})
	}
}

func TestALaneRunsOnlyItsOwnConnections(t *testing.T) {
	rig := newLaneRig(t)
	for lane := range rigLanes {
		h := rig.handler(t, map[string]string{vendors.EnvConnectionLane: string(rune('0' + lane)), "AWS_LAMBDA_FUNCTION_NAME": vendors.LaneFunctionName("token-refresher-fyber", lane)})
		for _, conn := range append([]string{"default"}, rigConnections...) {
			before := rig.smCalls.Load()
			_, err := h.Invoke(context.Background(), json.RawMessage(`{"connection":"`+conn+`"}`))
			own := vendors.LaneOf(conn, rigLanes) == lane
			switch {
			case own && !strings.HasPrefix(ErrorType(err), "SecretsManager"):
				// Its own connection runs: the rig's Secrets Manager refuses.
				t.Errorf("lane %d, %s: %v, want its run to reach Secrets Manager", lane, conn, err)
			case !own && (ErrorType(err) != ErrorTypeUnknownConnection || !errors.Is(err, ErrWrongLane)):
				t.Errorf("lane %d, %s: %v, want UnknownConnection", lane, conn, err)
			case !own && rig.smCalls.Load() != before:
				t.Errorf("lane %d, %s: refused after a Secrets Manager call", lane, conn)
			}
		}
	}
	if n := len(rig.invocations()); n != 0 {
		t.Errorf("a lane handed a run on: %v", rig.invocations())
	}
}

func TestALaneFailureKeepsItsErrorType(t *testing.T) {
	rig := newLaneRig(t)
	h := rig.handler(t, nil)
	for _, tc := range []struct {
		name      string
		result    localaws.Result
		errorType string
		message   string
	}{
		{
			name:      "the lane's error",
			result:    localaws.Result{Payload: []byte(`{"errorType":"VendorRejected","errorMessage":"fyber: connection acme: HTTP 401 invalid_client"}`), ErrorType: "VendorRejected", ErrorMessage: "fyber: connection acme: HTTP 401 invalid_client"},
			errorType: ErrorTypeVendorRejected, message: "fyber: connection acme: HTTP 401 invalid_client",
		},
		{
			name:      "a lane that timed out",
			result:    localaws.Result{Payload: []byte(`{"errorType":"Sandbox.Timedout","errorMessage":"Task timed out after 60.00 seconds"}`), ErrorType: "Sandbox.Timedout", ErrorMessage: "Task timed out after 60.00 seconds"},
			errorType: "Sandbox.Timedout", message: "Task timed out after 60.00 seconds",
		},
		{
			name:      "a reply that is not a run's",
			result:    localaws.Result{Payload: []byte(`"hello"`)},
			errorType: ErrorTypeLaneUnavailable, message: "replied with something that is not a run's reply",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rig.mu.Lock()
			rig.reply = func(string, []byte) (localaws.Result, error) { return tc.result, nil }
			rig.mu.Unlock()
			_, err := h.Invoke(context.Background(), json.RawMessage(`{"connection":"acme"}`))
			le, ok := LambdaError(err).(messages.InvokeResponse_Error)
			if !ok || le.Type != tc.errorType || !strings.Contains(le.Message, tc.message) {
				t.Fatalf("Lambda error %+v, want %s with %q", le, tc.errorType, tc.message)
			}
		})
	}
}

// TestABusyLaneIsWaitedFor: a lane runs one connection at a time; the
// vendor's function retries a throttled hand-over until the lane is free,
// and gives up, with LaneUnavailable, at its deadline.
func TestABusyLaneIsWaitedFor(t *testing.T) {
	rig := newLaneRig(t)
	h := rig.handler(t, nil)
	conn := "acme"
	lane := vendors.LaneFunctionName("token-refresher-fyber", vendors.LaneOf(conn, rigLanes))
	// The lane is busy with a run of another connection of its own.
	other := ""
	for _, c := range rigConnections {
		if c != conn && vendors.LaneOf(c, rigLanes) == vendors.LaneOf(conn, rigLanes) {
			other = c
		}
	}
	if other == "" {
		t.Fatal("the rig has no two connections in one lane")
	}
	release := make(chan struct{})
	busy := make(chan struct{})
	rig.mu.Lock()
	inner := rig.reply
	rig.reply = func(lane string, p []byte) (localaws.Result, error) {
		if bytes.Contains(p, []byte(`"`+other+`"`)) {
			close(busy)
			<-release
		}
		return inner(lane, p)
	}
	rig.mu.Unlock()
	holder := make(chan error, 1)
	go func() {
		_, err := h.Invoke(context.Background(), json.RawMessage(`{"connection":"`+other+`"}`))
		holder <- err
	}()
	<-busy

	t.Run("given up at the deadline", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		_, err := h.Invoke(ctx, json.RawMessage(`{"connection":"`+conn+`"}`))
		if ErrorType(err) != ErrorTypeLaneUnavailable || !strings.Contains(err.Error(), lane) {
			t.Fatalf("err = %v (%s), want LaneUnavailable naming %s", err, ErrorType(err), lane)
		}
		if rig.api.Throttles(lane) == 0 {
			t.Error("the lane never refused a hand-over")
		}
	})
	t.Run("waited for", func(t *testing.T) {
		before := rig.api.Throttles(lane)
		done := make(chan error, 1)
		go func() {
			_, err := h.Invoke(context.Background(), json.RawMessage(`{"connection":"`+conn+`"}`))
			done <- err
		}()
		deadline := time.Now().Add(30 * time.Second)
		for rig.api.Throttles(lane) <= before {
			if time.Now().After(deadline) {
				t.Fatal("the hand-over was never throttled")
			}
			time.Sleep(10 * time.Millisecond)
		}
		close(release)
		if err := <-holder; err != nil {
			t.Fatalf("the run that held the lane: %v", err)
		}
		if err := <-done; err != nil {
			t.Fatalf("the waiting run: %v", err)
		}
		got := rig.invocations()[lane]
		if last := got[len(got)-1]; last != `{"connection":"`+conn+`"}` {
			t.Errorf("the lane's last run was %s", last)
		}
	})
}

func TestNewLambdaAPI(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string // the endpoint, or what the error names
		err  bool
	}{
		{name: "its own variable", env: map[string]string{"AWS_ENDPOINT_URL_LAMBDA": "http://127.0.0.1:4001"}, want: "http://127.0.0.1:4001"},
		{name: "the general one", env: map[string]string{"AWS_ENDPOINT_URL": "http://127.0.0.1:4002/"}, want: "http://127.0.0.1:4002"},
		{name: "its own first", env: map[string]string{"AWS_ENDPOINT_URL": "http://127.0.0.1:4002", "AWS_ENDPOINT_URL_LAMBDA": "http://127.0.0.1:4001"}, want: "http://127.0.0.1:4001"},
		{name: "both ignored", env: map[string]string{"AWS_ENDPOINT_URL": "http://127.0.0.1:4002", "AWS_ENDPOINT_URL_LAMBDA": "http://127.0.0.1:4001", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true"}, want: "https://lambda.eu-west-1.amazonaws.com"},
		{name: "the region's", want: "https://lambda.eu-west-1.amazonaws.com"},
		{name: "FIPS", env: map[string]string{"AWS_USE_FIPS_ENDPOINT": "true"}, want: "https://lambda-fips.eu-west-1.amazonaws.com"},
		{name: "not a URL", env: map[string]string{"AWS_ENDPOINT_URL_LAMBDA": "127.0.0.1:4001"}, want: "AWS_ENDPOINT_URL_LAMBDA", err: true},
		{name: "FIPS with a custom endpoint", env: map[string]string{"AWS_ENDPOINT_URL_LAMBDA": "http://127.0.0.1:4001", "AWS_USE_FIPS_ENDPOINT": "true"}, want: "AWS_USE_FIPS_ENDPOINT", err: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{"AWS_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}
			for k, v := range tc.env {
				env[k] = v
			}
			getenv := func(k string) string { return env[k] }
			cfg, err := AWSConfig(getenv)
			if err != nil {
				if tc.err && strings.Contains(err.Error(), tc.want) {
					return
				}
				t.Fatal(err)
			}
			c, err := newLambdaAPI(cfg, getenv)
			if tc.err {
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("err = %v, want one naming %s", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.endpoint != tc.want {
				t.Errorf("endpoint %q, want %q", c.endpoint, tc.want)
			}
		})
	}
}

// TestLambdaEndpoint: the endpoint derived from Secrets Manager's rules is
// the one the SDK's Lambda client resolves, in every partition.
func TestLambdaEndpoint(t *testing.T) {
	regions := []string{"us-east-1", "eu-west-1", "ap-southeast-2", "sa-east-1", "ca-central-1", "me-central-1", "il-central-1",
		"cn-north-1", "cn-northwest-1", "us-gov-west-1", "us-gov-east-1", "us-iso-east-1", "us-isob-east-1", "eu-isoe-west-1", "us-isof-south-1"}
	for _, region := range regions {
		for _, fips := range []bool{false, true} {
			for _, dual := range []bool{false, true} {
				want, werr := lambda.NewDefaultEndpointResolverV2().ResolveEndpoint(context.Background(), lambda.EndpointParameters{
					Region: aws.String(region), UseFIPS: aws.Bool(fips), UseDualStack: aws.Bool(dual),
				})
				got, err := lambdaEndpoint(region, fips, dual)
				switch {
				case werr != nil && err == nil:
					t.Errorf("%s fips=%v dual-stack=%v: %s, but the SDK has none: %v", region, fips, dual, got, werr)
				case werr == nil && err != nil:
					t.Errorf("%s fips=%v dual-stack=%v: %v, want %s", region, fips, dual, err, want.URI.String())
				case werr == nil && got != strings.TrimSuffix(want.URI.String(), "/"):
					t.Errorf("%s fips=%v dual-stack=%v: %s, want %s", region, fips, dual, got, want.URI.String())
				}
			}
		}
	}
}

// TestInvokeIsSigned: the request carries a SigV4 signature for Lambda in
// the function's region that matches the request as it arrived.
func TestInvokeIsSigned(t *testing.T) {
	const key, secret, session = "AKIDEXAMPLE", "wJalrXUtnFEMI-VALUE-K7MDENG", "session-VALUE-token"
	var problem atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		problem.Store(checkSigV4(r, body, aws.Credentials{AccessKeyID: key, SecretAccessKey: secret, SessionToken: session}))
		if r.URL.EscapedPath() != "/2015-03-31/functions/token-refresher-fyber-lane-3/invocations" || r.Header.Get("X-Amz-Invocation-Type") != "RequestResponse" {
			problem.Store(fmt.Sprintf("request %s %s, invocation type %q", r.Method, r.URL.EscapedPath(), r.Header.Get("X-Amz-Invocation-Type")))
		}
		w.Header().Set("X-Amz-Function-Error", "Unhandled")
		_, _ = w.Write([]byte(`{"errorType":"VendorRejected","errorMessage":"m"}`))
	}))
	defer srv.Close()
	env := map[string]string{"AWS_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": secret, "AWS_SESSION_TOKEN": session, "AWS_ENDPOINT_URL_LAMBDA": srv.URL}
	cfg, err := AWSConfig(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	c, err := newLambdaAPI(cfg, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.invoke(context.Background(), "token-refresher-fyber-lane-3", []byte(`{"connection":"acme"}`))
	if err != nil || out.FunctionError != "Unhandled" || string(out.Payload) != `{"errorType":"VendorRejected","errorMessage":"m"}` {
		t.Fatalf("invoke = %+v, %v", out, err)
	}
	if p, _ := problem.Load().(string); p != "" {
		t.Fatal(p)
	}
}

// checkSigV4 signs again, with creds, a request made of what r's signature
// says it signed, and compares; "" when they match.
func checkSigV4(r *http.Request, body []byte, creds aws.Credentials) string {
	auth := r.Header.Get("Authorization")
	var scope, signed, sig string
	for _, part := range strings.Split(strings.TrimPrefix(auth, "AWS4-HMAC-SHA256 "), ", ") {
		k, v, _ := strings.Cut(part, "=")
		switch k {
		case "Credential":
			scope = v
		case "SignedHeaders":
			signed = v
		case "Signature":
			sig = v
		}
	}
	if !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 ") || !strings.HasSuffix(scope, "/eu-west-1/lambda/aws4_request") || !strings.HasPrefix(scope, creds.AccessKeyID+"/") {
		return "Authorization " + auth + " is not SigV4 for lambda in eu-west-1"
	}
	if r.Header.Get("X-Amz-Security-Token") != creds.SessionToken {
		return "no session token"
	}
	at, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil {
		return "X-Amz-Date: " + err.Error()
	}
	again, _ := http.NewRequest(r.Method, "http://"+r.Host+r.URL.RequestURI(), bytes.NewReader(body))
	for _, h := range strings.Split(signed, ";") {
		if h != "host" && h != "content-length" {
			again.Header.Set(h, r.Header.Get(h))
		}
	}
	again.Header.Del("Authorization")
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, again, hex.EncodeToString(sum[:]), "lambda", "eu-west-1", at); err != nil {
		return err.Error()
	}
	if !strings.HasSuffix(again.Header.Get("Authorization"), "Signature="+sig) {
		return "the signature does not match the request"
	}
	return ""
}
