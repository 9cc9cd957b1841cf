package vendortest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"time"
)

// This file is the API a vendor's test package builds its test server
// with:
//
//	func NewServer(opts vendortest.Options) *vendortest.Server {
//		s := vendortest.NewBase("example", opts, time.Hour, errorBody)
//		s.SetTokenPath("/oauth2/token")
//		s.HandleFunc("/oauth2/token", s.TokenEndpoint(func(w http.ResponseWriter, r *http.Request) { ... }))
//		return s.Start()
//	}
//
// A token handler checks the request, finds the account with Account,
// issues a token (JWT or RandomHex), stores it with Record and answers with
// WriteToken. Everything else a Server does (faults, /_fault, /_revoke,
// /_stats, the loopback guard, the Date header, Issued, Valid, Revoke,
// AddAccount, Rotate) then works for it unchanged.

// NewBase returns an unstarted server for vendor: add its routes with
// HandleFunc, set its TokenPath, then call Start. documented is the lifetime
// the vendor documents for its access tokens (opts.Lifetime overrides it; 0
// means they never expire), and errBody the vendor's documented error body
// for a status, which a Fault without a Body is answered with.
func NewBase(vendor string, opts Options, documented time.Duration, errBody func(status int) string) *Server {
	s := newServer(vendor, opts, documented, errBody)
	s.opts = opts
	return s
}

// Start listens on the Options given to NewBase (loopback only; it panics
// on a listen that fails, which New turns into an error) and serves. It
// returns s.
func (s *Server) Start() *Server { return s.start(s.opts) }

// HandleFunc routes pattern (an http.ServeMux pattern) to h. Every request
// has passed the loopback guard and carries the fake's Date header.
func (s *Server) HandleFunc(pattern string, h http.HandlerFunc) { s.mux.HandleFunc(pattern, h) }

// SetTokenPath sets the path (and query) TokenURL adds to URL: what the
// refresher's URLEnv variable is set to.
func (s *Server) SetTokenPath(path string) { s.tokenPath = path }

// TokenEndpoint wraps a token (or validation) handler: each request is
// counted in TokenRequests and served the next queued Fault instead, if
// there is one.
func (s *Server) TokenEndpoint(next http.HandlerFunc) http.HandlerFunc { return s.tokenEndpoint(next) }

// Account returns the name of the account whose credentials have every
// given field equal to the value given (compared in constant time):
// SandboxAccount for the registered sandbox credentials, or one added with
// AddAccount. ok is false when no account matches.
func (s *Server) Account(given map[string]string) (name string, ok bool) { return s.account(given) }

// Record stores a newly issued access token of account, valid until expires
// (zero: never expires). It reports false when tok was issued before; the
// caller draws another.
func (s *Server) Record(account, tok string, expires time.Time) bool {
	return s.recordFor(account, tok, expires)
}

// Now is the fake's clock (Options.Now, or time.Now).
func (s *Server) Now() time.Time { return s.now() }

// Lifetime is how long issued access tokens live: Options.Lifetime, or the
// documented lifetime given to NewBase.
func (s *Server) Lifetime() time.Duration { return s.lifetime }

// ExpiresIn is Lifetime in whole seconds, at least 1: the expires_in of a
// token reply.
func (s *Server) ExpiresIn() int64 { return s.expiresIn() }

// JWT signs claims as an HS256 JSON Web Token with the server's own random
// key.
func (s *Server) JWT(claims map[string]any) string {
	enc := base64.RawURLEncoding
	payload, err := json.Marshal(claims)
	if err != nil {
		panic("vendortest: encode claims: " + err.Error())
	}
	signed := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + enc.EncodeToString(payload)
	mac := hmac.New(sha256.New, s.key)
	mac.Write([]byte(signed))
	return signed + "." + enc.EncodeToString(mac.Sum(nil))
}

// IssueJWT signs claims, with a fresh "jti" each try, until the token is
// new, and records it as issued to account until expires.
func (s *Server) IssueJWT(account string, claims map[string]any, expires time.Time) string {
	for {
		claims["jti"] = RandomHex(16)
		if tok := s.JWT(claims); s.Record(account, tok, expires) {
			return tok
		}
	}
}

// CountAuthorize counts one request to an authorization dialogue, which
// Stats reports as authorize_requests.
func (s *Server) CountAuthorize() {
	s.mu.Lock()
	s.authorizes++
	s.mu.Unlock()
}

// Extend attaches a vendor test package's own view of s (a type that
// embeds s and adds the vendor's state and methods), so that the package
// finds it again from a server vendortest.New started; Extension returns
// it (nil when none was attached). Call Extend before Start.
func (s *Server) Extend(v any) { s.ext = v }

// Extension returns what Extend attached, or nil.
func (s *Server) Extension() any { return s.ext }

// Equal compares a presented credential with the expected one in constant
// time.
func Equal(got, want string) bool { return equal(got, want) }

// TokenState is what the vendor's API makes of an access token.
type TokenState int

// The states of an access token, as CheckToken reports them.
const (
	TokenOK        = TokenState(tokenOK)
	TokenUnknown   = TokenState(tokenUnknown)
	TokenExpired   = TokenState(tokenExpired)
	TokenRevoked   = TokenState(tokenRevoked)
	TokenForbidden = TokenState(tokenForbidden)
)

// CheckToken says whether the vendor's API would accept tok now, and if not,
// why: an API handler answers 401 for TokenUnknown, TokenExpired and
// TokenRevoked, 403 for TokenForbidden.
func (s *Server) CheckToken(tok string) TokenState { return TokenState(s.check(tok)) }

// RandomHex returns 2n hexadecimal digits from crypto/rand: an opaque token.
func RandomHex(n int) string { return randomHex(n) }

// WriteJSON sends v as a JSON reply with status.
func WriteJSON(w http.ResponseWriter, status int, v any) { writeJSON(w, status, v) }

// WriteToken sends v as a 200 token reply with the Cache-Control: no-store
// and Pragma: no-cache headers OAuth 2.0 requires.
func WriteToken(w http.ResponseWriter, v any) { writeToken(w, v) }

// WriteRaw sends body with status and a content type guessed from the body
// (JSON, HTML or text).
func WriteRaw(w http.ResponseWriter, status int, body string) { writeRaw(w, status, body) }

// JSONString encodes v as JSON; it panics on a value that cannot be
// encoded.
func JSONString(v any) string { return jsonString(v) }

// ErrorCode turns a status into an OAuth-style error code from its status
// text: 503 is "service_unavailable".
func ErrorCode(status int) string { return snake(status) }

// Bearer returns the token of an "Authorization: Bearer <token>" header.
func Bearer(r *http.Request) (string, bool) { return bearer(r) }
