package reader

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/token-refresher/token-refresher/internal/localaws"
	"github.com/token-refresher/token-refresher/shared/token"
)

func TestMain(m *testing.M) { os.Exit(localaws.RunTests(m)) }

// testClock is a settable clock safe for concurrent use.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func newTestClock(t time.Time) *testClock { return &testClock{t: t} }

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// t0 is the simulated "now" of the tests; tokens are dated around it.
var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// newToken returns a valid token refreshed at refreshed and living life.
func newToken(t testing.TB, access string, refreshed time.Time, life time.Duration) Token {
	t.Helper()
	tok := Token{
		Vendor:        "fyber",
		AccessToken:   access,
		TokenType:     "Bearer",
		Authorization: "Bearer " + access,
		RefreshedAt:   refreshed.UTC().Truncate(time.Second),
		Fingerprint:   token.Fingerprint(access),
		Refresher:     "token-refresher-fyber",
	}
	if life > 0 {
		tok.ExpiresAt = tok.RefreshedAt.Add(life)
	}
	if err := tok.Validate(); err != nil {
		t.Fatalf("test token: %v", err)
	}
	return tok
}

func tokenJSON(t testing.TB, tok Token) string {
	t.Helper()
	b, err := json.Marshal(tok)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// motoSecrets returns a Secrets Manager client on the shared moto_server.
func motoSecrets(t *testing.T) *secretsmanager.Client {
	t.Helper()
	m := localaws.MotoForTest(t)
	c, err := m.SecretsManager(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// secretName is unique per test, since the moto_server is shared.
func secretName(t *testing.T) string {
	return "reader-test/" + strings.NewReplacer("/", "-", " ", "-").Replace(t.Name()) + "/token"
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

func putSecret(t *testing.T, sm *secretsmanager.Client, name, value string) {
	t.Helper()
	if _, err := sm.PutSecretValue(context.Background(), &secretsmanager.PutSecretValueInput{SecretId: aws.String(name), SecretString: aws.String(value)}); err != nil {
		t.Fatalf("put secret %s: %v", name, err)
	}
}

func TestGetAgainstMoto(t *testing.T) {
	sm := motoSecrets(t)
	ctx := context.Background()

	t.Run("fresh read returns the contract", func(t *testing.T) {
		name := secretName(t)
		tok := newToken(t, "tok-fresh-1", t0, time.Hour)
		tok.Extras = map[string]string{"integrator_id": "int-7"}
		createSecret(t, sm, name, tokenJSON(t, tok))
		var gets int
		r := New(&countingSecrets{api: sm, gets: &gets}, WithClock(newTestClock(t0).now))
		got, err := r.Get(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if got.AccessToken != tok.AccessToken || got.Authorization != "Bearer tok-fresh-1" ||
			!got.ExpiresAt.Equal(tok.ExpiresAt) || got.Extras["integrator_id"] != "int-7" || got.Refresher != tok.Refresher {
			t.Errorf("Get = %+v, want the stored token %+v", got, tok)
		}
		if gets != 1 {
			t.Errorf("GetSecretValue calls = %d, want 1", gets)
		}
	})

	t.Run("cached read makes no call", func(t *testing.T) {
		name := secretName(t)
		createSecret(t, sm, name, tokenJSON(t, newToken(t, "tok-cached-1", t0, time.Hour)))
		clock := newTestClock(t0)
		var gets int
		r := New(&countingSecrets{api: sm, gets: &gets}, WithClock(clock.now))
		for i := range 5 {
			clock.set(t0.Add(time.Duration(i) * time.Minute))
			if _, err := r.Get(ctx, name); err != nil {
				t.Fatal(err)
			}
		}
		if gets != 1 {
			t.Errorf("GetSecretValue calls = %d over 5 Gets within 4 minutes, want 1", gets)
		}
	})

	t.Run("re-read before expiry", func(t *testing.T) {
		name := secretName(t)
		old := newToken(t, "tok-expiring-1", t0, time.Hour)
		createSecret(t, sm, name, tokenJSON(t, old))
		clock := newTestClock(t0.Add(40 * time.Minute))
		var gets int
		margin := 5 * time.Minute
		r := New(&countingSecrets{api: sm, gets: &gets}, WithClock(clock.now), WithMargin(margin), WithMaxAge(0))
		if _, err := r.Get(ctx, name); err != nil {
			t.Fatal(err)
		}
		fresh := newToken(t, "tok-expiring-2", t0.Add(30*time.Minute), time.Hour)
		putSecret(t, sm, name, tokenJSON(t, fresh))

		clock.set(old.ExpiresAt.Add(-margin - time.Second))
		got, err := r.Get(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if got.AccessToken != old.AccessToken || gets != 1 {
			t.Errorf("just outside the margin: got %s after %d calls, want the cached %s after 1", got.Fingerprint, gets, old.Fingerprint)
		}
		clock.set(old.ExpiresAt.Add(-margin))
		got, err = r.Get(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if got.AccessToken != fresh.AccessToken || gets != 2 {
			t.Errorf("inside the margin: got %s after %d calls, want the new %s after 2", got.Fingerprint, gets, fresh.Fingerprint)
		}
	})

	t.Run("re-read after max age", func(t *testing.T) {
		name := secretName(t)
		old := newToken(t, "tok-aged-1", t0, 24*time.Hour)
		createSecret(t, sm, name, tokenJSON(t, old))
		clock := newTestClock(t0)
		var gets int
		r := New(&countingSecrets{api: sm, gets: &gets}, WithClock(clock.now), WithMaxAge(10*time.Minute))
		if _, err := r.Get(ctx, name); err != nil {
			t.Fatal(err)
		}
		early := newToken(t, "tok-aged-2", t0.Add(time.Minute), 24*time.Hour)
		putSecret(t, sm, name, tokenJSON(t, early))
		clock.set(t0.Add(10*time.Minute - time.Second))
		if got, _ := r.Get(ctx, name); got.AccessToken != old.AccessToken {
			t.Errorf("before max age: got %s, want the cached %s", got.Fingerprint, old.Fingerprint)
		}
		clock.set(t0.Add(10 * time.Minute))
		got, err := r.Get(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if got.AccessToken != early.AccessToken || gets != 2 {
			t.Errorf("at max age: got %s after %d calls, want the early refresh %s after 2", got.Fingerprint, gets, early.Fingerprint)
		}
	})

	t.Run("concurrent callers share one read", func(t *testing.T) {
		name := secretName(t)
		createSecret(t, sm, name, tokenJSON(t, newToken(t, "tok-shared-1", t0, time.Hour)))
		api := &atomicCountingSecrets{api: slowSecrets{api: sm, delay: 300 * time.Millisecond}}
		r := New(api, WithClock(newTestClock(t0).now))
		const callers = 50
		var wg sync.WaitGroup
		start := make(chan struct{})
		errs := make(chan error, callers)
		for range callers {
			wg.Go(func() {
				<-start
				tok, err := r.Get(ctx, name)
				if err == nil && tok.AccessToken != "tok-shared-1" {
					err = errors.New("wrong token " + tok.Fingerprint)
				}
				errs <- err
			})
		}
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Error(err)
			}
		}
		if n := api.gets.Load(); n != 1 {
			t.Errorf("GetSecretValue calls = %d for %d concurrent callers, want 1", n, callers)
		}
	})
}

// slowSecrets delays every read, so concurrent callers overlap.
type slowSecrets struct {
	api   SecretsAPI
	delay time.Duration
}

func (s slowSecrets) GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	time.Sleep(s.delay)
	return s.api.GetSecretValue(ctx, in, optFns...)
}

func TestGetErrorsAgainstMoto(t *testing.T) {
	sm := motoSecrets(t)
	ctx := context.Background()
	valid := newToken(t, "tok-err-1", t0, time.Hour)
	mismatch := valid
	mismatch.Fingerprint = token.Fingerprint("another")
	tests := []struct {
		name  string
		value string // "" creates the secret without a value; "-" creates none
		want  error
		// notIn must not appear in the error text.
		notIn string
	}{
		{name: "no secret", value: "-", want: ErrNotFound},
		{name: "secret without value", value: "", want: ErrNotFound},
		{name: "random string from the stack", value: "Xy7!kq2#Lp9$wz3", want: ErrMalformed},
		{name: "missing vendor", value: `{"access_token":"tok-err-2","token_type":"Bearer","authorization":"Bearer tok-err-2","refreshed_at":"2025-03-01T12:00:00Z","fingerprint":"` + token.Fingerprint("tok-err-2") + `"}`, want: ErrMalformed, notIn: "tok-err-2"},
		{name: "fingerprint mismatch", value: tokenJSON(t, mismatch), want: ErrMalformed, notIn: "tok-err-1"},
		{name: "expired", value: tokenJSON(t, newToken(t, "tok-err-3", t0.Add(-2*time.Hour), time.Hour)), want: ErrExpired, notIn: "tok-err-3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := secretName(t)
			if tt.value != "-" {
				createSecret(t, sm, name, tt.value)
			}
			r := New(sm, WithClock(newTestClock(t0).now))
			_, err := r.Get(ctx, name)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Get error = %v, want one matching %v", err, tt.want)
			}
			var re *Error
			if !errors.As(err, &re) || re.SecretID != name || re.Op != "get" {
				t.Errorf("error %v is not an *Error naming %s", err, name)
			}
			if !strings.Contains(err.Error(), name) {
				t.Errorf("error %q does not name the secret", err)
			}
			if tt.notIn != "" && strings.Contains(err.Error(), tt.notIn) {
				t.Errorf("error %q contains the access token", err)
			}
			if tt.want == ErrExpired {
				var ee *ExpiredError
				if !errors.As(err, &ee) || ee.Fingerprint != token.Fingerprint("tok-err-3") {
					t.Errorf("error %v is not an *ExpiredError with the token's fingerprint", err)
				}
			}
		})
	}
}
