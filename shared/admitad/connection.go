package admitad

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

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
type Connection struct {
	RefreshToken string
	Username     string
	Scope        string
	ConnectedAt  time.Time
	RotatedAt    time.Time
	ConnectState string
}

type connectionJSON struct {
	RefreshToken string `json:"refresh_token"`
	Username     string `json:"username,omitempty"`
	Scope        string `json:"scope,omitempty"`
	ConnectedAt  string `json:"connected_at,omitempty"`
	RotatedAt    string `json:"rotated_at,omitempty"`
	ConnectState string `json:"connect_state,omitempty"`
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
	c := Connection{RefreshToken: w.RefreshToken, Username: w.Username, Scope: w.Scope, ConnectState: w.ConnectState}
	for _, f := range []struct {
		name string
		in   string
		out  *time.Time
	}{{"connected_at", w.ConnectedAt, &c.ConnectedAt}, {"rotated_at", w.RotatedAt, &c.RotatedAt}} {
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
// ConnectStage and moves AWSCURRENT to it from the version it finds
// current, again if a refresh moved it in between. Every write of the
// secret is thus a staging-label move (see saveRotated). Writes are
// idempotent and retried until ctx's deadline (DefaultSaveTimeout without
// one).
func SaveConnection(ctx context.Context, store *secretstore.Store, id string, c Connection) error {
	ctx, cancel := withSaveDeadline(ctx, 0)
	defer cancel()
	value := c.Encode()
	err := secretstore.Retry(ctx, func(ctx context.Context) error {
		newID, err := store.PutPending(ctx, id, value, ConnectStage)
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

// errLost is the cause of a rotated refresh token that could not be saved.
type errLost struct {
	id      string
	pending bool
	cause   error
}

func (e *errLost) Error() string {
	where := "it was never written"
	if e.pending {
		where = "it was written as version stage " + PendingStage + " but could not be made current"
	}
	return fmt.Sprintf("admitad: save refresh token: Admitad rotated the refresh token but it could not be saved to secret %s (%s; last error: %v): the refresh token is lost and the stored one is no longer valid; %s",
		e.id, where, e.cause, ConnectHint)
}

func (e *errLost) Unwrap() []error { return []error{ErrReconnect, e.cause} }

// saveRotated writes c to secret id only if the version the caller read
// (readVersion) is still current: it writes c under PendingStage, then moves
// AWSCURRENT from readVersion to it (a compare-and-swap). Both steps are
// idempotent and retried until ctx's deadline. If a newer writer (a
// reconnect) made another version current, it returns an error wrapping
// secretstore.ErrChanged and leaves that writer's value in place.
func saveRotated(ctx context.Context, store *secretstore.Store, id, readVersion string, c Connection) error {
	value := c.Encode()
	pending := false
	err := secretstore.Retry(ctx, func(ctx context.Context) error {
		newID, err := store.PutPending(ctx, id, value, PendingStage)
		if err != nil {
			return err
		}
		pending = true
		err = store.Swap(ctx, id, readVersion, newID)
		if errors.Is(err, secretstore.ErrChanged) {
			// An earlier attempt may have moved the label and lost
			// only its answer: then the current version is ours.
			cur, gerr := store.Get(ctx, id)
			if gerr != nil {
				return gerr
			}
			if cur.VersionID == newID {
				return nil
			}
		}
		return err
	})
	switch {
	case err == nil:
		return nil
	case errors.Is(err, secretstore.ErrChanged):
		return err
	default:
		return &errLost{id: id, pending: pending, cause: err}
	}
}
