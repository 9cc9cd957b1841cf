// Package reader is how a Go app gets a vendor token that token-refresher
// keeps in AWS Secrets Manager.
//
//	r := reader.NewFromConfig(awsCfg)
//	tok, err := r.Get(ctx, "token-refresher/fyber/token")
//	req.Header.Set("Authorization", tok.Authorization)
//	// on a 401 from the vendor:
//	tok, err = r.Reject(ctx, "token-refresher/fyber/token", tok.AccessToken)
//
// # Caching
//
// Get keeps each token secret in memory and reads it again (one
// GetSecretValue) when the first of these comes:
//
//   - the token's expires_at minus the margin (WithMargin, default 5 min):
//     Get never hands out a token that is about to expire while a fresher
//     one may be stored;
//   - the maximum age of the cached copy (WithMaxAge, default 15 min), so a
//     token the refresher replaced early is picked up.
//
// When a read shows a token that is already inside the margin (the
// refresher is late), or a read fails, the secret is read again at most
// every retry interval (WithRetryInterval, default 5 s) rather than on every
// call. A read that fails while the cached token has not expired is not an
// error: Get keeps serving the cached token until it expires.
//
// Get never returns a token whose expires_at has passed by the reader's
// clock; it returns an error matching ErrExpired instead.
//
// # Coalescing
//
// Concurrent Get calls for one secret share one read; concurrent Reject
// calls for one secret and token share one read and one invocation of the
// refresher. Across processes, the refresher itself coalesces: it calls the
// vendor only while the stored token still has the rejected fingerprint, so
// the second to last instance to report the same token are answered with
// the token the first one caused, and a later wave with that old token
// causes no invocation at all (the stored token already differs).
//
// # Errors
//
// Every error is an *Error naming the operation and the secret (and the
// function, for Reject). Match the cause with errors.Is: ErrNotFound,
// ErrMalformed, ErrExpired, ErrNoRefresher, ErrRefreshFailed,
// ErrNotRefreshed, ErrRecentlyRefreshed, ErrVersionBudget; or with errors.As for
// *ExpiredError and *RefreshError. Any other failed Secrets Manager or
// Lambda call is wrapped, so the SDK's own error types match errors.As too.
//
// # What is never logged
//
// The package logs nothing and prints nothing. No error, and nothing it
// returns other than Token, contains an access token: tokens are identified
// by their fingerprint, and Reject sends the refresher only the refused
// token's fingerprint. Do not log Token.AccessToken or Token.Authorization
// yourself; log Token.Fingerprint.
//
// # Concurrency
//
// A Reader is safe for concurrent use by any number of goroutines. Make one
// per process and share it: the cache and the coalescing are per Reader.
package reader

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"golang.org/x/sync/singleflight"

	"github.com/token-refresher/token-refresher/shared/token"
	"github.com/token-refresher/token-refresher/shared/vendors"
)

// Token is a token secret as apps see it: AccessToken, the Authorization
// header value to send, ExpiresAt (zero for tokens without a scheduled
// expiry, such as Invoca's), RefreshedAt, Fingerprint and vendor Extras.
type Token = token.Token

// SecretsAPI is the part of the Secrets Manager client the reader calls.
type SecretsAPI interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// LambdaAPI is the part of the Lambda client Reject calls.
type LambdaAPI interface {
	Invoke(ctx context.Context, in *lambda.InvokeInput, optFns ...func(*lambda.Options)) (*lambda.InvokeOutput, error)
}

var (
	_ SecretsAPI = (*secretsmanager.Client)(nil)
	_ LambdaAPI  = (*lambda.Client)(nil)
)

// Defaults of the options.
const (
	DefaultMargin        = 5 * time.Minute
	DefaultMaxAge        = 15 * time.Minute
	DefaultRetryInterval = 5 * time.Second
	DefaultReadTimeout   = 10 * time.Second
	DefaultRejectTimeout = 60 * time.Second
)

// Option configures a Reader.
type Option func(*Reader)

// WithMargin sets how long before a token's expires_at the reader stops
// trusting its cached copy and reads the secret again. Choose it larger
// than the clock skew between the app and the vendor plus the time a vendor
// call takes.
func WithMargin(d time.Duration) Option { return func(r *Reader) { r.margin = d } }

// WithMaxAge sets how long a cached copy is used at most, whatever the
// token's expiry. Zero or less means no maximum: expiry alone decides, and
// a token without expiry (Invoca) is read again after DefaultMaxAge.
func WithMaxAge(d time.Duration) Option { return func(r *Reader) { r.maxAge = d } }

// WithRetryInterval sets the shortest time between two reads of a secret
// whose read failed or whose stored token is already inside the margin.
func WithRetryInterval(d time.Duration) Option { return func(r *Reader) { r.retry = d } }

// WithClock replaces time.Now; simulations and tests use it.
func WithClock(now func() time.Time) Option { return func(r *Reader) { r.now = now } }

// WithReadTimeout bounds one shared read of a secret. A caller's own context still decides how long that caller
// waits; it does not cancel a read other callers share.
func WithReadTimeout(d time.Duration) Option { return func(r *Reader) { r.readTimeout = d } }

// WithLambda sets the Lambda client Reject invokes refreshers with. Without
// it, Reject fails with ErrNoRefresher.
func WithLambda(api LambdaAPI) Option { return func(r *Reader) { r.lambda = api } }

// WithFunctionName maps the refresher named in a token secret (its
// "refresher" field, the Lambda function name) to the name to invoke. The
// Lambda Runtime Interface Emulator (aws-lambda-rie) answers only for the
// name "function", so a local run against it uses
//
//	reader.WithFunctionName(func(string) string { return "function" })
//
// together with AWS_ENDPOINT_URL_LAMBDA=http://127.0.0.1:<port>.
func WithFunctionName(fn func(refresher string) string) Option {
	return func(r *Reader) { r.functionName = fn }
}

// WithRejectTimeout bounds one shared Reject: reading the secret, invoking
// the refresher (which calls the vendor) and waiting for the new token to
// be stored. Give it at least the refresher's Lambda timeout.
func WithRejectTimeout(d time.Duration) Option { return func(r *Reader) { r.rejectTimeout = d } }

// Reader reads token secrets through an expiry-aware in-memory cache.
type Reader struct {
	api           SecretsAPI
	lambda        LambdaAPI
	functionName  func(string) string
	margin        time.Duration
	maxAge        time.Duration
	retry         time.Duration
	readTimeout   time.Duration
	rejectTimeout time.Duration
	now           func() time.Time

	group singleflight.Group
	mu    sync.Mutex
	cache map[string]*entry
}

// entry is the cached state of one secret. An entry is never modified after
// it is stored; a new read replaces it.
type entry struct {
	tok     Token
	err     error     // the last read's error when tok is the zero Token
	fetched time.Time // when tok was read
	next    time.Time // Get reads again from this time on
}

// New returns a Reader that reads secrets with api.
func New(api SecretsAPI, opts ...Option) *Reader {
	r := &Reader{
		api:           api,
		functionName:  func(s string) string { return s },
		margin:        DefaultMargin,
		maxAge:        DefaultMaxAge,
		retry:         DefaultRetryInterval,
		readTimeout:   DefaultReadTimeout,
		rejectTimeout: DefaultRejectTimeout,
		now:           time.Now,
		cache:         map[string]*entry{},
	}
	for _, o := range opts {
		o(r)
	}
	if r.retry <= 0 {
		r.retry = DefaultRetryInterval
	}
	if r.margin < 0 {
		r.margin = 0
	}
	return r
}

// NewFromConfig returns a Reader with Secrets Manager and Lambda clients
// built from cfg; the SDK's endpoint variables (AWS_ENDPOINT_URL_SECRETS_MANAGER,
// AWS_ENDPOINT_URL_LAMBDA) apply as usual. Options given here come after
// (and so override) WithLambda.
func NewFromConfig(cfg aws.Config, opts ...Option) *Reader {
	all := append([]Option{WithLambda(lambda.NewFromConfig(cfg))}, opts...)
	return New(secretsmanager.NewFromConfig(cfg), all...)
}

// Get returns the current token of the token secret secretID (a name or
// ARN), from the cache when the cached copy is still fresh (see the package
// doc). The returned token has not expired by the reader's clock.
//
// Errors: ErrNotFound when the secret or its value does not exist,
// ErrMalformed when the value is not a valid token secret (a secret the
// stack created holds a random string until its refresher first runs),
// ErrExpired when the stored token has expired and no fresher one exists.
// ctx bounds the caller's wait.
func (r *Reader) Get(ctx context.Context, secretID string) (Token, error) {
	now := r.now()
	if e := r.cached(secretID); e != nil && now.Before(e.next) {
		return r.serve(secretID, e, now)
	}
	e, err := r.shared(ctx, "get\x00"+secretID, func(ctx context.Context) (*entry, error) {
		return r.load(ctx, secretID), nil
	})
	if err != nil {
		return Token{}, &Error{Op: "get", SecretID: secretID, Err: err}
	}
	return r.serve(secretID, e, r.now())
}

// serve turns an entry into Get's answer.
func (r *Reader) serve(secretID string, e *entry, now time.Time) (Token, error) {
	if e.err != nil {
		return Token{}, &Error{Op: "get", SecretID: secretID, Err: e.err}
	}
	if expired(e.tok, now) {
		return Token{}, &Error{Op: "get", SecretID: secretID, Err: &ExpiredError{Fingerprint: e.tok.Fingerprint, ExpiresAt: e.tok.ExpiresAt}}
	}
	return e.tok, nil
}

func (r *Reader) cached(secretID string) *entry {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cache[secretID]
}

func (r *Reader) store(secretID string, e *entry) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cache[secretID] = e
}

// load reads secretID once and stores the resulting entry. A failed read
// keeps an unexpired cached token.
func (r *Reader) load(ctx context.Context, secretID string) *entry {
	old := r.cached(secretID)
	tok, err := r.read(ctx, secretID)
	now := r.now()
	var e *entry
	switch {
	case err == nil:
		e = r.entryFor(tok, now)
	case old != nil && old.err == nil && !expired(old.tok, now):
		// Keep serving the cached token; try again later.
		e = &entry{tok: old.tok, fetched: old.fetched, next: capAt(now.Add(r.retry), old.tok.ExpiresAt)}
	default:
		e = &entry{err: err, fetched: now, next: now.Add(r.retry)}
	}
	r.store(secretID, e)
	return e
}

// entryFor computes when a token read at now must be read again.
func (r *Reader) entryFor(tok Token, now time.Time) *entry {
	e := &entry{tok: tok, fetched: now}
	var next time.Time
	if r.maxAge > 0 {
		next = now.Add(r.maxAge)
	}
	if !tok.ExpiresAt.IsZero() {
		due := tok.ExpiresAt.Add(-r.margin)
		if next.IsZero() || due.Before(next) {
			next = due
		}
		if !next.After(now) {
			// Already inside the margin: the refresher is late. Serve it
			// while it lasts, and look for a new one every retry interval.
			next = capAt(now.Add(r.retry), tok.ExpiresAt)
			if !next.After(now) {
				next = now.Add(r.retry) // expired: an error until re-read
			}
		}
	}
	if next.IsZero() {
		next = now.Add(DefaultMaxAge)
	}
	e.next = next
	return e
}

// read performs one GetSecretValue and parses the token secret.
func (r *Reader) read(ctx context.Context, secretID string) (Token, error) {
	out, err := r.api.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(secretID)})
	if err != nil {
		var nf *smtypes.ResourceNotFoundException
		if errors.As(err, &nf) {
			return Token{}, fmt.Errorf("%w: %s has no current value or does not exist", ErrNotFound, secretID)
		}
		return Token{}, fmt.Errorf("read secret: %w", err)
	}
	if out.SecretString == nil {
		return Token{}, fmt.Errorf("%w: %s has no string value", ErrMalformed, secretID)
	}
	tok, err := token.Parse(*out.SecretString)
	if err != nil {
		if !json.Valid([]byte(*out.SecretString)) {
			return Token{}, fmt.Errorf("%w: the value is not JSON (a new token secret holds a random string until its refresher first runs)", ErrMalformed)
		}
		return Token{}, err // wraps token.ErrMalformed, which ErrMalformed is
	}
	return tok, nil
}

// shared runs fn once for all concurrent callers with the same key. fn gets
// a context that no single caller can cancel, bounded by the read timeout;
// each caller waits at most until its own ctx ends.
func (r *Reader) shared(ctx context.Context, key string, fn func(context.Context) (*entry, error)) (*entry, error) {
	return r.sharedFor(ctx, r.readTimeout, key, fn)
}

// sharedFor is shared with an explicit bound.
func (r *Reader) sharedFor(ctx context.Context, timeout time.Duration, key string, fn func(context.Context) (*entry, error)) (*entry, error) {
	ch := r.group.DoChan(key, func() (any, error) {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
		defer cancel()
		return fn(sctx)
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		return res.Val.(*entry), nil
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
}

// Forget drops the cached copy of secretID, so the next Get reads it.
func (r *Reader) Forget(secretID string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.cache, secretID)
}

func expired(t Token, now time.Time) bool {
	return !t.ExpiresAt.IsZero() && !now.Before(t.ExpiresAt)
}

// capAt returns t, or limit when limit is set and earlier.
func capAt(t, limit time.Time) time.Time {
	if !limit.IsZero() && limit.Before(t) {
		return limit
	}
	return t
}

// SecretID names the token secret of a vendor's connection in a deployment
// with name prefix prefix ("token-refresher" unless the stack sets
// another): <prefix>/<vendor>/token for the default connection ("" or
// "default"), <prefix>/<vendor>/<connection>/token for a named one.
func SecretID(prefix, vendor, connection string) string {
	return vendors.SecretName(prefix, vendor, connection, vendors.RoleToken)
}
