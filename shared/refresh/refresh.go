// Package refresh is the one refresh path every vendor plugs into:
//
//	read the credentials secret → decide whether a refresh is due → ask the
//	vendor → validate the reply → write the token secret → one log line and
//	one metrics line.
//
// A vendor package implements Vendor and knows only its own protocol; the
// policy (when to refresh, how expiry is computed, what may be written) is
// here, once.
//
// Contract: Refresher.Run either publishes a token that passed every check,
// or returns an error and leaves the stored token as it was; it never writes
// a token that is empty, expired, unparseable or too large. Every error it
// returns, and the one JSON log line and one metrics line it writes per run,
// has had every credential value, and every value given to Request.Hide,
// scrubbed from it (raw and in its URL-, JSON- and HTML-escaped forms,
// longest first, before any text is cut): no secret and no token is ever
// logged, only fingerprints. Match causes with errors.Is (ErrForceRefused,
// ErrSuperseded) or errors.As (*vendorhttp.Error). A Refresher is safe for
// concurrent use; the stack runs one refresh per vendor at a time.
package refresh

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"time"

	"github.com/token-refresher/token-refresher/shared/secretstore"
	"github.com/token-refresher/token-refresher/shared/token"
	"github.com/token-refresher/token-refresher/shared/vendors"
)

// Vendor obtains a token from one vendor.
//
// Fetch must not log, and its errors must not contain a credential or a
// token; the refresher additionally scrubs every credential value and every
// value passed to Request.Hide from the errors it returns and logs.
type Vendor interface {
	Fetch(ctx context.Context, req *Request) (*Grant, error)
}

// VendorFunc adapts a function to Vendor.
type VendorFunc func(ctx context.Context, req *Request) (*Grant, error)

// Fetch calls f.
func (f VendorFunc) Fetch(ctx context.Context, req *Request) (*Grant, error) { return f(ctx, req) }

// Target names the secrets of one refresh. They are parameters of a run,
// not process globals, so one function can serve several accounts.
type Target struct {
	// Connection names the vendor account; "" is the default connection
	// (vendors.DefaultConnection).
	Connection string
	// CredentialsSecretID is read, never written.
	CredentialsSecretID string
	// TokenSecretID receives the token.
	TokenSecretID string
	// RefreshSecretID holds a rotating refresh token, for vendors that
	// have one (Admitad); empty otherwise.
	RefreshSecretID string
}

// Request is what a vendor gets for one fetch.
type Request struct {
	Target Target
	// Credentials is the validated credentials secret: every field the
	// vendor table requires is present and non-empty.
	Credentials Credentials
	// Current is the token in the token secret, nil when there is none or
	// it cannot be parsed.
	Current *token.Token
	// Endpoint is the vendor URL to call (already checked).
	Endpoint string

	// prefetched holds secrets the run read together with the
	// credentials, by id.
	prefetched map[string]secretstore.Result

	hide  func(...string)
	build func(*Grant) (token.Token, error)
}

// Token returns the token the run would publish for g, or why it would
// refuse g: the same validation and expiry the run applies. A Stateful
// vendor records that token with its state (before the run publishes it),
// so that a later run can publish it if this run's write fails.
func (r *Request) Token(g *Grant) (token.Token, error) {
	if r.build == nil {
		return token.Token{}, errors.New("refresh: request has no refresher")
	}
	return r.build(g)
}

// Prefetched returns the current value of secret id if the run has read
// it already, together with the credentials in one call, and reports
// whether it has. A Stateful vendor's Peek reads req.Target.RefreshSecretID
// through it before it reads the secret itself.
func (r *Request) Prefetched(id string) (secretstore.Result, bool) {
	res, ok := r.prefetched[id]
	return res, ok
}

// Stateful is a vendor that keeps state of its own (Admitad's refresh-token
// secret, Target.RefreshSecretID), including a record of the token it last
// obtained. S is what one run reads of that state. The run reads the state
// secret and the token secret together, in one call (Peek finds its secret
// in Request.Prefetched); Peek returns the state and what it records, and
// if the run calls the vendor, FetchWith gets that same state. Run it with
// WithState.
//
// The token secret decides, because it is what apps read: a run skips only
// when the published token is fresh. When the record holds a newer token
// than the one published (the last run's write of the token secret
// failed), the run publishes the recorded token if it is still fresh, with
// no vendor call, and calls the vendor otherwise.
type Stateful[S any] interface {
	Peek(ctx context.Context, req *Request) (S, Record, error)
	FetchWith(ctx context.Context, req *Request, state S) (*Grant, error)
}

// WithState makes a Stateful vendor a Vendor of the refresh path: each run
// peeks once and fetches with what it peeked. Its Fetch, called outside a
// run, peeks first.
func WithState[S any](v Stateful[S]) Vendor { return withState[S]{v} }

type withState[S any] struct{ v Stateful[S] }

func (w withState[S]) Fetch(ctx context.Context, req *Request) (*Grant, error) {
	st, _, err := w.v.Peek(ctx, req)
	if err != nil {
		return nil, err
	}
	return w.v.FetchWith(ctx, req, st)
}

// peek is Peek, with FetchWith bound to the state it read.
func (w withState[S]) peek(ctx context.Context, req *Request) (Record, VendorFunc, error) {
	st, rec, err := w.v.Peek(ctx, req)
	if err != nil {
		return Record{}, nil, err
	}
	return rec, func(ctx context.Context, req *Request) (*Grant, error) { return w.v.FetchWith(ctx, req, st) }, nil
}

// peeker is what the run sees of a vendor made with WithState.
type peeker interface {
	peek(ctx context.Context, req *Request) (Record, VendorFunc, error)
}

// Record is what a Stateful vendor's state says about the token it last obtained.
type Record struct {
	// Token is that token as it would be published, AccessToken
	// included; nil when the state records none (or not its value).
	Token *token.Token
	// MustFetch asks for a vendor call whatever the tokens say: the
	// state has something to recover that only a fetch completes (a
	// refresh token saved as pending).
	MustFetch bool
}

// Hide registers values (a refresh token, a code) that must be scrubbed
// from any error or log line of this run.
func (r *Request) Hide(values ...string) {
	if r.hide != nil {
		r.hide(values...)
	}
}

// Grant is a vendor's answer.
type Grant struct {
	AccessToken string
	// TokenType as the vendor names it ("bearer", "Bearer", "token").
	TokenType string
	// Authorization is the exact header value to send; empty means
	// "Bearer <AccessToken>".
	Authorization string
	// ExpiresIn is the lifetime the vendor stated; zero if none.
	ExpiresIn time.Duration
	// NotAfter is an absolute expiry by the vendor's clock (a JWT exp);
	// zero if none.
	NotAfter time.Time
	// Date is the vendor's Date header, Sent when the request was sent by
	// the local clock. NotAfter is measured against Date when present.
	Date, Sent time.Time
	// Extras are published next to the token (integrator_id, scope...).
	Extras map[string]string
	// Validated marks a grant that confirmed an existing static token
	// (Invoca) rather than obtaining a new one.
	Validated bool
	// Trigger is published as the token's "trigger"; empty lets the
	// refresher name what made the run call the vendor.
	Trigger string
	// Connection is published as the token's "connection"; empty means
	// vendors.DefaultConnection.
	Connection string
}

// Time a run keeps back from its vendor call for publishing the token: the
// write and its retries, each bounded by the store's per-call timeout. At
// most maxPublishShare of the time left when the call starts.
const (
	PublishReserve  = 8 * time.Second
	maxPublishShare = 0.25
)

// Refresher runs refreshes for one vendor. It is safe for concurrent use,
// though the deployment runs one refresh per vendor at a time.
type Refresher struct {
	Spec   vendors.Spec
	Vendor Vendor
	Store  *secretstore.Store
	// Endpoint is the vendor URL (from TOKEN_URL or the table's default).
	Endpoint string
	// FunctionName is published as the token's "refresher".
	FunctionName string
	// Log receives one line per run; nil discards.
	Log *slog.Logger
	// Metrics receives one Embedded Metric Format line per run; nil
	// discards.
	Metrics io.Writer
	// Now is the clock; nil uses time.Now.
	Now func() time.Time
	// Credentials keeps credentials between runs of a warm process; nil
	// reads them on every run.
	Credentials *CredentialsCache
	// Held keeps the secrets earlier runs of this process held, so that
	// a token rotated away is still scrubbed from a later run's errors and
	// log lines; nil remembers nothing between runs.
	Held *Held
}

// Run performs one refresh of target. The returned error is safe to log and
// to return to Lambda: it contains no secret.
func (r *Refresher) Run(ctx context.Context, target Target, ev Event) (Summary, error) {
	start := r.now()
	sc := &Scrubber{}
	if r.Held != nil {
		sc.Add(r.Held.Values()...)
		defer func() { r.Held.Add(sc.Values()...) }()
	}
	res := outcome{vendor: r.Spec.Name}
	res.connection = connectionName(target.Connection)
	sum, err := r.run(ctx, target, ev, sc, &res)
	sum.Connection = res.connection
	if err != nil {
		err = &Error{Vendor: r.Spec.Name, msg: sc.Message(err), cause: err}
		res.action = "failed"
	}
	res.duration = r.now().Sub(start)
	r.report(ctx, res, err)
	return sum, err
}

type outcome struct {
	vendor     string
	connection string
	action     string
	current    *token.Token
	written    *token.Token
	latency    time.Duration
	duration   time.Duration
}

func (r *Refresher) run(ctx context.Context, target Target, ev Event, sc *Scrubber, res *outcome) (Summary, error) {
	req := &Request{Target: target, Endpoint: r.Endpoint, hide: sc.Add}
	req.build = func(g *Grant) (token.Token, error) {
		c := *g
		if c.Trigger == "" {
			c.Trigger = trigger(ev)
		}
		if c.Connection == "" {
			c.Connection = target.Connection
		}
		return r.build(&c, r.now())
	}
	// The published token decides everything else: it is what apps read.
	// Reading it is the only call a run that skips makes; a forced run, or
	// a vendor whose token never expires, has nothing to decide and does
	// not read it. A vendor that keeps its own state (Stateful) has it
	// read in the same call.
	p, stateful := r.Vendor.(peeker)
	fetch := r.Vendor.Fetch
	var decide []string
	switch {
	case stateful:
		decide = []string{target.RefreshSecretID, target.TokenSecretID}
	case ev.Force && ev.RejectedFingerprint == "", !r.Spec.Expires() && ev.RejectedFingerprint == "":
	default:
		decide = []string{target.TokenSecretID}
	}
	// Credentials this process does not hold fresh are read in the same
	// call: a run that refreshes then needs no read of its own for them,
	// and one that skips pays nothing more than its one call. A forced
	// run is an operator's proof that the credentials work: it reads them
	// fresh.
	var pre *prefetchedCredentials
	ids := decide
	if len(decide) > 0 && target.CredentialsSecretID != "" && !slices.Contains(decide, target.CredentialsSecretID) {
		if _, fresh := r.cachedCredentials(target.CredentialsSecretID); !fresh || ev.Force {
			ids = append(slices.Clone(decide), target.CredentialsSecretID)
		}
	}
	if len(ids) > 1 {
		got := r.Store.GetMany(ctx, ids...)
		req.prefetched = make(map[string]secretstore.Result, len(ids))
		for i, id := range decide {
			req.prefetched[id] = got[i]
		}
		if len(ids) > len(decide) {
			pre = r.keepCredentials(target.CredentialsSecretID, target.Connection, got[len(decide)])
		}
	}
	var rec Record
	if stateful {
		var err error
		if rec, fetch, err = p.peek(ctx, req); err != nil {
			return Summary{}, err
		}
		if rec.Token != nil {
			sc.Add(rec.Token.AccessToken)
		}
	}
	var current *token.Token
	if slices.Contains(decide, target.TokenSecretID) {
		var err error
		if current, err = r.readCurrent(ctx, req, target.TokenSecretID); err != nil {
			return Summary{}, err
		}
	}
	if current != nil {
		sc.Add(current.AccessToken)
		res.current = current
		req.Current = current
	}
	now := r.now()
	if behind := r.unpublished(rec, current, ev, now); behind != nil {
		// The last run obtained a token whose write to the token secret
		// failed, and it is still fresh: publish it, with no vendor call.
		tok, err := r.write(ctx, target.TokenSecretID, *behind)
		if err != nil {
			return Summary{}, err
		}
		res.written = &tok
		res.action = ActionRefreshed
		sum := summarise(r.Spec.Name, ActionRefreshed, &tok)
		sum.Reason = "published the token the last refresh obtained: its write to the token secret had failed"
		return sum, nil
	}
	if !rec.MustFetch && !r.due(current, ev, now) {
		res.action = ActionSkipped
		return summarise(r.Spec.Name, ActionSkipped, current), nil
	}
	if ev.RejectedFingerprint != "" && !ev.Force && current != nil && current.Trigger == token.TriggerReject && now.Sub(current.RefreshedAt) < MinRejectInterval {
		res.action = ActionSkipped
		sum := summarise(r.Spec.Name, ActionSkipped, current)
		sum.Reason = fmt.Sprintf("the rejected token replaced a rejected one %s ago; rejects make at most one vendor call every %s", now.Sub(current.RefreshedAt).Round(time.Second), MinRejectInterval)
		sum.Refusal = RefusalRejectInterval
		return sum, nil
	}

	if ev.RejectedFingerprint != "" && !ev.Force && current != nil {
		// However often rejects come, the token secret stays under
		// Secrets Manager's quota of versions a day, which scheduled
		// runs need too.
		if n, verr := r.Store.VersionsSince(ctx, target.TokenSecretID, now.Add(-24*time.Hour)); verr == nil && n >= RejectVersionBudget {
			res.action = ActionSkipped
			sum := summarise(r.Spec.Name, ActionSkipped, current)
			sum.Reason = fmt.Sprintf("the token secret has %d versions from the last 24 hours; rejects stop at %d so that scheduled refreshes stay within Secrets Manager's quota", n, RejectVersionBudget)
			sum.Refusal = RefusalVersionBudget
			return sum, nil
		}
	}

	var creds Credentials
	cached := false
	var err error
	if pre != nil {
		creds, err = pre.creds, pre.err
	} else {
		creds, cached, err = r.credentials(ctx, target.CredentialsSecretID, target.Connection, ev.Force)
	}
	if err != nil {
		return Summary{}, err
	}
	for _, v := range creds {
		sc.Add(v)
	}
	req.Credentials = creds
	callStart := r.now()
	fctx, cancel := Reserve(ctx, PublishReserve, maxPublishShare)
	g, err := fetch(fctx, req)
	if err != nil && cached && refusedCredentials(err) {
		// The credentials came from this process's cache and the vendor
		// refused them: an operator may have rotated them. Read them
		// again and, if they changed, try once more.
		fresh, _, rerr := r.credentials(ctx, target.CredentialsSecretID, target.Connection, true)
		if rerr != nil {
			// What the secret holds now is what needs fixing.
			err = rerr
		} else if !sameCredentials(fresh, creds) {
			for _, v := range fresh {
				sc.Add(v)
			}
			req.Credentials = fresh
			g, err = fetch(fctx, req)
		}
	}
	cancel()
	res.latency = r.now().Sub(callStart)
	if errors.Is(err, ErrSuperseded) {
		res.action = ActionSuperseded
		return Summary{Vendor: r.Spec.Name, Action: ActionSuperseded}, nil
	}
	if err != nil {
		// Vendor packages prefix their errors with the vendor and step.
		return Summary{}, err
	}
	sc.Add(g.AccessToken)
	if g.Trigger == "" {
		g.Trigger = trigger(ev)
	}
	if g.Connection == "" {
		g.Connection = target.Connection
	}
	tok, err := r.Publish(ctx, target.TokenSecretID, g)
	if err != nil {
		return Summary{}, err
	}
	res.written = &tok
	res.action = ActionRefreshed
	if g.Validated {
		res.action = ActionValidated
	}
	return summarise(r.Spec.Name, res.action, &tok), nil
}

// unpublished returns the token a Stateful vendor's record holds when the token
// secret is behind it and it should be published now instead of calling
// the vendor: the record is newer than the published token (or nothing
// valid is published), it is not due for a refresh itself, and the run is
// not an operator's forced refresh (which asks for a vendor call) nor a
// report that this very token was refused.
func (r *Refresher) unpublished(rec Record, current *token.Token, ev Event, now time.Time) *token.Token {
	t := rec.Token
	switch {
	case t == nil || t.AccessToken == "" || rec.MustFetch:
		return nil
	case ev.Force && ev.RejectedFingerprint == "":
		return nil
	case ev.RejectedFingerprint != "" && ev.RejectedFingerprint == t.Fingerprint:
		return nil
	case current != nil && (current.Fingerprint == t.Fingerprint || !t.RefreshedAt.After(current.RefreshedAt)):
		return nil
	case r.due(t, Event{}, now):
		return nil
	}
	return t
}

// Reserve returns ctx with a deadline that keeps d (at most share of the
// time left) back from ctx's own deadline, for work that must follow. A
// context without a deadline is returned as it is (with a cancel).
func Reserve(ctx context.Context, d time.Duration, share float64) (context.Context, context.CancelFunc) {
	dl, ok := ctx.Deadline()
	if !ok {
		return context.WithCancel(ctx)
	}
	if limit := time.Duration(float64(time.Until(dl)) * share); d > limit {
		d = limit
	}
	return context.WithDeadline(ctx, dl.Add(-d))
}

// connectionName is the name a target's connection is reported under.
func connectionName(c string) string {
	if c == "" {
		return vendors.DefaultConnection
	}
	return c
}

// trigger names what made a run call the vendor.
func trigger(ev Event) string {
	switch {
	case ev.Force:
		return token.TriggerForce
	case ev.RejectedFingerprint != "":
		return token.TriggerReject
	}
	return token.TriggerSchedule
}

func summarise(vendor, action string, t *token.Token) Summary {
	s := Summary{Vendor: vendor, Action: action}
	if t != nil {
		s.Fingerprint = t.Fingerprint
		if !t.ExpiresAt.IsZero() {
			s.ExpiresAt = t.ExpiresAt.UTC().Format(time.RFC3339)
		}
	}
	return s
}

// due decides whether the vendor must be called.
func (r *Refresher) due(current *token.Token, ev Event, now time.Time) bool {
	switch {
	case ev.RejectedFingerprint != "":
		// Refresh only if the rejected token is still the stored one;
		// otherwise a refresh already happened.
		return current == nil || current.Fingerprint == ev.RejectedFingerprint
	case ev.Force, current == nil, !r.Spec.Expires(), current.ExpiresAt.IsZero():
		return true
	}
	remaining := current.ExpiresAt.Sub(now)
	lifetime := current.ExpiresAt.Sub(current.RefreshedAt)
	return remaining <= time.Duration(r.Spec.RefreshBelow*float64(lifetime))
}

// readCurrent returns the stored token, or nil when there is none yet or the
// stored value is not a valid token of this vendor (a freshly created
// secret holds a random string).
func (r *Refresher) readCurrent(ctx context.Context, req *Request, id string) (*token.Token, error) {
	res, ok := req.Prefetched(id)
	if !ok {
		res.Value, res.Err = r.Store.Get(ctx, id)
	}
	v, err := res.Value, res.Err
	if errors.Is(err, secretstore.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s: read token secret: %w", r.Spec.Name, err)
	}
	t, err := token.Parse(v.String)
	if err != nil || t.Vendor != r.Spec.Name {
		return nil, nil
	}
	return &t, nil
}

func (r *Refresher) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// Error is a failed run. Its message is scrubbed of secrets; Unwrap gives
// the original error for errors.As (its own text may hold secrets: never
// print it).
type Error struct {
	Vendor string
	msg    string
	cause  error
}

func (e *Error) Error() string { return e.msg }
func (e *Error) Unwrap() error { return e.cause }
