package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/token-refresher/token-refresher/internal/localaws"
	_ "github.com/token-refresher/token-refresher/internal/testservers"
	"github.com/token-refresher/token-refresher/shared/admitad"
	"github.com/token-refresher/token-refresher/shared/admitad/admitadtest"
	"github.com/token-refresher/token-refresher/shared/refresh"
	"github.com/token-refresher/token-refresher/shared/secretstore"
	"github.com/token-refresher/token-refresher/shared/vendors"
	"github.com/token-refresher/token-refresher/shared/vendortest"
)

// forceEvent makes every invoke a real refresh.
var forceEvent = []byte(`{"force":true}`)

// workload is what bench sends a function and how it checks the reply.
type workload struct {
	payload []byte
	check   func(localaws.Result) error
	// logsRun: the function logs duration_us for each invoke (the
	// refreshers do).
	logsRun bool
}

func (w workload) invoke(ctx context.Context, f *localaws.Function) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	res, err := f.Invoke(ctx, w.payload)
	if err != nil {
		return err
	}
	if res.Failed() {
		return fmt.Errorf("function failed: %s: %s", res.ErrorType, res.ErrorMessage)
	}
	return w.check(res)
}

// refresherWork is a forced refresh that must refresh (or, for Invoca,
// validate).
var refresherWork = workload{payload: forceEvent, logsRun: true, check: func(res localaws.Result) error {
	var s refresh.Summary
	if err := json.Unmarshal(res.Payload, &s); err != nil {
		return fmt.Errorf("reply %q: %w", res.Payload, err)
	}
	if s.Action != refresh.ActionRefreshed && s.Action != refresh.ActionValidated {
		return fmt.Errorf("action %q, want refreshed or validated", s.Action)
	}
	return nil
}}

// authorizeWork is the first step of connecting Admitad: a person opens a
// connect link (/admitad/authorize, signed with signingKey) and the
// callback function redirects to Admitad with a signed state. It reads the
// signing key and the credentials.
func authorizeWork(signingKey string) (workload, error) {
	key, err := admitad.ParseSigningKey(signingKey)
	if err != nil {
		return workload{}, fmt.Errorf("bench: signing key %w", err)
	}
	link := admitad.MintLink(key, "https://abc123.execute-api.us-east-1.amazonaws.com/admitad/authorize", admitad.MaxLinkTTL, time.Now())
	r, err := http.NewRequest(http.MethodGet, link, nil)
	if err != nil {
		return workload{}, fmt.Errorf("bench: authorize event: %w", err)
	}
	r.RemoteAddr = "203.0.113.7:50000"
	r.Header.Set("User-Agent", "token-refresher-bench")
	payload, err := json.Marshal(localaws.NewHTTPEvent(r, "GET /admitad/authorize", nil, time.Now()))
	if err != nil {
		return workload{}, fmt.Errorf("bench: authorize event: %w", err)
	}
	return workload{payload: payload, check: func(res localaws.Result) error {
		resp, ok := localaws.ParseHTTPResponse(res.Payload)
		if !ok {
			return fmt.Errorf("reply is not an API Gateway response: %.200q", res.Payload)
		}
		if resp.StatusCode != http.StatusFound && resp.StatusCode != http.StatusSeeOther {
			return fmt.Errorf("authorize answered HTTP %d, want a redirect to Admitad", resp.StatusCode)
		}
		return nil
	}}, nil
}

// env is moto_server behind a timing proxy, shared by every function.
type env struct {
	moto  *localaws.Moto
	sm    *secretsmanager.Client
	smFor *meteredServer // what the functions use as Secrets Manager
	run   string         // makes secret names unique per bench run
}

func startEnv(ctx context.Context, logf func(string, ...any)) (*env, error) {
	logf("start moto_server")
	moto, err := localaws.StartMoto(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	sm, err := moto.SecretsManager(ctx)
	if err != nil {
		_ = moto.Stop()
		return nil, fmt.Errorf("bench: %w", err)
	}
	u, err := url.Parse(moto.URL)
	if err != nil {
		_ = moto.Stop()
		return nil, fmt.Errorf("bench: moto URL: %w", err)
	}
	proxy := httputil.NewSingleHostReverseProxy(u)
	proxy.Transport = &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 16}
	front, err := serveMetered(proxy)
	if err != nil {
		_ = moto.Stop()
		return nil, err
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return &env{moto: moto, sm: sm, smFor: front, run: hex.EncodeToString(b)}, nil
}

func (e *env) stop() {
	if e.smFor != nil {
		e.smFor.close()
	}
	if e.moto != nil {
		_ = e.moto.Stop()
	}
}

// fnResult holds every figure of one function.
type fnResult struct {
	Name    string
	Size    int64
	Skipped string // why it was not run, if it was not

	Cold     []coldSample
	Warm     []warmSample
	PeakRSSk int64 // VmHWM in KiB after the last warm invoke
	// Mem is the bootstrap's memory after the cold invoke (1) and after
	// invokes 10, 100 and the last of the first emulator.
	Mem []memReading
	// Calls are the Secrets Manager calls per kind of run.
	Calls []callStep
	// Profile is the instruction profile, when bench ran one.
	Profile *profile
	// profileErr is why callgrind failed on this function, if it did.
	profileErr error
	// Floor is the empty function's CPU measured beside this function's
	// (cold starts taking turns, warm invokes just before), the base of
	// its CPU multiples: both see the same load.
	Floor *baseline
	// LogsRun: the function logs each invoke's duration_us, so Run is set
	// in the samples.
	LogsRun bool
	// WarmUser and WarmSys are the bootstrap's user and kernel CPU time
	// over all the warm invokes.
	WarmUser, WarmSys time.Duration
}

// coldSample is the first invoke of a fresh emulator.
type coldSample struct {
	// Total is from sending the invoke to the emulator (which only then
	// starts the bootstrap) to its reply.
	Total time.Duration
	// Vendor and Secrets are the time the fake vendor and Secrets Manager
	// took to answer, measured where they serve.
	Vendor, Secrets time.Duration
	SecretsCalls    int
	// Run is the refresh as the function logged it (duration_us).
	Run time.Duration
	// CPU is the CPU time the bootstrap process used from its start to
	// the reply: init and the first refresh.
	CPU time.Duration
	// EmulatorInit is the init phase as the emulator reports it (its
	// "INIT REPORT"; Lambda's Init Duration): from the bootstrap's start to
	// its first request for an event. Zero if the emulator printed none.
	EmulatorInit time.Duration
}

// Init is the part of a cold start before the refresh began: process
// start, Go runtime, configuration, the emulator's hand-over.
func (c coldSample) Init() time.Duration { return c.Total - c.Run }

// Own is the cold start less the time spent waiting on others.
func (c coldSample) Own() time.Duration { return nonNegative(c.Total - c.Vendor - c.Secrets) }

// Rest is the round trip less the waiting on the vendor and Secrets
// Manager: the function's own work, the emulator, waiting for a CPU.
func (w warmSample) Rest() time.Duration { return nonNegative(w.RoundTrip - w.Vendor - w.Secrets) }

// warmSample is one invoke of a running function.
type warmSample struct {
	// RoundTrip is the invoke as the caller saw it through the emulator.
	RoundTrip time.Duration
	// Run is the refresh as the function logged it (duration_us).
	Run time.Duration
	// Vendor and Secrets as in coldSample.
	Vendor, Secrets time.Duration
	SecretsCalls    int
	// CPU is the CPU time the bootstrap used for this invoke.
	CPU time.Duration
}

// Own is the function's own work: Run less the waits, or, for a function
// that does not log Run, the round trip less the waits.
func (w warmSample) Own(logsRun bool) time.Duration {
	if logsRun {
		return nonNegative(w.Run - w.Vendor - w.Secrets)
	}
	return nonNegative(w.RoundTrip - w.Vendor - w.Secrets)
}

func nonNegative(d time.Duration) time.Duration { return max(d, 0) }

// measure runs r's cold starts and warm invokes.
func (e *env) measure(ctx context.Context, r *fnResult, bootstrap, profBin, echo string, o options, logf func(string, ...any)) error {
	spec, callback, ok := functionSpec(r.Name)
	if !ok {
		return fmt.Errorf("bench: %s is neither a refresher nor a callback of the vendor table", r.Name)
	}
	work, signingKey := refresherWork, ""
	if callback {
		b := make([]byte, 32)
		_, _ = rand.Read(b)
		signingKey = hex.EncodeToString(b)
		var err error
		if work, err = authorizeWork(signingKey); err != nil {
			return err
		}
	}
	r.LogsRun = work.logsRun
	srv, err := vendortest.New(spec.Name, vendortest.Options{})
	if err != nil {
		return err
	}
	defer srv.Close()
	vendorFront, err := serveMetered(srv.Handler())
	if err != nil {
		return err
	}
	defer vendorFront.close()

	fnEnv := func(tag string, connected bool) ([]string, error) {
		env, err := e.secrets(ctx, tag, spec, srv, callback, signingKey, connected)
		if err != nil {
			return nil, err
		}
		if callback {
			env = append(env, "AUTHORIZE_URL="+admitadtest.Of(srv).AuthorizeURL(), "REFRESHER_FUNCTION_NAME=token-refresher-"+spec.Name)
		}
		env = append(env,
			spec.URLEnv+"="+vendorFront.url+srv.TokenPath(),
			"AWS_LAMBDA_FUNCTION_NAME=token-refresher-"+r.Name,
			"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128",
			"AWS_LAMBDA_FUNCTION_TIMEOUT=20",
		)
		return append(append(env, vendors.FunctionEnv()...), o.fnEnv...), nil
	}
	if !o.noCalls {
		env, err := fnEnv("calls", true)
		if err != nil {
			return err
		}
		if r.Calls, err = e.callsPerRun(ctx, r.Name, spec, callback, work, bootstrap, env, vendorFront); err != nil {
			return err
		}
	}
	if o.profile {
		env, err := fnEnv("profile", false)
		if err != nil {
			return err
		}
		// A failing profiler skips the instruction counts (run decides),
		// never the rest of the bench.
		if r.Profile, err = profileFunction(ctx, o, profBin, work, env); err != nil {
			r.Profile, r.profileErr = nil, err
		}
	}
	perfEnv, err := fnEnv("perf", false)
	if err != nil {
		return err
	}
	// The empty function runs beside this one, so that both see the same
	// load: a cold start before each cold start, and its warm invokes just
	// before this function's. (Warm invokes are not interleaved: an
	// invoke after another process's work finds colder caches, and the
	// empty function's would pay for the refresher's.)
	r.Floor = &baseline{}
	for i := range o.starts {
		if err := ctx.Err(); err != nil {
			return err
		}
		cpu, err := floorCold(ctx, echo, o)
		if err != nil {
			return fmt.Errorf("bench: empty function beside %s: %w", r.Name, err)
		}
		r.Floor.ColdCPU = append(r.Floor.ColdCPU, cpu)
		if i == 0 {
			if r.Floor.WarmCPU, err = floorWarmRun(ctx, echo, o); err != nil {
				return fmt.Errorf("bench: empty function beside %s: %w", r.Name, err)
			}
		}
		f, err := localaws.StartFunction(ctx, bootstrap, perfEnv, nil)
		if err != nil {
			return fmt.Errorf("bench: %s: %w", r.Name, err)
		}
		err = e.oneStart(ctx, r, f, work, vendorFront, o, i == 0)
		if err != nil && o.verbose {
			logf("%s output:\n%s", r.Name, f.Output())
		} else if i == 0 && o.verbose {
			logf("%s output of the first start (tail):\n%s", r.Name, tail(f.Output(), 3000))
		}
		if stopErr := f.Stop(); stopErr != nil && err == nil {
			err = fmt.Errorf("bench: %s: %w", r.Name, stopErr)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// oneStart does the cold invoke of a fresh emulator and, when warm is set,
// the warm invokes and the memory readings.
func (e *env) oneStart(ctx context.Context, r *fnResult, f *localaws.Function, w workload, vendorFront *meteredServer, o options, warm bool) error {
	vendorFront.take()
	e.smFor.take()
	seen := len(f.Output())
	start := time.Now()
	if err := w.invoke(ctx, f); err != nil {
		return fmt.Errorf("bench: %s: cold start: %w", r.Name, err)
	}
	total := time.Since(start)
	vm, sm := vendorFront.take(), e.smFor.take()
	pid, err := f.BootstrapPID()
	if err != nil {
		return fmt.Errorf("bench: %s: %w", r.Name, err)
	}
	cpu, err := cpuTime(pid)
	if err != nil {
		return fmt.Errorf("bench: %s: %w", r.Name, err)
	}
	run, next, err := w.runDuration(ctx, f, seen)
	if err != nil {
		return fmt.Errorf("bench: %s: cold start: %w", r.Name, err)
	}
	r.Cold = append(r.Cold, coldSample{Total: total, Vendor: vm.Wait, Secrets: sm.Wait, SecretsCalls: sm.Calls, Run: run, CPU: cpu, EmulatorInit: initReport(f.Output()[seen:next])})
	seen = next
	if !warm {
		return nil
	}
	snap := func(invokes int) error {
		m, err := readMem(pid)
		if err != nil {
			return fmt.Errorf("bench: %s: %w", r.Name, err)
		}
		m.Invokes = invokes
		r.Mem = append(r.Mem, m)
		return nil
	}
	if err := snap(1); err != nil {
		return err
	}
	u0, s0, err := userSys(pid)
	if err != nil {
		return fmt.Errorf("bench: %s: %w", r.Name, err)
	}
	for i := range o.invokes {
		cpuBefore, err := cpuTime(pid)
		if err != nil {
			return fmt.Errorf("bench: %s: %w", r.Name, err)
		}
		start := time.Now()
		if err := w.invoke(ctx, f); err != nil {
			return fmt.Errorf("bench: %s: warm invoke: %w", r.Name, err)
		}
		rt := time.Since(start)
		vm, sm := vendorFront.take(), e.smFor.take()
		cpuAfter, err := cpuTime(pid)
		if err != nil {
			return fmt.Errorf("bench: %s: %w", r.Name, err)
		}
		run, next, err := w.runDuration(ctx, f, seen)
		if err != nil {
			return fmt.Errorf("bench: %s: warm invoke: %w", r.Name, err)
		}
		seen = next
		r.Warm = append(r.Warm, warmSample{RoundTrip: rt, Run: run, Vendor: vm.Wait, Secrets: sm.Wait, SecretsCalls: sm.Calls, CPU: cpuAfter - cpuBefore})
		if n := i + 2; memSnapshot(n, o.invokes+1) {
			if err := snap(n); err != nil {
				return err
			}
		}
	}
	u1, s1, err := userSys(pid)
	if err != nil {
		return fmt.Errorf("bench: %s: %w", r.Name, err)
	}
	r.WarmUser, r.WarmSys = u1-u0, s1-s0
	r.PeakRSSk = r.Mem[len(r.Mem)-1].HWMk
	return nil
}

// memSnapshot reports whether the memory is read after invoke n (counting
// the cold one) of last: after 10, 100, 200 and the last.
func memSnapshot(n, last int) bool { return n == 10 || n == 100 || n == growthFrom || n == last }

// secrets creates the function's secrets in moto, under a prefix unique to
// this bench run and tag, and returns the environment that names them and
// points the SDK at the metered moto. The Admitad refresh-token secret is
// as a connect leaves it when connected is set, else as a refresh leaves
// it.
func (e *env) secrets(ctx context.Context, tag string, spec vendors.Spec, srv *vendortest.Server, callback bool, signingKey string, connected bool) (_ []string, err error) {
	prefix := "bench/" + e.run + "/" + tag + "/" + spec.Name + "/"
	if callback {
		prefix = "bench/" + e.run + "/" + tag + "/" + spec.CallbackFunctionName() + "/"
	}
	creds, _ := json.Marshal(vendortest.Credentials(spec.Name))
	secrets := map[string]string{
		prefix + "credentials": string(creds),
		// As the stack creates it: a random string, no token yet.
		prefix + "token": "Q7#generated-by-secrets-manager",
	}
	env := []string{
		"CREDENTIALS_SECRET_ID=" + prefix + "credentials",
		"TOKEN_SECRET_ID=" + prefix + "token",
	}
	if spec.AuthCode {
		// A valid refresh token, as after a person connected.
		now := time.Now().UTC()
		conn := admitad.Connection{RefreshToken: admitadtest.Of(srv).IssueRefreshToken(), Username: admitadtest.Username, Scope: vendortest.Credentials(spec.Name)["scope"], ConnectedAt: now, RotatedAt: now}
		if connected {
			conn.ConnectState = "0123456789abcdef"
		}
		secrets[prefix+"refresh"] = "Q7#generated-by-secrets-manager"
		env = append(env, "REFRESH_SECRET_ID="+prefix+"refresh")
		defer func() {
			if err == nil {
				err = e.writeConnection(ctx, prefix+"refresh", conn, connected)
			}
		}()
	}
	if callback {
		secrets[prefix+"signing-key"] = signingKey
		env = append(env, "SIGNING_KEY_SECRET_ID="+prefix+"signing-key")
	}
	for id, v := range secrets {
		if _, err := e.sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(id), SecretString: aws.String(v)}); err != nil {
			return nil, fmt.Errorf("bench: create secret %s in moto: %w", id, err)
		}
	}
	for _, kv := range e.moto.Env() {
		if strings.HasPrefix(kv, "AWS_ENDPOINT_URL_SECRETS_MANAGER=") {
			kv = "AWS_ENDPOINT_URL_SECRETS_MANAGER=" + e.smFor.url
		}
		env = append(env, kv)
	}
	return env, nil
}

// writeConnection stores conn in the refresh-token secret id as the
// callback does when a person connects (connected), or as a refresh does.
func (e *env) writeConnection(ctx context.Context, id string, conn admitad.Connection, connected bool) error {
	store := &secretstore.Store{API: e.sm}
	if connected {
		return admitad.SaveConnection(ctx, store, id, conn)
	}
	cur, err := store.Get(ctx, id)
	if err != nil {
		return err
	}
	v, err := store.PutPending(ctx, id, conn.Encode(), admitad.PendingStage)
	if err != nil {
		return err
	}
	return store.Swap(ctx, id, cur.VersionID, v)
}

// runDuration is the invoke's duration_us, or 0 for a function that does
// not log it, and the new output offset.
func (w workload) runDuration(ctx context.Context, f *localaws.Function, seen int) (time.Duration, int, error) {
	if !w.logsRun {
		return 0, len(f.Output()), nil
	}
	return waitRunDuration(ctx, f, seen)
}

// waitRunDuration is runDuration on the function's output, waiting up to
// two seconds for the log line: the reply can overtake the output pipe.
func waitRunDuration(ctx context.Context, f *localaws.Function, seen int) (time.Duration, int, error) {
	deadline := time.Now().Add(2 * time.Second)
	for {
		d, next, err := runDuration(f.Output(), seen)
		if err == nil || time.Now().After(deadline) || ctx.Err() != nil {
			return d, next, err
		}
		time.Sleep(time.Millisecond)
	}
}

// runDuration finds the refresh log line the function printed after
// offset seen in its output and returns its duration_us and the new
// offset.
func runDuration(out string, seen int) (time.Duration, int, error) {
	for {
		rest := out[seen:]
		i := strings.IndexByte(rest, '\n')
		if i < 0 {
			return 0, seen, errors.New("no refresh log line with duration_us in the function's output")
		}
		line := rest[:i]
		seen += i + 1
		if !strings.Contains(line, `"duration_us":`) {
			continue
		}
		var l struct {
			DurationUS *int64 `json:"duration_us"`
		}
		if err := json.Unmarshal([]byte(line), &l); err != nil || l.DurationUS == nil {
			continue
		}
		return time.Duration(*l.DurationUS) * time.Microsecond, seen, nil
	}
}

var initReportRE = regexp.MustCompile(`INIT REPORT\(durationMs: ([0-9.]+)\)`)

// initReport reads the emulator's report of the init phase from its output.
func initReport(out string) time.Duration {
	m := initReportRE.FindStringSubmatch(out)
	if m == nil {
		return 0
	}
	ms, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0
	}
	return time.Duration(ms * float64(time.Millisecond))
}

// meteredServer serves h on a loopback port and adds up how long h takes
// to answer.
type meteredServer struct {
	url string
	srv *http.Server

	mu    sync.Mutex
	total time.Duration
	calls int
	ops   []string
}

// meter is what a metered server saw between two takes.
type meter struct {
	Wait  time.Duration
	Calls int
	// Ops are the requests' operations in order: the AWS JSON protocol's
	// X-Amz-Target without the service ("GetSecretValue"), "" for other
	// requests.
	Ops []string
}

func serveMetered(h http.Handler) (*meteredServer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("bench: listen on loopback: %w", err)
	}
	m := &meteredServer{url: "http://" + ln.Addr().String()}
	m.srv = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			op := r.Header.Get("X-Amz-Target")
			if i := strings.LastIndexByte(op, '.'); i >= 0 {
				op = op[i+1:]
			}
			start := time.Now()
			h.ServeHTTP(w, r)
			d := time.Since(start)
			m.mu.Lock()
			m.total += d
			m.calls++
			m.ops = append(m.ops, op)
			m.mu.Unlock()
		}),
		ReadHeaderTimeout: 10 * time.Second,
	}
	go func() { _ = m.srv.Serve(ln) }()
	return m, nil
}

// take returns the time spent, the requests served and their operations
// since the last take.
func (m *meteredServer) take() meter {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := meter{Wait: m.total, Calls: m.calls, Ops: m.ops}
	m.total, m.calls, m.ops = 0, 0, nil
	return out
}

func (m *meteredServer) close() { _ = m.srv.Close() }

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// baselinePkg is a Go Lambda function that does nothing but echo its
// event: its figures are the floor under every function's (emulator,
// Runtime API, Go runtime).
const baselinePkg = "./internal/localaws/testdata/echofn"

// baseline is the empty function's figures.
type baseline struct {
	Cold         []time.Duration // invoke sent → reply, fresh emulator
	EmulatorInit []time.Duration
	ColdCPU      []time.Duration
	Warm         []time.Duration // round trip
	WarmCPU      []time.Duration
	PeakRSSk     int64
	Profile      *profile
}

// floorCold is the CPU time of one cold start of the empty function.
func floorCold(ctx context.Context, echo string, o options) (time.Duration, error) {
	f, err := localaws.StartFunction(ctx, echo, baselineEnv(o), nil)
	if err != nil {
		return 0, err
	}
	defer f.Stop()
	if err := echoInvoke(ctx, f); err != nil {
		return 0, err
	}
	pid, err := f.BootstrapPID()
	if err != nil {
		return 0, err
	}
	return cpuTime(pid)
}

// floorWarmRun is the CPU time of each of o.invokes warm invokes of the
// empty function, back to back after its cold one, as a function's are.
func floorWarmRun(ctx context.Context, echo string, o options) ([]time.Duration, error) {
	f, err := localaws.StartFunction(ctx, echo, baselineEnv(o), nil)
	if err != nil {
		return nil, err
	}
	defer f.Stop()
	if err := echoInvoke(ctx, f); err != nil {
		return nil, err
	}
	pid, err := f.BootstrapPID()
	if err != nil {
		return nil, err
	}
	out := make([]time.Duration, 0, o.invokes)
	for range o.invokes {
		c0, err := cpuTime(pid)
		if err != nil {
			return nil, err
		}
		if err := echoInvoke(ctx, f); err != nil {
			return nil, err
		}
		c1, err := cpuTime(pid)
		if err != nil {
			return nil, err
		}
		out = append(out, c1-c0)
	}
	return out, nil
}

// baselineEnv is the empty function's environment.
func baselineEnv(o options) []string {
	return append(append([]string{"AWS_LAMBDA_FUNCTION_TIMEOUT=20", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128"}, vendors.FunctionEnv()...), o.fnEnv...)
}

// echoInvoke invokes the empty function.
func echoInvoke(ctx context.Context, f *localaws.Function) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	res, err := f.Invoke(ctx, []byte(`{}`))
	if err != nil {
		return err
	}
	if res.Failed() {
		return fmt.Errorf("echo function failed: %s", res.ErrorMessage)
	}
	return nil
}

// measureBaseline runs the empty function as measure runs a refresher.
func measureBaseline(ctx context.Context, bootstrap string, o options) (*baseline, error) {
	b := &baseline{}
	echo := func(f *localaws.Function) error { return echoInvoke(ctx, f) }
	for i := range o.starts {
		f, err := localaws.StartFunction(ctx, bootstrap, baselineEnv(o), nil)
		if err != nil {
			return nil, fmt.Errorf("bench: baseline: %w", err)
		}
		err = func() error {
			seen := len(f.Output())
			start := time.Now()
			if err := echo(f); err != nil {
				return err
			}
			b.Cold = append(b.Cold, time.Since(start))
			b.EmulatorInit = append(b.EmulatorInit, initReport(f.Output()[seen:]))
			pid, err := f.BootstrapPID()
			if err != nil {
				return err
			}
			cpu, err := cpuTime(pid)
			if err != nil {
				return err
			}
			b.ColdCPU = append(b.ColdCPU, cpu)
			if i > 0 {
				return nil
			}
			for range o.invokes {
				c0, err := cpuTime(pid)
				if err != nil {
					return err
				}
				start := time.Now()
				if err := echo(f); err != nil {
					return err
				}
				b.Warm = append(b.Warm, time.Since(start))
				c1, err := cpuTime(pid)
				if err != nil {
					return err
				}
				b.WarmCPU = append(b.WarmCPU, c1-c0)
			}
			b.PeakRSSk, err = peakRSS(pid)
			return err
		}()
		if stopErr := f.Stop(); err == nil && stopErr != nil {
			err = stopErr
		}
		if err != nil {
			return nil, fmt.Errorf("bench: baseline: %w", err)
		}
	}
	return b, nil
}
