package functions_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/token-refresher/token-refresher/internal/localaws"
	"github.com/token-refresher/token-refresher/internal/smfault"
	"github.com/token-refresher/token-refresher/shared/fyber/fybertest"
	"github.com/token-refresher/token-refresher/shared/lambdafn"
	"github.com/token-refresher/token-refresher/shared/refresh"
	"github.com/token-refresher/token-refresher/shared/vendors"
	"github.com/token-refresher/token-refresher/shared/vendortest"
)

// vendorGate sits in front of a vendor test server. It knows which
// connection each token request is for (by its client_id), counts the
// requests in flight, per lane and in all, and holds them while closed.
type vendorGate struct {
	lanes int
	ids   map[string]string // client_id -> connection

	mu       sync.Mutex
	cond     *sync.Cond
	closed   bool
	inFlight map[string]int // connection -> requests
	perLane  map[int]int
	total    int
	// mostPerConn and mostPerLane are the most requests seen at once
	// for one connection and in one lane; mostTotal in all.
	mostPerConn, mostPerLane, mostTotal int
	calls                               map[string]int
}

func newVendorGate(t *testing.T, upstream string, lanes int, ids map[string]string) (*vendorGate, string) {
	t.Helper()
	g := &vendorGate{lanes: lanes, ids: ids, inFlight: map[string]int{}, perLane: map[int]int{}, calls: map[string]int{}}
	g.cond = sync.NewCond(&g.mu)
	u, _ := url.Parse(upstream)
	proxy := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		conn := ""
		for id, c := range g.ids {
			if bytes.Contains(body, []byte(`"`+id+`"`)) {
				conn = c
			}
		}
		lane := vendors.LaneOf(conn, g.lanes)
		g.mu.Lock()
		g.calls[conn]++
		g.inFlight[conn]++
		g.perLane[lane]++
		g.total++
		g.mostPerConn = max(g.mostPerConn, g.inFlight[conn])
		g.mostPerLane = max(g.mostPerLane, g.perLane[lane])
		g.mostTotal = max(g.mostTotal, g.total)
		g.cond.Broadcast()
		for g.closed {
			g.cond.Wait()
		}
		g.mu.Unlock()
		proxy.ServeHTTP(w, r)
		g.mu.Lock()
		g.inFlight[conn]--
		g.perLane[lane]--
		g.total--
		g.cond.Broadcast()
		g.mu.Unlock()
	}))
	t.Cleanup(func() {
		g.open()
		srv.Close()
	})
	return g, srv.URL
}

func (g *vendorGate) close() { g.mu.Lock(); g.closed = true; g.mu.Unlock() }

func (g *vendorGate) open() {
	g.mu.Lock()
	g.closed = false
	g.cond.Broadcast()
	g.mu.Unlock()
}

// waitFor waits until cond holds of the gate (checked under its lock)
// or the deadline passes.
func (g *vendorGate) waitFor(t *testing.T, what string, cond func(g *vendorGate) bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	timer := time.AfterFunc(time.Until(deadline), func() { g.mu.Lock(); g.cond.Broadcast(); g.mu.Unlock() })
	defer timer.Stop()
	g.mu.Lock()
	defer g.mu.Unlock()
	for !cond(g) {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		g.cond.Wait()
	}
}

// countingInvoker records how many invocations a function got.
type countingInvoker struct {
	inner localaws.Invoker
	mu    sync.Mutex
	got   []string
}

func (c *countingInvoker) Invoke(ctx context.Context, p []byte) (localaws.Result, error) {
	c.mu.Lock()
	c.got = append(c.got, string(p))
	c.mu.Unlock()
	return c.inner.Invoke(ctx, p)
}

func (c *countingInvoker) payloads() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.got...)
}

// envPool is a function's execution environments: an invoke takes a free
// one. LambdaAPI's reserved concurrency keeps invokes within their
// number.
type envPool chan *localaws.Function

func (p envPool) Invoke(ctx context.Context, payload []byte) (localaws.Result, error) {
	select {
	case f := <-p:
		defer func() { p <- f }()
		return f.Invoke(ctx, payload)
	case <-ctx.Done():
		return localaws.Result{}, ctx.Err()
	}
}

// TestLanes runs Fyber's function and two lanes as real bootstraps under
// aws-lambda-rie, behind a Lambda Invoke API that applies their reserved
// concurrency of 1, against moto_server: connections of different lanes
// run at once, the runs of one connection never overlap whoever asks for
// them, and a lane serves no connection but its own.
func TestLanes(t *testing.T) {
	const lanes = 2
	ctx := context.Background()
	moto := localaws.MotoForTest(t)
	sm, err := moto.SecretsManager(ctx)
	if err != nil {
		t.Fatal(err)
	}
	proxy, err := smfault.New(moto.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proxy.Close)
	srv := fybertest.NewServer(vendortest.Options{})
	t.Cleanup(srv.Close)

	// Two connections in lane 0 and one in lane 1.
	var lane0, lane1 []string
	for i := 0; len(lane0) < 2 || len(lane1) < 1; i++ {
		name := fmt.Sprintf("adv%d", i)
		if vendors.LaneOf(name, lanes) == 0 && len(lane0) < 2 {
			lane0 = append(lane0, name)
		} else if vendors.LaneOf(name, lanes) == 1 && len(lane1) < 1 {
			lane1 = append(lane1, name)
		}
	}
	a, b, c := lane0[0], lane0[1], lane1[0] // a and b share lane 0
	// moto is shared by the package's tests: names of this run only.
	prefix := "lanes-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	ids := map[string]string{}
	for _, conn := range []string{vendors.DefaultConnection, a, b, c} {
		creds := vendortest.Credentials(vendors.Fyber)
		if conn != vendors.DefaultConnection {
			creds = map[string]string{"client_id": "id-of-" + conn, "client_secret": "secret-of-" + conn + "-0123456789"}
			srv.AddAccount(conn, creds)
		}
		ids[creds["client_id"]] = conn
		body, _ := json.Marshal(creds)
		for role, v := range map[string]string{vendors.RoleCredentials: string(body), vendors.RoleToken: "Q7#generated"} {
			if _, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(vendors.SecretName(prefix, vendors.Fyber, conn, role)), SecretString: aws.String(v)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	gate, vendorURL := newVendorGate(t, srv.URL(), lanes, ids)
	tokenURL := vendorURL + strings.TrimPrefix(srv.TokenURL(), srv.URL())

	var api *localaws.LambdaAPI
	lambdaAPI := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { api.ServeHTTP(w, r) }))
	t.Cleanup(lambdaAPI.Close)

	front := vendors.FunctionName(prefix, vendors.Fyber)
	base := append(viaProxy(moto.Env(), proxy),
		"CREDENTIALS_SECRET_ID="+vendors.SecretName(prefix, vendors.Fyber, "", vendors.RoleCredentials),
		"TOKEN_SECRET_ID="+vendors.SecretName(prefix, vendors.Fyber, "", vendors.RoleToken),
		"NAME_PREFIX="+prefix,
		"CONNECTIONS="+strings.Join([]string{a, b, c}, ","),
		"TOKEN_URL="+tokenURL,
		fmt.Sprintf("%s=%d", vendors.EnvConnectionLanes, lanes),
		"AWS_LAMBDA_FUNCTION_TIMEOUT=60",
	)
	fns := map[string]*countingInvoker{}
	// The vendor's function runs in as many execution environments as it
	// has lanes (one emulator serves one invoke at a time).
	pool := make(envPool, lanes)
	for range lanes {
		pool <- localaws.FunctionForTest(t, vendors.Fyber, append(base,
			"AWS_LAMBDA_FUNCTION_NAME="+front, "AWS_ENDPOINT_URL_LAMBDA="+lambdaAPI.URL))
	}
	fns[front] = &countingInvoker{inner: pool}
	for i := range lanes {
		name := vendors.LaneFunctionName(front, i)
		fns[name] = &countingInvoker{inner: localaws.FunctionForTest(t, vendors.Fyber, append(base,
			"AWS_LAMBDA_FUNCTION_NAME="+name, fmt.Sprintf("%s=%d", vendors.EnvConnectionLane, i)))}
	}
	served := map[string]localaws.LambdaFunction{}
	for name, inv := range fns {
		served[name] = localaws.LambdaFunction{Invoker: inv, ReservedConcurrency: 1}
	}
	// Apps invoke the vendor's function through its reject alias; the
	// stack gives it a reserved concurrency of one per lane.
	served[front] = localaws.LambdaFunction{Invoker: fns[front], ReservedConcurrency: lanes, Aliases: map[string]func([]byte) error{vendors.RejectAlias: nil}}
	api = localaws.NewLambdaAPI(served)
	asyncDone := make(chan localaws.Result, 8)
	api.OnAsyncDone = func(_ string, res localaws.Result, err error) {
		if err != nil {
			res.ErrorMessage = err.Error()
		}
		asyncDone <- res
	}
	client := lambda.NewFromConfig(aws.Config{
		Region:      localaws.Region,
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""),
	}, func(o *lambda.Options) { o.BaseEndpoint = aws.String(lambdaAPI.URL) })

	// invoke calls fn synchronously, as an app or operator does.
	invoke := func(fn, payload string) (refresh.Summary, string, string) {
		t.Helper()
		ictx, cancel := context.WithTimeout(ctx, 90*time.Second)
		defer cancel()
		out, err := client.Invoke(ictx, &lambda.InvokeInput{FunctionName: aws.String(fn), Payload: []byte(payload)})
		if err != nil {
			t.Fatalf("invoke %s: %v", fn, err)
		}
		if out.FunctionError != nil {
			var doc struct{ ErrorMessage, ErrorType string }
			_ = json.Unmarshal(out.Payload, &doc)
			return refresh.Summary{}, doc.ErrorType, doc.ErrorMessage
		}
		var s refresh.Summary
		if err := json.Unmarshal(out.Payload, &s); err != nil {
			t.Fatalf("reply of %s: %s", fn, out.Payload)
		}
		return s, "", ""
	}
	// schedule invokes a lane asynchronously, as a connection's schedule
	// does.
	schedule := func(conn string) {
		t.Helper()
		lane := vendors.LaneFunctionName(front, vendors.LaneOf(conn, lanes))
		if _, err := client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(lane), InvocationType: ltypes.InvocationTypeEvent,
			Payload: []byte(`{"connection":"` + conn + `","force":true}`)}); err != nil {
			t.Fatalf("schedule %s: %v", conn, err)
		}
	}
	awaitAsync := func(n int) {
		t.Helper()
		for range n {
			select {
			case res := <-asyncDone:
				if res.Failed() {
					t.Errorf("a scheduled run failed: %s %s", res.ErrorType, res.ErrorMessage)
				}
			case <-time.After(90 * time.Second):
				t.Fatal("a scheduled run never ended")
			}
		}
	}
	published := func(conn string) string {
		t.Helper()
		tok, err := publishedToken(t, sm, vendors.SecretName(prefix, vendors.Fyber, conn, vendors.RoleToken))
		if err != nil {
			t.Fatalf("%s: %v", conn, err)
		}
		return tok.Fingerprint
	}

	t.Run("each connection runs in its lane", func(t *testing.T) {
		for _, conn := range []string{a, b, c} {
			s, typ, msg := invoke(front, `{"connection":"`+conn+`"}`)
			if typ != "" || s.Connection != conn || s.Action != refresh.ActionRefreshed || s.Fingerprint != published(conn) {
				t.Fatalf("%s: %+v %s %s", conn, s, typ, msg)
			}
			lane := vendors.LaneFunctionName(front, vendors.LaneOf(conn, lanes))
			if got := fns[lane].payloads(); len(got) == 0 || got[len(got)-1] != `{"connection":"`+conn+`"}` {
				t.Errorf("%s: lane %s ran %q", conn, lane, got)
			}
		}
		// So does the default connection, in the lane of its name.
		s, typ, msg := invoke(front, `{}`)
		if typ != "" || s.Connection != vendors.DefaultConnection || s.Fingerprint != published(vendors.DefaultConnection) {
			t.Fatalf("default: %+v %s %s", s, typ, msg)
		}
		lane := vendors.LaneFunctionName(front, vendors.LaneOf(vendors.DefaultConnection, lanes))
		if got := fns[lane].payloads(); len(got) == 0 || got[len(got)-1] != `{}` {
			t.Errorf("default: lane %s ran %q", lane, got)
		}
		// The vendor's function ran nothing itself: every run it got was
		// handed on (its own invocations are the lanes' runs above).
		if n := len(fns[front].payloads()); n != 4 {
			t.Errorf("the vendor's function was invoked %d times for 4 runs", n)
		}
	})

	t.Run("a handed run costs what a run costs", func(t *testing.T) {
		// docs/performance.md: a warm forced run is 2 Secrets Manager
		// calls; handing it to the lane adds none.
		lane := vendors.LaneFunctionName(front, vendors.LaneOf(c, lanes))
		for _, fn := range []string{lane, front} {
			proxy.ResetCalls()
			s, typ, msg := invoke(fn, `{"connection":"`+c+`","force":true}`)
			if typ != "" || s.Action != refresh.ActionRefreshed {
				t.Fatalf("forced run through %s: %+v %s %s", fn, s, typ, msg)
			}
			if calls := proxy.Calls(); len(calls) != 2 {
				t.Errorf("forced run through %s: %d Secrets Manager calls, want 2: %v", fn, len(calls), calls)
			}
		}
	})

	t.Run("lanes run at once", func(t *testing.T) {
		gate.close()
		defer gate.open() // also when the subtest fails
		schedule(a)
		schedule(c)
		gate.waitFor(t, "both lanes to call the vendor", func(g *vendorGate) bool { return g.inFlight[a] == 1 && g.inFlight[c] == 1 })
		gate.open()
		awaitAsync(2)
	})

	t.Run("the vendor's function waits for lanes at once", func(t *testing.T) {
		gate.close()
		defer gate.open() // also when the subtest fails
		done := make(chan string, 2)
		for _, conn := range []string{a, c} {
			go func() {
				s, typ, msg := invoke(front, `{"connection":"`+conn+`","force":true}`)
				if typ != "" || s.Action != refresh.ActionRefreshed {
					done <- conn + ": " + typ + " " + msg
					return
				}
				done <- ""
			}()
		}
		gate.waitFor(t, "both operators' runs to call the vendor", func(g *vendorGate) bool { return g.inFlight[a] == 1 && g.inFlight[c] == 1 })
		gate.open()
		for range 2 {
			if msg := <-done; msg != "" {
				t.Error(msg)
			}
		}
	})

	t.Run("one connection's runs never overlap, whoever asks", func(t *testing.T) {
		rejected := published(b)
		frontThrottles := api.Throttles(vendors.LaneFunctionName(front, 0))
		gate.close()
		defer gate.open() // also when the subtest fails
		schedule(a)       // lane 0 is now busy with a
		gate.waitFor(t, "a's scheduled run to call the vendor", func(g *vendorGate) bool { return g.inFlight[a] == 1 })
		schedule(a) // a's next scheduled run waits for the lane
		type reply struct {
			s        refresh.Summary
			typ, msg string
		}
		rejects := make(chan reply, 1)
		go func() {
			// An app reports b's token, as shared/reader.Reject does.
			s, typ, msg := invoke(front+":"+vendors.RejectAlias, `{"connection":"`+b+`","rejected_fingerprint":"`+rejected+`"}`)
			rejects <- reply{s, typ, msg}
		}()
		// The hand-over of b's run finds lane 0 busy and waits.
		deadline := time.Now().Add(60 * time.Second)
		for api.Throttles(vendors.LaneFunctionName(front, 0)) == frontThrottles {
			if time.Now().After(deadline) {
				t.Fatal("the hand-over of b's run was never throttled")
			}
			time.Sleep(20 * time.Millisecond)
		}
		gate.mu.Lock()
		if gate.perLane[0] != 1 || gate.inFlight[b] != 0 {
			t.Errorf("while a's run held lane 0: %d requests in the lane, %d for b", gate.perLane[0], gate.inFlight[b])
		}
		gate.mu.Unlock()
		gate.open()
		r := <-rejects
		if r.typ != "" || r.s.Action != refresh.ActionRefreshed || r.s.Connection != b || r.s.Fingerprint == rejected || r.s.Fingerprint != published(b) {
			t.Fatalf("reject of b: %+v %s %s", r.s, r.typ, r.msg)
		}
		awaitAsync(2)
		gate.mu.Lock()
		defer gate.mu.Unlock()
		if gate.mostPerConn != 1 || gate.mostPerLane != 1 {
			t.Errorf("at most %d requests of one connection and %d of one lane at once, want 1 and 1", gate.mostPerConn, gate.mostPerLane)
		}
		if gate.mostTotal < 2 {
			t.Errorf("at most %d requests at once: the lanes never ran in parallel", gate.mostTotal)
		}
	})

	t.Run("a lane serves only its own connections", func(t *testing.T) {
		for _, tc := range []struct{ lane, conn string }{
			{vendors.LaneFunctionName(front, 1), a},
			{vendors.LaneFunctionName(front, 0), c},
			{vendors.LaneFunctionName(front, 1-vendors.LaneOf(vendors.DefaultConnection, lanes)), vendors.DefaultConnection},
		} {
			proxy.ResetCalls()
			_, typ, msg := invoke(tc.lane, `{"connection":"`+tc.conn+`"}`)
			if typ != lambdafn.ErrorTypeUnknownConnection || !strings.Contains(msg, "lane") {
				t.Errorf("%s for %s: %s %q, want UnknownConnection", tc.lane, tc.conn, typ, msg)
			}
			if calls := proxy.Calls(); len(calls) != 0 {
				t.Errorf("%s refused %s after %d Secrets Manager calls", tc.lane, tc.conn, len(calls))
			}
		}
	})
}
