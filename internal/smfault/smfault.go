// Package smfault is a Secrets Manager fault proxy for integration tests:
// it forwards the AWS JSON protocol to a real moto_server and, for the
// calls a rule matches, hangs, delays, fails with a 5xx or a
// ThrottlingException, applies the call and then drops its answer, or runs
// a hook (a SIGKILL of the function's bootstrap) before or after
// forwarding. It records every call it sees, so tests can count the calls
// of a run and see which secrets it touched.
//
// It listens on 127.0.0.1 only. A Proxy is safe for concurrent use.
package smfault

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// Action is what a rule does to a matching call.
type Action int

const (
	// Pass forwards the call (with Before and After hooks, if any).
	Pass Action = iota
	// Hang never answers: the call waits until the client gives up or the
	// proxy closes. Moto never sees it.
	Hang
	// Delay waits Rule.Delay, then forwards the call.
	Delay
	// Fail answers Rule.Status with the AWS error Rule.Code without
	// forwarding ("InternalServiceError" for a 5xx if Code is empty).
	Fail
	// Throttle answers 400 ThrottlingException without forwarding.
	Throttle
	// ApplyDrop forwards the call, then closes the connection without
	// answering: the call took effect, the client never learns it.
	ApplyDrop
	// ApplyHang forwards the call, then never answers.
	ApplyHang
)

// Rule matches calls and says what to do with them. Empty match fields
// match anything.
type Rule struct {
	// Op is the operation, e.g. "PutSecretValue".
	Op string
	// SecretID matches the call's SecretId exactly, or one of a
	// BatchGetSecretValue's SecretIdList.
	SecretID string
	// Stage matches a GetSecretValue's VersionStage, a PutSecretValue's
	// VersionStages, or an UpdateSecretVersionStage's VersionStage.
	Stage string
	// Skip lets this many matching calls through untouched first.
	Skip int
	// Count is how many matching calls the rule applies to after Skip;
	// 0 means 1, negative means every one.
	Count int

	Action Action
	Delay  time.Duration
	Status int
	Code   string
	// Before runs before the call is forwarded (or answered), After once
	// moto has answered (before the answer is passed on or dropped). A
	// hook that kills the client makes "crash before/after this call".
	Before, After func()
}

// Call is one call the proxy saw.
type Call struct {
	Op string
	// SecretID is the call's SecretId; for a BatchGetSecretValue, the
	// first of its SecretIdList.
	SecretID string
	// SecretIDs are every secret the call names (SecretIdList of a
	// BatchGetSecretValue; otherwise SecretID alone).
	SecretIDs []string
	Stage     string
	// Fault names what the proxy did ("" when it passed untouched).
	Fault string
}

// Proxy is a running fault proxy.
type Proxy struct {
	// URL is the proxy's endpoint: set AWS_ENDPOINT_URL_SECRETS_MANAGER
	// to it.
	URL string

	srv   *httptest.Server
	rp    *httputil.ReverseProxy
	done  chan struct{}
	once  sync.Once
	mu    sync.Mutex
	rules []*rule
	calls []Call
}

type rule struct {
	Rule
	seen, applied int
}

// New starts a proxy in front of the Secrets Manager endpoint target (a
// moto_server URL on loopback).
func New(target string) (*Proxy, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	p := &Proxy{rp: httputil.NewSingleHostReverseProxy(u), done: make(chan struct{})}
	p.rp.Transport = &http.Transport{DisableKeepAlives: true}
	p.srv = httptest.NewServer(http.HandlerFunc(p.serve))
	p.URL = p.srv.URL
	return p, nil
}

// Close stops the proxy; hung calls end.
func (p *Proxy) Close() {
	p.once.Do(func() { close(p.done) })
	p.srv.CloseClientConnections()
	p.srv.Close()
}

// Add installs rules; they are tried in order, the first that applies wins.
func (p *Proxy) Add(rules ...Rule) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, r := range rules {
		p.rules = append(p.rules, &rule{Rule: r})
	}
}

// Clear removes every rule.
func (p *Proxy) Clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rules = nil
}

// Calls returns the calls seen so far, in order.
func (p *Proxy) Calls() []Call {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.calls)
}

// ResetCalls forgets the calls seen so far.
func (p *Proxy) ResetCalls() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls = nil
}

// Count returns how many calls of op (every op if "") were seen.
func (p *Proxy) Count(op string) int {
	n := 0
	for _, c := range p.Calls() {
		if op == "" || c.Op == op {
			n++
		}
	}
	return n
}

// Pending reports whether any rule still has calls to apply to.
func (p *Proxy) Pending() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, r := range p.rules {
		if r.Count < 0 || r.applied < max(r.Count, 1) {
			return true
		}
	}
	return false
}

type request struct {
	SecretID      string   `json:"SecretId"`
	SecretIDList  []string `json:"SecretIdList"`
	VersionStage  string   `json:"VersionStage"`
	VersionStages []string `json:"VersionStages"`
}

func (p *Proxy) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "secretsmanager.")
	var in request
	_ = json.Unmarshal(body, &in)
	stage := in.VersionStage
	if stage == "" && len(in.VersionStages) > 0 {
		stage = strings.Join(in.VersionStages, ",")
	}
	call := Call{Op: op, SecretID: in.SecretID, Stage: stage, SecretIDs: in.SecretIDList}
	if call.SecretID == "" && len(in.SecretIDList) > 0 {
		call.SecretID = in.SecretIDList[0]
	}
	if len(call.SecretIDs) == 0 && call.SecretID != "" {
		call.SecretIDs = []string{call.SecretID}
	}
	ru := p.match(call, in.VersionStages)
	if ru != nil {
		call.Fault = ru.Action.String()
	}
	p.mu.Lock()
	p.calls = append(p.calls, call)
	p.mu.Unlock()
	if ru == nil {
		p.rp.ServeHTTP(w, r)
		return
	}
	if ru.Before != nil {
		ru.Before()
	}
	switch ru.Action {
	case Hang:
		p.wait(r, 0)
		return
	case Delay:
		if !p.wait(r, ru.Delay) {
			return
		}
	case Fail:
		code := ru.Code
		if code == "" {
			code = "InternalServiceError"
		}
		status := ru.Status
		if status == 0 {
			status = http.StatusInternalServerError
		}
		writeError(w, status, code)
		return
	case Throttle:
		writeError(w, http.StatusBadRequest, "ThrottlingException")
		return
	}
	rec := httptest.NewRecorder()
	p.rp.ServeHTTP(rec, r)
	if ru.After != nil {
		ru.After()
	}
	switch ru.Action {
	case ApplyDrop:
		if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
			conn.Close()
		}
		return
	case ApplyHang:
		p.wait(r, 0)
		return
	}
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	w.Write(rec.Body.Bytes())
}

// match finds the rule for call and counts it.
func (p *Proxy) match(c Call, stages []string) *Rule {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, r := range p.rules {
		if r.Op != "" && r.Op != c.Op || r.SecretID != "" && !slices.Contains(c.SecretIDs, r.SecretID) {
			continue
		}
		if r.Stage != "" && r.Stage != c.Stage && !slices.Contains(stages, r.Stage) {
			continue
		}
		r.seen++
		if r.seen <= r.Skip {
			return nil
		}
		if r.Count >= 0 && r.applied >= max(r.Count, 1) {
			continue
		}
		r.applied++
		out := r.Rule
		return &out
	}
	return nil
}

// wait blocks for d (forever if 0) or until the client or the proxy goes
// away; it reports whether the full time passed.
func (p *Proxy) wait(r *http.Request, d time.Duration) bool {
	var timer <-chan time.Time
	if d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		timer = t.C
	}
	select {
	case <-timer:
		return true
	case <-r.Context().Done():
	case <-p.done:
	}
	return false
}

func writeError(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-Errortype", code)
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"__type": code, "message": "injected by the fault proxy"})
}

func (a Action) String() string {
	switch a {
	case Pass:
		return "pass"
	case Hang:
		return "hang"
	case Delay:
		return "delay"
	case Fail:
		return "fail"
	case Throttle:
		return "throttle"
	case ApplyDrop:
		return "apply-drop"
	case ApplyHang:
		return "apply-hang"
	}
	return "unknown"
}
