package admitad_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/token-refresher/token-refresher/internal/localaws"
	"github.com/token-refresher/token-refresher/shared/admitad"
	"github.com/token-refresher/token-refresher/shared/admitad/admitadtest"
	"github.com/token-refresher/token-refresher/shared/lambdafn"
	"github.com/token-refresher/token-refresher/shared/secretstore"
	"github.com/token-refresher/token-refresher/shared/vendors"
	"github.com/token-refresher/token-refresher/shared/vendortest"
)

func TestMain(m *testing.M) { os.Exit(localaws.RunTests(m)) }

// env is one test's world: a fake Admitad, moto with the four Admitad
// secrets, and a store on it.
type env struct {
	srv    *admitadtest.Server
	sm     *secretsmanager.Client
	store  *secretstore.Store
	creds  map[string]string
	key    []byte
	credID string
	tokID  string
	refID  string
	keyID  string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	srv := admitadtest.NewServer(vendortest.Options{})
	t.Cleanup(srv.Close)
	moto := localaws.MotoForTest(t)
	sm, err := moto.SecretsManager(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	e := &env{
		srv:   srv,
		sm:    sm,
		store: &secretstore.Store{API: sm},
		creds: vendortest.Credentials(vendors.Admitad),
		key:   []byte(randomHex(t, 32)),
	}
	prefix := "admitad-" + randomHex(t, 6) + "-"
	e.credID, e.tokID, e.refID, e.keyID = prefix+"credentials", prefix+"token", prefix+"refresh", prefix+"signing-key"
	credJSON, _ := json.Marshal(e.creds)
	e.create(t, e.credID, string(credJSON))
	e.create(t, e.tokID, randomHex(t, 16)) // as CDK creates it: a random string
	e.create(t, e.refID, randomHex(t, 16))
	e.create(t, e.keyID, string(e.key))
	return e
}

func (e *env) create(t *testing.T, id, value string) {
	t.Helper()
	_, err := e.sm.CreateSecret(context.Background(), &secretsmanager.CreateSecretInput{Name: aws.String(id), SecretString: aws.String(value)})
	if err != nil {
		t.Fatalf("create secret %s: %v", id, err)
	}
}

func (e *env) put(t *testing.T, id, value string) {
	t.Helper()
	if _, err := e.store.Put(context.Background(), id, value); err != nil {
		t.Fatal(err)
	}
}

// get reads the AWSCURRENT version of id, naming the stage: moto answers
// an unnamed read with the last PutSecretValue's version even after
// UpdateSecretVersionStage moved AWSCURRENT.
func (e *env) get(t *testing.T, id string) secretstore.Value {
	t.Helper()
	out, err := e.sm.GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: aws.String(id), VersionStage: aws.String("AWSCURRENT")})
	if err != nil {
		t.Fatal(err)
	}
	return secretstore.Value{String: aws.ToString(out.SecretString), VersionID: aws.ToString(out.VersionId)}
}

// connect stores a connection as if a person had connected, with a
// refresh token the fake accepts.
func (e *env) connect(t *testing.T) admitad.Connection {
	t.Helper()
	now := time.Now().UTC()
	c := admitad.Connection{
		RefreshToken: e.srv.IssueRefreshToken(),
		Username:     admitadtest.Username,
		Scope:        e.creds["scope"],
		ConnectedAt:  now,
		RotatedAt:    now,
		ConnectState: "0123456789abcdef",
	}
	e.put(t, e.refID, c.Encode())
	return c
}

func (e *env) connection(t *testing.T) admitad.Connection {
	t.Helper()
	c, err := admitad.ParseConnection(e.get(t, e.refID).String)
	if err != nil {
		t.Fatalf("refresh-token secret: %v", err)
	}
	return c
}

// secrets are the values no output may contain.
func (e *env) secrets(extra ...string) []string {
	out := append([]string{e.creds["client_secret"], string(e.key)}, e.srv.Issued()...)
	return append(out, extra...)
}

// assertClean fails if text contains any of secrets.
func assertClean(t *testing.T, what, text string, secrets []string) {
	t.Helper()
	for _, s := range secrets {
		if s != "" && strings.Contains(text, s) {
			t.Errorf("%s contains a secret value (%d bytes, starting %.3s…)", what, len(s), s)
		}
	}
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// authorizeCode asks the fake's authorize dialogue for a code, as a
// browser that clicked Allow would get it.
func authorizeCode(t *testing.T, srv *admitadtest.Server, clientID, scope, redirectURI string) string {
	t.Helper()
	q := url.Values{"client_id": {clientID}, "redirect_uri": {redirectURI}, "scope": {scope}, "response_type": {"code"}, "state": {"s"}}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(srv.AuthorizeURL() + "?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || resp.StatusCode != http.StatusFound {
		t.Fatalf("authorize: HTTP %d, Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	code := loc.Query().Get("code")
	if code == "" {
		t.Fatalf("authorize: no code in the redirect (error %q)", loc.Query().Get("error"))
	}
	return code
}

// flakyAPI wraps the real moto client and fails the calls its hooks pick.
type flakyAPI struct {
	secretstore.API
	mu sync.Mutex
	// failPuts is how many following PutSecretValue calls fail; negative
	// means all.
	failPuts int
	// failSwaps is the same for UpdateSecretVersionStage.
	failSwaps int
	// beforeSwap, if set, runs once before the first
	// UpdateSecretVersionStage reaches moto.
	beforeSwap func()
	// afterSwap, if set, runs once after the first successful
	// UpdateSecretVersionStage.
	afterSwap func()
	puts      int
	swaps     int
}

// errUnavailable is a transient failure, as a throttled or unreachable
// Secrets Manager gives.
var errUnavailable = errors.New("injected: Secrets Manager unavailable")

func (f *flakyAPI) PutSecretValue(ctx context.Context, in *secretsmanager.PutSecretValueInput, opt ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error) {
	f.mu.Lock()
	f.puts++
	fail := f.failPuts != 0
	if f.failPuts > 0 {
		f.failPuts--
	}
	f.mu.Unlock()
	if fail {
		return nil, errUnavailable
	}
	return f.API.PutSecretValue(ctx, in, opt...)
}

func (f *flakyAPI) UpdateSecretVersionStage(ctx context.Context, in *secretsmanager.UpdateSecretVersionStageInput, opt ...func(*secretsmanager.Options)) (*secretsmanager.UpdateSecretVersionStageOutput, error) {
	f.mu.Lock()
	f.swaps++
	fail := f.failSwaps != 0
	if f.failSwaps > 0 {
		f.failSwaps--
	}
	before := f.beforeSwap
	f.beforeSwap = nil
	f.mu.Unlock()
	if before != nil {
		before()
	}
	if fail {
		return nil, errUnavailable
	}
	out, err := f.API.UpdateSecretVersionStage(ctx, in, opt...)
	if err == nil {
		f.mu.Lock()
		after := f.afterSwap
		f.afterSwap = nil
		f.mu.Unlock()
		if after != nil {
			after()
		}
	}
	return out, err
}

// logBuffer is a concurrency-safe log sink.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func urlParse(link string) (url.Values, error) {
	u, err := url.Parse(link)
	if err != nil {
		return nil, err
	}
	return u.Query(), nil
}

func newTestLogger(w io.Writer) *slog.Logger { return lambdafn.NewLogger(w) }
