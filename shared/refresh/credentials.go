package refresh

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/token-refresher/token-refresher/shared/secretstore"
	"github.com/token-refresher/token-refresher/shared/vendorhttp"
	"github.com/token-refresher/token-refresher/shared/vendors"
)

// Credentials is a decoded credentials secret: field name to value.
type Credentials map[string]string

// Get returns the value of field name, "" when absent.
func (c Credentials) Get(name string) string { return c[name] }

// ParseCredentials decodes a credentials secret and checks that every
// required field is present and non-empty. Values may be JSON strings or
// numbers. Errors name the field, never a value.
func ParseCredentials(secret string, required []string) (Credentials, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(secret), &raw); err != nil || raw == nil {
		return nil, errors.New("is not a JSON object")
	}
	creds := make(Credentials, len(raw))
	for k, v := range raw {
		var s string
		if err := json.Unmarshal(v, &s); err == nil {
			creds[k] = s
			continue
		}
		var n json.Number
		if err := json.Unmarshal(v, &n); err == nil {
			if _, err := strconv.ParseFloat(string(n), 64); err == nil {
				creds[k] = string(n)
				continue
			}
		}
		if string(v) == "null" {
			continue
		}
		return nil, fmt.Errorf("field %q must be a string", k)
	}
	for _, f := range required {
		v, ok := creds[f]
		switch {
		case !ok:
			return nil, fmt.Errorf("missing field %q", f)
		case v == "":
			return nil, fmt.Errorf("field %q is empty", f)
		case v == vendors.Placeholder:
			return nil, fmt.Errorf("field %q still holds the placeholder %q: fill in the real value", f, v)
		}
	}
	return creds, nil
}

func (r *Refresher) readCredentials(ctx context.Context, id, connection string) (Credentials, error) {
	if id == "" {
		return nil, missingCredentials(fmt.Errorf("%s: no credentials secret configured (CREDENTIALS_SECRET_ID)", r.Spec.Name))
	}
	v, err := r.Store.Get(ctx, id)
	return r.decodeCredentials(id, connection, v, err)
}

// decodeCredentials checks what a read of credentials secret id returned.
func (r *Refresher) decodeCredentials(id, connection string, v secretstore.Value, err error) (Credentials, error) {
	who := r.Spec.Name
	if connection != "" && connection != vendors.DefaultConnection {
		who += "/" + connection
	}
	if err != nil {
		if errors.Is(err, secretstore.ErrNotFound) {
			return nil, missingCredentials(fmt.Errorf("%s: credentials secret %s does not exist or is not filled in yet: run `tokenctl set-credentials %s`", r.Spec.Name, id, who))
		}
		return nil, fmt.Errorf("%s: read credentials: %w", r.Spec.Name, err)
	}
	if !json.Valid([]byte(v.String)) {
		// The stack creates the secret without a value the refresher
		// can use (Secrets Manager generates a random string).
		return nil, missingCredentials(fmt.Errorf("%s: credentials secret %s is not filled in yet (it is not a JSON object): run `tokenctl set-credentials %s`", r.Spec.Name, id, who))
	}
	creds, err := ParseCredentials(v.String, r.Spec.CredentialFields)
	if err != nil {
		return nil, missingCredentials(fmt.Errorf("%s: credentials secret %s %v", r.Spec.Name, id, err))
	}
	return creds, nil
}

// CredentialsMaxAge is how long a warm process uses credentials it has
// read before it reads them again. A vendor that refuses the credentials
// makes the run read them again at once (and retry once if they changed),
// so an operator who rotates a vendor secret sees no failed run because of
// the cache.
const CredentialsMaxAge = 5 * time.Minute

// CredentialsCache keeps credentials between the runs of a warm process.
// It is safe for concurrent use.
type CredentialsCache struct {
	mu      sync.Mutex
	entries map[string]cachedCredentials
}

type cachedCredentials struct {
	creds Credentials
	read  time.Time
}

// cachedCredentials returns the credentials of secret id the cache holds
// younger than CredentialsMaxAge, and whether it holds them.
func (r *Refresher) cachedCredentials(id string) (Credentials, bool) {
	c := r.Credentials
	if c == nil {
		return nil, false
	}
	now := r.now()
	c.mu.Lock()
	e, ok := c.entries[id]
	c.mu.Unlock()
	if ok && now.Sub(e.read) < CredentialsMaxAge && now.Sub(e.read) >= 0 {
		return e.creds, true
	}
	return nil, false
}

// prefetchedCredentials are credentials a run read together with the
// secret that decides it, or why they cannot be used.
type prefetchedCredentials struct {
	creds Credentials
	err   error
}

// keepCredentials decodes credentials read ahead and keeps them in the
// cache as a read of their own would.
func (r *Refresher) keepCredentials(id, connection string, res secretstore.Result) *prefetchedCredentials {
	creds, err := r.decodeCredentials(id, connection, res.Value, res.Err)
	r.remember(id, creds, err, r.now())
	return &prefetchedCredentials{creds: creds, err: err}
}

// credentials returns the credentials of secret id, from the cache when it
// holds them younger than CredentialsMaxAge and fresh is false. cached
// reports whether they came from the cache.
func (r *Refresher) credentials(ctx context.Context, id, connection string, fresh bool) (Credentials, bool, error) {
	if !fresh {
		if creds, ok := r.cachedCredentials(id); ok {
			return creds, true, nil
		}
	}
	now := r.now()
	creds, err := r.readCredentials(ctx, id, connection)
	r.remember(id, creds, err, now)
	return creds, false, err
}

// remember keeps credentials read at now in the cache, or drops the entry
// after a failed read.
func (r *Refresher) remember(id string, creds Credentials, err error, now time.Time) {
	if c := r.Credentials; c != nil {
		c.mu.Lock()
		if c.entries == nil {
			c.entries = map[string]cachedCredentials{}
		}
		if err == nil {
			c.entries[id] = cachedCredentials{creds: creds, read: now}
		} else {
			delete(c.entries, id)
		}
		c.mu.Unlock()
	}
}

func sameCredentials(a, b Credentials) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// refusedCredentials reports a vendor error that may come from stale
// credentials: a definite refusal (HTTP 400, 401 or 403, not retryable),
// as opposed to an outage.
func refusedCredentials(err error) bool {
	var ve *vendorhttp.Error
	if !errors.As(err, &ve) || ve.Retryable {
		return false
	}
	switch ve.Status {
	case 400, 401, 403:
		return ve.Code != "invalid_grant"
	}
	return false
}
