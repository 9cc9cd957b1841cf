// Package token defines the token secret: the JSON document a refresher
// writes to Secrets Manager and every app reads. It is a public contract;
// fields are only ever added, never renamed or removed.
//
// A token secret never holds a client secret, a password or a refresh token.
//
// Contract: Parse and Validate return errors that match ErrMalformed and
// name the field that is wrong, never its value; Fingerprint is the only
// form of a token meant for logs. The package logs nothing and keeps no
// state: every function is safe for concurrent use.
package token

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// MaxSecretSize is the largest SecretString Secrets Manager accepts, in bytes.
const MaxSecretSize = 65536

// Token is the content of a token secret.
//
// On the wire, Extras are flattened into the top-level object next to the
// fixed fields (for example HasOffers' "integrator_id", Admitad's "scope"
// and "username").
type Token struct {
	// Vendor is the vendor's short name ("hasoffers", "fyber", ...).
	Vendor string `json:"vendor"`
	// AccessToken is the token itself.
	AccessToken string `json:"access_token"`
	// TokenType is the type the vendor reports ("Bearer" for most; Invoca's
	// is "token").
	TokenType string `json:"token_type"`
	// Authorization is the exact value to send in the Authorization header.
	Authorization string `json:"authorization"`
	// ExpiresAt is when the token stops working, in UTC. Zero for tokens
	// without a scheduled expiry (Invoca); then "expires_at" is omitted.
	ExpiresAt time.Time `json:"-"`
	// RefreshedAt is when the refresher obtained (or, for Invoca,
	// validated) the token, in UTC.
	RefreshedAt time.Time `json:"-"`
	// Fingerprint identifies the token without revealing it: the first 16
	// hex digits of its SHA-256.
	Fingerprint string `json:"fingerprint"`
	// Refresher is the name of the function that maintains the token; an
	// app that gets a 401 may invoke it (see the reader package).
	Refresher string `json:"refresher,omitempty"`
	// Connection names the vendor account the token belongs to:
	// "default" for the vendor's default connection, whose secrets keep
	// the names <prefix>/<vendor>/...; omitted by writers that predate
	// connections (read it as "default").
	Connection string `json:"connection,omitempty"`
	// Trigger says what made the refresher obtain the token: "schedule"
	// (a scheduled or unforced run), "force" (an operator), "reject" (an
	// app reported the previous token refused) or "connect" (Admitad's
	// callback). Omitted by writers that predate it.
	Trigger string `json:"trigger,omitempty"`
	// Extras are vendor-specific fields apps need next to the token.
	Extras map[string]string `json:"-"`
}

// fixed are the top-level names Extras may not take.
var fixed = map[string]bool{
	"vendor": true, "access_token": true, "token_type": true, "authorization": true,
	"expires_at": true, "refreshed_at": true, "fingerprint": true, "refresher": true,
	"connection": true, "trigger": true,
}

// Triggers: the values of Token.Trigger.
const (
	TriggerSchedule = "schedule"
	TriggerForce    = "force"
	TriggerReject   = "reject"
	TriggerConnect  = "connect"
)

// Fingerprint returns the short, non-reversible identifier of an access
// token that logs, metrics and the operator CLI show instead of the token.
func Fingerprint(accessToken string) string {
	sum := sha256.Sum256([]byte(accessToken))
	return hex.EncodeToString(sum[:8])
}

type wire struct {
	Vendor        string `json:"vendor"`
	AccessToken   string `json:"access_token"`
	TokenType     string `json:"token_type"`
	Authorization string `json:"authorization"`
	ExpiresAt     string `json:"expires_at,omitempty"`
	RefreshedAt   string `json:"refreshed_at"`
	Fingerprint   string `json:"fingerprint"`
	Refresher     string `json:"refresher,omitempty"`
	Connection    string `json:"connection,omitempty"`
	Trigger       string `json:"trigger,omitempty"`
}

// MarshalJSON writes the contract form: times as RFC 3339 UTC, extras
// flattened, keys in a stable order.
func (t Token) MarshalJSON() ([]byte, error) {
	w := wire{
		Vendor:        t.Vendor,
		AccessToken:   t.AccessToken,
		TokenType:     t.TokenType,
		Authorization: t.Authorization,
		RefreshedAt:   t.RefreshedAt.UTC().Format(time.RFC3339),
		Fingerprint:   t.Fingerprint,
		Refresher:     t.Refresher,
		Connection:    t.Connection,
		Trigger:       t.Trigger,
	}
	if !t.ExpiresAt.IsZero() {
		w.ExpiresAt = t.ExpiresAt.UTC().Format(time.RFC3339)
	}
	base, err := json.Marshal(w)
	if err != nil {
		return nil, err
	}
	if len(t.Extras) == 0 {
		return base, nil
	}
	keys := make([]string, 0, len(t.Extras))
	for k := range t.Extras {
		if fixed[k] {
			return nil, fmt.Errorf("token: extra field %q collides with a contract field", k)
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.Write(base[:len(base)-1])
	for _, k := range keys {
		kj, _ := json.Marshal(k)
		vj, _ := json.Marshal(t.Extras[k])
		b.WriteByte(',')
		b.Write(kj)
		b.WriteByte(':')
		b.Write(vj)
	}
	b.WriteByte('}')
	return []byte(b.String()), nil
}

// Errors returned by Parse and Validate. They never contain the token.
var (
	ErrMalformed = errors.New("token: malformed token secret")
)

// UnmarshalJSON reads the contract form. String-valued fields other than the
// fixed ones become Extras; other values are ignored.
func (t *Token) UnmarshalJSON(b []byte) error {
	var w wire
	if err := json.Unmarshal(b, &w); err != nil {
		return fmt.Errorf("%w: %s", ErrMalformed, describeJSONError(err))
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(b, &all); err != nil {
		return fmt.Errorf("%w: %s", ErrMalformed, describeJSONError(err))
	}
	*t = Token{
		Vendor:        w.Vendor,
		AccessToken:   w.AccessToken,
		TokenType:     w.TokenType,
		Authorization: w.Authorization,
		Fingerprint:   w.Fingerprint,
		Refresher:     w.Refresher,
		Connection:    w.Connection,
		Trigger:       w.Trigger,
	}
	if w.ExpiresAt != "" {
		at, err := time.Parse(time.RFC3339, w.ExpiresAt)
		if err != nil {
			return fmt.Errorf("%w: expires_at is not RFC 3339", ErrMalformed)
		}
		t.ExpiresAt = at.UTC()
	}
	if w.RefreshedAt != "" {
		at, err := time.Parse(time.RFC3339, w.RefreshedAt)
		if err != nil {
			return fmt.Errorf("%w: refreshed_at is not RFC 3339", ErrMalformed)
		}
		t.RefreshedAt = at.UTC()
	}
	for k, v := range all {
		if fixed[k] {
			continue
		}
		var s string
		if json.Unmarshal(v, &s) == nil {
			if t.Extras == nil {
				t.Extras = map[string]string{}
			}
			t.Extras[k] = s
		}
	}
	return nil
}

// Parse decodes and validates a token secret's SecretString.
func Parse(secret string) (Token, error) {
	var t Token
	if err := json.Unmarshal([]byte(secret), &t); err != nil {
		if errors.Is(err, ErrMalformed) {
			return Token{}, err
		}
		return Token{}, fmt.Errorf("%w: %s", ErrMalformed, describeJSONError(err))
	}
	if err := t.Validate(); err != nil {
		return Token{}, err
	}
	return t, nil
}

// Validate checks that t is fit to publish: every required field present,
// an access token that can be sent in an HTTP header, and a size Secrets
// Manager accepts. Errors name the field, never its value.
func (t Token) Validate() error {
	switch {
	case t.Vendor == "":
		return fmt.Errorf("%w: vendor is empty", ErrMalformed)
	case t.TokenType == "":
		return fmt.Errorf("%w: token_type is empty", ErrMalformed)
	case t.RefreshedAt.IsZero():
		return fmt.Errorf("%w: refreshed_at is missing", ErrMalformed)
	}
	if err := CheckValue(t.AccessToken); err != nil {
		return fmt.Errorf("%w: access_token %v", ErrMalformed, err)
	}
	if t.Authorization == "" || !strings.HasSuffix(t.Authorization, t.AccessToken) {
		return fmt.Errorf("%w: authorization does not carry the access token", ErrMalformed)
	}
	if t.Fingerprint != Fingerprint(t.AccessToken) {
		return fmt.Errorf("%w: fingerprint does not match the access token", ErrMalformed)
	}
	if !t.ExpiresAt.IsZero() && !t.ExpiresAt.After(t.RefreshedAt) {
		return fmt.Errorf("%w: expires_at is not after refreshed_at", ErrMalformed)
	}
	return nil
}

// CheckValue reports whether s can be used as a credential in an HTTP
// header: non-empty, at most MaxSecretSize/2 bytes, printable ASCII without
// spaces. The error describes the problem without quoting s.
func CheckValue(s string) error {
	if s == "" {
		return errors.New("is empty")
	}
	if len(s) > MaxSecretSize/2 {
		return fmt.Errorf("is %d bytes, over the %d-byte limit", len(s), MaxSecretSize/2)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c > '~' {
			return fmt.Errorf("has a character not allowed in an HTTP header at byte %d", i)
		}
	}
	return nil
}

// describeJSONError turns a decoding error into a message that does not echo
// the input.
func describeJSONError(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("invalid JSON at byte %d", se.Offset)
	case errors.As(err, &te):
		if te.Field != "" {
			return fmt.Sprintf("field %s is a JSON %s, want %s", te.Field, te.Value, te.Type)
		}
		return fmt.Sprintf("value is a JSON %s, want %s", te.Value, te.Type)
	default:
		return "invalid JSON"
	}
}
