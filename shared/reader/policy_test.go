package reader

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/token-refresher/token-refresher/shared/token"
)

// failingSecrets fails every read while fail is set.
type failingSecrets struct {
	api  SecretsAPI
	fail atomic.Bool
	gets atomic.Int64
}

func (f *failingSecrets) GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	f.gets.Add(1)
	if f.fail.Load() {
		return nil, errors.New("connection reset")
	}
	return f.api.GetSecretValue(ctx, in, optFns...)
}

func TestGetPolicy(t *testing.T) {
	ctx := context.Background()
	const id = "policy/token"

	t.Run("a failed re-read serves the cached token until it expires", func(t *testing.T) {
		sm := newMemSecrets()
		tok := newToken(t, "tok-policy-1", t0, time.Hour)
		sm.create(id, tokenJSON(t, tok))
		api := &failingSecrets{api: sm}
		clock := newTestClock(t0)
		r := New(api, WithClock(clock.now), WithMaxAge(10*time.Minute), WithRetryInterval(time.Minute))
		if _, err := r.Get(ctx, id); err != nil {
			t.Fatal(err)
		}
		api.fail.Store(true)
		clock.set(t0.Add(20 * time.Minute))
		got, err := r.Get(ctx, id)
		if err != nil || got.AccessToken != tok.AccessToken {
			t.Fatalf("Get during an outage = %s, %v; want the cached token", got.Fingerprint, err)
		}
		// Within the retry interval: no new read.
		clock.set(t0.Add(20*time.Minute + 30*time.Second))
		_, _ = r.Get(ctx, id)
		if n := api.gets.Load(); n != 2 {
			t.Errorf("reads = %d, want 2 (no read within the retry interval)", n)
		}
		clock.set(tok.ExpiresAt)
		if _, err = r.Get(ctx, id); err == nil || !strings.Contains(err.Error(), "connection reset") {
			t.Errorf("Get at expiry during an outage = %v, want the read error", err)
		}
	})

	t.Run("a late refresher is polled once per retry interval", func(t *testing.T) {
		sm := newMemSecrets()
		tok := newToken(t, "tok-policy-2", t0, time.Hour)
		sm.create(id, tokenJSON(t, tok))
		var gets int
		clock := newTestClock(tok.ExpiresAt.Add(-2 * time.Minute)) // inside the 5-minute margin
		r := New(&countingSecrets{api: sm, gets: &gets}, WithClock(clock.now), WithRetryInterval(10*time.Second))
		for i := range 30 { // 30 Gets over 29 seconds
			clock.set(tok.ExpiresAt.Add(-2*time.Minute + time.Duration(i)*time.Second))
			got, err := r.Get(ctx, id)
			if err != nil || got.AccessToken != tok.AccessToken {
				t.Fatalf("Get = %v; want the still valid token", err)
			}
		}
		if gets != 3 {
			t.Errorf("reads = %d over 29 s with a 10 s retry interval, want 3", gets)
		}
		clock.set(tok.ExpiresAt)
		if _, err := r.Get(ctx, id); !errors.Is(err, ErrExpired) {
			t.Errorf("Get at expiry = %v, want ErrExpired", err)
		}
	})

	t.Run("tokens without expiry are re-read after max age", func(t *testing.T) {
		sm := newMemSecrets()
		tok := newToken(t, "tok-policy-3", t0, 0)
		sm.create(id, tokenJSON(t, tok))
		var gets int
		clock := newTestClock(t0)
		r := New(&countingSecrets{api: sm, gets: &gets}, WithClock(clock.now), WithMaxAge(time.Hour))
		_, _ = r.Get(ctx, id)
		clock.set(t0.Add(59 * time.Minute))
		_, _ = r.Get(ctx, id)
		clock.set(t0.Add(61 * time.Minute))
		if _, err := r.Get(ctx, id); err != nil {
			t.Fatal(err)
		}
		if gets != 2 {
			t.Errorf("reads = %d, want 2", gets)
		}
	})

	t.Run("a caller's cancel does not fail the shared read", func(t *testing.T) {
		sm := newMemSecrets()
		sm.create(id, tokenJSON(t, newToken(t, "tok-policy-4", t0, time.Hour)))
		r := New(slowSecrets{api: sm, delay: 200 * time.Millisecond}, WithClock(newTestClock(t0).now))
		short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
		defer cancel()
		done := make(chan error, 1)
		go func() { _, err := r.Get(ctx, id); done <- err }()
		if _, err := r.Get(short, id); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Get with a short deadline = %v, want DeadlineExceeded", err)
		}
		if err := <-done; err != nil {
			t.Errorf("the other caller's Get failed: %v", err)
		}
	})
}

// fakeLambda answers invokes with fn and counts them.
type fakeLambda struct {
	fn    func(ctx context.Context, in *lambda.InvokeInput) (*lambda.InvokeOutput, error)
	calls atomic.Int64
}

func (f *fakeLambda) Invoke(ctx context.Context, in *lambda.InvokeInput, _ ...func(*lambda.Options)) (*lambda.InvokeOutput, error) {
	f.calls.Add(1)
	return f.fn(ctx, in)
}

func TestRejectLogic(t *testing.T) {
	ctx := context.Background()
	const id = "reject/token"
	old := newToken(t, "tok-reject-old", t0.Add(-10*time.Minute), time.Hour)
	fresh := newToken(t, "tok-reject-new", t0, time.Hour)

	// refresher returns a fake refresher that stores fresh when asked about
	// the stored token, and answers like functions/<vendor> does.
	refresher := func(sm *memSecrets) func(ctx context.Context, in *lambda.InvokeInput) (*lambda.InvokeOutput, error) {
		return func(ctx context.Context, in *lambda.InvokeInput) (*lambda.InvokeOutput, error) {
			var ev rejectEvent
			if err := json.Unmarshal(in.Payload, &ev); err != nil {
				return nil, err
			}
			out, _ := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(id)})
			cur, _ := token.Parse(aws.ToString(out.SecretString))
			if cur.Fingerprint != ev.RejectedFingerprint {
				b, _ := json.Marshal(summary{Vendor: "fyber", Action: "skipped", Fingerprint: cur.Fingerprint})
				return &lambda.InvokeOutput{StatusCode: 200, Payload: b}, nil
			}
			_, _ = sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(id), SecretString: aws.String(tokenJSON(t, fresh))})
			b, _ := json.Marshal(summary{Vendor: "fyber", Action: "refreshed", Fingerprint: fresh.Fingerprint})
			return &lambda.InvokeOutput{StatusCode: 200, Payload: b}, nil
		}
	}
	tests := []struct {
		name        string
		stored      Token
		invoke      func(sm *memSecrets) func(ctx context.Context, in *lambda.InvokeInput) (*lambda.InvokeOutput, error)
		noLambda    bool
		want        string // access token returned
		wantErr     error
		wantInvokes int64
	}{
		{name: "stored token is the rejected one: invoke and return the new one", stored: old, invoke: refresher, want: fresh.AccessToken, wantInvokes: 1},
		{name: "stored token already replaced: no invoke", stored: fresh, invoke: refresher, want: fresh.AccessToken, wantInvokes: 0},
		{name: "validated (Invoca): the same token back", stored: old, want: old.AccessToken, wantInvokes: 1,
			invoke: func(sm *memSecrets) func(context.Context, *lambda.InvokeInput) (*lambda.InvokeOutput, error) {
				return func(context.Context, *lambda.InvokeInput) (*lambda.InvokeOutput, error) {
					b, _ := json.Marshal(summary{Vendor: "invoca", Action: "validated", Fingerprint: old.Fingerprint})
					return &lambda.InvokeOutput{StatusCode: 200, Payload: b}, nil
				}
			}},
		{name: "throttled: wait for the other instance's refresh", stored: old, want: fresh.AccessToken, wantInvokes: 1,
			invoke: func(sm *memSecrets) func(context.Context, *lambda.InvokeInput) (*lambda.InvokeOutput, error) {
				return func(ctx context.Context, in *lambda.InvokeInput) (*lambda.InvokeOutput, error) {
					go func() {
						time.Sleep(150 * time.Millisecond)
						_, _ = sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(id), SecretString: aws.String(tokenJSON(t, fresh))})
					}()
					return nil, &ltypes.TooManyRequestsException{Message: aws.String("Rate Exceeded.")}
				}
			}},
		{name: "function error (Lambda)", stored: old, wantErr: ErrRefreshFailed, wantInvokes: 1,
			invoke: func(*memSecrets) func(context.Context, *lambda.InvokeInput) (*lambda.InvokeOutput, error) {
				return func(context.Context, *lambda.InvokeInput) (*lambda.InvokeOutput, error) {
					return &lambda.InvokeOutput{StatusCode: 200, FunctionError: aws.String("Unhandled"),
						Payload: []byte(`{"errorMessage":"fyber: request token: HTTP 400 invalid_client","errorType":"Error"}`)}, nil
				}
			}},
		{name: "function error (emulator, no header)", stored: old, wantErr: ErrRefreshFailed, wantInvokes: 1,
			invoke: func(*memSecrets) func(context.Context, *lambda.InvokeInput) (*lambda.InvokeOutput, error) {
				return func(context.Context, *lambda.InvokeInput) (*lambda.InvokeOutput, error) {
					return &lambda.InvokeOutput{StatusCode: 200, Payload: []byte(`{"errorMessage":"boom","errorType":"Error"}`)}, nil
				}
			}},
		{name: "no Lambda client", stored: old, noLambda: true, wantErr: ErrNoRefresher},
		// Throttled every time, the slot perhaps held by runs of other
		// connections: the reader asks again, with backoff, until its
		// deadline (1 s: asks at 0, 0.1, 0.3, 0.7 s).
		{name: "throttled every time", stored: old, wantErr: ErrNotRefreshed, wantInvokes: -4,
			invoke: func(*memSecrets) func(context.Context, *lambda.InvokeInput) (*lambda.InvokeOutput, error) {
				return func(context.Context, *lambda.InvokeInput) (*lambda.InvokeOutput, error) {
					return nil, &ltypes.TooManyRequestsException{Message: aws.String("Rate Exceeded.")}
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sm := newMemSecrets()
			sm.create(id, tokenJSON(t, tt.stored))
			opts := []Option{WithClock(newTestClock(t0).now), WithRejectTimeout(time.Second)}
			fl := &fakeLambda{}
			if !tt.noLambda {
				fl.fn = tt.invoke(sm)
				opts = append(opts, WithLambda(fl), WithFunctionName(func(s string) string { return "mapped-" + s }))
			}
			r := New(sm, opts...)
			got, err := r.Reject(ctx, id, old.AccessToken)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Reject error = %v, want %v", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), old.AccessToken) {
					t.Errorf("error %q contains the rejected token", err)
				}
				if !strings.Contains(err.Error(), id) {
					t.Errorf("error %q does not name the secret", err)
				}
				if !tt.noLambda && !strings.Contains(err.Error(), "mapped-token-refresher-fyber") {
					t.Errorf("error %q does not name the function", err)
				}
			} else if err != nil {
				t.Fatalf("Reject: %v", err)
			} else if got.AccessToken != tt.want {
				t.Errorf("Reject returned %s, want %s", got.Fingerprint, token.Fingerprint(tt.want))
			}
			if n := fl.calls.Load(); tt.wantInvokes >= 0 && n != tt.wantInvokes {
				t.Errorf("invokes = %d, want %d", n, tt.wantInvokes)
			} else if tt.wantInvokes < 0 && (n < 2 || n > -tt.wantInvokes+1) {
				t.Errorf("invokes = %d, want 2 to %d (asked again with backoff)", n, -tt.wantInvokes+1)
			}
			if tt.wantErr == nil {
				// Get now serves the token Reject returned, from the cache.
				if g, err := r.Get(ctx, id); err != nil || g.AccessToken != tt.want {
					t.Errorf("Get after Reject = %s, %v; want %s", g.Fingerprint, err, token.Fingerprint(tt.want))
				}
			}
		})
	}
}
