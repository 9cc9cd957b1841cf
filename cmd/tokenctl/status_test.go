package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/smithy-go"

	"github.com/token-refresher/token-refresher/shared/token"
	"github.com/token-refresher/token-refresher/shared/vendors"
)

func TestAssess(t *testing.T) {
	fyber, invoca, admitad := vendors.MustLookup("fyber"), vendors.MustLookup("invoca"), vendors.MustLookup("admitad")
	tok := func(age, life time.Duration) token.Token {
		tk := token.Token{RefreshedAt: t0.Add(-age)}
		if life > 0 {
			tk.ExpiresAt = tk.RefreshedAt.Add(life)
		}
		return tk
	}
	const day = 24 * time.Hour
	tests := []struct {
		name string
		spec vendors.Spec
		tok  token.Token
		want string
	}{
		// fyber: due at 30m, runs every 15m, grace 5m.
		{"fyber fresh", fyber, tok(10*time.Minute, time.Hour), stateOK},
		{"fyber due, next run not yet", fyber, tok(45*time.Minute, time.Hour), stateOK},
		{"fyber one run missed", fyber, tok(51*time.Minute, time.Hour), stateStale},
		{"fyber expired", fyber, tok(61*time.Minute, time.Hour), stateExpired},
		{"fyber expires exactly now", fyber, tok(time.Hour, time.Hour), stateExpired},
		// admitad: due at 1d, every 6h, grace 36m.
		{"admitad due", admitad, tok(day+time.Hour, 7*day), stateOK},
		{"admitad one run missed", admitad, tok(day+7*time.Hour, 7*day), stateStale},
		{"admitad two runs missed", admitad, tok(2*day, 7*day), stateFailing},
		// invoca: every day, grace 2.4h, no expiry.
		{"invoca validated today", invoca, tok(20*time.Hour, 0), stateOK},
		{"invoca one validation missed", invoca, tok(27*time.Hour, 0), stateStale},
		{"invoca two missed", invoca, tok(51*time.Hour, 0), stateFailing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := assess(tt.spec, tt.tok, t0); got != tt.want {
				t.Errorf("assess = %q, want %q", got, tt.want)
			}
		})
	}
}

// Every state status reports, in the table and in --json.
func TestStatusStates(t *testing.T) {
	sm, prefix := localStack(t, "")
	// fyber: 8m30s left: stale (and "8m30s", not "8m3").
	createSecret(t, sm, prefix+"/fyber/token", tokenJSON(t, "fyber", "tok-st-f", t0.Add(-51*time.Minute-30*time.Second), time.Hour))
	// invoca: validated 50 s ago: ok (and "50s ago", not "5 ago").
	createSecret(t, sm, prefix+"/invoca/token", tokenJSON(t, "invoca", "tok-st-i", t0.Add(-50*time.Second), 0))
	// admitad: two days old: failing.
	createSecret(t, sm, prefix+"/admitad/token", tokenJSON(t, "admitad", "tok-st-a", t0.Add(-48*time.Hour), 7*24*time.Hour))
	// merchenta: the secret exists without a value: not connected.
	createSecret(t, sm, prefix+"/merchenta/token", "")
	// hasoffers: no secret at all: secret missing.
	// merchenta/acme: a named connection, 9m10s left of an hour.
	createSecret(t, sm, prefix+"/merchenta/acme/token", tokenJSON(t, "merchenta", "tok-st-m", t0.Add(-50*time.Minute-50*time.Second), time.Hour))

	r := runCLI(t, "", nil, t0, "--prefix", prefix, "status", "fyber", "invoca", "admitad", "merchenta", "hasoffers", "merchenta/acme")
	t.Logf("tokenctl status:\n%s%s", r.stdout, r.stderr)
	if r.code != exitFail {
		t.Errorf("exit %d, want %d", r.code, exitFail)
	}
	rows := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n")[1:] {
		rows[strings.Fields(line)[0]] = line
	}
	for vendor, want := range map[string][]string{
		"fyber":          {"yes", "  8m30s  ", "51m30s ago", "stale"},
		"invoca":         {"yes", "never", " 50s ago", "ok"},
		"admitad":        {"yes", "5d", "2d ago", "failing"},
		"merchenta":      {"no", "not connected"},
		"hasoffers":      {"no", "secret missing"},
		"merchenta/acme": {"yes", token.Fingerprint("tok-st-m"), "  9m10s  ", "stale"},
	} {
		for _, w := range want {
			if !strings.Contains(rows[vendor], w) {
				t.Errorf("row %q lacks %q", rows[vendor], w)
			}
		}
	}
	for _, w := range []string{
		"hasoffers: secret " + prefix + "/hasoffers/token not found in region us-east-1\n",
		"tokenctl status: check --prefix (now \"" + prefix + "\"",
		"merchenta: no token yet: set the credentials (`tokenctl set-credentials merchenta`)",
		"5 of 6 connections not ok",
	} {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("stderr lacks %q", w)
		}
	}

	r = runCLI(t, "", nil, t0, "--prefix", prefix, "status", "--json", "--vendor", "fyber,hasoffers", "merchenta/acme")
	if r.code != exitFail {
		t.Errorf("status --json: exit %d, want %d", r.code, exitFail)
	}
	var rep statusReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("status --json printed %q: %v", r.stdout, err)
	}
	if rep.Prefix != prefix || rep.NotOK != 3 || len(rep.Vendors) != 3 || rep.Checked != "2025-03-01T12:00:00Z" {
		t.Fatalf("report = %+v", rep)
	}
	got := map[string]vendorStatus{}
	for _, v := range rep.Vendors {
		got[v.Vendor+"/"+v.Connection] = v
	}
	f := got["fyber/default"]
	if f.State != stateStale || !f.Connected || f.Fingerprint != token.Fingerprint("tok-st-f") || f.ExpiresInSeconds == nil ||
		*f.ExpiresInSeconds != 510 || f.ExpiresAt != "2025-03-01T12:08:30Z" || f.SecretID != prefix+"/fyber/token" {
		t.Errorf("fyber = %+v", f)
	}
	if h := got["hasoffers/default"]; h.State != stateSecretMissing || h.Connected || !strings.Contains(h.Problem, prefix+"/hasoffers/token") {
		t.Errorf("hasoffers = %+v", h)
	}
	if m := got["merchenta/acme"]; m.State != stateStale || m.SecretID != prefix+"/merchenta/acme/token" {
		t.Errorf("merchenta/acme = %+v", m)
	}
	if strings.Contains(r.stdout+r.stderr, "tok-st") {
		t.Error("status shows a token")
	}
	if r.stderr != "" {
		t.Errorf("status --json wrote to stderr: %q", r.stderr)
	}

	// A wrong prefix is "secret missing", never "not connected".
	r = runCLI(t, "", nil, t0, "--prefix", prefix+"-typo", "status", "--json", "admitad")
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || rep.Vendors[0].State != stateSecretMissing {
		t.Errorf("wrong prefix: %q", r.stdout)
	}
}

// deniedSecrets answers every call as IAM does for a secret outside the
// caller's policy.
type deniedSecrets struct{ secretsAPI }

var errDenied = &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "not authorized"}

func (deniedSecrets) GetSecretValue(context.Context, *secretsmanager.GetSecretValueInput, ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	return nil, errDenied
}

func (deniedSecrets) DescribeSecret(context.Context, *secretsmanager.DescribeSecretInput, ...func(*secretsmanager.Options)) (*secretsmanager.DescribeSecretOutput, error) {
	return nil, errDenied
}

// With a wrong --prefix the operator policy does not cover the names
// looked for: access denied points at --prefix too.
func TestAccessDeniedPointsAtPrefix(t *testing.T) {
	var out, errOut bytes.Buffer
	e := &env{stdin: strings.NewReader(`{"client_id":"c","client_secret":"s3cr3t-denied"}`), stdout: &out, stderr: &errOut,
		getenv: func(string) string { return "" }, now: func() time.Time { return t0 },
		clients: func(context.Context) (clientSet, error) {
			return clientSet{secrets: deniedSecrets{}, region: "eu-west-1"}, nil
		}}
	if code := run(context.Background(), []string{"--prefix", "typo", "status", "fyber"}, e); code != exitFail ||
		!strings.Contains(errOut.String(), "fyber: secret typo/fyber/token: access denied\n") ||
		!strings.Contains(errOut.String(), `tokenctl status: check --prefix (now "typo"`) || !strings.Contains(out.String(), "error") {
		t.Errorf("status: exit %d, stdout %q, stderr %q", code, out.String(), errOut.String())
	}
	out.Reset()
	errOut.Reset()
	if code := run(context.Background(), []string{"--prefix", "typo", "set-credentials", "fyber"}, e); code != exitFail ||
		!strings.Contains(errOut.String(), `read its tags: access denied: check --prefix (now "typo"`) {
		t.Errorf("set-credentials: exit %d, stderr %q", code, errOut.String())
	}
}

// TestStatusListsConnections: without arguments, status shows every
// vendor's default connection and the named connections the stack tagged.
func TestStatusListsConnections(t *testing.T) {
	sm, prefix := localStack(t, "")
	for _, conn := range []string{"globex", "acme"} {
		createTagged(t, sm, prefix+"/merchenta/"+conn+"/token", tokenJSON(t, "merchenta", "tok-"+conn, t0.Add(-time.Minute), time.Hour), vendors.SecretTags("merchenta", conn, vendors.RoleToken))
	}
	// Not listed: a credentials secret, another vendor's tags, a name that
	// is not the stack's.
	createTagged(t, sm, prefix+"/merchenta/initech/credentials", "{}", vendors.SecretTags("merchenta", "initech", vendors.RoleCredentials))
	createTagged(t, sm, prefix+"/merchenta/hooli/token", "{}", vendors.SecretTags("fyber", "hooli", vendors.RoleToken))
	createTagged(t, sm, prefix+"/merchenta/elsewhere", "{}", vendors.SecretTags("merchenta", "elsewhere", vendors.RoleToken))

	r := runCLI(t, "", nil, t0, "--prefix", prefix, "status", "--json")
	var rep struct {
		Vendors []struct {
			Vendor     string `json:"vendor"`
			Connection string `json:"connection"`
			State      string `json:"state"`
		} `json:"vendors"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("status --json: %v\n%s%s", err, r.stdout, r.stderr)
	}
	var got []string
	for _, v := range rep.Vendors {
		got = append(got, v.Vendor+"/"+v.Connection+"="+v.State)
	}
	want := []string{"hasoffers/default=secret missing", "invoca/default=secret missing", "fyber/default=secret missing",
		"merchenta/default=secret missing", "merchenta/acme=ok", "merchenta/globex=ok", "admitad/default=secret missing"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("status lists\n  %v\nwant\n  %v", got, want)
	}
}

// TestStatusWrongPrefixHintOnce: a wrong --prefix misses every vendor's
// secret; each is named once, and the hint about --prefix and the region
// is printed once, not once per vendor.
func TestStatusWrongPrefixHintOnce(t *testing.T) {
	_, prefix := localStack(t, "")
	r := runCLI(t, "", nil, t0, "--prefix", prefix+"-typo", "status")
	t.Logf("tokenctl status:\n%s%s", r.stdout, r.stderr)
	if r.code != exitFail {
		t.Errorf("exit %d, want %d", r.code, exitFail)
	}
	if n := strings.Count(r.stderr, "check --prefix"); n != 1 {
		t.Errorf("the --prefix hint is printed %d times, want once:\n%s", n, r.stderr)
	}
	for _, spec := range vendors.All() {
		if want := spec.Name + ": secret " + prefix + "-typo/" + spec.Name + "/token not found"; strings.Count(r.stderr, want) != 1 {
			t.Errorf("stderr does not name %s's missing secret once:\n%s", spec.Name, r.stderr)
		}
	}
	if want := fmt.Sprintf("%d of %d vendors not ok", len(vendors.All()), len(vendors.All())); !strings.Contains(r.stderr, want) {
		t.Errorf("stderr lacks %q", want)
	}
	var rep statusReport
	r = runCLI(t, "", nil, t0, "--prefix", prefix+"-typo", "status", "--json", "fyber")
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || !strings.Contains(rep.Vendors[0].Problem, "check --prefix") {
		t.Errorf("status --json keeps the whole problem per target: %q", r.stdout)
	}
}

// noListSecrets is an operator role without secretsmanager:ListSecrets.
type noListSecrets struct{ secretsAPI }

func (noListSecrets) ListSecrets(context.Context, *secretsmanager.ListSecretsInput, ...func(*secretsmanager.Options)) (*secretsmanager.ListSecretsOutput, error) {
	return nil, errDenied
}

// TestStatusSaysWhenConnectionsCannotBeListed: without ListSecrets,
// status still shows every default connection, and says once that named
// connections are not shown and why, instead of silently showing none.
func TestStatusSaysWhenConnectionsCannotBeListed(t *testing.T) {
	sm, prefix := localStack(t, "")
	createTagged(t, sm, prefix+"/merchenta/acme/token", tokenJSON(t, "merchenta", "tok-acme", t0.Add(-time.Minute), time.Hour), vendors.SecretTags("merchenta", "acme", vendors.RoleToken))
	for _, asJSON := range []bool{false, true} {
		var out, errOut bytes.Buffer
		e := &env{stdin: strings.NewReader(""), stdout: &out, stderr: &errOut, getenv: os.Getenv, now: func() time.Time { return t0 },
			clients: func(ctx context.Context) (clientSet, error) {
				cs, err := loadAWS(ctx)
				cs.secrets = noListSecrets{cs.secrets}
				return cs, err
			}}
		args := []string{"--prefix", prefix, "status"}
		if asJSON {
			args = append(args, "--json")
		}
		run(context.Background(), args, e)
		if n := strings.Count(errOut.String(), "named connections are not shown: listing secrets was refused (secretsmanager:ListSecrets"); n != 1 {
			t.Errorf("json %v: stderr says it %d times, want once:\n%s", asJSON, n, errOut.String())
		}
		if strings.Contains(out.String(), "acme") {
			t.Errorf("json %v: a connection was listed without ListSecrets: %s", asJSON, out.String())
		}
		if asJSON {
			var rep struct {
				Warnings []string `json:"warnings"`
			}
			if err := json.Unmarshal(out.Bytes(), &rep); err != nil || len(rep.Warnings) != 1 {
				t.Errorf("status --json warnings = %v, %v", rep.Warnings, err)
			}
		}
	}
}
