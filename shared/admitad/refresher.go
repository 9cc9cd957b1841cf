package admitad

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/token-refresher/token-refresher/shared/refresh"
	"github.com/token-refresher/token-refresher/shared/token"
	"github.com/token-refresher/token-refresher/shared/vendorhttp"
	"github.com/token-refresher/token-refresher/shared/vendors"
)

// Save budget: the part of a run's time that Admitad's token request must
// leave for saving the rotated refresh token (a pending write, the label
// move, a check of which version is current, and their retries, each call
// bounded by the store's per-call timeout). It is at most
// maxSaveShare of the time left when the request starts, so a short
// deadline still leaves the vendor most of it.
const (
	SaveReserve  = 12 * time.Second
	maxSaveShare = 0.4
)

// FetchWith is one refresh with the state Peek read (the refresh path
// runs it through refresh.WithState): it trades the refresh token of the
// refresh-token secret (req.Target.RefreshSecretID) for a new pair, saves the new refresh token FIRST (compare-and-swap against the
// version it read, retried until the run's deadline) and only then returns
// the access token for the refresh core to publish.
//
// Durability:
//   - the token request stops early enough (SaveReserve) that the save and
//     its retries still fit before the run's deadline;
//   - a refresh token that an earlier run wrote under PendingStage but
//     could not make current (a hung call, a crash between the two writes)
//     is found and used: it is the newest one Admitad issued;
//   - every refresh token Admitad issues is saved, even when the rest of
//     its reply is unusable;
//   - after a failed or unanswered label move the run reads which version
//     is current and decides from that; only a reconnect's version makes
//     the run step back (refresh.ErrSuperseded).
//
// Errors:
//   - nobody connected yet: wraps ErrNotConnected and ErrReconnect and says
//     how to connect;
//   - Admitad answers invalid_grant or invalid_client: wraps ErrReconnect,
//     not retried; invalid_grant names the likely cause;
//   - the rotated refresh token could not be saved before the deadline:
//     wraps ErrReconnect and says plainly that the refresh token is lost.
//
// No error contains a token or the client secret; every such value is also
// registered with req.Hide.
func (c *Client) FetchWith(ctx context.Context, req *refresh.Request, st *RunState) (*refresh.Grant, error) {
	g, err := c.fetch(ctx, req, st)
	return g, forConnection(err, req.Target.Connection)
}

// accessRecord is what a connection records of the token tok.
func accessRecord(tok token.Token) AccessRecord {
	return AccessRecord{AccessToken: tok.AccessToken, Fingerprint: tok.Fingerprint, ExpiresAt: tok.ExpiresAt, RefreshedAt: tok.RefreshedAt, Trigger: tok.Trigger}
}

// forConnection makes the connect instructions in err name a named
// connection: its link comes from `tokenctl connect admitad/<connection>`.
func forConnection(err error, conn string) error {
	if err == nil || conn == "" || conn == vendors.DefaultConnection {
		return err
	}
	msg := strings.ReplaceAll(err.Error(), "run `make connect-admitad` (or `tokenctl connect admitad`)", "run `tokenctl connect admitad/"+conn+"`")
	if msg == err.Error() {
		return err
	}
	return &markedError{msg: msg, errs: []error{err}}
}

func (c *Client) fetch(ctx context.Context, req *refresh.Request, st *RunState) (*refresh.Grant, error) {
	if st == nil {
		return nil, errors.New("admitad: refresh: no state read (run the client through refresh.WithState)")
	}
	id := req.Target.RefreshSecretID
	req.Hide(st.conn.RefreshToken)
	use := st.conn
	if st.pending != nil {
		req.Hide(st.pending.RefreshToken)
		use = *st.pending
	}

	vctx, cancel := refresh.Reserve(ctx, SaveReserve, maxSaveShare)
	defer cancel()
	attempts := 0
	res, err := c.refresh(vctx, req.Endpoint, req.Credentials, use.RefreshToken, &attempts)
	req.Hide(res.RefreshToken, res.AccessToken)
	if err != nil && res.RefreshToken == "" {
		if errors.Is(err, ErrReconnect) {
			if c.replaced(ctx, id, st.version) {
				return nil, fmt.Errorf("admitad: refresh: the refresh-token secret was replaced during this run (a reconnect): %w", refresh.ErrSuperseded)
			}
			return nil, explainRefused(err, attempts, st.pending != nil)
		}
		if answerLost(err) {
			return nil, &markedError{msg: err.Error() + " (the request was sent and its answer was lost: Admitad may have rotated the refresh token, so it was not sent again; if it did, the next run is refused with invalid_grant and a person must reconnect)", errs: []error{err}}
		}
		return nil, err
	}

	// Admitad has rotated: the token sent is dead and res.RefreshToken is
	// the only one that works. Save it before anything else, with the
	// whole rest of the run.
	next := use
	next.RefreshToken = res.RefreshToken
	next.RotatedAt = c.now().UTC()
	if res.Username != "" {
		next.Username = res.Username
	}
	if res.Scope != "" {
		next.Scope = res.Scope
	}
	next.Access = AccessRecord{}
	var g *refresh.Grant
	if err == nil {
		g = res.Grant()
		if tok, terr := req.Token(g); terr == nil {
			next.Access = accessRecord(tok)
		}
	}
	if serr := saveRotated(ctx, c.Store, id, *st, next); serr != nil {
		if errors.Is(serr, refresh.ErrSuperseded) {
			return nil, fmt.Errorf("admitad: save refresh token: a reconnect replaced the refresh-token secret during this run; its token is kept: %w", serr)
		}
		return nil, serr
	}
	if err != nil {
		// A reply that rotated the refresh token but is otherwise
		// unusable: the new refresh token is saved, the old access token
		// stays published.
		return nil, fmt.Errorf("admitad: refresh: %w (the new refresh token it carried was saved; the next run uses it)", err)
	}
	return g, nil
}

// Peek reads the refresh-token secret (from the run's one read of it,
// the token secret and, when needed, the credentials) and reports the
// access token its last refresh or connect recorded, AccessToken included
// when the record holds it. A refresh token saved as pending makes the run
// fetch (MustFetch): refreshing with it is what makes it current. Never
// connected: an error wrapping ErrNotConnected and ErrReconnect.
func (c *Client) Peek(ctx context.Context, req *refresh.Request) (*RunState, refresh.Record, error) {
	st, err := c.read(ctx, req)
	if err != nil {
		return nil, refresh.Record{}, forConnection(err, req.Target.Connection)
	}
	if st.pending != nil {
		req.Hide(st.pending.RefreshToken, st.pending.Access.AccessToken)
		return st, refresh.Record{MustFetch: true}, nil
	}
	req.Hide(st.conn.RefreshToken, st.conn.Access.AccessToken)
	return st, refresh.Record{Token: recorded(st.conn, req.Target.Connection)}, nil
}

// RunState is what a run read of the refresh-token secret: the current
// connection and a pending one to recover, if any.
type RunState = state

// recorded is the access token a connection's record describes, as it
// was published; nil when nothing usable is recorded.
func recorded(c Connection, connection string) *token.Token {
	a := c.Access
	if a.Fingerprint == "" || a.RefreshedAt.IsZero() {
		return nil
	}
	t := &token.Token{Vendor: Name, Fingerprint: a.Fingerprint, ExpiresAt: a.ExpiresAt, RefreshedAt: a.RefreshedAt, Trigger: a.Trigger, TokenType: "Bearer", Connection: connection}
	if a.AccessToken != "" && token.Fingerprint(a.AccessToken) == a.Fingerprint {
		t.AccessToken, t.Authorization = a.AccessToken, "Bearer "+a.AccessToken
		if c.Scope != "" || c.Username != "" {
			t.Extras = map[string]string{}
			if c.Scope != "" {
				t.Extras["scope"] = c.Scope
			}
			if c.Username != "" {
				t.Extras["username"] = c.Username
			}
		}
	}
	return t
}

var _ refresh.Stateful[*RunState] = (*Client)(nil)

// read is readState with the errors of a run.
func (c *Client) read(ctx context.Context, req *refresh.Request) (*state, error) {
	if c.Store == nil {
		return nil, errors.New("admitad: refresh: no secret store configured")
	}
	id := req.Target.RefreshSecretID
	if id == "" {
		return nil, errors.New("admitad: refresh: no refresh-token secret configured (REFRESH_SECRET_ID)")
	}
	var st state
	var err error
	if pre, ok := req.Prefetched(id); ok {
		st, err = stateOf(ctx, c.Store, id, pre.Value, pre.Err)
	} else {
		st, err = readState(ctx, c.Store, id)
	}
	if errors.Is(err, ErrNotConnected) {
		return nil, &markedError{
			msg:  fmt.Sprintf("admitad: refresh: not connected yet (secret %s holds no refresh token): connect Admitad once: run `make connect-admitad` (or `tokenctl connect admitad`) and open the printed link in a browser", id),
			errs: []error{ErrNotConnected, ErrReconnect},
		}
	}
	if err != nil {
		return nil, err
	}
	return &st, nil
}

// answerLost reports a request that left but got no answer: a timeout or
// a reset after the connection was made.
func answerLost(err error) bool {
	var ve *vendorhttp.Error
	return errors.As(err, &ve) && ve.Status == 0 && ve.Err != nil && !vendorhttp.NeverSent(ve.Err)
}

// explainRefused adds what most likely happened to an invalid_grant or
// invalid_client refusal: the cases no client can save.
func explainRefused(err error, attempts int, triedPending bool) error {
	if oauthCode(err) != "invalid_grant" {
		return err
	}
	var why string
	switch {
	case attempts > 1:
		why = "an earlier attempt of this run got no usable answer (a 5xx or a 429): Admitad most likely rotated the refresh token on that attempt and its reply, with the new one, was lost"
	case triedPending:
		why = "the refresh token that a previous run saved but could not make current was refused too, so Admitad revoked the grant (the person disconnected the app) or rotated it once more in a run whose reply was lost"
	default:
		why = "the stored refresh token is the newest this deployment ever received; most likely a previous run's reply was lost after Admitad rotated the token (a timeout, a reset connection or a 5xx after the rotation), the function stopped between Admitad's reply and the first write, or the person disconnected the app"
	}
	return &markedError{msg: fmt.Sprintf("%s (%s; no client can recover from this)", err.Error(), why), errs: []error{err}}
}

// replaced reports whether secret id's current version is a reconnect's
// write, made after the run read version: someone connected again while
// Admitad was refusing the old token.
func (c *Client) replaced(ctx context.Context, id, version string) bool {
	v, err := c.Store.Get(ctx, id)
	return err == nil && v.VersionID != version
}

func (c *Client) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// markedError is an error with its own message that matches several
// sentinels under errors.Is.
type markedError struct {
	msg  string
	errs []error
}

func (e *markedError) Error() string   { return e.msg }
func (e *markedError) Unwrap() []error { return e.errs }
