package refresh

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/token-refresher/token-refresher/shared/secretstore"
	"github.com/token-refresher/token-refresher/shared/token"
	"github.com/token-refresher/token-refresher/shared/vendors"
)

// Publishing: a grant becomes the token of the public contract (build,
// expiry), which is checked again and written to the token secret.

// Publish validates g and writes it to the token secret id in the public
// contract. A grant that fails validation is not written: the old token
// stays. Writes are idempotent and retried until ctx's deadline.
func (r *Refresher) Publish(ctx context.Context, id string, g *Grant) (token.Token, error) {
	tok, err := r.Build(g)
	if err != nil {
		return token.Token{}, err
	}
	return r.write(ctx, id, tok)
}

// Build returns the token Publish would write for g, or why it would
// refuse g. A vendor that records the token before publishing it (an
// Admitad connect) builds it here, then publishes it with PublishToken.
func (r *Refresher) Build(g *Grant) (token.Token, error) {
	return r.build(g, r.now())
}

// PublishToken writes tok, as Build made it, to the token secret id. It
// checks tok again, and never writes one that is invalid or expired.
func (r *Refresher) PublishToken(ctx context.Context, id string, tok token.Token) (token.Token, error) {
	return r.write(ctx, id, tok)
}

// write checks tok and writes it to the token secret id.
func (r *Refresher) write(ctx context.Context, id string, tok token.Token) (token.Token, error) {
	if tok.Vendor == "" {
		tok.Vendor = r.Spec.Name
	}
	if tok.Refresher == "" {
		tok.Refresher = r.FunctionName
	}
	if tok.Connection == "" {
		tok.Connection = vendors.DefaultConnection
	}
	if err := token.CheckValue(tok.AccessToken); err != nil {
		return token.Token{}, fmt.Errorf("%s: access token %v: old token kept", r.Spec.Name, err)
	}
	if err := tok.Validate(); err != nil {
		return token.Token{}, fmt.Errorf("%s: %w: old token kept", r.Spec.Name, err)
	}
	if !tok.ExpiresAt.IsZero() && !tok.ExpiresAt.After(r.now()) {
		return token.Token{}, fmt.Errorf("%s: token expired at %s: old token kept", r.Spec.Name, tok.ExpiresAt.UTC().Format(time.RFC3339))
	}
	body, err := json.Marshal(tok)
	if err != nil {
		return token.Token{}, fmt.Errorf("%s: encode token secret: %w", r.Spec.Name, err)
	}
	if len(body) > token.MaxSecretSize {
		return token.Token{}, fmt.Errorf("%s: token secret would be %d bytes, over Secrets Manager's %d: old token kept", r.Spec.Name, len(body), token.MaxSecretSize)
	}
	if err := secretstore.Retry(ctx, func(ctx context.Context) error {
		_, err := r.Store.Put(ctx, id, string(body))
		return err
	}); err != nil {
		return token.Token{}, fmt.Errorf("%s: write token: %w", r.Spec.Name, err)
	}
	return tok, nil
}

// build turns a grant into the token to publish, or explains why it must
// not be published.
func (r *Refresher) build(g *Grant, now time.Time) (token.Token, error) {
	name := r.Spec.Name
	if err := token.CheckValue(g.AccessToken); err != nil {
		return token.Token{}, fmt.Errorf("%s: vendor reply: access token %v: old token kept", name, err)
	}
	sent := g.Sent
	if sent.IsZero() {
		sent = now
	}
	expiresAt, err := r.expiry(g, sent)
	if err != nil {
		return token.Token{}, err
	}
	typ := g.TokenType
	if typ == "" || strings.EqualFold(typ, "bearer") {
		typ = "Bearer"
	}
	auth := g.Authorization
	if auth == "" {
		auth = "Bearer " + g.AccessToken
	}
	conn := g.Connection
	if conn == "" {
		conn = vendors.DefaultConnection
	}
	t := token.Token{
		Vendor:        name,
		AccessToken:   g.AccessToken,
		TokenType:     typ,
		Authorization: auth,
		ExpiresAt:     expiresAt,
		RefreshedAt:   sent.UTC().Truncate(time.Second),
		Fingerprint:   token.Fingerprint(g.AccessToken),
		Refresher:     r.FunctionName,
		Connection:    conn,
		Trigger:       g.Trigger,
		Extras:        g.Extras,
	}
	if err := t.Validate(); err != nil {
		return token.Token{}, fmt.Errorf("%s: vendor reply: %w: old token kept", name, err)
	}
	return t, nil
}

// expiry is the earliest of what the vendor says and the nominal lifetime,
// measured from when the request was sent. An absolute expiry in the
// vendor's clock is measured against its Date header so a skewed local clock
// does not shift it.
func (r *Refresher) expiry(g *Grant, sent time.Time) (time.Time, error) {
	name := r.Spec.Name
	var life time.Duration
	consider := func(d time.Duration) {
		if life == 0 || d < life {
			life = d
		}
	}
	if g.ExpiresIn < 0 {
		return time.Time{}, fmt.Errorf("%s: vendor reply: negative expires_in: old token kept", name)
	}
	if g.ExpiresIn > 0 {
		consider(g.ExpiresIn)
	}
	if !g.NotAfter.IsZero() {
		ref := g.Date
		if ref.IsZero() {
			ref = sent
		}
		d := g.NotAfter.Sub(ref)
		if d <= 0 {
			return time.Time{}, fmt.Errorf("%s: vendor reply: token is already expired: old token kept", name)
		}
		consider(d)
	}
	if r.Spec.Lifetime > 0 {
		consider(r.Spec.Lifetime)
	}
	if life == 0 {
		return time.Time{}, nil
	}
	if life < time.Minute && r.Spec.Lifetime >= time.Hour {
		// A token that dies within a minute cannot serve anyone; treat
		// as a bad reply rather than churn.
		return time.Time{}, fmt.Errorf("%s: vendor reply: token lives only %s: old token kept", name, life)
	}
	return sent.Add(life).UTC().Truncate(time.Second), nil
}
