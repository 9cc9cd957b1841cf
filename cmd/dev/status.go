package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/token-refresher/token-refresher/internal/humandur"
	"github.com/token-refresher/token-refresher/internal/localaws"
	"github.com/token-refresher/token-refresher/shared/admitad"
	"github.com/token-refresher/token-refresher/shared/token"
	"github.com/token-refresher/token-refresher/shared/vendors"
)

// Row states, as the page colours them.
const (
	stateOK           = "ok"
	stateStale        = "stale"
	stateFailing      = "failing"
	stateNotConnected = "not-connected"
	stateStarting     = "starting"
)

// vendorStatus is one row of GET /status: a vendor's connection. It never
// holds a token: only its fingerprint. Fields without a value are left
// out.
type vendorStatus struct {
	// Key is vendor/connection, unique per row.
	Key        string `json:"key"`
	Vendor     string `json:"vendor"`
	Connection string `json:"connection"`
	Title      string `json:"title,omitempty"`
	Function   string `json:"function"`
	// Callback is the function of the vendor's connect flow, if any.
	Callback    string `json:"callback,omitempty"`
	TokenSecret string `json:"token_secret"`
	// CredentialsSecret is the connection's credentials secret.
	CredentialsSecret string `json:"credentials_secret"`
	TestServer        string `json:"test_server"`
	// Account is the test server's account whose credentials the
	// connection's credentials secret holds ("sandbox" for a default
	// connection, the connection's name for a named one); IssuedTo is the
	// account the test server issued the token in the token secret for
	// (empty when the test server does not know the token). They differ
	// only if a connection received another's token.
	Account  string `json:"account"`
	IssuedTo string `json:"issued_to,omitempty"`
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
	// State is ok, stale, failing, not-connected or starting; StateText
	// says why in words.
	State     string `json:"state"`
	StateText string `json:"state_text"`
	// PendingFaults and TokenRequests are the test server's counts.
	PendingFaults int `json:"pending_faults"`
	TokenRequests int `json:"token_requests"`
	runState
	// Chart is the token's remaining life over the last hour of dev time.
	Chart chart `json:"chart"`
}

// status is the whole of GET /status.
type status struct {
	Time       time.Time `json:"time"`
	Speed      float64   `json:"speed"`
	FrontURL   string    `json:"front_url"`
	LambdaURL  string    `json:"lambda_url"`
	ConnectURL string    `json:"connect_url"`
	MotoURL    string    `json:"moto_url"`
	LogFile    string    `json:"log_file"`
	// Env are the variables that point the AWS CLI, SDKs, tokenctl and
	// apps at dev, as NAME=value.
	Env       []string       `json:"env"`
	Functions []string       `json:"functions"`
	Vendors   []vendorStatus `json:"vendors"`
	// Summary counts the rows by state, for the top of the page and its
	// title.
	Summary summary `json:"summary"`
}

// summary counts rows by state. Text is the page's summary line ("6 ok ·
// 1 failing · 0 stale · 0 not connected"); Title is the page's title,
// naming first what needs a person ("1 failing — token-refresher dev",
// "all 7 ok — token-refresher dev").
type summary struct {
	OK           int    `json:"ok"`
	Failing      int    `json:"failing"`
	Stale        int    `json:"stale"`
	NotConnected int    `json:"not_connected"`
	Starting     int    `json:"starting"`
	Text         string `json:"text"`
	Title        string `json:"title"`
}

// pageTitle is the status page's title when nothing is known yet.
const pageTitle = "token-refresher dev"

// summarize counts rows by state.
func summarize(rows []vendorStatus) summary {
	var sm summary
	for _, v := range rows {
		switch v.State {
		case stateOK:
			sm.OK++
		case stateFailing:
			sm.Failing++
		case stateStale:
			sm.Stale++
		case stateNotConnected:
			sm.NotConnected++
		default:
			sm.Starting++
		}
	}
	parts := []string{
		fmt.Sprintf("%d ok", sm.OK), fmt.Sprintf("%d failing", sm.Failing),
		fmt.Sprintf("%d stale", sm.Stale), fmt.Sprintf("%d not connected", sm.NotConnected),
	}
	if sm.Starting > 0 {
		parts = append(parts, fmt.Sprintf("%d starting", sm.Starting))
	}
	sm.Text = strings.Join(parts, " · ")
	var bad []string
	for _, c := range []struct {
		n    int
		what string
	}{{sm.Failing, "failing"}, {sm.Stale, "stale"}, {sm.NotConnected, "not connected"}, {sm.Starting, "starting"}} {
		if c.n > 0 {
			bad = append(bad, fmt.Sprintf("%d %s", c.n, c.what))
		}
	}
	switch {
	case len(bad) > 0:
		sm.Title = strings.Join(bad, ", ") + " — " + pageTitle
	case sm.OK > 0:
		sm.Title = fmt.Sprintf("all %d ok — %s", sm.OK, pageTitle)
	default:
		sm.Title = pageTitle
	}
	return sm
}

// clientEnv is what a shell needs to talk to dev with the AWS CLI or an
// SDK.
func (s *system) clientEnv() []string {
	return []string{
		"AWS_ENDPOINT_URL_LAMBDA=" + s.ports.front.url(),
		"AWS_ENDPOINT_URL_SECRETS_MANAGER=" + s.ports.moto.url(),
		// The AWS CLI v1 and boto3 read only AWS_DEFAULT_REGION.
		"AWS_REGION=" + localaws.Region,
		"AWS_DEFAULT_REGION=" + localaws.Region,
		"AWS_ACCESS_KEY_ID=dev",
		"AWS_SECRET_ACCESS_KEY=dev",
		"AWS_EC2_METADATA_DISABLED=true",
		// tokenctl connect admitad mints links for dev's connect API.
		"ADMITAD_CONNECT_URL=" + s.ports.front.url() + admitad.AuthorizePath,
	}
}

func (s *system) status(ctx context.Context) status {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	runs := s.sched.snapshot()
	now := time.Now()
	st := status{
		Time:       now.UTC(),
		Speed:      s.cfg.speed,
		FrontURL:   s.ports.front.url(),
		LambdaURL:  s.ports.front.url(),
		ConnectURL: s.ports.front.url() + "/connect",
		MotoURL:    s.moto.URL,
		LogFile:    s.logPath,
		Env:        s.clientEnv(),
		Functions:  s.lambda.Names(),
	}
	for _, v := range s.vendors {
		vs := vendorStatus{
			Key:         v.key(),
			Vendor:      v.spec.Name,
			Connection:  v.connection,
			Title:       v.spec.Title,
			Function:    functionName(v.spec.FunctionName()),
			TokenSecret: v.tokenID,
			TestServer:  v.fake.URL(),
			Every:       humandur.Format(v.every),
			runState:    runs[v.key()],
		}
		vs.CredentialsSecret, vs.Account = v.secret(vendors.RoleCredentials), v.account
		if cb := v.spec.CallbackFunctionName(); cb != "" {
			vs.Callback = functionName(cb)
		}
		if v.lifetime > 0 {
			vs.TokenLifetime = humandur.Format(v.lifetime)
		}
		fp, exp, read := "", time.Time{}, false
		if val, err := s.store.Get(ctx, v.tokenID); err == nil {
			read = true
			if t, err := token.Parse(val.String); err == nil {
				fp, exp = t.Fingerprint, t.ExpiresAt
				vs.IssuedTo = v.fake.IssuedTo(t.AccessToken)
			}
		}
		vs.Fingerprint, vs.ExpiresAt = fp, exp
		if read {
			v.history.observe(now, fp, exp)
		}
		if v.spec.AuthCode {
			_, _, err := admitad.ReadConnection(ctx, s.store, v.secret(vendors.RoleRefreshToken))
			connected := err == nil
			vs.Connected = &connected
		}
		stats := v.fake.Stats()
		vs.PendingFaults, vs.TokenRequests = stats.PendingFaults, stats.TokenRequests
		v.history.faultsPending(now, stats.PendingFaults)
		vs.State, vs.StateText = rowState(vs, v, now)
		vs.Chart = v.history.chart(now, v.lifetime, v.spec.RefreshBelow, s.cfg.speed)
		st.Vendors = append(st.Vendors, vs)
	}
	st.Summary = summarize(st.Vendors)
	return st
}

// staleGrace is how far past its due refresh a token may be before it
// counts as stale: one schedule period, plus this for the run itself.
const staleGrace = time.Second

// rowState says how a vendor's connection is doing, as a word and in a
// sentence.
func rowState(vs vendorStatus, v *vendorRun, now time.Time) (string, string) {
	left := vs.ExpiresAt.Sub(now)
	switch {
	case vs.Connected != nil && !*vs.Connected:
		return stateNotConnected, "not connected: a person connects it once through the connect link"
	case vs.Fingerprint != "" && vs.IssuedTo != "" && vs.IssuedTo != vs.Account:
		return stateFailing, "the token secret holds a token issued for account " + vs.IssuedTo + ", not " + vs.Account
	case !vs.FailedAt.IsZero() || vs.LastOutcome == outcomeFailed || vs.LastOutcome == outcomeError:
		failed := vs.FailedAt
		if failed.IsZero() {
			failed = vs.LastRun
		}
		text := "last refresh failed " + humandur.Format(max(now.Sub(failed), 0)) + " ago"
		switch {
		case vs.Fingerprint == "":
			text += "; the token secret holds no token"
		case vs.ExpiresAt.IsZero():
			text += "; apps still get the previous token, which does not expire"
		case left > 0:
			text += "; the token is still valid for " + humandur.Format(left)
		default:
			text += "; the token expired " + humandur.Format(-left) + " ago"
		}
		return stateFailing, text
	case vs.Fingerprint == "" && vs.Runs == 0:
		return stateStarting, "waiting for the first run"
	case vs.Fingerprint == "":
		return stateStale, "the token secret holds no token"
	case !vs.ExpiresAt.IsZero() && left <= 0:
		return stateStale, "the token expired " + humandur.Format(-left) + " ago"
	case !vs.ExpiresAt.IsZero() && v.lifetime > 0 && left < time.Duration(float64(v.lifetime)*v.spec.RefreshBelow)-v.every-staleGrace:
		return stateStale, "the token should have been refreshed by now (" + humandur.Format(left) + " left)"
	case vs.ExpiresAt.IsZero():
		return stateOK, "the token does not expire; checked every " + vs.Every
	default:
		return stateOK, "the token has " + humandur.Format(left) + " left; refreshed below " + humandur.Format(time.Duration(float64(v.lifetime)*v.spec.RefreshBelow))
	}
}

// devAgo says how long ago something happened, in dev time.
func devAgo(d time.Duration, speed float64) string {
	return humandur.Format(time.Duration(float64(d)*speed)) + " ago"
}

// writeTable prints the status table.
func writeTable(w io.Writer, st status) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "VENDOR\tSTATE\tTOKEN\tEXPIRES IN\tLAST RUN (UTC)\tOUTCOME\tNEXT RUN\tRUNS\tFAILED\tRESTARTS\tFAULTS QUEUED")
	for _, v := range st.Vendors {
		tok, exp := "-", "-"
		if v.Fingerprint != "" {
			tok, exp = v.Fingerprint, "never"
			if !v.ExpiresAt.IsZero() {
				if d := v.ExpiresAt.Sub(st.Time); d > 0 {
					exp = humandur.Format(d)
				} else {
					exp = "EXPIRED " + humandur.Format(-d) + " ago"
				}
			}
		}
		last, outcome := "-", "-"
		if !v.LastRun.IsZero() {
			last = clock(v.LastRun)
			outcome = v.LastOutcome
			if v.LastError != "" {
				outcome += ": " + shorten(v.LastError, 60)
			} else if v.Failure != "" {
				outcome += "; failed " + humandur.Format(max(st.Time.Sub(v.FailedAt), 0)) + " ago: " + shorten(v.Failure, 50)
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
			next = "in " + humandur.Format(max(v.NextRun.Sub(st.Time), 0))
		}
		name := v.Vendor
		if v.Connection != "" && v.Connection != vendors.DefaultConnection {
			name += "/" + v.Connection
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\n", name, v.State, tok, exp, last, outcome, next, v.Runs, v.Failures, v.Restarts, v.PendingFaults)
	}
	_ = tw.Flush()
}

func shorten(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// bannerEvent is the banner as one JSON line (-json).
type bannerEvent struct {
	Event      string         `json:"event"` // "ready"
	Speed      float64        `json:"speed"`
	StatusPage string         `json:"status_page"`
	StatusJSON string         `json:"status_json"`
	LambdaURL  string         `json:"lambda_url"`
	MotoURL    string         `json:"moto_url"`
	ConnectURL string         `json:"connect_url"`
	LogFile    string         `json:"log_file"`
	Env        []string       `json:"env"`
	Functions  []string       `json:"functions"`
	Vendors    []bannerVendor `json:"vendors"`
}

// bannerVendor is one connection of the banner.
type bannerVendor struct {
	Vendor      string `json:"vendor"`
	Connection  string `json:"connection"`
	Function    string `json:"function"`
	TokenSecret string `json:"token_secret"`
	TestServer  string `json:"test_server"`
	Every       string `json:"every"`
	Lifetime    string `json:"token_lifetime,omitempty"`
}

// printBanner prints what runs where, the variables to paste, and how to
// poke at it.
func (s *system) printBanner() {
	if s.out.json {
		b := bannerEvent{
			Event: "ready", Speed: s.cfg.speed, StatusPage: s.ports.front.url() + "/", StatusJSON: s.ports.front.url() + "/status",
			LambdaURL: s.ports.front.url(), MotoURL: s.moto.URL, ConnectURL: s.ports.front.url() + "/connect",
			LogFile: s.logPath, Env: s.clientEnv(), Functions: s.lambda.Names(),
		}
		for _, v := range s.vendors {
			bv := bannerVendor{Vendor: v.spec.Name, Connection: v.connection, Function: functionName(v.spec.FunctionName()), TokenSecret: v.tokenID, TestServer: v.fake.URL(), Every: humandur.Format(v.every)}
			if v.lifetime > 0 {
				bv.Lifetime = humandur.Format(v.lifetime)
			}
			b.Vendors = append(b.Vendors, bv)
		}
		s.out.emit(b)
		return
	}
	var b strings.Builder
	s.writeBanner(&b)
	s.out.text(b.String())
}

func (s *system) writeBanner(w io.Writer) {
	front := s.ports.front.url()
	fmt.Fprintf(w, "\ntoken-refresher dev: everything on 127.0.0.1, speed x%g", s.cfg.speed)
	if s.cfg.speed == 60 {
		fmt.Fprint(w, " (an hour of token life passes in a minute)")
	}
	fmt.Fprintf(w, "\n\n  %-22s %s/   (JSON: %s/status)\n", "Status page", front, front)
	fmt.Fprintf(w, "  %-22s %s   (POST /2015-03-31/functions/<name>/invocations)\n", "Lambda API", front)
	fmt.Fprintf(w, "  %-22s %s\n", "", strings.Join(s.lambda.Names(), ", "))
	fmt.Fprintf(w, "  %-22s %s (moto_server)\n", "Secrets Manager", s.moto.URL)
	fmt.Fprintf(w, "  %-22s %s/admitad/authorize, /admitad/callback (API Gateway payload 2.0)\n", "Admitad callback API", front)
	for _, v := range s.vendors {
		if v.named() {
			continue
		}
		life := "never expire"
		if v.lifetime > 0 {
			life = "live " + humandur.Format(v.lifetime)
		}
		fmt.Fprintf(w, "  %-22s %s  runs every %s (table: %s), tokens %s\n",
			v.spec.Name+" test server", v.fake.URL(), humandur.Format(v.every), humandur.Format(v.spec.Every), life)
		if named := s.namedConnections(v.spec.Name); len(named) > 0 {
			fmt.Fprintf(w, "  %-22s default, %s: an account each at the test server, each with its own secrets and schedule\n",
				v.spec.Name+" connections", strings.Join(named, ", "))
		}
	}
	fmt.Fprintf(w, "  %-22s %s\n", "Function and moto logs", s.logPath)
	fmt.Fprintf(w, "\nPoint the AWS CLI, SDKs, tokenctl and your app at dev (paste into a shell):\n")
	env := s.clientEnv()
	fmt.Fprintf(w, "  export %s \\\n    %s\n", strings.Join(env[:2], " "), strings.Join(env[2:], " "))
	fmt.Fprintf(w, "\nThen:\n")
	fmt.Fprintf(w, "  Read a token:     aws secretsmanager get-secret-value --secret-id %s --query SecretString --output text\n", secretName(vendors.Fyber, vendors.RoleToken))
	fmt.Fprintf(w, "  Force a refresh:  aws lambda invoke --function-name %s --payload '{\"force\":true}' out.json   (AWS CLI v2: add --cli-binary-format raw-in-base64-out)\n", functionName(vendors.Fyber))
	fmt.Fprintf(w, "                    or: tokenctl refresh fyber\n")
	for _, v := range s.vendors {
		if v.named() {
			fmt.Fprintf(w, "  A connection:     tokenctl refresh %s   (the event {\"connection\":%q} to %s)\n", v.key(), v.connection, functionName(v.spec.FunctionName()))
			fmt.Fprintf(w, "                    its token: aws secretsmanager get-secret-value --secret-id %s --query SecretString --output text\n", v.tokenID)
			break
		}
	}
	fmt.Fprintf(w, "  Report a refused token (as apps do, through the :%s alias): aws lambda invoke --function-name %s --qualifier %s --payload '{\"rejected_fingerprint\":\"<TOKEN>\"}' out.json\n",
		vendors.RejectAlias, functionName(vendors.Fyber), vendors.RejectAlias)
	fmt.Fprintf(w, "  Fail the next 4 fyber token requests: curl -X POST %s/_fault -d '{\"status\":500,\"count\":4}'\n", s.ports.vendor[vendors.Fyber].url())
	fmt.Fprintf(w, "  Connect Admitad:  open %s/connect in a browser, or: tokenctl connect admitad   (a link to %s%s, from ADMITAD_CONNECT_URL above)\n", front, front, admitad.AuthorizePath)
	fmt.Fprintf(w, "  Ctrl-C stops everything.\n\n")
}

// display prints the status every interval until ctx ends: on a terminal
// it redraws the screen, otherwise it appends.
func (s *system) display(ctx context.Context) {
	tty := isTerminal(s.raw)
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
		case s.out.json:
			for i := range st.Vendors {
				st.Vendors[i].Chart = chart{} // the page's; too long for a log line
			}
			s.out.emit(statusEvent{Event: "status", Status: st})
		case tty:
			var b strings.Builder
			b.WriteString("\033[H\033[2J")
			s.writeBanner(&b)
			writeTable(&b, st)
			b.WriteString("\nRecent runs:\n")
			for _, l := range s.sched.events.latest() {
				b.WriteString("  " + l + "\n")
			}
			s.out.text(b.String())
		default:
			var b strings.Builder
			fmt.Fprintf(&b, "\n%s UTC\n", clock(st.Time))
			writeTable(&b, st)
			b.WriteString("\n")
			s.out.text(b.String())
		}
	}
}

// statusEvent is the status as one JSON line.
type statusEvent struct {
	Event  string `json:"event"`
	Status status `json:"status"`
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// statusCache samples the status every second, so the charts have data
// even when nobody looks.
type statusCache struct{ s *system }

func newStatusCache(s *system) *statusCache { return &statusCache{s: s} }

func (c *statusCache) run(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	// Faults are often served within a second of being injected: the
	// test servers' counts are read more often (they are in memory).
	faults := time.NewTicker(50 * time.Millisecond)
	defer faults.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			c.s.status(ctx)
		case now := <-faults.C:
			for _, v := range c.s.vendors {
				v.history.faultsPending(now, v.fake.PendingFaults())
			}
		}
	}
}

// clock is how dev shows a time of day everywhere (the table, the run
// lines, the page, the log file): 24-hour UTC, which the page and the
// table say.
func clock(t time.Time) string { return t.UTC().Format("15:04:05") }
