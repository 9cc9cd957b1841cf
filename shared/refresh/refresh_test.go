package refresh

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/token-refresher/token-refresher/shared/secretstore"
	"github.com/token-refresher/token-refresher/shared/token"
	"github.com/token-refresher/token-refresher/shared/vendors"
)

// memSecrets is an in-memory stand-in for Secrets Manager's value calls,
// for unit tests of the refresh logic. Integration tests use moto_server.
type memSecrets struct {
	mu      sync.Mutex
	current map[string]string
	gets    int
	batches int
	puts    int
	failPut error
}

func (m *memSecrets) GetSecretValue(_ context.Context, in *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.gets++
	v, ok := m.current[*in.SecretId]
	if !ok {
		return nil, &types.ResourceNotFoundException{Message: aws.String("not found")}
	}
	return &secretsmanager.GetSecretValueOutput{SecretString: aws.String(v), VersionId: aws.String("v")}, nil
}

func (m *memSecrets) BatchGetSecretValue(_ context.Context, in *secretsmanager.BatchGetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.BatchGetSecretValueOutput, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.batches++
	out := &secretsmanager.BatchGetSecretValueOutput{}
	for _, id := range in.SecretIdList {
		if v, ok := m.current[id]; ok {
			out.SecretValues = append(out.SecretValues, types.SecretValueEntry{Name: aws.String(id), SecretString: aws.String(v), VersionId: aws.String("v"), VersionStages: []string{"AWSCURRENT"}})
		} else {
			out.Errors = append(out.Errors, types.APIErrorType{SecretId: aws.String(id), ErrorCode: aws.String("ResourceNotFoundException")})
		}
	}
	return out, nil
}

func (m *memSecrets) PutSecretValue(_ context.Context, in *secretsmanager.PutSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failPut != nil {
		return nil, m.failPut
	}
	m.puts++
	m.current[*in.SecretId] = *in.SecretString
	return &secretsmanager.PutSecretValueOutput{VersionId: in.ClientRequestToken}, nil
}

func (m *memSecrets) UpdateSecretVersionStage(context.Context, *secretsmanager.UpdateSecretVersionStageInput, ...func(*secretsmanager.Options)) (*secretsmanager.UpdateSecretVersionStageOutput, error) {
	return nil, errors.New("not used")
}

const (
	credsID = "creds"
	tokenID = "token"
	secret  = "s3cr3t-client-secret"
)

var (
	t0     = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	target = Target{CredentialsSecretID: credsID, TokenSecretID: tokenID}
	spec   = vendors.Spec{Name: "acme", Lifetime: time.Hour, RefreshBelow: 0.5, CredentialFields: []string{"client_id", "client_secret"}}
)

type fixture struct {
	mem     *memSecrets
	r       *Refresher
	calls   int
	grant   func() (*Grant, error)
	logs    bytes.Buffer
	metrics bytes.Buffer
	now     time.Time
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{
		mem: &memSecrets{current: map[string]string{credsID: `{"client_id":"id-1","client_secret":"` + secret + `"}`}},
		now: t0,
	}
	f.grant = func() (*Grant, error) {
		return &Grant{AccessToken: "tok-" + f.now.Format("150405"), TokenType: "bearer", ExpiresIn: time.Hour, Sent: f.now}, nil
	}
	f.r = &Refresher{
		Spec: spec,
		Vendor: VendorFunc(func(context.Context, *Request) (*Grant, error) {
			f.calls++
			return f.grant()
		}),
		Store:        &secretstore.Store{API: f.mem},
		FunctionName: "token-refresher-acme",
		Log:          slog.New(slog.NewJSONHandler(&f.logs, nil)),
		Metrics:      &f.metrics,
		Now:          func() time.Time { return f.now },
	}
	return f
}

func (f *fixture) stored(t *testing.T) token.Token {
	t.Helper()
	tok, err := token.Parse(f.mem.current[tokenID])
	if err != nil {
		t.Fatalf("stored token: %v", err)
	}
	return tok
}

func (f *fixture) noSecretInOutput(t *testing.T, err error, values ...string) {
	t.Helper()
	out := f.logs.String() + f.metrics.String()
	if err != nil {
		out += err.Error()
	}
	for _, v := range append(values, secret) {
		if strings.Contains(out, v) {
			t.Errorf("output contains secret %q:\n%s", v, out)
		}
	}
}

func TestRunRefreshesThenSkips(t *testing.T) {
	f := newFixture(t)
	sum, err := f.r.Run(context.Background(), target, Event{})
	if err != nil {
		t.Fatalf("first run: %v", err)
	}
	if sum.Action != ActionRefreshed || sum.ExpiresAt != "2026-11-25T13:00:00Z" {
		t.Errorf("summary = %+v", sum)
	}
	tok := f.stored(t)
	if tok.Authorization != "Bearer tok-120000" || tok.TokenType != "Bearer" || tok.Refresher != "token-refresher-acme" {
		t.Errorf("stored = %+v", tok)
	}
	f.noSecretInOutput(t, err, "tok-120000")

	// 20 minutes on, 40 of 60 left: skip.
	f.now = t0.Add(20 * time.Minute)
	sum, err = f.r.Run(context.Background(), target, Event{})
	if err != nil || sum.Action != ActionSkipped || f.calls != 1 {
		t.Fatalf("second run: %+v, %v, calls %d", sum, err, f.calls)
	}
	// 31 minutes on, 29 left: refresh.
	f.now = t0.Add(31 * time.Minute)
	sum, err = f.r.Run(context.Background(), target, Event{})
	if err != nil || sum.Action != ActionRefreshed || f.calls != 2 {
		t.Fatalf("third run: %+v, %v, calls %d", sum, err, f.calls)
	}
	// force always refreshes.
	f.now = t0.Add(32 * time.Minute)
	sum, err = f.r.Run(context.Background(), target, Event{Force: true})
	if err != nil || sum.Action != ActionRefreshed || f.calls != 3 {
		t.Fatalf("forced run: %+v, %v, calls %d", sum, err, f.calls)
	}
	if f.mem.puts != 3 {
		t.Errorf("puts = %d, want 3", f.mem.puts)
	}
}

func TestRunRejectedFingerprint(t *testing.T) {
	f := newFixture(t)
	if _, err := f.r.Run(context.Background(), target, Event{}); err != nil {
		t.Fatal(err)
	}
	old := f.stored(t).Fingerprint
	f.now = t0.Add(time.Minute)
	sum, err := f.r.Run(context.Background(), target, Event{RejectedFingerprint: old})
	if err != nil || sum.Action != ActionRefreshed || f.calls != 2 {
		t.Fatalf("reject of stored token: %+v, %v, calls %d", sum, err, f.calls)
	}
	// A second wave rejecting the same, now replaced, token calls nobody.
	sum, err = f.r.Run(context.Background(), target, Event{RejectedFingerprint: old})
	if err != nil || sum.Action != ActionSkipped || f.calls != 2 {
		t.Fatalf("second wave: %+v, %v, calls %d", sum, err, f.calls)
	}
}

func TestRunKeepsOldTokenOnBadGrant(t *testing.T) {
	tests := []struct {
		name  string
		grant *Grant
		err   error
		want  string
	}{
		{name: "vendor error", err: errors.New("acme: request token: HTTP 500"), want: "HTTP 500"},
		{name: "empty token", grant: &Grant{AccessToken: "", ExpiresIn: time.Hour}, want: "access token is empty"},
		{name: "token with space", grant: &Grant{AccessToken: "a b", ExpiresIn: time.Hour}, want: "not allowed in an HTTP header"},
		{name: "oversized token", grant: &Grant{AccessToken: strings.Repeat("a", token.MaxSecretSize), ExpiresIn: time.Hour}, want: "over the"},
		{name: "already expired", grant: &Grant{AccessToken: "abc", NotAfter: t0.Add(-time.Minute), Date: t0}, want: "already expired"},
		{name: "negative lifetime", grant: &Grant{AccessToken: "abc", ExpiresIn: -time.Second}, want: "negative"},
		{name: "dies within seconds", grant: &Grant{AccessToken: "abc", ExpiresIn: 5 * time.Second}, want: "lives only"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			if _, err := f.r.Run(context.Background(), target, Event{}); err != nil {
				t.Fatal(err)
			}
			good := f.mem.current[tokenID]
			f.now = t0.Add(time.Minute)
			f.grant = func() (*Grant, error) { return tt.grant, tt.err }
			_, err := f.r.Run(context.Background(), target, Event{Force: true})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
			if f.mem.current[tokenID] != good {
				t.Error("the good token was replaced")
			}
			if !strings.Contains(f.metrics.String(), `"RefreshFailure":1`) {
				t.Errorf("no failure metric: %s", f.metrics.String())
			}
			f.noSecretInOutput(t, err, "tok-120000")
		})
	}
}

func TestRunCredentialsErrors(t *testing.T) {
	tests := []struct {
		name, creds, want string
		missing           bool
	}{
		{name: "missing field", creds: `{"client_id":"id-1"}`, want: `missing field "client_secret"`},
		{name: "empty field", creds: `{"client_id":"id-1","client_secret":""}`, want: `field "client_secret" is empty`},
		{name: "placeholder", creds: `{"client_id":"id-1","client_secret":"<fill in>"}`, want: `placeholder`},
		{name: "not JSON", creds: `client_id=id-1`, want: "is not a JSON object"},
		{name: "array", creds: `["a"]`, want: "is not a JSON object"},
		{name: "object field", creds: `{"client_id":{"a":1},"client_secret":"x"}`, want: `field "client_id" must be a string`},
		{name: "no secret", missing: true, want: "does not exist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.mem.current[credsID] = tt.creds
			if tt.missing {
				delete(f.mem.current, credsID)
			}
			_, err := f.r.Run(context.Background(), target, Event{})
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), credsID) && !tt.missing {
				t.Fatalf("err = %v, want %q naming the secret", err, tt.want)
			}
			if f.calls != 0 || f.mem.puts != 0 {
				t.Errorf("calls = %d, puts = %d: a bad credentials secret must change nothing", f.calls, f.mem.puts)
			}
		})
	}
}

func TestRunScrubsSecretsFromVendorErrors(t *testing.T) {
	f := newFixture(t)
	f.grant = func() (*Grant, error) {
		return nil, errors.New("acme: request token: Get \"http://127.0.0.1/x?secret=" + secret + "&esc=s3cr3t%2Dclient%2Dsecret\": refused")
	}
	_, err := f.r.Run(context.Background(), target, Event{})
	if err == nil {
		t.Fatal("want error")
	}
	f.noSecretInOutput(t, err)
	if !strings.Contains(err.Error(), "[redacted]") {
		t.Errorf("err = %v", err)
	}
	var re *Error
	if !errors.As(err, &re) || re.Vendor != "acme" {
		t.Errorf("err is not *refresh.Error: %T", err)
	}
}

func TestRunTreatsUnparseableCurrentAsNoToken(t *testing.T) {
	f := newFixture(t)
	f.mem.current[tokenID] = "Zx8#random-string-from-secret-creation"
	sum, err := f.r.Run(context.Background(), target, Event{})
	if err != nil || sum.Action != ActionRefreshed {
		t.Fatalf("%+v, %v", sum, err)
	}
}

func TestRunWriteFailureKeepsOld(t *testing.T) {
	f := newFixture(t)
	f.mem.failPut = &types.InvalidRequestException{Message: aws.String("marked for deletion")}
	_, err := f.r.Run(context.Background(), target, Event{})
	if err == nil || !strings.Contains(err.Error(), "write token") {
		t.Fatalf("err = %v", err)
	}
}

func TestExpiry(t *testing.T) {
	tests := []struct {
		name string
		g    Grant
		want time.Time
	}{
		{name: "expires_in", g: Grant{ExpiresIn: 30 * time.Minute}, want: t0.Add(30 * time.Minute)},
		{name: "capped at nominal lifetime", g: Grant{ExpiresIn: 5 * time.Hour}, want: t0.Add(time.Hour)},
		{name: "no statement uses nominal", g: Grant{}, want: t0.Add(time.Hour)},
		{name: "jwt exp earlier than expires_in", g: Grant{ExpiresIn: time.Hour, NotAfter: t0.Add(40 * time.Minute)}, want: t0.Add(40 * time.Minute)},
		{name: "vendor clock 10 min ahead", g: Grant{NotAfter: t0.Add(10*time.Minute + 45*time.Minute), Date: t0.Add(10 * time.Minute)}, want: t0.Add(45 * time.Minute)},
		{name: "vendor clock 10 min behind", g: Grant{NotAfter: t0.Add(-10*time.Minute + 45*time.Minute), Date: t0.Add(-10 * time.Minute)}, want: t0.Add(45 * time.Minute)},
	}
	r := &Refresher{Spec: spec}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := r.expiry(&tt.g, t0)
			if err != nil || !got.Equal(tt.want) {
				t.Errorf("expiry = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
	t.Run("no expiry for static tokens", func(t *testing.T) {
		r := &Refresher{Spec: vendors.Spec{Name: "static"}}
		got, err := r.expiry(&Grant{}, t0)
		if err != nil || !got.IsZero() {
			t.Errorf("expiry = %v, %v", got, err)
		}
	})
}

func TestParseEvent(t *testing.T) {
	tests := []struct {
		in      string
		want    Event
		wantErr bool
	}{
		{in: ``, want: Event{}},
		{in: `{}`, want: Event{}},
		{in: `{"force": true}`, want: Event{Force: true}},
		{in: `{"rejected_fingerprint": "0123456789abcdef"}`, want: Event{RejectedFingerprint: "0123456789abcdef"}},
		{in: `{"version":"0","id":"x","detail-type":"Scheduled Event","source":"aws.events","time":"2026-11-25T12:00:00Z","detail":{}}`, want: Event{}},
		{in: `{"detail-type":"Scheduled Event","detail":{"force":true}}`, want: Event{Force: true}},
		{in: `{"force": "yes"}`, wantErr: true},
		{in: `[1]`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseEvent([]byte(tt.in))
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("ParseEvent = %+v, %v; want %+v, err %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestReportLine(t *testing.T) {
	f := newFixture(t)
	if _, err := f.r.Run(context.Background(), target, Event{}); err != nil {
		t.Fatal(err)
	}
	var line map[string]any
	if err := json.Unmarshal(f.logs.Bytes(), &line); err != nil {
		t.Fatalf("log is not one JSON line: %v\n%s", err, f.logs.String())
	}
	for _, k := range []string{"vendor", "action", "fingerprint", "expires_at"} {
		if line[k] == nil {
			t.Errorf("log line lacks %q: %s", k, f.logs.String())
		}
	}
	var emf struct {
		AWS struct {
			CloudWatchMetrics []struct {
				Namespace  string
				Dimensions [][]string
				Metrics    []struct{ Name, Unit string }
			}
		} `json:"_aws"`
		Vendor             string
		RefreshSuccess     float64
		SecondsUntilExpiry float64
	}
	if err := json.Unmarshal(f.metrics.Bytes(), &emf); err != nil {
		t.Fatalf("metrics line: %v", err)
	}
	if emf.Vendor != "acme" || emf.RefreshSuccess != 1 || emf.SecondsUntilExpiry != 3600 || emf.AWS.CloudWatchMetrics[0].Namespace != MetricsNamespace {
		t.Errorf("EMF = %+v", emf)
	}
}

// A run whose process holds no fresh credentials reads them in the same
// call as the token; a skip never fails on credentials it did not need.
func TestRunReadsCredentialsWithTheToken(t *testing.T) {
	f := newFixture(t)
	f.r.Credentials = &CredentialsCache{}
	run := func(name string, ev Event, action string, batches, gets, puts int) {
		t.Helper()
		f.mem.batches, f.mem.gets, f.mem.puts = 0, 0, 0
		sum, err := f.r.Run(context.Background(), target, ev)
		if err != nil || sum.Action != action {
			t.Fatalf("%s: %+v, %v; want %s", name, sum, err, action)
		}
		if f.mem.batches != batches || f.mem.gets != gets || f.mem.puts != puts {
			t.Errorf("%s: %d batch reads, %d reads, %d writes; want %d, %d, %d", name, f.mem.batches, f.mem.gets, f.mem.puts, batches, gets, puts)
		}
	}
	run("cold scheduled run", Event{}, ActionRefreshed, 1, 0, 1)
	// An operator's forced run proves the credentials: it reads them
	// fresh, cache or not.
	run("forced run with the credentials kept", Event{Force: true}, ActionRefreshed, 0, 1, 1)
	run("scheduled run with the credentials kept", Event{}, ActionSkipped, 0, 1, 0)
	f.now = f.now.Add(CredentialsMaxAge)
	run("scheduled run after the credentials aged", Event{}, ActionSkipped, 1, 0, 0)
	run("and the one after it, which holds them again", Event{}, ActionSkipped, 0, 1, 0)

	f.now = f.now.Add(CredentialsMaxAge)
	f.mem.current[credsID] = `{"client_id":"id-1"}`
	run("skip with broken credentials", Event{}, ActionSkipped, 1, 0, 0)
	f.now = f.now.Add(45 * time.Minute)
	before := f.mem.current[tokenID]
	_, err := f.r.Run(context.Background(), target, Event{})
	if err == nil || !strings.Contains(err.Error(), `missing field "client_secret"`) {
		t.Fatalf("due run with broken credentials: %v, want the missing field named", err)
	}
	if f.mem.current[tokenID] != before {
		t.Error("a run that failed on its credentials changed the token")
	}
}

// TestForcedRunReadsCredentialsFresh: an operator writes credentials and
// forces a refresh to prove them. The forced run must use what the secret
// holds now, not what a warm process cached minutes ago; scheduled runs
// and rejects keep using the cache.
func TestForcedRunReadsCredentialsFresh(t *testing.T) {
	f := newFixture(t)
	f.r.Credentials = &CredentialsCache{}
	if _, err := f.r.Run(context.Background(), target, Event{Force: true}); err != nil {
		t.Fatal(err)
	}
	f.mem.current[credsID] = `{"client_id":"id-1"}`
	before := f.mem.current[tokenID]
	_, err := f.r.Run(context.Background(), target, Event{Force: true})
	if err == nil || !strings.Contains(err.Error(), `missing field "client_secret"`) {
		t.Fatalf("forced run after the credentials broke: %v, want the missing field named", err)
	}
	if f.mem.current[tokenID] != before {
		t.Error("a forced run that failed on its credentials changed the token")
	}
}
