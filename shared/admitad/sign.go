package admitad

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/token-refresher/token-refresher/shared/secretstore"
)

// Signing: every connect link and every OAuth state is signed with
// HMAC-SHA256 under the key in the signing-key secret
// (SIGNING_KEY_SECRET_ID), which infra generates and only operators and the
// callback function can read. Links and states use distinct message
// prefixes, so one can never stand for the other.

// Limits of links and states.
const (
	// MinKeyLen is the shortest signing key accepted, in bytes.
	MinKeyLen = 32
	// DefaultLinkTTL is how long a minted connect link works.
	DefaultLinkTTL = 15 * time.Minute
	// MaxLinkTTL is the longest a link may work: a link promising more is
	// refused even with a good signature.
	MaxLinkTTL = time.Hour
	// StateTTL is how long a person has between starting the flow and
	// Admitad redirecting back.
	StateTTL = 10 * time.Minute
	// clockSkew tolerates clocks of different machines (the operator's,
	// the function's) disagreeing a little.
	clockSkew = time.Minute
)

// Query parameters of a connect link.
const (
	linkExpiry    = "exp"
	linkSignature = "sig"
)

// ErrLink is wrapped by every refusal of a connect link.
var ErrLink = errors.New("connect link refused")

// ErrState is wrapped by every refusal of an OAuth state.
var ErrState = errors.New("state refused")

func mac(key []byte, purpose string, parts ...string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(purpose))
	for _, p := range parts {
		m.Write([]byte{0})
		m.Write([]byte(p))
	}
	return m.Sum(nil)
}

// MintLink returns connectURL (the callback function's /admitad/authorize
// URL) with an expiry ttl from now and its signature. A ttl of zero or less
// means DefaultLinkTTL; one above MaxLinkTTL is cut to MaxLinkTTL, since a
// longer link would be refused. Anyone holding the link can start a connect
// until it expires, so hand it to the person who connects and no one else.
func MintLink(key []byte, connectURL string, ttl time.Duration, now time.Time) string {
	if ttl <= 0 {
		ttl = DefaultLinkTTL
	}
	if ttl > MaxLinkTTL {
		ttl = MaxLinkTTL
	}
	exp := strconv.FormatInt(now.Add(ttl).Unix(), 10)
	sig := hex.EncodeToString(mac(key, "admitad-connect-link", exp))
	q := url.Values{linkExpiry: {exp}, linkSignature: {sig}}.Encode()
	if u, err := url.Parse(connectURL); err == nil {
		rest := u.Query()
		rest.Del(linkExpiry)
		rest.Del(linkSignature)
		if enc := rest.Encode(); enc != "" {
			q = enc + "&" + q
		}
		u.RawQuery = q
		return u.String()
	}
	return connectURL + "?" + q
}

// VerifyLink checks the expiry and signature of a connect link's query.
// Its errors wrap ErrLink and say what is wrong.
func VerifyLink(key []byte, q url.Values, now time.Time) error {
	exp, sig := q.Get(linkExpiry), q.Get(linkSignature)
	if exp == "" || sig == "" {
		return fmt.Errorf("%w: the link has no expiry or signature", ErrLink)
	}
	got, err := hex.DecodeString(sig)
	if err != nil || !hmac.Equal(got, mac(key, "admitad-connect-link", exp)) {
		return fmt.Errorf("%w: the signature is not valid", ErrLink)
	}
	secs, err := strconv.ParseInt(exp, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: the expiry is not a number", ErrLink)
	}
	at := time.Unix(secs, 0)
	switch {
	case !now.Before(at):
		return fmt.Errorf("%w: the link expired at %s", ErrLink, at.UTC().Format(time.RFC3339))
	case at.Sub(now) > MaxLinkTTL+clockSkew:
		return fmt.Errorf("%w: the link claims to work longer than %s", ErrLink, MaxLinkTTL)
	}
	return nil
}

// State is a verified OAuth state.
type State struct {
	// IssuedAt is when the flow started.
	IssuedAt time.Time
	// Expires is when the state stops being accepted.
	Expires time.Time
	nonce   string
}

// Fingerprint identifies the state without revealing it; the connection
// stores it so the same state cannot connect twice.
func (s State) Fingerprint() string {
	sum := sha256.Sum256([]byte(s.nonce))
	return hex.EncodeToString(sum[:8])
}

const stateVersion = "v1"

func cookieHash(cookie string) string {
	sum := sha256.Sum256([]byte(cookie))
	return hex.EncodeToString(sum[:])
}

// NewState returns a signed state that expires ttl after now (StateTTL
// when ttl is zero or less) and is bound to cookie: only a callback
// carrying the same cookie value accepts it. The cookie itself is not in
// the state, only covered by its signature (through its SHA-256).
//
// The form is v1.<issued, unix ms>.<expires, unix s>.<nonce>.<signature>,
// all URL-safe.
func NewState(key []byte, cookie string, now time.Time, ttl time.Duration) (string, error) {
	if ttl <= 0 {
		ttl = StateTTL
	}
	nonce, err := RandomToken(16)
	if err != nil {
		return "", err
	}
	body := strings.Join([]string{
		stateVersion,
		strconv.FormatInt(now.UnixMilli(), 10),
		strconv.FormatInt(now.Add(ttl).Unix(), 10),
		nonce,
	}, ".")
	sig := base64.RawURLEncoding.EncodeToString(mac(key, "admitad-oauth-state", body, cookieHash(cookie)))
	return body + "." + sig, nil
}

// VerifyState checks state's signature against each cookie value the
// browser sent (a browser may hold more than one), then its expiry. Errors
// wrap ErrState and say what is wrong without quoting the state.
func VerifyState(key []byte, state string, cookies []string, now time.Time) (State, error) {
	if state == "" {
		return State{}, fmt.Errorf("%w: the callback has no state", ErrState)
	}
	if len(cookies) == 0 {
		return State{}, fmt.Errorf("%w: the browser sent no connect cookie (the flow must finish in the browser that started it, within %s)", ErrState, StateTTL)
	}
	parts := strings.Split(state, ".")
	if len(parts) != 5 || parts[0] != stateVersion {
		return State{}, fmt.Errorf("%w: the state is not one this service issued", ErrState)
	}
	body := strings.Join(parts[:4], ".")
	sig, err := base64.RawURLEncoding.DecodeString(parts[4])
	if err != nil {
		return State{}, fmt.Errorf("%w: the state is not one this service issued", ErrState)
	}
	ok := false
	for _, c := range cookies {
		if hmac.Equal(sig, mac(key, "admitad-oauth-state", body, cookieHash(c))) {
			ok = true
			break
		}
	}
	if !ok {
		return State{}, fmt.Errorf("%w: the state was not issued to this browser (forged, or started in another browser or session)", ErrState)
	}
	iat, err1 := strconv.ParseInt(parts[1], 10, 64)
	exp, err2 := strconv.ParseInt(parts[2], 10, 64)
	if err1 != nil || err2 != nil {
		return State{}, fmt.Errorf("%w: the state's times are not numbers", ErrState)
	}
	s := State{IssuedAt: time.UnixMilli(iat).UTC(), Expires: time.Unix(exp, 0).UTC(), nonce: parts[3]}
	if !now.Before(s.Expires) {
		return State{}, fmt.Errorf("%w: the state expired at %s; start again with a new link", ErrState, s.Expires.Format(time.RFC3339))
	}
	return s, nil
}

// RandomToken returns n random bytes, base64url-encoded.
func RandomToken(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("admitad: random: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// ParseSigningKey extracts the key from the signing-key secret's value:
// the whole string, or the "key" field of a JSON object. It must be at
// least MinKeyLen bytes and must not be plainly non-random (CheckKey).
// Errors never quote the value.
func ParseSigningKey(secret string) ([]byte, error) {
	v := strings.TrimSpace(secret)
	if strings.HasPrefix(v, "{") {
		var obj struct {
			Key string `json:"key"`
		}
		if err := json.Unmarshal([]byte(v), &obj); err != nil || obj.Key == "" {
			return nil, errors.New("is a JSON object without a string \"key\" field")
		}
		v = obj.Key
	}
	if err := CheckKey([]byte(v)); err != nil {
		return nil, err
	}
	return []byte(v), nil
}

// Limits of CheckKey.
const (
	// minKeyBits is the least estimated entropy of a key: its length
	// times the Shannon entropy of its byte frequencies.
	minKeyBits = 64
	// minKeyDistinct is the fewest distinct bytes a key may use.
	minKeyDistinct = 4
	// maxKeyRun is the longest stretch of bytes each equal to, or one
	// above or below, the one before ("aaaa", "abcd", "4321").
	maxKeyRun = 19
)

// CheckKey refuses a signing key that is shorter than MinKeyLen or plainly
// not random: few distinct bytes, one pattern repeated, a long run of
// equal or consecutive bytes, or a low entropy estimate. The checks are on
// the bytes as HMAC uses them (the secret's characters) and are loose
// enough that a random key of hex digits, letters and digits, base64 or
// even decimal digits always passes: they catch a typed placeholder
// ("aaaa…", "abcabc…", "password" four times), not a weak passphrase.
// Generate keys: the stack does (64 letters and digits); by hand,
// openssl rand -hex 32. Errors never quote the key.
func CheckKey(key []byte) error {
	n := len(key)
	if n < MinKeyLen {
		return fmt.Errorf("is %d bytes, shorter than the %d-byte minimum", n, MinKeyLen)
	}
	var count [256]int
	distinct := 0
	for _, b := range key {
		if count[b] == 0 {
			distinct++
		}
		count[b]++
	}
	if distinct < minKeyDistinct {
		return fmt.Errorf("uses only %d distinct bytes: it is not random; store a random key (openssl rand -hex 32)", distinct)
	}
	for p := 1; p <= n/2; p++ {
		if bytes.Equal(key[p:], key[:n-p]) {
			return fmt.Errorf("repeats one %d-byte pattern: it is not random; store a random key (openssl rand -hex 32)", p)
		}
	}
	run, longest := 1, 1
	for i := 1; i < n; i++ {
		if d := int(key[i]) - int(key[i-1]); d >= -1 && d <= 1 {
			run++
			longest = max(longest, run)
		} else {
			run = 1
		}
	}
	if longest > maxKeyRun {
		return fmt.Errorf("has a run of %d equal or consecutive bytes: it is not random; store a random key (openssl rand -hex 32)", longest)
	}
	var h float64
	for _, c := range count {
		if c > 0 {
			p := float64(c) / float64(n)
			h -= p * math.Log2(p)
		}
	}
	if bits := h * float64(n); bits < minKeyBits {
		return fmt.Errorf("has an estimated entropy of %.0f bits, below %d: it is not random; store a random key (openssl rand -hex 32)", bits, minKeyBits)
	}
	return nil
}

// LoadSigningKey reads the signing key from secret id.
func LoadSigningKey(ctx context.Context, store *secretstore.Store, id string) ([]byte, error) {
	if id == "" {
		return nil, errors.New("admitad: signing key: no secret configured (SIGNING_KEY_SECRET_ID)")
	}
	v, err := store.Get(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("admitad: signing key: %w", err)
	}
	key, err := ParseSigningKey(v.String)
	if err != nil {
		return nil, fmt.Errorf("admitad: signing key: secret %s %v", id, err)
	}
	return key, nil
}
