package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/token-refresher/token-refresher/internal/localaws"
	"github.com/token-refresher/token-refresher/shared/fyber/fybertest"
	"github.com/token-refresher/token-refresher/shared/refresh"
	"github.com/token-refresher/token-refresher/shared/token"
	"github.com/token-refresher/token-refresher/shared/vendors"
	"github.com/token-refresher/token-refresher/shared/vendortest"
)

func TestMain(m *testing.M) {
	code := localaws.RunTests(m)
	if binPath != "" {
		_ = os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

var prefixSeq atomic.Int64

// localStack points the AWS SDK of this process at the shared moto_server
// (and, when lambdaURL is set, at an emulator), with no profile, and
// returns a Secrets Manager client and a fresh name prefix.
func localStack(t *testing.T, lambdaURL string) (*secretsmanager.Client, string) {
	t.Helper()
	moto := localaws.MotoForTest(t)
	for _, kv := range moto.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	t.Setenv("AWS_CONFIG_FILE", os.DevNull)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_ENDPOINT_URL_LAMBDA", lambdaURL)
	sm, err := moto.SecretsManager(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return sm, fmt.Sprintf("tokenctl-test-%d-%d", os.Getpid(), prefixSeq.Add(1))
}

type result struct {
	code           int
	stdout, stderr string
	prompts        *fakePrompter
}

// runCLI runs tokenctl with args; stdin is piped unless tty answers are
// given, which makes stdin a terminal answering each prompt in turn.
func runCLI(t *testing.T, stdin string, tty []string, now time.Time, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	p := &fakePrompter{answers: tty}
	e := &env{
		stdin:         strings.NewReader(stdin),
		stdout:        &out,
		stderr:        &errOut,
		getenv:        os.Getenv,
		now:           func() time.Time { return now },
		clients:       loadAWS,
		prompter:      func() (prompter, error) { return p, nil },
		stdinTerminal: tty != nil,
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	code := run(ctx, args, e)
	return result{code: code, stdout: out.String(), stderr: errOut.String(), prompts: p}
}

// fakePrompter answers prompts from a list; "^C" answers Ctrl-C, and the
// end of the list is Ctrl-D.
type fakePrompter struct {
	answers []string
	labels  []string
	hidden  []bool
	said    []string
	closed  bool
}

func (p *fakePrompter) ask(_ context.Context, label string, hidden bool) (string, error) {
	p.labels = append(p.labels, label)
	p.hidden = append(p.hidden, hidden)
	if len(p.answers) == 0 {
		return "", errEOF
	}
	a := p.answers[0]
	p.answers = p.answers[1:]
	if a == "^C" {
		return "", errInterrupted
	}
	return a, nil
}

func (p *fakePrompter) say(line string) { p.said = append(p.said, line) }
func (p *fakePrompter) close() error    { p.closed = true; return nil }

// createTagged creates a secret with tags (nil: none).
func createTagged(t *testing.T, sm *secretsmanager.Client, name, value string, tags map[string]string) {
	t.Helper()
	in := &secretsmanager.CreateSecretInput{Name: aws.String(name)}
	if value != "" {
		in.SecretString = aws.String(value)
	}
	for k, v := range tags {
		in.Tags = append(in.Tags, types.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	if _, err := sm.CreateSecret(context.Background(), in); err != nil {
		t.Fatalf("create secret %s: %v", name, err)
	}
}

func createSecret(t *testing.T, sm *secretsmanager.Client, name, value string) {
	t.Helper()
	in := &secretsmanager.CreateSecretInput{Name: aws.String(name)}
	if value != "" {
		in.SecretString = aws.String(value)
	}
	if _, err := sm.CreateSecret(context.Background(), in); err != nil {
		t.Fatalf("create secret %s: %v", name, err)
	}
}

func secretValue(t *testing.T, sm *secretsmanager.Client, name string) string {
	t.Helper()
	out, err := sm.GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: aws.String(name)})
	if err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	return aws.ToString(out.SecretString)
}

func TestHelpOnEveryCommand(t *testing.T) {
	for _, args := range [][]string{
		{"--help"}, {"help"}, {"status", "--help"}, {"set-credentials", "--help"},
		{"refresh", "-h"}, {"connect", "--help"}, {"--prefix", "x", "refresh", "fyber", "--help"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			r := runCLI(t, "", nil, t0, args...)
			if r.code != 0 || !strings.Contains(r.stdout, "Usage") || !strings.Contains(r.stdout, "tokenctl") {
				t.Errorf("exit %d, stdout %q; want 0 and a usage text", r.code, r.stdout)
			}
		})
	}
	for _, args := range [][]string{{}, {"frobnicate"}, {"refresh"}, {"refresh", "acme"}, {"status", "--bogus"}, {"connect", "fyber"}} {
		t.Run("usage error "+strings.Join(args, " "), func(t *testing.T) {
			if r := runCLI(t, "", nil, t0, args...); r.code != exitUsage {
				t.Errorf("exit %d, want %d; stderr %q", r.code, exitUsage, r.stderr)
			}
		})
	}
}

func TestSetCredentials(t *testing.T) {
	sm, prefix := localStack(t, "")
	const placeholder = `{"client_id":"<fill in>","client_secret":"<fill in>"}`
	tests := []struct {
		name      string
		vendor    string
		stdin     string
		tty       []string
		noSecret  bool
		wantCode  int
		wantValue map[string]string // nil: the secret must be unchanged
		wantErr   []string          // substrings of stderr
	}{
		{name: "valid JSON on stdin", vendor: "fyber", stdin: `{"client_id":"cid-1","client_secret":"s3cr3t-value-1"}`,
			wantValue: map[string]string{"client_id": "cid-1", "client_secret": "s3cr3t-value-1"}},
		{name: "prompted on a terminal", vendor: "invoca", tty: []string{"tok-prompted-1", "", " acme ", "acme", "42"},
			wantValue: map[string]string{"api_token": "tok-prompted-1", "vanity": "acme", "network_id": "42"}},
		{name: "missing field", vendor: "fyber", stdin: `{"client_id":"cid-2"}`, wantCode: exitFail,
			wantErr: []string{`missing field "client_secret"`, "nothing written", "/fyber/credentials"}},
		{name: "empty field", vendor: "merchenta", stdin: `{"username":"u","password":"","advertiser":"A"}`, wantCode: exitFail,
			wantErr: []string{`field "password" is empty`, "nothing written"}},
		{name: "placeholder left in", vendor: "fyber", stdin: placeholder, wantCode: exitFail,
			wantErr: []string{`field "client_id" still holds the placeholder`}},
		{name: "unknown field", vendor: "fyber", stdin: `{"client_id":"c","client_secret":"s3cr3t-value-3","clientsecret":"x"}`, wantCode: exitFail,
			wantErr: []string{`unknown field "clientsecret"`}},
		{name: "not JSON", vendor: "fyber", stdin: `client_id=s3cr3t-value-4`, wantCode: exitFail,
			wantErr: []string{"not valid JSON (syntax error at byte 1)"}},
		{name: "no such secret", vendor: "hasoffers", noSecret: true, wantCode: exitFail,
			stdin:   `{"client_id":"c","client_secret":"s3cr3t-value-5","audience":"BrandAPI","integrator_id":"i"}`,
			wantErr: []string{"/hasoffers/credentials", "does not exist"}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := fmt.Sprintf("%s-%d", prefix, i)
			id := p + "/" + tt.vendor + "/credentials"
			if !tt.noSecret {
				createTagged(t, sm, id, placeholder, vendors.SecretTags(tt.vendor, "", vendors.RoleCredentials))
			}
			r := runCLI(t, tt.stdin, tt.tty, t0, "--prefix", p, "set-credentials", tt.vendor)
			if r.code != tt.wantCode {
				t.Fatalf("exit %d, want %d; stderr %q", r.code, tt.wantCode, r.stderr)
			}
			for _, s := range tt.wantErr {
				if !strings.Contains(r.stderr, s) {
					t.Errorf("stderr %q does not contain %q", r.stderr, s)
				}
			}
			for _, out := range []string{r.stdout, r.stderr} {
				for _, secret := range []string{"s3cr3t-value", "tok-prompted"} {
					if strings.Contains(out, secret) {
						t.Errorf("output %q shows a secret", out)
					}
				}
			}
			if tt.noSecret {
				return
			}
			got := secretValue(t, sm, id)
			if tt.wantValue == nil {
				if got != placeholder {
					t.Errorf("secret changed to %q on failure", got)
				}
				return
			}
			var m map[string]string
			if err := json.Unmarshal([]byte(got), &m); err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(m) != fmt.Sprint(tt.wantValue) {
				t.Errorf("secret = %v, want %v", m, tt.wantValue)
			}
		})
	}
}

func tokenJSON(t *testing.T, vendor, access string, refreshed time.Time, life time.Duration) string {
	t.Helper()
	tok := token.Token{
		Vendor: vendor, AccessToken: access, TokenType: "Bearer", Authorization: "Bearer " + access,
		RefreshedAt: refreshed, Fingerprint: token.Fingerprint(access), Refresher: "token-refresher-" + vendor,
	}
	if life > 0 {
		tok.ExpiresAt = refreshed.Add(life)
	}
	b, err := json.Marshal(tok)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestStatus(t *testing.T) {
	sm, prefix := localStack(t, "")
	// fyber: 40 minutes left of 1 h: ok. merchenta: 8 minutes left, runs
	// were missed: stale. hasoffers: expired. invoca: validated 2 h ago:
	// ok. admitad: the stack's random placeholder: not connected.
	createSecret(t, sm, prefix+"/fyber/token", tokenJSON(t, "fyber", "tok-status-f", t0.Add(-20*time.Minute), time.Hour))
	createSecret(t, sm, prefix+"/merchenta/token", tokenJSON(t, "merchenta", "tok-status-m", t0.Add(-52*time.Minute), time.Hour))
	createSecret(t, sm, prefix+"/hasoffers/token", tokenJSON(t, "hasoffers", "tok-status-h", t0.Add(-25*time.Hour), 24*time.Hour))
	createSecret(t, sm, prefix+"/invoca/token", tokenJSON(t, "invoca", "tok-status-i", t0.Add(-2*time.Hour), 0))
	createSecret(t, sm, prefix+"/admitad/token", "p7!Qx2#r9Lk$w3Zt")

	r := runCLI(t, "", nil, t0, "--prefix", prefix, "status")
	if r.code != exitFail {
		t.Errorf("exit %d, want %d (stale tokens)", r.code, exitFail)
	}
	want := map[string][]string{
		"fyber":     {"yes", token.Fingerprint("tok-status-f"), "40m", "20m ago", "ok"},
		"merchenta": {"yes", token.Fingerprint("tok-status-m"), "  8m  ", "stale"},
		"hasoffers": {"yes", "-1h", "expired"},
		"invoca":    {"yes", "never", "2h ago", "ok"},
		"admitad":   {"no", "not connected"},
	}
	t.Logf("tokenctl status:\n%s%s", r.stdout, r.stderr)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 6 || !strings.HasPrefix(lines[0], "VENDOR") {
		t.Fatalf("status printed %q, want a header and 5 rows", r.stdout)
	}
	for _, line := range lines[1:] {
		f := strings.Fields(line)
		for _, s := range want[f[0]] {
			if !strings.Contains(line, s) {
				t.Errorf("row %q lacks %q", line, s)
			}
		}
		delete(want, f[0])
	}
	if len(want) != 0 {
		t.Errorf("rows missing for %v", want)
	}
	if strings.Contains(r.stdout+r.stderr, "tok-status") {
		t.Error("status shows a token")
	}
	if !strings.Contains(r.stderr, "tokenctl status: 3 of 5 vendors not ok") {
		t.Errorf("stderr %q does not count the vendors not ok", r.stderr)
	}

	r = runCLI(t, "", nil, t0, "--prefix", prefix, "status", "--vendor", "fyber,invoca")
	if r.code != exitOK {
		t.Errorf("status --vendor fyber,invoca: exit %d, want 0; stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
}

func TestRefresh(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the fyber refresher")
	}
	vendor := fybertest.NewServer(vendortest.Options{})
	t.Cleanup(vendor.Close)
	moto := localaws.MotoForTest(t)
	_, prefix := localStack(t, "")
	sm, err := moto.SecretsManager(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	credsID, tokenID := prefix+"/fyber/credentials", prefix+"/fyber/token"
	creds, _ := json.Marshal(vendortest.Credentials("fyber"))
	createSecret(t, sm, credsID, string(creds))
	createSecret(t, sm, tokenID, "")
	fn := localaws.FunctionForTest(t, "fyber", append(moto.Env(),
		"CREDENTIALS_SECRET_ID="+credsID, "TOKEN_SECRET_ID="+tokenID, "TOKEN_URL="+vendor.TokenURL(),
		"AWS_LAMBDA_FUNCTION_NAME="+prefix+"-fyber"))
	u, _ := url.Parse(fn.URL)
	t.Setenv("AWS_ENDPOINT_URL_LAMBDA", u.Scheme+"://"+u.Host)

	for i := 1; i <= 2; i++ { // force refreshes even a fresh token
		r := runCLI(t, "", nil, time.Now(), "--prefix", prefix, "refresh", "fyber", "--function", "function")
		if r.code != exitOK {
			t.Fatalf("refresh %d: exit %d; stderr %q\n%s", i, r.code, r.stderr, fn.Output())
		}
		stored, err := token.Parse(secretValue(t, sm, tokenID))
		if err != nil {
			t.Fatal(err)
		}
		if want := "fyber: refreshed, fingerprint " + stored.Fingerprint + ", expires "; !strings.HasPrefix(r.stdout, want) || !(strings.Contains(r.stdout, "(in 59m") || strings.Contains(r.stdout, "(in 1h)")) {
			t.Errorf("refresh %d printed %q, want it to start %q and say it expires in about an hour", i, r.stdout, want)
		}
		if n := vendor.TokenRequests(); n != i {
			t.Errorf("vendor token requests = %d after %d forced refreshes", n, i)
		}
		if strings.Contains(r.stdout, stored.AccessToken) {
			t.Error("refresh printed the token")
		}
	}

	r := runCLI(t, "", nil, time.Now(), "--prefix", prefix, "refresh", "fyber", "--function", "function", "--json")
	var sum refresh.Summary
	if r.code != exitOK || json.Unmarshal([]byte(r.stdout), &sum) != nil || sum.Action != refresh.ActionRefreshed {
		t.Errorf("refresh --json: exit %d, stdout %q", r.code, r.stdout)
	}

	// The reply must be for the vendor asked for: fyber's function is not
	// merchenta's, and "-function" (single dash) is still accepted.
	r = runCLI(t, "", nil, time.Now(), "--prefix", prefix, "refresh", "merchenta", "-function", "function")
	if r.code != exitFail || !strings.Contains(r.stderr, `replied for vendor "fyber", not merchenta`) || r.stdout != "" {
		t.Errorf("refresh merchenta on fyber's function: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	// A connection the function does not serve is refused by it.
	r = runCLI(t, "", nil, time.Now(), "--prefix", prefix, "refresh", "fyber/acme", "--function", "function")
	if r.code != exitFail || !strings.Contains(r.stderr, `unknown connection "acme"`) {
		t.Errorf("refresh fyber/acme: exit %d, stderr %q", r.code, r.stderr)
	}

	// A failing refresher: its credentials lack a field. The warm function
	// keeps the credentials it read; the vendor's refusal makes it read
	// them again and name what is wrong.
	if _, err := sm.PutSecretValue(context.Background(), &secretsmanager.PutSecretValueInput{
		SecretId: aws.String(credsID), SecretString: aws.String(`{"client_id":"only-an-id"}`),
	}); err != nil {
		t.Fatal(err)
	}
	vendor.Inject(vendortest.Fault{Status: 400, Body: `{"error":"invalid_client"}`})
	r = runCLI(t, "", nil, time.Now(), "--prefix", prefix, "refresh", "fyber", "--function", "function")
	if r.code != exitFail || !strings.Contains(r.stderr, "function function") || !strings.Contains(r.stderr, "client_secret") {
		t.Errorf("failing refresher: exit %d, stderr %q; want 1 and an error naming the function and the missing field", r.code, r.stderr)
	}

	// An unreachable function is named in the error.
	t.Setenv("AWS_ENDPOINT_URL_LAMBDA", "http://127.0.0.1:1")
	r = runCLI(t, "", nil, time.Now(), "--prefix", prefix, "refresh", "merchenta")
	if r.code != exitFail || !strings.Contains(r.stderr, "function "+prefix+"-merchenta") {
		t.Errorf("unreachable function: exit %d, stderr %q", r.code, r.stderr)
	}
}
