// Package scalesim simulates one vendor's refresher serving many
// connections, to measure how the ways of running their invocations scale
// (docs/performance.md, "How connections scale"):
//
//   - Today: the function has a reserved concurrency of 1. EventBridge
//     Scheduler invokes it asynchronously, one event per connection and
//     period; an event that finds the function busy is throttled and
//     retried by Lambda with exponential backoff (1 s doubling to 5
//     minutes, each wait drawn in [d/2, d]: Lambda documents the range,
//     not the jitter), and dropped once older than the function's
//     MaximumEventAgeInSeconds (the vendor's period).
//   - Queued (a design that was considered): the schedules send to an SQS
//     FIFO queue with the connection as the message group; an event
//     source mapping with MaximumConcurrency C runs at most C invocations
//     at a time and never two of one message group. Reports of rejected
//     tokens go to the connection's group too, deduplicated by
//     fingerprint.
//   - Lanes (the chosen design): L lane functions per vendor, each with a
//     reserved concurrency of 1 and so each exactly today's function for
//     the connections vendors.LaneOf gives it. A connection's schedule
//     fires at vendors.ScheduleOffset past the start of every period, plus
//     a delay drawn in EventBridge Scheduler's flexible time window of a
//     minute. Reports of rejected tokens go to the vendor's own function
//     (the front, which runs nothing itself and has a reserved concurrency
//     of L: an app's SDK retries its 429s a couple of times), which hands
//     the run to the connection's lane with a synchronous invoke, retried
//     while the lane is busy until the front's own deadline.
//
// Everything else is the real code: shared/refresh.Refresher with its
// decision logic, shared/fyber's client over vendorhttp, the targets from
// refresh.LoadTargets, and a Secrets Manager in memory whose calls take a
// fixed latency. Time is simulated: Run must be called inside a
// testing/synctest bubble, where time.Sleep and timers advance a virtual
// clock once every goroutine is blocked, so three hours of 1,000
// connections take seconds and no run depends on the machine's speed.
// Every random draw comes from Config.Seed; which of several goroutines
// woken at the same simulated instant takes a free function is up to the
// Go scheduler, as it is up to Lambda, so Today's figures (and, less,
// Lanes') may vary a little from run to run.
package scalesim

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/token-refresher/token-refresher/shared/clientcreds"
	"github.com/token-refresher/token-refresher/shared/refresh"
	"github.com/token-refresher/token-refresher/shared/secretstore"
	"github.com/token-refresher/token-refresher/shared/token"
	"github.com/token-refresher/token-refresher/shared/vendorhttp"
	"github.com/token-refresher/token-refresher/shared/vendors"
)

// Design is how invocations reach the function.
type Design int

const (
	// Today: reserved concurrency 1, asynchronous invokes retried with
	// backoff when throttled.
	Today Design = iota
	// Queued: an SQS FIFO queue, message group = connection, consumed by
	// an event source mapping with MaximumConcurrency.
	Queued
	// Lanes: Config.Lanes functions of reserved concurrency 1, a
	// connection's runs in its lane (vendors.LaneOf), schedules spread
	// over the period (vendors.ScheduleOffset), reports through the front.
	Lanes
)

func (d Design) String() string {
	switch d {
	case Queued:
		return "queued"
	case Lanes:
		return "lanes"
	}
	return "today"
}

// Lambda's asynchronous retry of a throttled event, as documented: the
// interval grows exponentially from 1 second to at most 5 minutes.
const (
	asyncFirstRetry = time.Second
	asyncMaxRetry   = 5 * time.Minute
)

// functionTimeout and reportMargin are the deployed function's timeout and
// what lambdafn keeps back from it; frontTimeout is the timeout of the
// vendor's function when it hands runs to lanes (Lanes).
const (
	functionTimeout = 60 * time.Second
	reportMargin    = 750 * time.Millisecond
	frontTimeout    = 180 * time.Second
)

// The front's synchronous invoke of a busy lane is retried after a wait
// drawn in [0, d] (full jitter), d from 200 ms doubling to 2 s, until the
// front's deadline.
const (
	handoffFirstRetry = 200 * time.Millisecond
	handoffMaxRetry   = 2 * time.Second
)

// An app's AWS SDK (the standard retryer) makes up to 3 attempts of an
// invoke that is throttled, waiting a draw in [0, min(1 s × 2^i, 20 s))
// before retry i (from 0).
const (
	sdkAttempts   = 3
	sdkFirstRetry = time.Second
	sdkMaxRetry   = 20 * time.Second
)

// flexWindow is EventBridge Scheduler's flexible time window of the lanes'
// schedules: each firing comes a delay drawn in [0, flexWindow) after its
// time.
const flexWindow = time.Minute

// Report is a burst of rejects: at At, Apps apps each report the token of
// Connection they hold (the one current at At). With AtRefresh they report
// instead a second after the connection's next vendor call from At begins,
// the token that call is replacing: apps refused at a rotation, whose
// reports find the connection's run under way. Reports are sent in the
// order given, an AtRefresh one holding back those after it.
type Report struct {
	At         time.Duration
	Connection int
	Apps       int
	AtRefresh  bool
}

// Config is one simulation.
type Config struct {
	Design      Design
	Connections int
	// VendorLatency is how long the vendor takes to answer a token
	// request.
	VendorLatency time.Duration
	// SecretsLatency is the duration of every Secrets Manager call;
	// DefaultSecretsLatency if zero.
	SecretsLatency time.Duration
	// Concurrency is the queue's MaximumConcurrency (Queued only).
	Concurrency int
	// Lanes is the number of lane functions (Lanes only, at least 1).
	Lanes int
	// Duration is how long schedules fire; the runs they started are then
	// let finish.
	Duration time.Duration
	// Stagger spreads the connections' schedules evenly over the period
	// instead of firing them all at once (the worst case, and what one
	// deployment that creates every schedule gives). Lanes always spread
	// them, by vendors.ScheduleOffset and the flexible time window, and
	// ignore it.
	Stagger bool
	Seed    uint64
	Reports []Report
}

// DefaultSecretsLatency is a Secrets Manager round trip from Lambda.
const DefaultSecretsLatency = 20 * time.Millisecond

// Result are a simulation's figures.
type Result struct {
	Config Config
	// Events is how many invocations the schedules asked for.
	Events int
	// Runs is how many invocations ran; Dropped were discarded after
	// MaximumEventAge (Today); Throttles counts throttled attempts.
	Runs, Dropped, Throttles int
	Failed                   int
	VendorCalls              int
	SecretsCalls             int
	// PeakSecretsPerSecond is the most Secrets Manager calls made within
	// one second: Secrets Manager allows 100 BatchGetSecretValue and 50
	// writes a second per account and region, for all vendors together.
	PeakSecretsPerSecond int
	// MaxLateness is the longest time from a schedule's time to the end
	// of the run it asked for: with every schedule firing at once, when
	// the last connection of a period is done. A lanes schedule's time is
	// its offset in the period, before the flexible window's delay.
	// Incomplete is true when some event never ran (dropped), so its
	// lateness is unbounded.
	MaxLateness time.Duration
	Incomplete  bool
	// Expired counts the times a connection's published token expired
	// before a new one replaced it (within Duration); ExpiredFor is the
	// total time tokens spent expired. NoToken counts connections with no
	// token at the end of Duration.
	Expired    int
	ExpiredFor time.Duration
	NoToken    int
	// MaxOverlap is the most runs of one connection seen at once (1: they
	// never overlap); MaxConcurrent the most runs of the vendor at once.
	MaxOverlap, MaxConcurrent int
	// RejectCalls counts vendor calls made for reported tokens;
	// MinRejectGap is the shortest time between two of them for one
	// connection (0 when no connection had two).
	RejectCalls  int
	MinRejectGap time.Duration
	// ReportsLost counts reports that never reached a run because the
	// function the app invokes (Today's, Lanes' front) stayed busy
	// through the app's attempts; HandoffsTimedOut those the front took
	// but could not hand to the connection's lane before its deadline.
	ReportsLost, HandoffsTimedOut int
	// LargestLane is the most connections one lane serves (Lanes).
	LargestLane int
	// Wall is what the simulation cost in real time (set by the caller).
	Wall time.Duration
}

// LatenessOfPeriod is MaxLateness as a multiple of the vendor's period.
func (r Result) LatenessOfPeriod() float64 {
	return float64(r.MaxLateness) / float64(vendors.MustLookup(vendors.Fyber).Every)
}

// sim is one simulation's shared state.
type sim struct {
	cfg     Config
	spec    vendors.Spec
	start   time.Time
	end     time.Time
	sm      *memSecrets
	targets refresh.Targets
	names   []string

	mu         sync.Mutex
	res        Result
	inRun      map[string]int
	running    int
	expiresAt  map[string]time.Time
	lastReject map[string]time.Time
	tokenSeq   int
	// calling has a channel for a connection whose next vendor call an
	// AtRefresh report waits for; the call closes it.
	calling map[string]chan struct{}
}

// Run simulates cfg. It must run inside a testing/synctest bubble.
func Run(cfg Config) (Result, error) {
	if cfg.SecretsLatency == 0 {
		cfg.SecretsLatency = DefaultSecretsLatency
	}
	if cfg.Design == Queued && cfg.Concurrency < 1 {
		return Result{}, fmt.Errorf("scalesim: the queued design needs a concurrency")
	}
	if cfg.Design == Lanes && (cfg.Lanes < 1 || cfg.Lanes > vendors.MaxLanes) {
		return Result{}, fmt.Errorf("scalesim: the lanes design needs 1 to %d lanes, not %d", vendors.MaxLanes, cfg.Lanes)
	}
	spec := vendors.MustLookup(vendors.Fyber)
	s := &sim{
		cfg: cfg, spec: spec, start: time.Now(), sm: newMemSecrets(cfg.SecretsLatency),
		inRun: map[string]int{}, expiresAt: map[string]time.Time{}, lastReject: map[string]time.Time{},
		calling: map[string]chan struct{}{},
	}
	s.end = s.start.Add(cfg.Duration)
	s.res.Config = cfg

	const prefix = "sim"
	env := map[string]string{
		"CREDENTIALS_SECRET_ID": vendors.SecretName(prefix, spec.Name, vendors.DefaultConnection, vendors.RoleCredentials),
		"TOKEN_SECRET_ID":       vendors.SecretName(prefix, spec.Name, vendors.DefaultConnection, vendors.RoleToken),
		"NAME_PREFIX":           prefix,
	}
	for i := range cfg.Connections {
		s.names = append(s.names, fmt.Sprintf("c%d", i))
	}
	env["CONNECTIONS"] = strings.Join(s.names, ",")
	var err error
	if s.targets, err = refresh.LoadTargets(spec, func(k string) string { return env[k] }); err != nil {
		return Result{}, err
	}
	for _, n := range s.names {
		tg, err := s.targets.Lookup(spec.Name, n)
		if err != nil {
			return Result{}, err
		}
		creds, _ := json.Marshal(map[string]string{"client_id": n, "client_secret": "secret-of-" + n})
		s.sm.create(tg.CredentialsSecretID, string(creds))
		s.sm.create(tg.TokenSecretID, "")
	}

	switch cfg.Design {
	case Queued:
		s.runQueued()
	case Lanes:
		s.runLanes()
	default:
		s.runToday()
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range s.names {
		exp, ok := s.expiresAt[n]
		switch {
		case !ok:
			s.res.NoToken++
		case exp.Before(s.end):
			s.res.Expired++
			s.res.ExpiredFor += s.end.Sub(exp)
		}
	}
	if cfg.Design == Lanes {
		size := make([]int, cfg.Lanes)
		for _, n := range s.names {
			size[vendors.LaneOf(n, cfg.Lanes)]++
		}
		s.res.LargestLane = slices.Max(size)
	}
	s.res.SecretsCalls = s.sm.Calls()
	s.res.PeakSecretsPerSecond = s.sm.PeakPerSecond()
	return s.res, nil
}

// event is one invocation the schedules (or a report) asked for.
type event struct {
	conn    string
	tick    int // -1 for a report
	at      time.Time
	ev      refresh.Event
	dedupID string
	seq     int // a report's number, for its random draws
}

// firing is one schedule's event and when it reaches Lambda: at its time,
// or a lanes schedule's delay in the flexible window later.
type firing struct {
	e  event
	to time.Time
}

// schedule is every firing of every connection's schedule whose time is
// before the end of Duration, in the order they reach Lambda.
func (s *sim) schedule() []firing {
	every := s.spec.Every
	n := len(s.names)
	flex := mrand.New(mrand.NewPCG(s.cfg.Seed, 0x666c6578)) // "flex"
	var out []firing
	for k := 0; s.start.Add(time.Duration(k) * every).Before(s.end); k++ {
		for i, name := range s.names {
			at := s.start.Add(time.Duration(k) * every)
			to := at
			switch {
			case s.cfg.Design == Lanes:
				at = at.Add(vendors.ScheduleOffset(name, every))
				to = at.Add(time.Duration(flex.Int64N(int64(flexWindow))))
			case s.cfg.Stagger:
				at = at.Add(every * time.Duration(i) / time.Duration(n))
				to = at
			}
			out = append(out, firing{e: event{conn: name, tick: k, at: at}, to: to})
		}
	}
	slices.SortStableFunc(out, func(a, b firing) int { return a.to.Compare(b.to) })
	return out
}

// ticks calls fire for every firing of the schedules, when it reaches
// Lambda.
func (s *sim) ticks(fire func(event)) {
	for _, f := range s.schedule() {
		if d := time.Until(f.to); d > 0 {
			time.Sleep(d)
		}
		s.mu.Lock()
		s.res.Events++
		s.mu.Unlock()
		fire(f.e)
	}
}

// newRefresher is one Lambda execution environment's refresher: its own
// credentials cache, as a warm process keeps.
func (s *sim) newRefresher() *refresh.Refresher {
	return &refresh.Refresher{
		Spec:         s.spec,
		Vendor:       &clientcreds.Client{Spec: s.spec, HTTP: vendorhttp.Client{HTTP: &http.Client{Transport: &vendorTransport{s: s}}}},
		Store:        &secretstore.Store{API: s.sm},
		Endpoint:     "https://reporting.fyber.com/auth/v1/token",
		FunctionName: "token-refresher-fyber",
		Credentials:  &refresh.CredentialsCache{},
		Held:         &refresh.Held{},
	}
}

// invoke runs one event in an execution environment, as lambdafn does:
// the function's timeout less the report margin, the connection looked up
// before any Secrets Manager call.
func (s *sim) invoke(r *refresh.Refresher, e event) {
	s.mu.Lock()
	s.inRun[e.conn]++
	s.running++
	s.res.Runs++
	s.res.MaxOverlap = max(s.res.MaxOverlap, s.inRun[e.conn])
	s.res.MaxConcurrent = max(s.res.MaxConcurrent, s.running)
	s.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), functionTimeout-reportMargin)
	target, err := s.targets.Lookup(s.spec.Name, e.conn)
	var sum refresh.Summary
	if err == nil {
		sum, err = r.Run(ctx, target, e.ev)
	}
	cancel()

	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inRun[e.conn]--
	s.running--
	if err != nil {
		s.res.Failed++
	}
	if d := now.Sub(e.at); e.tick >= 0 && d > s.res.MaxLateness {
		s.res.MaxLateness = d
	}
	if sum.Action != refresh.ActionRefreshed {
		return
	}
	exp, _ := time.Parse(time.RFC3339, sum.ExpiresAt)
	if old, ok := s.expiresAt[e.conn]; ok && now.Before(s.end) && now.After(old) {
		s.res.Expired++
		s.res.ExpiredFor += now.Sub(old)
	}
	s.expiresAt[e.conn] = exp
	if e.ev.RejectedFingerprint != "" {
		s.res.RejectCalls++
		if last, ok := s.lastReject[e.conn]; ok {
			if gap := now.Sub(last); s.res.MinRejectGap == 0 || gap < s.res.MinRejectGap {
				s.res.MinRejectGap = gap
			}
		}
		s.lastReject[e.conn] = now
	}
}

// function is a Lambda function with a reserved concurrency of 1: one
// execution environment, running one invocation at a time with its own
// warm refresher. An invoke that finds it busy is throttled.
type function struct {
	busy sync.Mutex
	r    *refresh.Refresher
}

func (s *sim) newFunction() *function { return &function{r: s.newRefresher()} }

// throttled counts a throttled attempt.
func (s *sim) throttled() {
	s.mu.Lock()
	s.res.Throttles++
	s.mu.Unlock()
}

// lost counts a report the app could not deliver.
func (s *sim) lost() {
	s.mu.Lock()
	s.res.ReportsLost++
	s.mu.Unlock()
}

// deliverAsync is Lambda's asynchronous invoke of fn with e: retried with
// backoff while fn is busy, dropped once the next retry would pass the
// maximum event age (the vendor's period).
func (s *sim) deliverAsync(fn *function, e event) {
	rng := mrand.New(mrand.NewPCG(s.cfg.Seed, uint64(e.tick)<<32|uint64(len(e.conn))<<24|uint64(hash(e.conn))))
	maxAge := s.spec.Every // MaximumEventAgeInSeconds: the vendor's period
	wait := asyncFirstRetry
	for {
		if fn.busy.TryLock() {
			s.invoke(fn.r, e)
			fn.busy.Unlock()
			return
		}
		d := wait/2 + time.Duration(rng.Int64N(int64(wait/2)+1))
		s.mu.Lock()
		s.res.Throttles++
		if time.Since(e.at)+d > maxAge {
			s.res.Dropped++
			s.res.Incomplete = true
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()
		time.Sleep(d)
		wait = min(2*wait, asyncMaxRetry)
	}
}

// runToday: one execution environment (reserved concurrency 1), every
// event an asynchronous invoke that Lambda retries while throttled.
func (s *sim) runToday() {
	fn := s.newFunction()
	var wg sync.WaitGroup
	fire := func(e event) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.deliverAsync(fn, e)
		}()
	}
	// A report is a synchronous invoke of the reject alias: refused
	// (429) when the function is busy, never retried by Lambda.
	report := func(e event) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if !fn.busy.TryLock() {
				s.throttled()
				s.lost()
				return
			}
			s.invoke(fn.r, e)
			fn.busy.Unlock()
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.reports(report)
	}()
	s.ticks(fire)
	wg.Wait()
}

// runLanes: Config.Lanes functions of reserved concurrency 1, each
// invoked asynchronously by the schedules of its connections as today's
// function is; reports reach the front, which hands them to the lanes.
func (s *sim) runLanes() {
	lanes := make([]*function, s.cfg.Lanes)
	for i := range lanes {
		lanes[i] = s.newFunction()
	}
	laneOf := func(conn string) *function { return lanes[vendors.LaneOf(conn, len(lanes))] }
	// The front runs nothing itself: it has one unit of concurrency per
	// lane, as the stack reserves it.
	front := make(units, len(lanes))
	var wg sync.WaitGroup
	fire := func(e event) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.deliverAsync(laneOf(e.conn), e)
		}()
	}
	report := func(e event) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.sendReport(front, e, func() { s.handOff(laneOf(e.conn), e, &wg) })
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.reports(report)
	}()
	s.ticks(fire)
	wg.Wait()
}

// units is a function's reserved concurrency: TryLock takes a unit if one
// is free.
type units chan struct{}

func (u units) TryLock() bool {
	select {
	case u <- struct{}{}:
		return true
	default:
		return false
	}
}

func (u units) Unlock() { <-u }

// sendReport is an app's synchronous invoke of the front with its AWS
// SDK: a 429 while every unit of the front is busy is retried up to
// sdkAttempts in all; the front's unit, once it has the report, stays
// busy until handle returns.
func (s *sim) sendReport(front interface {
	TryLock() bool
	Unlock()
}, e event, handle func()) {
	rng := mrand.New(mrand.NewPCG(s.cfg.Seed, 0x61707073<<32|uint64(e.seq))) // "apps"
	for i := range sdkAttempts {
		if front.TryLock() {
			handle()
			front.Unlock()
			return
		}
		s.throttled()
		if i == sdkAttempts-1 {
			s.lost()
			return
		}
		d := min(sdkFirstRetry<<i, sdkMaxRetry)
		time.Sleep(time.Duration(rng.Int64N(int64(d))))
	}
}

// handOff is the front's synchronous invoke of e's lane: retried with
// full jitter while the lane is throttled, up to the front's deadline
// (its timeout less the report margin), which also bounds its wait for the
// lane's reply. A lane run outlives a front that stopped waiting, as an
// invocation outlives its caller; wg counts it.
func (s *sim) handOff(lane *function, e event, wg *sync.WaitGroup) {
	rng := mrand.New(mrand.NewPCG(s.cfg.Seed, 0x66726f6e<<32|uint64(e.seq))) // "fron"
	deadline := time.NewTimer(frontTimeout - reportMargin)
	defer deadline.Stop()
	end := time.Now().Add(frontTimeout - reportMargin)
	wait := handoffFirstRetry
	for !lane.busy.TryLock() {
		s.throttled()
		d := time.Duration(rng.Int64N(int64(wait) + 1))
		if time.Now().Add(d).After(end) {
			s.mu.Lock()
			s.res.HandoffsTimedOut++
			s.mu.Unlock()
			return
		}
		time.Sleep(d)
		wait = min(2*wait, handoffMaxRetry)
	}
	done := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(done)
		s.invoke(lane.r, e)
		lane.busy.Unlock()
	}()
	select {
	case <-done:
	case <-deadline.C:
	}
}

func hash(s string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h = (h ^ uint32(s[i])) * 16777619
	}
	return h
}

// reports sends the configured reject bursts, in time order.
func (s *sim) reports(fire func(event)) {
	seq := 0
	for _, rp := range s.cfg.Reports {
		if d := time.Until(s.start.Add(rp.At)); d > 0 {
			time.Sleep(d)
		}
		name := s.names[rp.Connection]
		if rp.AtRefresh {
			called := make(chan struct{})
			s.mu.Lock()
			s.calling[name] = called
			s.mu.Unlock()
			select {
			case <-called:
				time.Sleep(time.Second)
			case <-time.After(time.Until(s.end)):
				continue
			}
		}
		tg, _ := s.targets.Lookup(s.spec.Name, name)
		s.sm.mu.Lock()
		sec := s.sm.secrets[tg.TokenSecretID]
		var fp string
		if sec.current != "" {
			if t, err := token.Parse(sec.versions[sec.current].value); err == nil {
				fp = t.Fingerprint
			}
		}
		s.sm.mu.Unlock()
		if fp == "" {
			continue
		}
		// The deduplication id names the token and the minute: SQS keeps
		// one message per id for 5 minutes, and a token may be reported
		// again (and refreshed) a minute after the last reject.
		dedup := fmt.Sprintf("reject-%s-%d", fp, time.Now().Unix()/60)
		for range rp.Apps {
			seq++
			fire(event{conn: name, tick: -1, at: time.Now(), ev: refresh.Event{RejectedFingerprint: fp}, dedupID: dedup, seq: seq})
		}
	}
}

// fifo is the SQS FIFO queue with its event source mapping: messages in
// arrival order, at most one in flight per message group, at most
// concurrency in flight in all. A message whose deduplication id was sent
// in the last 5 minutes is accepted and dropped, as SQS does.
type fifo struct {
	mu       sync.Mutex
	cond     *sync.Cond
	pending  []event
	inFlight map[string]bool
	dedup    map[string]time.Time
	closed   bool
}

const dedupWindow = 5 * time.Minute

func (q *fifo) send(e event) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if e.dedupID != "" {
		if at, ok := q.dedup[e.dedupID]; ok && time.Since(at) < dedupWindow {
			return
		}
		q.dedup[e.dedupID] = time.Now()
	}
	q.pending = append(q.pending, e)
	q.cond.Broadcast()
}

// next blocks until a message of a group with none in flight is available,
// and takes it; false once the queue is closed and empty.
func (q *fifo) next() (event, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for {
		for i, e := range q.pending {
			if !q.inFlight[e.conn] {
				q.pending = append(q.pending[:i], q.pending[i+1:]...)
				q.inFlight[e.conn] = true
				return e, true
			}
		}
		if q.closed && len(q.pending) == 0 {
			return event{}, false
		}
		q.cond.Wait()
	}
}

func (q *fifo) done(e event) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.inFlight, e.conn)
	q.cond.Broadcast()
}

func (q *fifo) close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	q.cond.Broadcast()
}

// runQueued: the schedules and the reports send to the FIFO queue; C
// execution environments take messages from it.
func (s *sim) runQueued() {
	q := &fifo{inFlight: map[string]bool{}, dedup: map[string]time.Time{}}
	q.cond = sync.NewCond(&q.mu)
	var workers sync.WaitGroup
	for range s.cfg.Concurrency {
		workers.Add(1)
		go func() {
			defer workers.Done()
			r := s.newRefresher()
			for {
				e, ok := q.next()
				if !ok {
					return
				}
				s.invoke(r, e)
				q.done(e)
			}
		}()
	}
	var senders sync.WaitGroup
	senders.Add(1)
	go func() {
		defer senders.Done()
		s.reports(q.send)
	}()
	s.ticks(q.send)
	senders.Wait()
	q.close()
	workers.Wait()
}

// vendorTransport is Fyber's token endpoint in process: it answers after
// the configured latency with a fresh one-hour token, and counts calls.
type vendorTransport struct{ s *sim }

func (v *vendorTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	body, _ := io.ReadAll(req.Body)
	req.Body.Close()
	var in struct {
		ClientID string `json:"client_id"`
	}
	_ = json.Unmarshal(body, &in)
	s := v.s
	s.mu.Lock()
	s.res.VendorCalls++
	if called, ok := s.calling[in.ClientID]; ok {
		close(called)
		delete(s.calling, in.ClientID)
	}
	s.tokenSeq++
	tok := fmt.Sprintf("sim-%s-%d", in.ClientID, s.tokenSeq)
	s.mu.Unlock()

	t := time.NewTimer(s.cfg.VendorLatency)
	defer t.Stop()
	select {
	case <-t.C:
	case <-req.Context().Done():
		return nil, req.Context().Err()
	}
	out, _ := json.Marshal(map[string]any{"accessToken": tok, "tokenType": "bearer", "expiresIn": 3600})
	return &http.Response{
		StatusCode: http.StatusOK,
		Header: http.Header{
			"Content-Type": {"application/json"},
			"Date":         {time.Now().UTC().Format(http.TimeFormat)},
		},
		Body:    io.NopCloser(strings.NewReader(string(out))),
		Request: req,
	}, nil
}
