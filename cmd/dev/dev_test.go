//go:build linux

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/token-refresher/token-refresher/internal/localaws"
	"github.com/token-refresher/token-refresher/shared/admitad"
	"github.com/token-refresher/token-refresher/shared/admitad/admitadtest"
	"github.com/token-refresher/token-refresher/shared/refresh"
	"github.com/token-refresher/token-refresher/shared/secretstore"
	"github.com/token-refresher/token-refresher/shared/token"
	"github.com/token-refresher/token-refresher/shared/vendorhttp"
	"github.com/token-refresher/token-refresher/shared/vendors"
	"github.com/token-refresher/token-refresher/shared/vendortest"
)

func TestParseFlags(t *testing.T) {
	cases := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"defaults", nil, ""},
		{"all set", []string{"-base-port", "20000", "-speed", "600", "-status-interval", "1s", "-json", "-log", "/tmp/x.log"}, ""},
		{"port too low", []string{"-base-port", "80"}, "-base-port 80"},
		{"port range past 65535", []string{"-base-port", "65530"}, "-base-port 65530"},
		{"speed below 1", []string{"-speed", "0.5"}, "-speed 0.5"},
		{"negative interval", []string{"-status-interval", "-1s"}, "-status-interval -1s"},
		{"link ttl too long", []string{"-link-ttl", "2h"}, "-link-ttl 2h0m0s"},
		{"stray argument", []string{"now"}, `unexpected argument "now"`},
		{"unknown flag", []string{"-nope"}, "flag provided but not defined"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseFlags(tc.args, io.Discard)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("error = %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"-help"}, &out, &errOut); code != 0 {
		t.Fatalf("exit code %d, want 0", code)
	}
	for _, want := range []string{"Usage: dev", "-speed", "-base-port", "fyber +4"} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("help lacks %q:\n%s", want, errOut.String())
		}
	}
}

// TestPortInUse: a taken port stops dev before anything starts, with the
// port and its role named.
func TestPortInUse(t *testing.T) {
	base := freeBase(t)
	for _, offset := range []int{0, 1, 4} {
		t.Run(strconv.Itoa(offset), func(t *testing.T) {
			taken := base + offset
			ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(taken)))
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			var out, errOut bytes.Buffer
			code := run([]string{"-base-port", strconv.Itoa(base)}, &out, &errOut)
			if code != 1 {
				t.Fatalf("exit code %d, want 1", code)
			}
			want := fmt.Sprintf("port %d (%s) on 127.0.0.1 is in use", taken, newLayout(base).all()[offset].what)
			if !strings.Contains(errOut.String(), want) {
				t.Fatalf("stderr %q does not contain %q", errOut.String(), want)
			}
		})
	}
}

func TestWriteTable(t *testing.T) {
	now := time.Date(2026, 1, 2, 10, 0, 0, 0, time.UTC)
	no := false
	st := status{Time: now, ConnectURL: "http://127.0.0.1:7700/connect", Vendors: []vendorStatus{
		{Vendor: "fyber", Fingerprint: "0123456789abcdef", ExpiresAt: now.Add(90 * time.Second),
			runState: runState{Runs: 3, Failures: 1, LastRun: now.Add(-time.Second), LastOutcome: "failed", LastError: "fyber: request token: HTTP 500", NextRun: now.Add(5 * time.Second)}},
		{Vendor: "merchenta", Fingerprint: "fedcba9876543210", ExpiresAt: now.Add(-3 * time.Second), runState: runState{Running: true}},
		{Vendor: "invoca", Fingerprint: "1111222233334444"},
		{Vendor: "admitad", Connected: &no, runState: runState{Runs: 1, LastRun: now, LastOutcome: "failed"}},
		{Vendor: "merchenta", Connection: "acme", Fingerprint: "aaaabbbbccccdddd", ExpiresAt: now.Add(time.Minute)},
	}}
	var b strings.Builder
	writeTable(&b, st)
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 6 {
		t.Fatalf("table has %d lines:\n%s", len(lines), b.String())
	}
	cases := []struct {
		row  int
		want []string
	}{
		{1, []string{"fyber", "0123456789abcdef", "1m30s", "failed: fyber: request token: HTTP 500", "in 5s", "3", "1"}},
		{2, []string{"merchenta", "EXPIRED 3s ago", "running"}},
		{3, []string{"invoca", "never"}},
		{4, []string{"admitad", "not connected: open http://127.0.0.1:7700/connect"}},
		{5, []string{"merchenta/acme ", "aaaabbbbccccdddd", "1m"}},
	}
	for _, tc := range cases {
		t.Run(strings.Fields(lines[tc.row])[0], func(t *testing.T) {
			for _, w := range tc.want {
				if !strings.Contains(lines[tc.row], w) {
					t.Errorf("row %q lacks %q", lines[tc.row], w)
				}
			}
		})
	}
}

// TestDev runs the built command as a person would, sped up 120 times,
// and checks the whole story: JSON lines, tokens for every vendor
// (Admitad through the connect flow in a cookie-keeping client), the
// status page in Chromium, the Lambda API with the AWS CLI, the SDK,
// tokenctl and the reader, restarts of killed emulators, a vendor fault
// that keeps the previous token, the recovery, the README's app snippets,
// and a SIGTERM that leaves no process.
func TestDev(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole system; skipped with -short")
	}
	root, err := localaws.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	bin := buildDev(t, tmp)

	base := freeBase(t)
	logPath := filepath.Join(tmp, "dev.log")
	stdout, stderr := &lockedBuffer{}, &lockedBuffer{}
	cmd := exec.Command(bin, "-base-port", strconv.Itoa(base), "-speed", "120", "-status-interval", "1s", "-json", "-log", logPath)
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = stdout, stderr
	// If the test binary dies, dev dies, and its children with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("dev stdout (tail):\n%s", tail(stdout.String(), 8000))
			t.Logf("dev stderr:\n%s", stderr.String())
			if b, err := os.ReadFile(logPath); err == nil {
				t.Logf("dev log (tail):\n%s", tail(string(b), 6000))
			}
		}
	})

	front := fmt.Sprintf("http://127.0.0.1:%d", base)
	d := &devClient{t: t, front: front, exited: exited}
	st := d.waitStatus(8*time.Minute, "dev serving /status", func(st status) bool { return len(st.Vendors) == wantRows })
	if want := fmt.Sprintf("http://127.0.0.1:%d", base+1); st.MotoURL != want {
		t.Fatalf("moto at %s, want %s", st.MotoURL, want)
	}
	sm := motoClient(st.MotoURL)
	store := &secretstore.Store{API: sm}
	tokens := map[string]token.Token{}
	env := clientEnv(st)

	t.Run("tokens of the scheduled vendors", func(t *testing.T) {
		d := d.as(t)
		for _, v := range []string{vendors.HasOffers, vendors.Invoca, vendors.Fyber, vendors.Merchenta} {
			tok := waitToken(t, store, v, 2*time.Minute, func(token.Token) bool { return true })
			tokens[v] = tok
		}
		st := d.status()
		for _, v := range st.Vendors {
			if v.Connection != vendors.DefaultConnection {
				continue // named connections: checked on their own below
			}
			if v.Vendor == vendors.Admitad {
				if v.Connected == nil || *v.Connected {
					t.Errorf("admitad connected = %v before the connect flow", v.Connected)
				}
				continue
			}
			if v.Fingerprint != tokens[v.Vendor].Fingerprint {
				t.Errorf("%s: status fingerprint %q, secret %q", v.Vendor, v.Fingerprint, tokens[v.Vendor].Fingerprint)
			}
		}
	})

	t.Run("secrets tagged as the stack tags them", func(t *testing.T) {
		checkSecretTags(t, sm)
	})

	t.Run("merchenta connections never get another's token", func(t *testing.T) {
		checkConnections(t, front, sm, store, d.as(t))
	})

	t.Run("stdout is JSON lines", func(t *testing.T) {
		checkJSONLines(t, stdout.String(), false)
	})

	t.Run("status page in Chromium", func(t *testing.T) {
		checkPageInBrowser(t, front, base, store)
	})

	t.Run("Lambda API", func(t *testing.T) {
		checkLambdaAPI(t, root, front, env, store, d)
	})

	t.Run("emulators are restarted", func(t *testing.T) {
		checkRestarts(t, cmd.Process.Pid, front, env, d)
	})

	t.Run("app snippets against dev", func(t *testing.T) {
		checkSnippets(t, root, env, store)
	})

	t.Run("admitad connect flow", func(t *testing.T) {
		d := d.as(t)
		connectAdmitad(t, front, base+6)
		tok := waitToken(t, store, vendors.Admitad, time.Minute, func(token.Token) bool { return true })
		tokens[vendors.Admitad] = tok
		if tok.Extras["username"] != admitadtest.Username {
			t.Errorf("admitad token username %q, want %q", tok.Extras["username"], admitadtest.Username)
		}
		st := d.waitStatus(time.Minute, "admitad connected", func(st status) bool {
			v := find(st, vendors.Admitad)
			return v.Connected != nil && *v.Connected && v.Fingerprint == tok.Fingerprint
		})
		// The connect itself clears the earlier "not connected yet"
		// failure: no scheduled run is needed for that.
		if v := find(st, vendors.Admitad); v.State != stateOK || v.LastOutcome != outcomeConnected || v.LastError != "" {
			t.Errorf("after the connect: state %q, outcome %q, error %q", v.State, v.LastOutcome, v.LastError)
		}
		var table strings.Builder
		writeTable(&table, st)
		if strings.Contains(table.String(), "not connected yet") {
			t.Errorf("the table still says not connected yet:\n%s", table.String())
		}
	})

	t.Run("fault keeps the previous token, then recovery", func(t *testing.T) {
		d := d.as(t)
		before := find(d.status(), vendors.Fyber)
		kept := waitToken(t, store, vendors.Fyber, time.Minute, func(token.Token) bool { return true })
		// Every attempt of one run fails: the run fails as a whole.
		fault := fmt.Sprintf(`{"status":500,"count":%d}`, vendorhttp.DefaultMaxAttempts)
		resp, err := http.Post(fmt.Sprintf("http://127.0.0.1:%d/_fault", base+4), "application/json", strings.NewReader(fault))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("POST /_fault: HTTP %d", resp.StatusCode)
		}

		// The refresh falls due within half the (one-minute) token life.
		// The failure stays in /status until a run succeeds, so later
		// skips cannot hide it from this wait.
		failed := d.waitStatus(3*time.Minute, "a failed fyber run", func(st status) bool {
			v := find(st, vendors.Fyber)
			return v.Failures > before.Failures && v.Failure != "" && v.PendingFaults == 0
		})
		v := find(failed, vendors.Fyber)
		if !strings.Contains(v.Failure, "HTTP 500") {
			t.Errorf("failure %q does not name the vendor's HTTP 500", v.Failure)
		}
		if v.State != stateFailing {
			t.Errorf("after a failed run: state %q (%s), want %s", v.State, v.StateText, stateFailing)
		}
		now, err := store.Get(context.Background(), secretName(vendors.Fyber, "token"))
		if err != nil {
			t.Fatal(err)
		}
		cur, err := token.Parse(now.String)
		if err != nil {
			t.Fatalf("token secret after the failed run: %v", err)
		}
		if cur.Fingerprint != kept.Fingerprint {
			t.Fatalf("token secret changed during the failed run: %s, was %s", cur.Fingerprint, kept.Fingerprint)
		}
		if !cur.ExpiresAt.After(time.Now()) {
			t.Fatalf("kept token expired at %s: the failure came too late to show it kept", cur.ExpiresAt)
		}

		fresh := waitToken(t, store, vendors.Fyber, 2*time.Minute, func(tok token.Token) bool { return tok.Fingerprint != kept.Fingerprint })
		d.waitStatus(time.Minute, "fyber refreshed after the fault", func(st status) bool {
			v := find(st, vendors.Fyber)
			return v.Fingerprint == fresh.Fingerprint && v.Failure == "" && v.State == stateOK
		})
		tokens[vendors.Fyber+"-fresh"] = fresh
	})

	t.Run("invoke by hand", func(t *testing.T) {
		cur := waitToken(t, store, vendors.Fyber, time.Minute, func(token.Token) bool { return true })
		cases := []struct {
			name, vendor, event string
			wantStatus          int
			wantAction          string
			wantNew             bool
		}{
			{"stale rejected fingerprint", vendors.Fyber, `{"rejected_fingerprint":"` + kept(tokens, vendors.Fyber) + `"}`, http.StatusOK, refresh.ActionSkipped, false},
			{"force", vendors.Fyber, `{"force":true}`, http.StatusOK, refresh.ActionRefreshed, true},
			{"not JSON", vendors.Fyber, `force`, http.StatusBadRequest, "", false},
			{"unknown vendor", "nope", `{}`, http.StatusNotFound, "", false},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				resp, err := http.Post(front+"/invoke/"+tc.vendor, "application/json", strings.NewReader(tc.event))
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				body, _ := io.ReadAll(resp.Body)
				if resp.StatusCode != tc.wantStatus {
					t.Fatalf("HTTP %d, want %d: %s", resp.StatusCode, tc.wantStatus, body)
				}
				if tc.wantAction == "" {
					return
				}
				var sum refresh.Summary
				if err := json.Unmarshal(body, &sum); err != nil {
					t.Fatalf("reply %s: %v", body, err)
				}
				if sum.Action != tc.wantAction || (sum.Fingerprint != cur.Fingerprint) != tc.wantNew {
					t.Fatalf("reply %+v; want action %s, new token %v (was %s)", sum, tc.wantAction, tc.wantNew, cur.Fingerprint)
				}
				cur = waitToken(t, store, vendors.Fyber, time.Minute, func(tok token.Token) bool { return tok.Fingerprint == sum.Fingerprint })
			})
		}
		tokens[vendors.Fyber+"-forced"] = cur
	})

	t.Run("status page after the story", func(t *testing.T) {
		screenshotPage(t, front, "dev-status-end.png")
	})

	t.Run("SIGTERM leaves no process", func(t *testing.T) {
		kids := descendantsOf(cmd.Process.Pid)
		var names []string
		for _, k := range kids {
			names = append(names, k.cmdline)
		}
		all := strings.Join(names, "\n")
		if strings.Count(all, "aws-lambda-rie") != 6 || !strings.Contains(all, "moto_server") {
			t.Errorf("expected moto_server and 6 emulators below dev, found:\n%s", all)
		}
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-exited:
			stopped = true
			if err != nil {
				t.Errorf("dev exited with %v after SIGTERM", err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("dev still runs 30s after SIGTERM")
		}
		for _, k := range kids {
			if k.alive() {
				t.Errorf("process %d (%s) still runs after dev stopped", k.pid, k.cmdline)
			}
		}
		if !strings.Contains(stdout.String(), `{"event":"stopped"}`) {
			t.Errorf("dev did not report a clean stop")
		}
		checkJSONLines(t, stdout.String(), true)
	})

	t.Run("no secret in output or logs", func(t *testing.T) {
		logs, _ := os.ReadFile(logPath)
		text := stdout.String() + stderr.String() + string(logs)
		var secrets []string
		for _, tok := range tokens {
			secrets = append(secrets, tok.AccessToken)
		}
		creds := []map[string]string{}
		for _, spec := range vendors.All() {
			creds = append(creds, vendortest.Credentials(spec.Name))
		}
		for _, c := range devConnections {
			creds = append(creds, connectionCredentials(vendors.Merchenta, c))
		}
		for _, cr := range creds {
			for k, v := range cr {
				if k == "client_secret" || k == "password" || k == "api_token" {
					secrets = append(secrets, v)
				}
			}
		}
		for _, s := range secrets {
			if strings.Contains(text, s) {
				t.Errorf("dev output or log contains a secret (fingerprint %s)", token.Fingerprint(s))
			}
		}
	})
}

// buildDev builds cmd/dev into dir.
func buildDev(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "dev")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build cmd/dev: %v\n%s", err, out)
	}
	return bin
}

// clientEnv is the environment of a client of dev: the variables dev
// prints, and nothing of this machine's AWS setup.
func clientEnv(st status) []string {
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_PAGER="}
	for _, k := range []string{"GOPATH", "GOCACHE", "GOMODCACHE", "GOFLAGS", "TMPDIR", "PYENV_ROOT", "PYENV_VERSION"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return append(env, st.Env...)
}

// checkJSONLines parses every line of dev's -json stdout: each is a JSON
// object with an "event", and no field is an empty string. final: dev has
// stopped, and the output must hold status events and the stop.
func checkJSONLines(t *testing.T, out string, final bool) {
	t.Helper()
	seen := map[string]int{}
	built := map[string]bool{}
	for i, line := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		var ev map[string]any
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("stdout line %d is not JSON: %v\n%s", i+1, err, line)
		}
		kind, _ := ev["event"].(string)
		if kind == "" {
			t.Fatalf("stdout line %d has no event: %s", i+1, line)
		}
		seen[kind]++
		if path := emptyField(ev, ""); path != "" {
			t.Errorf("stdout line %d: field %s is an empty string: %s", i+1, path, shorten(line, 300))
		}
		if kind == "progress" && ev["step"] == "build" {
			if fn, ok := ev["function"].(string); ok {
				built[fn] = true
				if s, _ := ev["seconds"].(float64); s <= 0 {
					t.Errorf("build of %s reports no duration: %s", fn, line)
				}
			}
		}
	}
	for _, fn := range functionFolders() {
		if !built[fn] {
			t.Errorf("no progress line for building %s", fn)
		}
	}
	if seen["ready"] != 1 {
		t.Errorf("%d ready events (the banner), want 1", seen["ready"])
	}
	want := []string{"run"}
	if final {
		want = append(want, "status", "stopping", "stopped")
	}
	for _, k := range want {
		if seen[k] == 0 {
			t.Errorf("no %s events", k)
		}
	}
}

// emptyField returns the path of the first string field holding "".
func emptyField(v any, path string) string {
	switch x := v.(type) {
	case string:
		if x == "" {
			return path
		}
	case map[string]any:
		for k, e := range x {
			if p := emptyField(e, path+"."+k); p != "" {
				return p
			}
		}
	case []any:
		for i, e := range x {
			if p := emptyField(e, fmt.Sprintf("%s[%d]", path, i)); p != "" {
				return p
			}
		}
	}
	return ""
}

// kept is the fingerprint of the first token seen for vendor.
func kept(tokens map[string]token.Token, vendor string) string { return tokens[vendor].Fingerprint }

// connectAdmitad walks the connect flow hop by hop, as a browser does:
// dev's /connect → signed link → the callback function's authorize route
// (sets the cookie) → the Admitad test server's dialogue → the callback.
func connectAdmitad(t *testing.T, front string, admitadPort int) {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Jar: jar, Timeout: 40 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	hop := func(u string, wantStatus int) *http.Response {
		t.Helper()
		resp, err := c.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != wantStatus {
			t.Fatalf("GET %s: HTTP %d, want %d\n%s", vendorhttp.RedactURL(u), resp.StatusCode, wantStatus, body)
		}
		resp.Body = io.NopCloser(bytes.NewReader(body))
		return resp
	}
	next := func(resp *http.Response, wantPrefix string) string {
		t.Helper()
		loc := resp.Header.Get("Location")
		if !strings.HasPrefix(loc, wantPrefix) {
			t.Fatalf("redirect to %q, want one starting %q", vendorhttp.RedactURL(loc), wantPrefix)
		}
		return loc
	}
	link := next(hop(front+"/connect", http.StatusFound), front+admitad.AuthorizePath+"?")
	u, _ := url.Parse(link)
	if u.Query().Get("sig") == "" || u.Query().Get("exp") == "" {
		t.Fatalf("connect link is not signed: %s", vendorhttp.RedactURL(link))
	}
	resp := hop(link, http.StatusFound)
	if len(resp.Cookies()) == 0 {
		t.Fatal("authorize route set no cookie")
	}
	dialogue := next(resp, fmt.Sprintf("http://127.0.0.1:%d/api/authorize/", admitadPort))
	callback := next(hop(dialogue, http.StatusFound), front+admitad.CallbackPath+"?")
	page := hop(callback, http.StatusOK)
	body, _ := io.ReadAll(page.Body)
	if !strings.Contains(string(body), "Admitad connected") {
		t.Fatalf("callback page does not say connected:\n%s", body)
	}
}

// devClient reads dev's status.
type devClient struct {
	t      *testing.T
	front  string
	exited chan error
}

// as returns d reporting to t (a subtest).
func (d *devClient) as(t *testing.T) *devClient {
	c := *d
	c.t = t
	return &c
}

func (d *devClient) get() (status, error) {
	resp, err := http.Get(d.front + "/status")
	if err != nil {
		return status{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return status{}, fmt.Errorf("GET /status: HTTP %d", resp.StatusCode)
	}
	var st status
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return status{}, fmt.Errorf("GET /status: %w", err)
	}
	return st, nil
}

func (d *devClient) status() status {
	d.t.Helper()
	st, err := d.get()
	if err != nil {
		d.t.Fatal(err)
	}
	return st
}

// waitStatus polls /status until ok, dev exits, or timeout.
func (d *devClient) waitStatus(timeout time.Duration, what string, ok func(status) bool) status {
	d.t.Helper()
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		select {
		case err := <-d.exited:
			d.exited <- err
			d.t.Fatalf("dev exited (%v) while waiting for %s", err, what)
		default:
		}
		st, err := d.get()
		if err == nil && ok(st) {
			return st
		}
		last = err
		time.Sleep(250 * time.Millisecond)
	}
	d.t.Fatalf("no %s within %s (last error: %v)", what, timeout, last)
	return status{}
}

// find returns the row of vendor's default connection.
func find(st status, vendor string) vendorStatus {
	return findConn(st, vendor, vendors.DefaultConnection)
}

func motoClient(motoURL string) *secretsmanager.Client {
	return secretsmanager.New(secretsmanager.Options{
		Region:       localaws.Region,
		BaseEndpoint: aws.String(motoURL),
		Credentials:  credentials.NewStaticCredentialsProvider("dev-test", "dev-test", ""),
	})
}

// waitToken waits until vendor's token secret (default connection) holds
// a valid token of the contract, not yet expired, for which ok holds.
func waitToken(t *testing.T, store *secretstore.Store, vendor string, timeout time.Duration, ok func(token.Token) bool) token.Token {
	t.Helper()
	return waitTokenAt(t, store, vendor, vendors.DefaultConnection, timeout, ok)
}

// waitTokenAt is waitToken for vendor's connection.
func waitTokenAt(t *testing.T, store *secretstore.Store, vendor, connection string, timeout time.Duration, ok func(token.Token) bool) token.Token {
	t.Helper()
	id := vendors.SecretName(vendors.DefaultPrefix, vendor, connection, vendors.RoleToken)
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		v, err := store.Get(context.Background(), id)
		if err == nil {
			tok, perr := token.Parse(v.String)
			switch {
			case perr != nil:
				err = perr
			case tok.Vendor != vendor:
				err = fmt.Errorf("token of vendor %q", tok.Vendor)
			case !tok.ExpiresAt.IsZero() && !tok.ExpiresAt.After(time.Now()):
				err = fmt.Errorf("token expired at %s", tok.ExpiresAt)
			case ok(tok):
				return tok
			default:
				err = errors.New("not the token waited for")
			}
		}
		last = err
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("%s: no valid token within %s (last: %v)", id, timeout, last)
	return token.Token{}
}

// freeBase finds portCount consecutive free ports on 127.0.0.1.
func freeBase(t *testing.T) int {
	t.Helper()
outer:
	for range 100 {
		// Below Linux's ephemeral ports (32768 and up), which any
		// process's outgoing connection or port-0 listener can take
		// between this check and dev's own listen.
		base := 20000 + rand.IntN(32768-20000-portCount)
		if base <= 9001 && base+portCount > 9001 {
			continue
		}
		for p := base; p < base+portCount; p++ {
			ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
			if err != nil {
				continue outer
			}
			ln.Close()
		}
		return base
	}
	t.Fatalf("no %d consecutive free ports on 127.0.0.1", portCount)
	return 0
}

// proc is a process seen under /proc.
type proc struct {
	pid       int
	startTime string
	cmdline   string
}

// alive reports whether the same process (same pid and start time) still
// runs and is not a zombie.
func (p proc) alive() bool {
	f, ok := stat(p.pid)
	return ok && len(f) > 19 && f[19] == p.startTime && f[0] != "Z"
}

// stat returns the fields of /proc/<pid>/stat after the command name.
func stat(pid int) ([]string, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil, false
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return nil, false
	}
	return strings.Fields(string(b[i+1:])), true
}

// descendantsOf lists every process whose parent chain leads to pid.
func descendantsOf(pid int) []proc {
	entries, _ := os.ReadDir("/proc")
	children := map[int][]int{}
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if f, ok := stat(p); ok && len(f) > 1 {
			if pp, err := strconv.Atoi(f[1]); err == nil {
				children[pp] = append(children[pp], p)
			}
		}
	}
	var out []proc
	queue := []int{pid}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		for _, c := range children[cur] {
			f, ok := stat(c)
			if !ok || len(f) <= 19 {
				continue
			}
			cl, _ := os.ReadFile("/proc/" + strconv.Itoa(c) + "/cmdline")
			out = append(out, proc{pid: c, startTime: f[19], cmdline: strings.ReplaceAll(string(cl), "\x00", " ")})
			queue = append(queue, c)
		}
	}
	return out
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}
