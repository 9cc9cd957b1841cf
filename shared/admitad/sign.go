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
	"github.com/token-refresher/token-refresher/shared/vendors"
)

// Signing: every connect link and every OAuth state is signed with
// HMAC-SHA256 under the key in the signing-key secret
// (SIGNING_KEY_SECRET_ID), which infra generates and only operators and the
// callback function can read. Links and states use distinct message
// prefixes, so one can never stand for the other. Both name the connection
// the flow connects inside what is signed, so a link or state minted for
// one connection can never be made to stand for another.

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
	linkExpiry     = "exp"
	linkSignature  = "sig"
	linkConnection = "connection"
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

// named is connection as links and states carry it: "" for the default
// connection ("" or vendors.DefaultConnection), else the name.
func named(connection string) string {
	if connection == vendors.DefaultConnection {
		return ""
	}
	return connection
}

// connectionOf is the name a verified link or state stands for.
func connectionOf(n string) string {
	if n == "" {
		return vendors.DefaultConnection
	}
	return n
}

// linkParts are the signed parts of a link: its expiry, then its
// connection unless it is the default one. A link of the default
// connection is signed exactly as links were before connections existed,
// so those keep working; no value of one link's parts is another's.
func linkParts(exp, connection string) []string {
	if connection == "" {
		return []string{exp}
	}
	return []string{exp, connection}
}

// MintLink returns connectURL (the callback function's /admitad/authorize
// URL) with an expiry ttl from now and its signature, for the default
// connection. It is MintConnectionLink with connection "".
func MintLink(key []byte, connectURL string, ttl time.Duration, now time.Time) string {
	return MintConnectionLink(key, connectURL, "", ttl, now)
}

// MintConnectionLink returns connectURL (the callback function's
// /admitad/authorize URL) with the connection it connects (the
// "connection" parameter, absent for the default connection: "" or
// vendors.DefaultConnection), an expiry ttl from now and the signature of
// both, so that neither can be changed without the key. A ttl of zero or
// less means DefaultLinkTTL; one above MaxLinkTTL is cut to MaxLinkTTL,
// since a longer link would be refused. Anyone holding the link can start
// a connect of that connection until it expires, so hand it to the person
// who connects and no one else. connection must be a valid name
// (vendors.CheckConnection); the callback refuses the link otherwise.
func MintConnectionLink(key []byte, connectURL, connection string, ttl time.Duration, now time.Time) string {
	if ttl <= 0 {
		ttl = DefaultLinkTTL
	}
	if ttl > MaxLinkTTL {
		ttl = MaxLinkTTL
	}
	conn := named(connection)
	exp := strconv.FormatInt(now.Add(ttl).Unix(), 10)
	sig := hex.EncodeToString(mac(key, "admitad-connect-link", linkParts(exp, conn)...))
	v := url.Values{linkExpiry: {exp}, linkSignature: {sig}}
	if conn != "" {
		v.Set(linkConnection, conn)
	}
	q := v.Encode()
	if u, err := url.Parse(connectURL); err == nil {
		rest := u.Query()
		rest.Del(linkExpiry)
		rest.Del(linkSignature)
		rest.Del(linkConnection)
		if enc := rest.Encode(); enc != "" {
			q = enc + "&" + q
		}
		u.RawQuery = q
		return u.String()
	}
	return connectURL + "?" + q
}

// LinkConnection is the connection a link's query names, not yet
// verified: vendors.DefaultConnection when it names none.
func LinkConnection(q url.Values) string { return connectionOf(q.Get(linkConnection)) }

// VerifyLink checks the expiry and signature of a connect link's query,
// whichever connection it names. Its errors wrap ErrLink and say what is
// wrong.
func VerifyLink(key []byte, q url.Values, now time.Time) error {
	_, err := VerifyConnectionLink(key, q, now)
	return err
}

// VerifyConnectionLink checks the expiry and signature of a connect
// link's query and returns the connection it was minted for
// (vendors.DefaultConnection for a link that names none). A link whose
// connection was changed, added or removed does not verify. Its errors
// wrap ErrLink and say what is wrong.
func VerifyConnectionLink(key []byte, q url.Values, now time.Time) (string, error) {
	exp, sig := q.Get(linkExpiry), q.Get(linkSignature)
	if exp == "" || sig == "" {
		return "", fmt.Errorf("%w: the link has no expiry or signature", ErrLink)
	}
	if len(q[linkConnection]) > 1 {
		return "", fmt.Errorf("%w: the link names more than one connection", ErrLink)
	}
	conn := q.Get(linkConnection)
	_, present := q[linkConnection]
	if present && conn == "" {
		return "", fmt.Errorf("%w: the link's connection is empty", ErrLink)
	}
	got, err := hex.DecodeString(sig)
	if err != nil || !hmac.Equal(got, mac(key, "admitad-connect-link", linkParts(exp, conn)...)) {
		return "", fmt.Errorf("%w: the signature is not valid", ErrLink)
	}
	secs, err := strconv.ParseInt(exp, 10, 64)
	if err != nil {
		return "", fmt.Errorf("%w: the expiry is not a number", ErrLink)
	}
	at := time.Unix(secs, 0)
	switch {
	case !now.Before(at):
		return "", fmt.Errorf("%w: the link expired at %s", ErrLink, at.UTC().Format(time.RFC3339))
	case at.Sub(now) > MaxLinkTTL+clockSkew:
		return "", fmt.Errorf("%w: the link claims to work longer than %s", ErrLink, MaxLinkTTL)
	}
	if err := vendors.CheckConnection(conn); err != nil {
		return "", fmt.Errorf("%w: %v", ErrLink, err)
	}
	return connectionOf(conn), nil
}

// State is a verified OAuth state.
type State struct {
	// IssuedAt is when the flow started.
	IssuedAt time.Time
	// Expires is when the state stops being accepted.
	Expires time.Time
	// Connection is the connection the flow connects
	// (vendors.DefaultConnection for the default one).
	Connection string
	nonce      string
}

// Fingerprint identifies the state without revealing it; the connection
// stores it so the same state cannot connect twice.
func (s State) Fingerprint() string {
	sum := sha256.Sum256([]byte(s.nonce))
	return hex.EncodeToString(sum[:8])
}

// State versions: v1 is a default connection's (the form from before
// connections, unchanged), v2 a named connection's.
const (
	stateVersion      = "v1"
	stateVersionNamed = "v2"
)

func cookieHash(cookie string) string {
	sum := sha256.Sum256([]byte(cookie))
	return hex.EncodeToString(sum[:])
}

// NewState returns a signed state of the default connection; it is
// NewConnectionState with connection "".
func NewState(key []byte, cookie string, now time.Time, ttl time.Duration) (string, error) {
	return NewConnectionState(key, cookie, "", now, ttl)
}

// NewConnectionState returns a signed state for a flow that connects
// connection ("" or vendors.DefaultConnection for the default one). It
// expires ttl after now (StateTTL when ttl is zero or less) and is bound
// to cookie: only a callback carrying the same cookie value accepts it.
// The cookie itself is not in the state, only covered by its signature
// (through its SHA-256); the connection is in it and signed, so it cannot
// be changed.
//
// The form is v1.<issued, unix ms>.<expires, unix s>.<nonce>.<signature>
// for the default connection and
// v2.<issued>.<expires>.<connection>.<nonce>.<signature> for a named one,
// all URL-safe.
func NewConnectionState(key []byte, cookie, connection string, now time.Time, ttl time.Duration) (string, error) {
	if ttl <= 0 {
		ttl = StateTTL
	}
	conn := named(connection)
	if err := vendors.CheckConnection(conn); err != nil {
		return "", fmt.Errorf("admitad: state: %w", err)
	}
	nonce, err := RandomToken(16)
	if err != nil {
		return "", err
	}
	parts := []string{stateVersion, strconv.FormatInt(now.UnixMilli(), 10), strconv.FormatInt(now.Add(ttl).Unix(), 10)}
	if conn != "" {
		parts[0] = stateVersionNamed
		parts = append(parts, conn)
	}
	body := strings.Join(append(parts, nonce), ".")
	sig := base64.RawURLEncoding.EncodeToString(mac(key, "admitad-oauth-state", body, cookieHash(cookie)))
	return body + "." + sig, nil
}

// splitState parses a state's form without verifying it: its signed body,
// its fields and its signature.
func splitState(state string) (body string, iat, exp, conn, nonce, sig string, ok bool) {
	parts := strings.Split(state, ".")
	switch {
	case len(parts) == 5 && parts[0] == stateVersion:
		return strings.Join(parts[:4], "."), parts[1], parts[2], "", parts[3], parts[4], true
	case len(parts) == 6 && parts[0] == stateVersionNamed && parts[3] != "" && named(parts[3]) != "":
		return strings.Join(parts[:5], "."), parts[1], parts[2], parts[3], parts[4], parts[5], true
	}
	return "", "", "", "", "", "", false
}

// StateConnection is the connection a state names, not yet verified:
// vendors.DefaultConnection for a default connection's state, "" when
// state is not in a form this service issues.
func StateConnection(state string) string {
	_, _, _, conn, _, _, ok := splitState(state)
	if !ok {
		return ""
	}
	return connectionOf(conn)
}

// VerifyState checks state's signature against each cookie value the
// browser sent (a browser may hold more than one), then its expiry. The
// returned State names the connection the state was issued for. Errors
// wrap ErrState and say what is wrong without quoting the state.
func VerifyState(key []byte, state string, cookies []string, now time.Time) (State, error) {
	if state == "" {
		return State{}, fmt.Errorf("%w: the callback has no state", ErrState)
	}
	if len(cookies) == 0 {
		return State{}, fmt.Errorf("%w: the browser sent no connect cookie (the flow must finish in the browser that started it, within %s)", ErrState, StateTTL)
	}
	body, iatS, expS, conn, nonce, sigS, ok := splitState(state)
	if !ok {
		return State{}, fmt.Errorf("%w: the state is not one this service issued", ErrState)
	}
	sig, err := base64.RawURLEncoding.DecodeString(sigS)
	if err != nil {
		return State{}, fmt.Errorf("%w: the state is not one this service issued", ErrState)
	}
	ok = false
	for _, c := range cookies {
		if hmac.Equal(sig, mac(key, "admitad-oauth-state", body, cookieHash(c))) {
			ok = true
			break
		}
	}
	if !ok {
		return State{}, fmt.Errorf("%w: the state was not issued to this browser (forged, or started in another browser or session)", ErrState)
	}
	iat, err1 := strconv.ParseInt(iatS, 10, 64)
	exp, err2 := strconv.ParseInt(expS, 10, 64)
	if err1 != nil || err2 != nil {
		return State{}, fmt.Errorf("%w: the state's times are not numbers", ErrState)
	}
	if err := vendors.CheckConnection(conn); err != nil {
		return State{}, fmt.Errorf("%w: %v", ErrState, err)
	}
	s := State{IssuedAt: time.UnixMilli(iat).UTC(), Expires: time.Unix(exp, 0).UTC(), Connection: connectionOf(conn), nonce: nonce}
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
