package main

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/token-refresher/token-refresher/internal/localaws"
	"github.com/token-refresher/token-refresher/shared/admitad"
	"github.com/token-refresher/token-refresher/shared/lambdafn"
	"github.com/token-refresher/token-refresher/shared/refresh"
	"github.com/token-refresher/token-refresher/shared/token"
	"github.com/token-refresher/token-refresher/shared/vendors"
)

//go:embed page.html
var pageHTML string

// refresherInvoker runs a vendor's refresher through the scheduler, so a
// call from the Lambda API queues with the scheduled runs and its outcome
// shows in the status of the connection the event names.
type refresherInvoker struct {
	s  *system
	v  *vendorRun // the vendor's default connection
	by string
}

func (r refresherInvoker) Invoke(ctx context.Context, payload []byte) (localaws.Result, error) {
	return r.s.invokeFor(ctx, r.v, payload, r.by)
}

// invokeFor runs def's vendor's refresher with payload, recorded on the row
// of the connection the event names ({} names the default connection). An
// event for a connection dev does not run goes to the function all the
// same, which refuses it as it does in AWS; no row records that.
func (s *system) invokeFor(ctx context.Context, def *vendorRun, payload []byte, by string) (localaws.Result, error) {
	if v := s.runFor(def.spec.Name, payload); v != nil {
		return s.sched.invoke(ctx, v, payload, by)
	}
	return def.fn.Invoke(ctx, payload)
}

// runFor returns the run of vendor's connection that payload names; an
// event the function would refuse as malformed counts for the default
// connection. nil: dev runs no such connection.
func (s *system) runFor(vendor string, payload []byte) *vendorRun {
	conn := vendors.DefaultConnection
	if ev, err := refresh.ParseEvent(payload); err == nil && ev.Connection != "" {
		conn = ev.Connection
	}
	for _, v := range s.vendors {
		if v.spec.Name == vendor && v.connection == conn {
			return v
		}
	}
	return nil
}

// callbackInvoker runs the callback function behind the API Gateway
// stand-in and, when a callback stored a connection, records the vendor as
// connected at once.
type callbackInvoker struct {
	s *system
	v *vendorRun
}

func (c callbackInvoker) Invoke(ctx context.Context, payload []byte) (localaws.Result, error) {
	res, err := c.s.callback.Invoke(ctx, payload)
	if err != nil || res.Failed() {
		return res, err
	}
	var req events.APIGatewayV2HTTPRequest
	if json.Unmarshal(payload, &req) != nil || !strings.HasSuffix(req.RawPath, "/callback") {
		return res, err
	}
	if resp, ok := localaws.ParseHTTPResponse(res.Payload); !ok || resp.StatusCode != http.StatusOK {
		return res, err
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if _, _, cerr := admitad.ReadConnection(rctx, c.s.store, secretName(c.v.spec.Name, vendors.RoleRefreshToken)); cerr != nil {
		return res, err
	}
	fp := ""
	if val, gerr := c.s.store.Get(rctx, c.v.tokenID); gerr == nil {
		if t, perr := token.Parse(val.String); perr == nil {
			fp = t.Fingerprint
			c.v.history.observe(time.Now(), t.Fingerprint, t.ExpiresAt)
		}
	}
	c.s.sched.connected(c.v, time.Now(), fp)
	return res, err
}

// rejectCheck is what a refresher checks on its invoked ARN in AWS: the
// reject alias refuses a forced refresh. Under the emulator the function
// cannot see the alias, so the front checks for it. An event the function
// would refuse as malformed is passed on, for the function to answer.
func (s *system) rejectCheck(v *vendorRun) func([]byte) error {
	return func(payload []byte) error {
		ev, err := refresh.ParseEvent(payload)
		if err != nil {
			return nil
		}
		if err := refresh.CheckInvoker(vendors.RejectAlias, ev); err != nil {
			now := time.Now()
			s.sched.events.add(fmt.Sprintf("%s  %-9s refused through :%s: %v", clock(now), v.spec.Name, vendors.RejectAlias, err),
				runEvent{Event: "refused", Vendor: v.spec.Name, Connection: v.connection, At: now.UTC().Format(time.RFC3339Nano), Error: err.Error()})
			// The errorType the function itself would give (ForceRefused).
			return lambdafn.LambdaError(fmt.Errorf("%s: %w", v.spec.Name, err))
		}
		return nil
	}
}

// newLambdaAPI serves every function by its deployed name.
func (s *system) newLambdaAPI() *localaws.LambdaAPI {
	fns := map[string]localaws.LambdaFunction{}
	for _, v := range s.vendors {
		if v.named() {
			continue // the vendor's function serves it
		}
		fns[functionName(v.spec.FunctionName())] = localaws.LambdaFunction{
			Invoker: refresherInvoker{s: s, v: v, by: "Lambda API"},
			Aliases: map[string]func([]byte) error{vendors.RejectAlias: s.rejectCheck(v)},
		}
		if cb := v.spec.CallbackFunctionName(); cb != "" && s.callback != nil {
			fns[functionName(cb)] = localaws.LambdaFunction{Invoker: s.callback}
		}
	}
	return localaws.NewLambdaAPI(fns)
}

// handler serves the front port: the Lambda Invoke API, the Admitad
// callback routes through the API Gateway stand-in, and dev's own status
// page, status JSON and connect link.
func (s *system) handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle(localaws.LambdaInvokePath, s.lambda)
	for _, v := range s.vendors {
		if !v.spec.AuthCode || s.callback == nil || v.named() {
			continue
		}
		base := "/" + v.spec.Name
		cb := callbackInvoker{s: s, v: v}
		front := localaws.NewFront(map[string]localaws.Invoker{
			"GET " + base + "/authorize": cb,
			"GET " + base + "/callback":  cb,
		})
		mux.Handle(base+"/", front)
	}
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(s.status(r.Context()))
	})
	mux.HandleFunc("POST /invoke/{vendor}", s.handleInvoke)
	mux.HandleFunc("GET /connect", func(w http.ResponseWriter, r *http.Request) {
		link := admitad.MintLink(s.key, s.ports.front.url()+admitad.AuthorizePath, s.cfg.linkTTL, time.Now())
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, link, http.StatusFound)
	})
	mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		cur := s.status(r.Context())
		st, _ := json.Marshal(cur)
		// The first status is part of the page, so it draws at once; a
		// "</" inside a string could end the script element early.
		initial := strings.ReplaceAll(string(st), "</", `<\/`)
		page := strings.Replace(pageHTML, "/*INITIAL_STATUS*/null", initial, 1)
		page = strings.Replace(page, "<title>"+pageTitle+"</title>", "<title>"+html.EscapeString(cur.Summary.Title)+"</title>", 1)
		page = strings.Replace(page, "<!--EVENTS-->", html.EscapeString(strings.Join(s.sched.events.latest(), "\n")), 1)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Content-Security-Policy", "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:")
		_, _ = io.WriteString(w, page)
	})
	mux.HandleFunc("GET /events", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_ = json.NewEncoder(w).Encode(s.sched.events.latest())
	})
	return mux
}

// maxInvokeBody bounds the event POST /invoke/{vendor} takes.
const maxInvokeBody = 64 << 10

// handleInvoke invokes a refresher with the request body as its event
// ({} when empty), as an operator invokes the function itself in AWS (for
// example {"force":true}, {"rejected_fingerprint":"<16 hex>"} or
// {"force":true,"connection":"acme"}). It
// answers the function's reply: its summary, or its error document with
// HTTP 502. The Lambda API on the same port is the way the AWS CLI and SDKs
// do the same.
func (s *system) handleInvoke(w http.ResponseWriter, r *http.Request) {
	var v *vendorRun
	for _, c := range s.vendors {
		if c.spec.Name == r.PathValue("vendor") && !c.named() {
			v = c
		}
	}
	if v == nil {
		http.Error(w, fmt.Sprintf("dev: no vendor %q", r.PathValue("vendor")), http.StatusNotFound)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxInvokeBody))
	if err != nil {
		http.Error(w, "dev: read event: "+err.Error(), http.StatusBadRequest)
		return
	}
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	if !json.Valid(body) {
		http.Error(w, "dev: the event is not JSON", http.StatusBadRequest)
		return
	}
	res, err := s.invokeFor(r.Context(), v, body, "invoked by hand")
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if res.Failed() {
		w.WriteHeader(http.StatusBadGateway)
	}
	_, _ = w.Write(res.Payload)
}
