package refresh

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/token-refresher/token-refresher/shared/secretstore"
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

func (r *Refresher) readCredentials(ctx context.Context, id string) (Credentials, error) {
	if id == "" {
		return nil, fmt.Errorf("%s: no credentials secret configured (CREDENTIALS_SECRET_ID)", r.Spec.Name)
	}
	v, err := r.Store.Get(ctx, id)
	if err != nil {
		if errors.Is(err, secretstore.ErrNotFound) {
			return nil, fmt.Errorf("%s: credentials secret %s does not exist or has no value", r.Spec.Name, id)
		}
		return nil, fmt.Errorf("%s: read credentials: %w", r.Spec.Name, err)
	}
	creds, err := ParseCredentials(v.String, r.Spec.CredentialFields)
	if err != nil {
		return nil, fmt.Errorf("%s: credentials secret %s %v", r.Spec.Name, id, err)
	}
	return creds, nil
}
