package admitad

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/token-refresher/token-refresher/shared/refresh"
	"github.com/token-refresher/token-refresher/shared/secretstore"
)

// Fetch is one scheduled refresh: it reads the refresh token from the
// refresh-token secret (req.Target.RefreshSecretID), trades it for a new
// pair, saves the new refresh token FIRST (compare-and-swap against the
// version it read, retried until ctx's deadline) and only then returns the
// access token for the refresh core to publish.
//
// Errors:
//   - nobody connected yet: wraps ErrNotConnected and ErrReconnect and says
//     how to connect;
//   - Admitad answers invalid_grant or invalid_client: wraps ErrReconnect,
//     not retried;
//   - a reconnect replaced the refresh-token secret during the run: wraps
//     refresh.ErrSuperseded (the run steps back, the reconnect's token
//     stays);
//   - the rotated refresh token could not be saved before the deadline:
//     wraps ErrReconnect and says plainly that the refresh token is lost.
//
// No error contains a token or the client secret; every such value is also
// registered with req.Hide.
func (c *Client) Fetch(ctx context.Context, req *refresh.Request) (*refresh.Grant, error) {
	if c.Store == nil {
		return nil, errors.New("admitad: refresh: no secret store configured")
	}
	id := req.Target.RefreshSecretID
	if id == "" {
		return nil, errors.New("admitad: refresh: no refresh-token secret configured (REFRESH_SECRET_ID)")
	}
	conn, version, err := ReadConnection(ctx, c.Store, id)
	if errors.Is(err, ErrNotConnected) {
		return nil, &markedError{
			msg:  fmt.Sprintf("admitad: refresh: not connected yet (secret %s holds no refresh token): connect Admitad once: run `make connect-admitad` (or `tokenctl connect admitad`) and open the printed link in a browser", id),
			errs: []error{ErrNotConnected, ErrReconnect},
		}
	}
	if err != nil {
		return nil, err
	}
	req.Hide(conn.RefreshToken)

	res, err := c.Refresh(ctx, req.Endpoint, req.Credentials, conn.RefreshToken)
	if err != nil {
		if errors.Is(err, ErrReconnect) && c.replaced(ctx, id, version) {
			return nil, fmt.Errorf("admitad: refresh: the refresh-token secret was replaced during this run (a reconnect): %w", refresh.ErrSuperseded)
		}
		return nil, err
	}
	req.Hide(res.RefreshToken, res.AccessToken)

	next := conn
	next.RefreshToken = res.RefreshToken
	next.RotatedAt = c.now().UTC()
	if res.Username != "" {
		next.Username = res.Username
	}
	if res.Scope != "" {
		next.Scope = res.Scope
	}
	sctx, cancel := withSaveDeadline(ctx, c.SaveTimeout)
	defer cancel()
	if err := saveRotated(sctx, c.Store, id, version, next); err != nil {
		if errors.Is(err, secretstore.ErrChanged) {
			return nil, fmt.Errorf("admitad: save refresh token: a reconnect replaced the refresh-token secret during this run; its token is kept: %w", refresh.ErrSuperseded)
		}
		return nil, err
	}
	return res.Grant(), nil
}

// replaced reports whether secret id's current version is no longer
// version: someone connected again while Admitad was refusing the old
// token.
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
