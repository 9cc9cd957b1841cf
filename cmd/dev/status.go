package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/token-refresher/token-refresher/internal/localaws"
	"github.com/token-refresher/token-refresher/shared/admitad"
	"github.com/token-refresher/token-refresher/shared/token"
)

// vendorStatus is one vendor's row of GET /status. It never holds a token:
// only its fingerprint.
type vendorStatus struct {
	Vendor      string `json:"vendor"`
	Function    string `json:"function"`
	TokenSecret string `json:"token_secret"`
	TestServer  string `json:"test_server"`
	// Every is the sped-up schedule period, TokenLifetime the sped-up
	// lifetime of the test server's tokens ("" when they never expire).
	Every         string `json:"every"`
	TokenLifetime string `json:"token_lifetime,omitempty"`
	// Fingerprint and ExpiresAt describe the token in the token secret;
	// empty when it holds none yet.
	Fingerprint string    `json:"fingerprint,omitempty"`
	ExpiresAt   time.Time `json:"expires_at,omitzero"`
	// Connected is set for vendors connected by a person (Admitad).
	Connected *bool `json:"connected,omitempty"`
	// PendingFaults and TokenRequests are the test server's counts.
	PendingFaults int `json:"pending_faults"`
	TokenRequests int `json:"token_requests"`
	runState
}

// status is the whole of GET /status.
type status struct {
	Time       time.Time      `json:"time"`
	Speed      float64        `json:"speed"`
	FrontURL   string         `json:"front_url"`
	ConnectURL string         `json:"connect_url"`
	MotoURL    string         `json:"moto_url"`
	LogFile    string         `json:"log_file"`
	Vendors    []vendorStatus `json:"vendors"`
}

func (s *system) status(ctx context.Context) status {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	runs := s.sched.snapshot()
	st := status{
		Time:       time.Now().UTC(),
		Speed:      s.cfg.speed,
		FrontURL:   s.ports.front.url(),
		ConnectURL: s.ports.front.url() + "/connect",
		MotoURL:    s.moto.URL,
		LogFile:    s.logPath,
	}
	for _, v := range s.vendors {
		vs := vendorStatus{
			Vendor:      v.spec.Name,
			Function:    functionName(v.spec.FunctionName()),
			TokenSecret: v.tokenID,
			TestServer:  v.fake.URL(),
			Every:       roundDur(v.every),
			runState:    runs[v.spec.Name],
		}
		if v.lifetime > 0 {
			vs.TokenLifetime = roundDur(v.lifetime)
		}
		if val, err := s.store.Get(ctx, v.tokenID); err == nil {
			if t, err := token.Parse(val.String); err == nil {
				vs.Fingerprint, vs.ExpiresAt = t.Fingerprint, t.ExpiresAt
			}
		}
		if v.spec.AuthCode {
			_, _, err := admitad.ReadConnection(ctx, s.store, secretName(v.spec.Name, "refresh-token"))
			connected := err == nil
			vs.Connected = &connected
		}
		stats := v.fake.Stats()
		vs.PendingFaults, vs.TokenRequests = stats.PendingFaults, stats.TokenRequests
		st.Vendors = append(st.Vendors, vs)
	}
	return st
}

// roundDur prints a duration for people: whole seconds, or tenths below
// ten seconds.
func roundDur(d time.Duration) string {
	if d < 10*time.Second && d > -10*time.Second {
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

// writeTable prints the status table.
func writeTable(w io.Writer, st status) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "VENDOR\tTOKEN\tEXPIRES IN\tLAST RUN\tOUTCOME\tNEXT RUN\tRUNS\tFAILED\tFAULTS QUEUED")
	for _, v := range st.Vendors {
		tok, exp := "-", "-"
		if v.Fingerprint != "" {
			tok, exp = v.Fingerprint, "never"
			if !v.ExpiresAt.IsZero() {
				if d := v.ExpiresAt.Sub(st.Time); d > 0 {
					exp = roundDur(d)
				} else {
					exp = "EXPIRED " + roundDur(-d) + " ago"
				}
			}
		}
		last, outcome := "-", "-"
		if !v.LastRun.IsZero() {
			last = v.LastRun.Format("15:04:05")
			outcome = v.LastOutcome
			if v.LastError != "" {
				outcome += ": " + shorten(v.LastError, 60)
			}
		}
		if v.Connected != nil && !*v.Connected {
			outcome = "not connected: open " + st.ConnectURL
		}
		next := "-"
		switch {
		case v.Running:
			next = "running"
		case !v.NextRun.IsZero():
			next = "in " + roundDur(max(v.NextRun.Sub(st.Time), 0))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\n", v.Vendor, tok, exp, last, outcome, next, v.Runs, v.Failures, v.PendingFaults)
	}
	_ = tw.Flush()
}

func shorten(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// printHeader prints what runs where and how to poke at it.
func (s *system) printHeader(w io.Writer) {
	front := s.ports.front.url()
	fmt.Fprintf(w, "\ntoken-refresher dev: everything on 127.0.0.1, speed x%g", s.cfg.speed)
	if s.cfg.speed == 60 {
		fmt.Fprint(w, " (an hour of token life passes in a minute)")
	}
	fmt.Fprintf(w, "\n\n  %-22s %s/   (JSON: %s/status)\n", "Status page", front, front)
	fmt.Fprintf(w, "  %-22s %s/admitad/authorize, %s/admitad/callback (API Gateway payload 2.0)\n", "Admitad callback API", front, front)
	fmt.Fprintf(w, "  %-22s %s (moto_server)\n", "Secrets Manager", s.moto.URL)
	for _, v := range s.vendors {
		life := "never expire"
		if v.lifetime > 0 {
			life = "live " + roundDur(v.lifetime)
		}
		fmt.Fprintf(w, "  %-22s %s  %s every %s (table: %s), tokens %s\n",
			v.spec.Name+" test server", v.fake.URL(), functionName(v.spec.FunctionName()), roundDur(v.every), v.spec.Every, life)
	}
	fmt.Fprintf(w, "  Function and moto logs: %s\n", s.logPath)
	fmt.Fprintf(w, "\n  Connect Admitad: open %s/connect in a browser\n", front)
	fyber := s.ports.vendor["fyber"].url()
	fmt.Fprintf(w, "  Fail the next 4 fyber token requests: curl -X POST %s/_fault -d '{\"status\":500,\"count\":4}'\n", fyber)
	fmt.Fprintf(w, "  Invoke a refresher as an app would: curl -X POST %s/invoke/fyber -d '{\"force\":true}'\n", front)
	fmt.Fprintf(w, "  Read a token: AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x aws --region %s --endpoint-url %s secretsmanager get-secret-value --secret-id %s\n",
		localaws.Region, s.moto.URL, secretName("fyber", "token"))
	fmt.Fprintf(w, "  Ctrl-C stops everything.\n\n")
}

// handler serves the front port: the Admitad callback routes through the
// API Gateway stand-in, and dev's own status page, status JSON and connect
// link.
func (s *system) handler() http.Handler {
	mux := http.NewServeMux()
	for _, v := range s.vendors {
		if !v.spec.AuthCode || s.callback == nil {
			continue
		}
		base := "/" + v.spec.Name
		front := localaws.NewFront(map[string]localaws.Invoker{
			"GET " + base + "/authorize": s.callback,
			"GET " + base + "/callback":  s.callback,
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
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		var b strings.Builder
		writeTable(&b, s.status(r.Context()))
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		fmt.Fprintf(w, `<!doctype html><meta charset="utf-8"><meta http-equiv="refresh" content="2"><title>token-refresher dev</title>
<h1>token-refresher dev</h1><pre>%s</pre>
<p><a href="/connect">Connect Admitad</a> (walks the connect flow against the Admitad test server) · <a href="/status">status JSON</a></p>
<p>Recent runs:</p><pre>%s</pre>`, html.EscapeString(b.String()), html.EscapeString(strings.Join(s.sched.events.latest(), "\n")))
	})
	return mux
}

// display prints the status every interval until ctx ends: on a terminal
// it redraws the screen, otherwise it appends.
func (s *system) display(ctx context.Context) {
	tty := isTerminal(s.out)
	interval := s.cfg.statusInterval
	if interval == 0 {
		interval = 30 * time.Second
		if tty {
			interval = 2 * time.Second
		}
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		st := s.status(ctx)
		if ctx.Err() != nil {
			return
		}
		switch {
		case s.cfg.jsonStatus:
			b, _ := json.Marshal(map[string]any{"event": "status", "status": st})
			fmt.Fprintf(s.out, "%s\n", b)
		case tty:
			var b strings.Builder
			b.WriteString("\033[H\033[2J")
			s.printHeader(&b)
			writeTable(&b, st)
			b.WriteString("\nRecent runs:\n")
			for _, l := range s.sched.events.latest() {
				b.WriteString("  " + l + "\n")
			}
			fmt.Fprint(s.out, b.String())
		default:
			fmt.Fprintf(s.out, "\n%s\n", st.Time.Local().Format("15:04:05"))
			writeTable(s.out, st)
			fmt.Fprintln(s.out)
		}
	}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// maxInvokeBody bounds the event POST /invoke/{vendor} takes.
const maxInvokeBody = 64 << 10

// handleInvoke invokes a refresher with the request body as its event
// ({} when empty), as an app or operator invokes it in AWS (for example
// {"force":true} or {"rejected_fingerprint":"<16 hex>"}). It answers the
// function's reply: its summary, or its error document with HTTP 502.
func (s *system) handleInvoke(w http.ResponseWriter, r *http.Request) {
	var v *vendorRun
	for _, c := range s.vendors {
		if c.spec.Name == r.PathValue("vendor") {
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
	res, err := s.sched.invoke(r.Context(), v, body, "invoked by hand")
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
