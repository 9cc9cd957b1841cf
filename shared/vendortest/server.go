package vendortest

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"
)

// Options configure a fake vendor.
type Options struct {
	// Lifetime of issued access tokens; 0 means the lifetime the vendor
	// documents (given to NewBase). A server of tokens that never expire
	// ignores it.
	Lifetime time.Duration
	// Now is the fake's clock; nil means time.Now. It dates tokens, decides
	// expiry and sets the Date header of every reply.
	Now func() time.Time
	// Addr is the address to listen on; "" means 127.0.0.1:0 (a free port).
	// It must be a loopback address, or the constructor panics.
	Addr string
}

// Server is one fake vendor. Its methods are safe for concurrent use.
type Server struct {
	vendor    string
	opts      Options // as given to NewBase, for Start
	ts        *httptest.Server
	mux       *http.ServeMux
	handler   http.Handler
	tokenPath string // path (and query, if any) of TokenURL
	lifetime  time.Duration
	now       func() time.Time
	errBody   func(status int) string
	key       []byte // signs JWTs
	done      chan struct{}
	closeOnce sync.Once

	mu         sync.Mutex
	faults     []Fault
	requests   int
	authorizes int
	tokens     map[string]*accessToken
	issued     []string
	accounts   map[string]map[string]string

	ext any // the vendor package's own view of the server (Extend)
}

type accessToken struct {
	account   string    // the account it was issued for
	expires   time.Time // zero: never
	revoked   bool
	forbidden bool
}

// newServer builds a server whose vendor routes the caller adds to s.mux
// before calling start.
func newServer(vendor string, opts Options, documented time.Duration, errBody func(int) string) *Server {
	s := &Server{
		vendor:   vendor,
		mux:      http.NewServeMux(),
		lifetime: documented,
		now:      opts.Now,
		errBody:  errBody,
		key:      randomBytes(32),
		done:     make(chan struct{}),
		tokens:   map[string]*accessToken{},
	}
	if opts.Lifetime > 0 {
		s.lifetime = opts.Lifetime
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.mux.HandleFunc("POST /_fault", s.handleFault)
	s.mux.HandleFunc("DELETE /_fault", s.handleClearFaults)
	s.mux.HandleFunc("POST /_revoke", func(w http.ResponseWriter, r *http.Request) {
		s.RevokeAll()
		w.WriteHeader(http.StatusNoContent)
	})
	s.mux.HandleFunc("GET /_stats", s.handleStats)
	s.handler = http.HandlerFunc(s.serve)
	return s
}

// start listens on opts.Addr (loopback only) and serves.
func (s *Server) start(opts Options) *Server {
	ts := httptest.NewUnstartedServer(s.handler)
	if opts.Addr != "" {
		if !loopbackAddr(opts.Addr) {
			panic(fmt.Sprintf("vendortest: listen: %q is not a loopback address", opts.Addr))
		}
		ln, err := net.Listen("tcp", opts.Addr)
		if err != nil {
			panic(fmt.Sprintf("vendortest: listen on %s: %v", opts.Addr, err))
		}
		ts.Listener.Close()
		ts.Listener = ln
	}
	ts.Start()
	s.ts = ts
	return s
}

// serve guards and dates every request, then routes it.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if !loopbackPeer(r.RemoteAddr) {
		http.Error(w, "vendortest: only loopback clients are served", http.StatusForbidden)
		return
	}
	w.Header().Set("Date", s.now().UTC().Format(http.TimeFormat))
	s.mux.ServeHTTP(w, r)
}

// URL is the base URL, e.g. http://127.0.0.1:41234.
func (s *Server) URL() string { return s.ts.URL }

// TokenURL is the full URL a refresher's endpoint variable (the row's
// URLEnv) is set to.
func (s *Server) TokenURL() string { return s.ts.URL + s.tokenPath }

// TokenPath is TokenURL without the scheme and host, for a Handler mounted
// on another listener.
func (s *Server) TokenPath() string { return s.tokenPath }

// Handler serves the fake's whole protocol and its control endpoints, for
// mounting on another loopback listener. State is shared with s.
func (s *Server) Handler() http.Handler { return s.handler }

// Vendor is the vendor's short name (see package vendors).
func (s *Server) Vendor() string { return s.vendor }

// Close stops the server. Requests waiting on a fault's Delay are cut off.
// It is safe to call more than once.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.done)
		s.ts.Close()
	})
}

// Inject queues f for the next f.Count token (or validation) requests;
// a Count below 1 means 1. Faults are served in the order queued.
func (s *Server) Inject(f Fault) {
	if f.Count < 1 {
		f.Count = 1
	}
	s.mu.Lock()
	s.faults = append(s.faults, f)
	s.mu.Unlock()
}

// ClearFaults drops every queued fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	s.faults = nil
	s.mu.Unlock()
}

// PendingFaults is how many token requests queued faults still apply to.
func (s *Server) PendingFaults() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pendingLocked()
}

func (s *Server) pendingLocked() int {
	n := 0
	for _, f := range s.faults {
		n += f.Count
	}
	return n
}

// TokenRequests is how many token (or validation) requests arrived,
// faulted ones included.
func (s *Server) TokenRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// Issued returns the access tokens issued so far, oldest first (for a
// vendor of static tokens: those recorded with Record).
func (s *Server) Issued() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.issued...)
}

// Valid reports whether tok is an access token the vendor's API accepts
// now: issued by this server, not expired, not revoked, not forbidden.
func (s *Server) Valid(tok string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.checkLocked(tok) == tokenOK
}

// RevokeAll makes every access token issued so far invalid now, as a
// vendor that rotates early would. Tokens issued afterwards are valid.
func (s *Server) RevokeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.tokens {
		t.revoked = true
	}
}

// Revoke makes one access token invalid (the API answers 401). Unknown
// tokens are ignored.
func (s *Server) Revoke(tok string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.tokens[tok]; ok {
		t.revoked = true
	}
}

// Forbid marks an access token as lacking rights: the API answers 403
// for it (a token made by a user without access to the resource).
func (s *Server) Forbid(tok string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.tokens[tok]; ok {
		t.forbidden = true
	}
}

type tokenState int

const (
	tokenOK tokenState = iota
	tokenUnknown
	tokenExpired
	tokenRevoked
	tokenForbidden
)

func (s *Server) checkLocked(tok string) tokenState {
	t, ok := s.tokens[tok]
	switch {
	case !ok || tok == "":
		return tokenUnknown
	case t.revoked:
		return tokenRevoked
	case !t.expires.IsZero() && !s.now().Before(t.expires):
		return tokenExpired
	case t.forbidden:
		return tokenForbidden
	}
	return tokenOK
}

func (s *Server) check(tok string) tokenState {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.checkLocked(tok)
}

// recordFor is record for a token issued to account.
func (s *Server) recordFor(account, tok string, expires time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.tokens[tok]; dup {
		return false
	}
	s.tokens[tok] = &accessToken{account: account, expires: expires}
	s.issued = append(s.issued, tok)
	return true
}

// expiresIn is the lifetime in whole seconds, at least 1.
func (s *Server) expiresIn() int64 {
	n := int64((s.lifetime + time.Second - 1) / time.Second)
	if n < 1 {
		n = 1
	}
	return n
}

// Stats are the counts GET /_stats reports.
type Stats struct {
	Vendor            string `json:"vendor"`
	TokenRequests     int    `json:"token_requests"`
	AuthorizeRequests int    `json:"authorize_requests"`
	Issued            int    `json:"issued"`
	Valid             int    `json:"valid"`
	PendingFaults     int    `json:"pending_faults"`
}

// Stats returns the server's counts.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Stats{
		Vendor:            s.vendor,
		TokenRequests:     s.requests,
		AuthorizeRequests: s.authorizes,
		Issued:            len(s.issued),
		PendingFaults:     s.pendingLocked(),
	}
	for _, tok := range s.issued {
		if s.checkLocked(tok) == tokenOK {
			st.Valid++
		}
	}
	return st
}

func (s *Server) handleStats(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.Stats())
}

// randomBytes returns n bytes from crypto/rand.
func randomBytes(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("vendortest: crypto/rand: " + err.Error())
	}
	return b
}

func randomHex(n int) string { return hex.EncodeToString(randomBytes(n)) }

// equal compares a presented credential with the expected one in constant
// time.
func equal(got, want string) bool {
	return subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic("vendortest: encode reply: " + err.Error())
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
}

// writeToken sends a token reply, which OAuth 2.0 says must not be cached.
func writeToken(w http.ResponseWriter, v any) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, http.StatusOK, v)
}

// writeRaw sends a fault's body with a content type guessed from it.
func writeRaw(w http.ResponseWriter, status int, body string) {
	if body != "" {
		ct := "text/plain; charset=utf-8"
		switch t := strings.TrimSpace(body); {
		case strings.HasPrefix(t, "{"), strings.HasPrefix(t, "["):
			ct = "application/json"
		case strings.HasPrefix(t, "<"):
			ct = "text/html; charset=utf-8"
		}
		w.Header().Set("Content-Type", ct)
	}
	w.WriteHeader(status)
	w.Write([]byte(body))
}

func jsonString(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic("vendortest: encode body: " + err.Error())
	}
	return string(b)
}

// snake turns a status text into an error code: "Service Unavailable" →
// "service_unavailable".
func snake(status int) string {
	t := http.StatusText(status)
	if t == "" {
		return fmt.Sprintf("http_%d", status)
	}
	return strings.ReplaceAll(strings.ToLower(strings.ReplaceAll(t, "-", " ")), " ", "_")
}

// bearer returns the token of an "Authorization: Bearer <token>" header.
func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	const p = "bearer "
	if len(h) <= len(p) || !strings.EqualFold(h[:len(p)], p) {
		return "", false
	}
	return strings.TrimSpace(h[len(p):]), true
}

func loopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// testNet is TEST-NET-1 (RFC 5737), reserved for documentation and never
// routed; httptest.NewRequest uses 192.0.2.1 as the peer address, so a
// Handler driven with a ResponseRecorder is served.
var testNet = &net.IPNet{IP: net.IPv4(192, 0, 2, 0), Mask: net.CIDRMask(24, 32)}

func loopbackPeer(remote string) bool {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	ip := net.ParseIP(host)
	return ip != nil && (ip.IsLoopback() || testNet.Contains(ip))
}
