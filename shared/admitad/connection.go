package admitad

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/token-refresher/token-refresher/shared/refresh"
	"github.com/token-refresher/token-refresher/shared/secretstore"
)

// Connection is the content of Admitad's refresh-token secret
// (REFRESH_SECRET_ID). Only the Admitad functions can read it; apps read
// the token secret. On the wire:
//
//	{
//	  "refresh_token": "<Admitad refresh token>",
//	  "username":      "advertiser1",
//	  "scope":         "advertiser_statistics advertiser_info",
//	  "connected_at":  "2025-03-01T10:00:00.123456789Z",
//	  "rotated_at":    "2025-03-02T10:00:00.5Z",
//	  "connect_state": "<16 hex digits>"
//	}
//
// connected_at is when a person last connected through the callback,
// rotated_at when the refresh token was last replaced (by a connect or a
// refresh), both RFC 3339 UTC with fractional seconds. connect_state is the
// fingerprint of the signed state that made the connection: the callback
// refuses that state, and any state issued before connected_at, so a
// replayed callback URL cannot connect again.
//
// A refresh, and a connect, also record the access token they obtained,
// before they publish it: "access_token", "access_fingerprint",
// "access_expires_at", "access_refreshed_at" and "access_trigger", as the
// token secret has them. The token secret is what apps read and what a run
// decides from; the record is what the last refresh obtained. When the two
// differ (the token secret's write failed after the refresh token was
// saved), the next run publishes the recorded token if it is still fresh,
// with no call to Admitad, and refreshes otherwise.
type Connection struct {
	RefreshToken string
	Username     string
	Scope        string
	ConnectedAt  time.Time
	RotatedAt    time.Time
	ConnectState string
	// Access is the access token obtained with this refresh token; zero
	// when unknown.
	Access AccessRecord
}

// AccessRecord is the access token a refresh or a connect obtained. It
// lives in the refresh-token secret, which only the Admitad functions can
// read, like the refresh token beside it. AccessToken is empty in records
// written before it was kept.
type AccessRecord struct {
	AccessToken string
	Fingerprint string
	ExpiresAt   time.Time
	RefreshedAt time.Time
	Trigger     string
}

type connectionJSON struct {
	RefreshToken      string `json:"refresh_token"`
	Username          string `json:"username,omitempty"`
	Scope             string `json:"scope,omitempty"`
	ConnectedAt       string `json:"connected_at,omitempty"`
	RotatedAt         string `json:"rotated_at,omitempty"`
	ConnectState      string `json:"connect_state,omitempty"`
	AccessToken       string `json:"access_token,omitempty"`
	AccessFingerprint string `json:"access_fingerprint,omitempty"`
	AccessExpiresAt   string `json:"access_expires_at,omitempty"`
	AccessRefreshedAt string `json:"access_refreshed_at,omitempty"`
	AccessTrigger     string `json:"access_trigger,omitempty"`
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// Encode returns the secret's JSON form.
func (c Connection) Encode() string {
	b, _ := json.Marshal(connectionJSON{
		RefreshToken: c.RefreshToken,
		Username:     c.Username,
		Scope:        c.Scope,
		ConnectedAt:  formatTime(c.ConnectedAt),
		RotatedAt:    formatTime(c.RotatedAt),
		ConnectState: c.ConnectState,

		AccessToken:       c.Access.AccessToken,
		AccessFingerprint: c.Access.Fingerprint,
		AccessExpiresAt:   formatTime(c.Access.ExpiresAt),
		AccessRefreshedAt: formatTime(c.Access.RefreshedAt),
		AccessTrigger:     c.Access.Trigger,
	})
	return string(b)
}

// ErrNotConnected means the refresh-token secret holds no refresh token:
// nobody has connected Admitad yet (a new secret holds a random string).
var ErrNotConnected = errors.New("admitad: not connected: no refresh token stored")

// ParseConnection decodes a refresh-token secret. A value that is not a
// connection (not JSON, or no refresh_token) gives ErrNotConnected; errors
// never quote the value.
func ParseConnection(secret string) (Connection, error) {
	var w connectionJSON
	if err := json.Unmarshal([]byte(secret), &w); err != nil || w.RefreshToken == "" {
		return Connection{}, ErrNotConnected
	}
	c := Connection{RefreshToken: w.RefreshToken, Username: w.Username, Scope: w.Scope, ConnectState: w.ConnectState,
		Access: AccessRecord{AccessToken: w.AccessToken, Fingerprint: w.AccessFingerprint, Trigger: w.AccessTrigger}}
	for _, f := range []struct {
		name string
		in   string
		out  *time.Time
	}{{"connected_at", w.ConnectedAt, &c.ConnectedAt}, {"rotated_at", w.RotatedAt, &c.RotatedAt},
		{"access_expires_at", w.AccessExpiresAt, &c.Access.ExpiresAt}, {"access_refreshed_at", w.AccessRefreshedAt, &c.Access.RefreshedAt}} {
		if f.in == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, f.in)
		if err != nil {
			return Connection{}, fmt.Errorf("admitad: refresh-token secret: %s is not RFC 3339", f.name)
		}
		*f.out = t.UTC()
	}
	return c, nil
}

// ReadConnection returns the current connection in secret id and the
// version that holds it. A missing secret, or one without a refresh token,
// gives an error wrapping ErrNotConnected.
func ReadConnection(ctx context.Context, store *secretstore.Store, id string) (Connection, string, error) {
	v, err := store.Get(ctx, id)
	if errors.Is(err, secretstore.ErrNotFound) {
		return Connection{}, "", fmt.Errorf("admitad: refresh-token secret %s has no value: %w", id, ErrNotConnected)
	}
	if err != nil {
		return Connection{}, "", fmt.Errorf("admitad: read refresh-token secret: %w", err)
	}
	c, err := ParseConnection(v.String)
	if errors.Is(err, ErrNotConnected) {
		return Connection{}, v.VersionID, fmt.Errorf("admitad: refresh-token secret %s holds no refresh token: %w", id, ErrNotConnected)
	}
	return c, v.VersionID, err
}

// Staging labels of refresh-token versions written but not yet made
// current: one for the refresher, one for the callback, so neither moves
// the other's label.
const (
	PendingStage = "ADMITAD_REFRESH_PENDING"
	ConnectStage = "ADMITAD_CONNECT_PENDING"
)

// DefaultSaveTimeout bounds saving a refresh token when the caller's
// context has no deadline.
const DefaultSaveTimeout = 30 * time.Second

func withSaveDeadline(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	if d <= 0 {
		d = DefaultSaveTimeout
	}
	return context.WithTimeout(ctx, d)
}

// maxTakeovers bounds how often SaveConnection takes AWSCURRENT back from
// refreshes that moved it in between.
const maxTakeovers = 10

// SaveConnection makes c the current value of secret id whatever is
// current now: a person connecting is the newest intent and wins over a
// refresh in flight, whose compare-and-swap then fails. It writes c under
// ConnectStage and PendingStage and moves AWSCURRENT to it from the
// version it finds current, again if a refresh moved it in between. Every
// write of the secret is thus a staging-label move (see saveRotated).
// Writes are idempotent and retried until ctx's deadline
// (DefaultSaveTimeout without one).
func SaveConnection(ctx context.Context, store *secretstore.Store, id string, c Connection) error {
	ctx, cancel := withSaveDeadline(ctx, 0)
	defer cancel()
	value := c.Encode()
	err := secretstore.Retry(ctx, func(ctx context.Context) error {
		// PendingStage moves to the connection too: a current version
		// that carries it tells a run that no refresh since is pending,
		// so the run reads nothing more.
		newID, err := store.PutPending(ctx, id, value, ConnectStage, PendingStage)
		if err != nil {
			return err
		}
		for range maxTakeovers {
			cur, err := store.Get(ctx, id)
			if err != nil && !errors.Is(err, secretstore.ErrNotFound) {
				return err
			}
			if cur.VersionID == newID {
				return nil
			}
			if err := store.Swap(ctx, id, cur.VersionID, newID); !errors.Is(err, secretstore.ErrChanged) {
				return err
			}
		}
		return fmt.Errorf("secretstore: AWSCURRENT of %s kept moving: %w", id, secretstore.ErrChanged)
	})
	if err != nil {
		return fmt.Errorf("admitad: save refresh token: %w", err)
	}
	return nil
}

// state is what a run reads from the refresh-token secret: the current
// connection, and a newer refresh token a previous run saved under
// PendingStage but could not make current.
type state struct {
	conn    Connection
	version string
	// pending is the newer connection, nil when there is none.
	pending        *Connection
	pendingVersion string
}

// readState reads the current connection of secret id and looks for a
// pending one that supersedes it. A pending version counts only if it
// descends from the current connection (same connect_state and
// connected_at) and was rotated after it: a refresh whose label move never
// happened. A reconnect's version, or one from before it, never does.
func readState(ctx context.Context, store *secretstore.Store, id string) (state, error) {
	cur, err := store.Get(ctx, id)
	return stateOf(ctx, store, id, cur, err)
}

// stateOf completes readState from a read of the current version.
func stateOf(ctx context.Context, store *secretstore.Store, id string, cur secretstore.Value, err error) (state, error) {
	if errors.Is(err, secretstore.ErrNotFound) {
		return state{}, fmt.Errorf("admitad: refresh-token secret %s has no value: %w", id, ErrNotConnected)
	}
	if err != nil {
		return state{}, fmt.Errorf("admitad: read refresh-token secret: %w", err)
	}
	return stateFrom(ctx, store, id, cur)
}

// stateFrom completes readState from the current version, already read.
func stateFrom(ctx context.Context, store *secretstore.Store, id string, cur secretstore.Value) (state, error) {
	conn, err := ParseConnection(cur.String)
	if errors.Is(err, ErrNotConnected) {
		conn = Connection{}
	} else if err != nil {
		return state{}, err
	}
	st := state{conn: conn, version: cur.VersionID}
	if !cur.HasStage(PendingStage) {
		// Refreshes and connects both put PendingStage on the version
		// they make current. A current version without it means that a
		// refresh wrote a newer version but its label move never
		// happened, or that the secret was written some other way.
		p, err := store.GetStage(ctx, id, PendingStage)
		switch {
		case errors.Is(err, secretstore.ErrNotFound):
		case err != nil:
			return state{}, fmt.Errorf("admitad: read pending refresh token: %w", err)
		default:
			if pc, perr := ParseConnection(p.String); perr == nil && descends(pc, conn) {
				st.pending, st.pendingVersion = &pc, p.VersionID
			}
		}
	}
	if st.conn.RefreshToken == "" && st.pending == nil {
		return state{}, fmt.Errorf("admitad: refresh-token secret %s holds no refresh token: %w", id, ErrNotConnected)
	}
	return st, nil
}

// descends reports whether p is a later refresh of connection c.
func descends(p, c Connection) bool {
	if c.RefreshToken == "" {
		return false
	}
	return p.ConnectState == c.ConnectState && p.ConnectedAt.Equal(c.ConnectedAt) &&
		p.RotatedAt.After(c.RotatedAt) && p.RefreshToken != c.RefreshToken
}

// errLost is the cause of a rotated refresh token that could not be saved.
type errLost struct {
	id    string
	cause error
}

func (e *errLost) Error() string {
	return fmt.Sprintf("admitad: save refresh token: Admitad rotated the refresh token but it could not be saved to secret %s (it was never written; last error: %v): the refresh token is lost and the stored one is no longer valid; %s",
		e.id, e.cause, ConnectHint)
}

func (e *errLost) Unwrap() []error { return []error{ErrReconnect, e.cause} }

// errPending is a rotated refresh token that was written under
// PendingStage but could not be made current. Nothing is lost: the next
// run finds it there, refreshes with it and makes the result current.
type errPending struct {
	id    string
	cause error
}

func (e *errPending) Error() string {
	return fmt.Sprintf("admitad: save refresh token: the rotated refresh token is saved as pending (version stage %s of secret %s) but could not be made current (last error: %v); the next run makes it current, no reconnect is needed; this run's access token was not published, the one published before stays",
		PendingStage, e.id, e.cause)
}

func (e *errPending) Unwrap() error { return e.cause }

// maxTakeoverRounds bounds how often saveRotated takes AWSCURRENT back from
// a writer that was not a reconnect.
const maxTakeoverRounds = 3

// saveRotated writes c to secret id and makes it current only if no
// reconnect came in between: it writes c under PendingStage, then moves
// AWSCURRENT from the version the run read (st.version) to it, a
// compare-and-swap. Both steps are idempotent and retried until ctx's
// deadline; each call is bounded by the store's per-call timeout.
//
// After a failed or unanswered move it reads which version is current
// (secretstore.Swap) and decides from that: our version means done; a
// reconnect's version (another connect_state, or a later connected_at, or
// the ConnectStage label) means step back with refresh.ErrSuperseded; any
// other writer's version is older than the token Admitad has just issued,
// so the label is moved from it to ours.
func saveRotated(ctx context.Context, store *secretstore.Store, id string, st state, c Connection) error {
	ctx, cancel := withSaveDeadline(ctx, 0)
	defer cancel()
	value := c.Encode()
	pending := false
	from := st.version
	var newID string
	err := secretstore.Retry(ctx, func(ctx context.Context) error {
		if newID == "" {
			v, err := store.PutPending(ctx, id, value, PendingStage)
			if err != nil {
				return err
			}
			newID, pending = v, true
		}
		for range maxTakeoverRounds {
			err := store.Swap(ctx, id, from, newID)
			var ce *secretstore.ChangedError
			if !errors.As(err, &ce) {
				return err
			}
			if reconnected(ce.Holder, st.conn) {
				return fmt.Errorf("%w: %w", refresh.ErrSuperseded, err)
			}
			from = ce.Holder.VersionID
		}
		return fmt.Errorf("secretstore: AWSCURRENT of %s kept moving: %w", id, secretstore.ErrChanged)
	})
	switch {
	case err == nil:
		return nil
	case errors.Is(err, refresh.ErrSuperseded):
		return err
	case pending:
		return &errPending{id: id, cause: err}
	default:
		return &errLost{id: id, cause: err}
	}
}

// reconnected reports whether holder, now current, is a reconnect's write
// rather than the connection c the run started from.
func reconnected(holder secretstore.Value, c Connection) bool {
	if holder.HasStage(ConnectStage) {
		return true
	}
	h, err := ParseConnection(holder.String)
	if err != nil {
		return false
	}
	return h.ConnectState != c.ConnectState || h.ConnectedAt.After(c.ConnectedAt)
}
