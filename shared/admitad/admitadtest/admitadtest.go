// Package admitadtest runs a test server that speaks Admitad's
// authorization-code protocol, as documented: GET /api/authorize/ (also
// the older /authorize/) approves at once, standing in for the person who
// clicks Allow, and redirects to redirect_uri with code and state, or with
// error and error_description. POST /token/ (form-encoded) serves
// grant_type=authorization_code (HTTP Basic client_id:client_secret
// required), refresh_token (client_id and client_secret in the body) and
// client_credentials. Every refresh rotates: the used refresh token is dead
// afterwards; access tokens issued earlier stay valid until they expire.
// GET /me/ checks a Bearer token. Faults (vendortest.Server.Inject) apply
// to POST /token/.
//
// Besides vendortest's control endpoints, the server answers POST /_deny
// (DenyNext) and POST /_revoke_grant (RevokeGrant).
//
// Importing the package registers the server with vendortest.Register
// under "admitad", with the sandbox credentials it accepts (public test
// values); Of finds the Admitad view of a server vendortest.New started.
// Nothing here is built into a Lambda function.
package admitadtest

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/token-refresher/token-refresher/shared/vendors"
	"github.com/token-refresher/token-refresher/shared/vendortest"
)

// admitadCodeLifetime is how long an authorization code can be exchanged.
const admitadCodeLifetime = 10 * time.Minute

// admitadScopes are the scopes Admitad's documentation names.
var admitadScopes = map[string]bool{
	"advcampaigns": true, "banners": true, "websites": true, "advcampaigns_for_website": true,
	"coupons": true, "coupons_for_website": true, "opt_codes": true, "manage_opt_codes": true,
	"payments": true, "statistics": true, "products": true, "advertiser_statistics": true,
	"advertiser_websites": true, "advertiser_info": true, "arecords": true,
}

// Sandbox values the server accepts: public test values, not secrets.
const (
	sandboxClientID     = "cb281d918a37e346b45e9aea1c6eb7"
	sandboxClientSecret = "a0f8a8b24de8b8182a0ddd2e89f5b1"
	scope               = "advertiser_statistics advertiser_info"
	// Username is the username Admitad's replies carry until SetUsername
	// changes it.
	Username = "advertiser1"
)

// Server is a test Admitad: a vendortest.Server with Admitad's
// authorization codes and rotating refresh tokens. Its methods are safe
// for concurrent use.
type Server struct {
	*vendortest.Server

	mu       sync.Mutex
	username string
	denyNext bool
	codes    map[string]*admitadCode
	refresh  map[string]*admitadRefresh
	current  string // the newest refresh token issued
}

type admitadCode struct {
	clientID, redirectURI, scope string
	expires                      time.Time
	used                         bool
}

type admitadRefresh struct {
	scope string
	alive bool
}

func init() {
	vendortest.Register(vendors.Admitad, func(opts vendortest.Options) *vendortest.Server { return NewServer(opts).Server }, map[string]string{
		"client_id":         sandboxClientID,
		"client_secret":     sandboxClientSecret,
		"scope":             scope,
		"expected_username": Username,
	})
}

// Of returns the Admitad view of s, a server that NewServer or
// vendortest.New("admitad", ...) started. It panics when s is another
// vendor's server.
func Of(s *vendortest.Server) *Server {
	a, ok := s.Extension().(*Server)
	if !ok {
		panic("admitadtest: " + s.Vendor() + " is not the Admitad test server")
	}
	return a
}

// NewServer starts a fake Admitad: GET /api/authorize/ (and /authorize/)
// approves at once and redirects with a one-time code; POST /token/ trades
// codes and refresh tokens for access tokens living 7 days (or
// opts.Lifetime), rotating the refresh token every time; GET /me/ accepts
// the access tokens. The refresh tokens never expire on their own.
func NewServer(opts vendortest.Options) *Server {
	base := vendortest.NewBase(vendors.Admitad, opts, 7*24*time.Hour, admitadErrorBody)
	s := &Server{
		Server:   base,
		username: Username,
		codes:    map[string]*admitadCode{},
		refresh:  map[string]*admitadRefresh{},
	}
	base.Extend(s)
	s.SetTokenPath("/token/")
	s.HandleFunc("/api/authorize/", s.admitadAuthorize)
	s.HandleFunc("/authorize/", s.admitadAuthorize)
	s.HandleFunc("/token/", s.TokenEndpoint(s.admitadToken))
	s.HandleFunc("/me/", s.admitadMe)
	s.HandleFunc("POST /_deny", func(w http.ResponseWriter, r *http.Request) {
		s.DenyNext()
		w.WriteHeader(http.StatusNoContent)
	})
	s.HandleFunc("POST /_revoke_grant", func(w http.ResponseWriter, r *http.Request) {
		s.RevokeGrant()
		w.WriteHeader(http.StatusNoContent)
	})
	s.Start()
	return s
}

// AuthorizeURL is the URL of the authorization dialogue, for the
// callback function's AUTHORIZE_URL. (Admitad only.)
func (s *Server) AuthorizeURL() string {
	return s.URL() + "/api/authorize/"
}

// DenyNext makes the next authorization that names the right client
// redirect with error=access_denied, as when the person clicks Deny.
// (Admitad only.)
func (s *Server) DenyNext() {
	s.mu.Lock()
	s.denyNext = true
	s.mu.Unlock()
}

// SetUsername sets the username that token replies carry from now on.
// (Admitad only.)
func (s *Server) SetUsername(name string) {
	s.mu.Lock()
	s.username = name
	s.mu.Unlock()
}

// RefreshTokenValid reports whether rt would be accepted by a refresh now.
// (Admitad only.)
func (s *Server) RefreshTokenValid(rt string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.refresh[rt]
	return ok && r.alive
}

// CurrentRefreshToken is the newest refresh token issued, or "" if none
// was or it is no longer valid. (Admitad only.)
func (s *Server) CurrentRefreshToken() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.refresh[s.current]; ok && r.alive {
		return s.current
	}
	return ""
}

// IssueRefreshToken returns a valid refresh token for the sandbox client
// with the sandbox scope, as if a person had just connected the app; use it
// to seed a refresh-token secret without the browser dance. (Admitad only.)
func (s *Server) IssueRefreshToken() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.newRefreshLocked(scope)
}

// RevokeGrant kills every refresh token, as when the person disconnects the
// app: refreshes answer invalid_grant until someone authorizes again.
// Access tokens stay valid until they expire. (Admitad only.)
func (s *Server) RevokeGrant() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.refresh {
		r.alive = false
	}
}

func (s *Server) newRefreshLocked(scope string) string {
	for {
		rt := vendortest.RandomHex(15)
		if _, dup := s.refresh[rt]; !dup {
			s.refresh[rt] = &admitadRefresh{scope: scope, alive: true}
			s.current = rt
			return rt
		}
	}
}

func admitadBody(code, description string) string {
	return vendortest.JSONString(map[string]string{"error": code, "error_description": description})
}

func admitadErrorBody(status int) string {
	switch status {
	case http.StatusBadRequest:
		return admitadBody("invalid_request", "The request is missing a required parameter")
	case http.StatusUnauthorized:
		return admitadBody("invalid_client", "Client authentication failed")
	case http.StatusInternalServerError:
		return admitadBody("server_error", "Internal Server Error")
	case http.StatusServiceUnavailable:
		return admitadBody("temporarily_unavailable", "Service Unavailable")
	}
	return admitadBody(vendortest.ErrorCode(status), http.StatusText(status))
}

func admitadError(w http.ResponseWriter, status int, code, description string) {
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="admitad"`)
	}
	vendortest.WriteRaw(w, status, admitadBody(code, description))
}

func (s *Server) admitadAuthorize(w http.ResponseWriter, r *http.Request) {
	s.CountAuthorize()
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		admitadError(w, http.StatusMethodNotAllowed, "invalid_request", "method not allowed")
		return
	}
	if err := r.ParseForm(); err != nil {
		admitadError(w, http.StatusBadRequest, "invalid_request", "malformed parameters")
		return
	}
	q := r.Form
	redirect, err := url.Parse(q.Get("redirect_uri"))
	if err != nil || !redirect.IsAbs() || (redirect.Scheme != "http" && redirect.Scheme != "https") || redirect.Host == "" {
		admitadError(w, http.StatusBadRequest, "invalid_request", "redirect_uri is missing or not an absolute http(s) URL")
		return
	}
	if q.Get("response_type") != "code" {
		admitadError(w, http.StatusBadRequest, "unsupported_response_type", "response_type must be code")
		return
	}
	clientID := q.Get("client_id")
	if clientID == "" {
		admitadError(w, http.StatusBadRequest, "invalid_request", "client_id is missing")
		return
	}
	state := q.Get("state")
	back := func(params url.Values) {
		if state != "" {
			params.Set("state", state)
		}
		u := *redirect
		merged := u.Query()
		for k, v := range params {
			merged[k] = v
		}
		u.RawQuery = merged.Encode()
		http.Redirect(w, r, u.String(), http.StatusFound)
	}
	if clientID != sandboxClientID {
		back(url.Values{"error": {"invalid_client"}, "error_description": {"client_id " + clientID + " doesn't exist"}})
		return
	}
	scopes := strings.Fields(q.Get("scope"))
	if len(scopes) == 0 {
		back(url.Values{"error": {"invalid_scope"}, "error_description": {"scope is missing"}})
		return
	}
	for _, sc := range scopes {
		if !admitadScopes[sc] {
			back(url.Values{"error": {"invalid_scope"}, "error_description": {"unknown scope " + sc}})
			return
		}
	}
	s.mu.Lock()
	if s.denyNext {
		s.denyNext = false
		s.mu.Unlock()
		back(url.Values{"error": {"access_denied"}, "error_description": {"The user denied access to your application"}})
		return
	}
	var code string
	for {
		code = vendortest.RandomHex(15)
		if _, dup := s.codes[code]; !dup {
			break
		}
	}
	s.codes[code] = &admitadCode{
		clientID:    clientID,
		redirectURI: q.Get("redirect_uri"),
		scope:       strings.Join(scopes, " "),
		expires:     s.Now().Add(admitadCodeLifetime),
	}
	s.mu.Unlock()
	back(url.Values{"code": {code}})
}

// admitadTokenReply is the documented token reply.
type admitadTokenReply struct {
	Username     string `json:"username"`
	FirstName    string `json:"first_name"`
	LastName     string `json:"last_name"`
	Language     string `json:"language"`
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token,omitempty"`
	Scope        string `json:"scope"`
}

func (s *Server) admitadToken(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		admitadError(w, http.StatusMethodNotAllowed, "invalid_request", "method not allowed")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	if err := r.ParseForm(); err != nil {
		admitadError(w, http.StatusBadRequest, "invalid_request", "malformed form body")
		return
	}
	f := r.PostForm
	basicID, basicSecret, hasBasic := r.BasicAuth()
	bodyID, bodySecret := f.Get("client_id"), f.Get("client_secret")
	sandboxClient := func(id, secret string) bool {
		return vendortest.Equal(id, sandboxClientID) && vendortest.Equal(secret, sandboxClientSecret)
	}
	switch f.Get("grant_type") {
	case "":
		admitadError(w, http.StatusBadRequest, "invalid_request", "grant_type is missing")
	case "authorization_code":
		if !hasBasic || !sandboxClient(basicID, basicSecret) || bodyID != basicID || bodySecret != basicSecret {
			admitadError(w, http.StatusUnauthorized, "invalid_client", "Client authentication failed")
			return
		}
		code, redirect := f.Get("code"), f.Get("redirect_uri")
		if code == "" || redirect == "" {
			admitadError(w, http.StatusBadRequest, "invalid_request", "code and redirect_uri are required")
			return
		}
		s.mu.Lock()
		c, ok := s.codes[code]
		switch {
		case !ok || c.used || !s.Now().Before(c.expires) || c.clientID != basicID:
			s.mu.Unlock()
			admitadError(w, http.StatusBadRequest, "invalid_grant", "Invalid, expired or already used code")
			return
		case c.redirectURI != redirect:
			s.mu.Unlock()
			admitadError(w, http.StatusBadRequest, "invalid_grant", "redirect_uri does not match the authorization request")
			return
		}
		c.used = true
		reply := s.admitadIssueLocked(c.scope, true)
		s.mu.Unlock()
		vendortest.WriteToken(w, reply)
	case "refresh_token":
		if !sandboxClient(bodyID, bodySecret) || (hasBasic && (basicID != bodyID || basicSecret != bodySecret)) {
			admitadError(w, http.StatusUnauthorized, "invalid_client", "Client authentication failed")
			return
		}
		rt := f.Get("refresh_token")
		if rt == "" {
			admitadError(w, http.StatusBadRequest, "invalid_request", "refresh_token is required")
			return
		}
		s.mu.Lock()
		old, ok := s.refresh[rt]
		if !ok || !old.alive {
			s.mu.Unlock()
			admitadError(w, http.StatusBadRequest, "invalid_grant", "Invalid refresh token")
			return
		}
		old.alive = false // rotation: a refresh token works once
		reply := s.admitadIssueLocked(old.scope, true)
		s.mu.Unlock()
		vendortest.WriteToken(w, reply)
	case "client_credentials":
		id, secret := basicID, basicSecret
		if !hasBasic {
			id, secret = bodyID, bodySecret
		}
		if !sandboxClient(id, secret) {
			admitadError(w, http.StatusUnauthorized, "invalid_client", "Client authentication failed")
			return
		}
		scopes := strings.Fields(f.Get("scope"))
		for _, sc := range scopes {
			if !admitadScopes[sc] {
				admitadError(w, http.StatusBadRequest, "invalid_scope", "unknown scope "+sc)
				return
			}
		}
		if len(scopes) == 0 {
			admitadError(w, http.StatusBadRequest, "invalid_scope", "scope is missing")
			return
		}
		s.mu.Lock()
		reply := s.admitadIssueLocked(strings.Join(scopes, " "), false)
		s.mu.Unlock()
		vendortest.WriteToken(w, reply)
	default:
		admitadError(w, http.StatusBadRequest, "unsupported_grant_type", "grant_type is not supported")
	}
}

// admitadIssueLocked issues an access token (and, with refresh, a new
// refresh token); s.mu is held.
func (s *Server) admitadIssueLocked(scope string, refresh bool) admitadTokenReply {
	expires := s.Now().Add(s.Lifetime())
	var tok string
	for {
		tok = vendortest.RandomHex(15)
		if s.Record("", tok, expires) {
			break
		}
	}
	reply := admitadTokenReply{
		Username:    s.username,
		FirstName:   "Sandbox",
		LastName:    "Advertiser",
		Language:    "en",
		AccessToken: tok,
		TokenType:   "bearer",
		ExpiresIn:   s.ExpiresIn(),
		Scope:       scope,
	}
	if refresh {
		reply.RefreshToken = s.newRefreshLocked(scope)
	}
	return reply
}

func (s *Server) admitadMe(w http.ResponseWriter, r *http.Request) {
	tok, _ := vendortest.Bearer(r)
	switch s.CheckToken(tok) {
	case vendortest.TokenOK:
	case vendortest.TokenForbidden:
		admitadError(w, http.StatusForbidden, "insufficient_scope", "The token lacks the scope this resource needs")
		return
	default:
		w.Header().Set("WWW-Authenticate", `Bearer realm="admitad", error="invalid_token"`)
		vendortest.WriteRaw(w, http.StatusUnauthorized, admitadBody("invalid_token", "The access token is invalid or has expired"))
		return
	}
	s.mu.Lock()
	name := s.username
	s.mu.Unlock()
	vendortest.WriteJSON(w, http.StatusOK, map[string]any{
		"id": 1, "username": name, "first_name": "Sandbox", "last_name": "Advertiser", "language": "en",
	})
}

// IssuedRefreshTokens returns every refresh token issued so far, valid or
// not, for scanning output for leaks. (Admitad only.)
func (s *Server) IssuedRefreshTokens() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.refresh))
	for rt := range s.refresh {
		out = append(out, rt)
	}
	return out
}
