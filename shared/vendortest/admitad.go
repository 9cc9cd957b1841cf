package vendortest

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/token-refresher/token-refresher/shared/vendors"
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

type admitadState struct {
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
	Register(vendors.Admitad, NewAdmitad, map[string]string{
		"client_id":         admitadClientID,
		"client_secret":     admitadClientSecret,
		"scope":             admitadScope,
		"expected_username": AdmitadUsername,
	})
}

// NewAdmitad starts a fake Admitad: GET /api/authorize/ (and /authorize/)
// approves at once and redirects with a one-time code; POST /token/ trades
// codes and refresh tokens for access tokens living 7 days (or
// opts.Lifetime), rotating the refresh token every time; GET /me/ accepts
// the access tokens. The refresh tokens never expire on their own.
func NewAdmitad(opts Options) *Server {
	s := newServer(vendors.Admitad, opts, 7*24*time.Hour, admitadErrorBody)
	s.adm = &admitadState{
		username: AdmitadUsername,
		codes:    map[string]*admitadCode{},
		refresh:  map[string]*admitadRefresh{},
	}
	s.tokenPath = "/token/"
	s.mux.HandleFunc("/api/authorize/", s.admitadAuthorize)
	s.mux.HandleFunc("/authorize/", s.admitadAuthorize)
	s.mux.HandleFunc("/token/", s.tokenEndpoint(s.admitadToken))
	s.mux.HandleFunc("/me/", s.admitadMe)
	s.mux.HandleFunc("POST /_deny", func(w http.ResponseWriter, r *http.Request) {
		s.DenyNext()
		w.WriteHeader(http.StatusNoContent)
	})
	s.mux.HandleFunc("POST /_revoke_grant", func(w http.ResponseWriter, r *http.Request) {
		s.RevokeGrant()
		w.WriteHeader(http.StatusNoContent)
	})
	return s.start(opts)
}

func (s *Server) mustAdmitad(method string) *admitadState {
	if s.adm == nil {
		panic("vendortest: " + method + ": " + s.vendor + " is not the Admitad server")
	}
	return s.adm
}

// AuthorizeURL is the URL of the authorization dialogue, for the
// callback function's AUTHORIZE_URL. (Admitad only.)
func (s *Server) AuthorizeURL() string {
	s.mustAdmitad("AuthorizeURL")
	return s.URL() + "/api/authorize/"
}

// DenyNext makes the next authorization that names the right client
// redirect with error=access_denied, as when the person clicks Deny.
// (Admitad only.)
func (s *Server) DenyNext() {
	a := s.mustAdmitad("DenyNext")
	s.mu.Lock()
	a.denyNext = true
	s.mu.Unlock()
}

// SetUsername sets the username that token replies carry from now on.
// (Admitad only.)
func (s *Server) SetUsername(name string) {
	a := s.mustAdmitad("SetUsername")
	s.mu.Lock()
	a.username = name
	s.mu.Unlock()
}

// RefreshTokenValid reports whether rt would be accepted by a refresh now.
// (Admitad only.)
func (s *Server) RefreshTokenValid(rt string) bool {
	a := s.mustAdmitad("RefreshTokenValid")
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := a.refresh[rt]
	return ok && r.alive
}

// CurrentRefreshToken is the newest refresh token issued, or "" if none
// was or it is no longer valid. (Admitad only.)
func (s *Server) CurrentRefreshToken() string {
	a := s.mustAdmitad("CurrentRefreshToken")
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := a.refresh[a.current]; ok && r.alive {
		return a.current
	}
	return ""
}

// IssueRefreshToken returns a valid refresh token for the sandbox client
// with the sandbox scope, as if a person had just connected the app; use it
// to seed a refresh-token secret without the browser dance. (Admitad only.)
func (s *Server) IssueRefreshToken() string {
	a := s.mustAdmitad("IssueRefreshToken")
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.newRefreshLocked(a, admitadScope)
}

// RevokeGrant kills every refresh token, as when the person disconnects the
// app: refreshes answer invalid_grant until someone authorizes again.
// Access tokens stay valid until they expire. (Admitad only.)
func (s *Server) RevokeGrant() {
	a := s.mustAdmitad("RevokeGrant")
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range a.refresh {
		r.alive = false
	}
}

func (s *Server) newRefreshLocked(a *admitadState, scope string) string {
	for {
		rt := randomHex(15)
		if _, dup := a.refresh[rt]; !dup {
			a.refresh[rt] = &admitadRefresh{scope: scope, alive: true}
			a.current = rt
			return rt
		}
	}
}

func admitadBody(code, description string) string {
	return jsonString(map[string]string{"error": code, "error_description": description})
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
	return admitadBody(snake(status), http.StatusText(status))
}

func admitadError(w http.ResponseWriter, status int, code, description string) {
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="admitad"`)
	}
	writeRaw(w, status, admitadBody(code, description))
}

func (s *Server) admitadAuthorize(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.authorizes++
	s.mu.Unlock()
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
	if clientID != admitadClientID {
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
	a := s.adm
	s.mu.Lock()
	if a.denyNext {
		a.denyNext = false
		s.mu.Unlock()
		back(url.Values{"error": {"access_denied"}, "error_description": {"The user denied access to your application"}})
		return
	}
	var code string
	for {
		code = randomHex(15)
		if _, dup := a.codes[code]; !dup {
			break
		}
	}
	a.codes[code] = &admitadCode{
		clientID:    clientID,
		redirectURI: q.Get("redirect_uri"),
		scope:       strings.Join(scopes, " "),
		expires:     s.now().Add(admitadCodeLifetime),
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
		return equal(id, admitadClientID) && equal(secret, admitadClientSecret)
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
		c, ok := s.adm.codes[code]
		switch {
		case !ok || c.used || !s.now().Before(c.expires) || c.clientID != basicID:
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
		writeToken(w, reply)
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
		old, ok := s.adm.refresh[rt]
		if !ok || !old.alive {
			s.mu.Unlock()
			admitadError(w, http.StatusBadRequest, "invalid_grant", "Invalid refresh token")
			return
		}
		old.alive = false // rotation: a refresh token works once
		reply := s.admitadIssueLocked(old.scope, true)
		s.mu.Unlock()
		writeToken(w, reply)
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
		writeToken(w, reply)
	default:
		admitadError(w, http.StatusBadRequest, "unsupported_grant_type", "grant_type is not supported")
	}
}

// admitadIssueLocked issues an access token (and, with refresh, a new
// refresh token); s.mu is held.
func (s *Server) admitadIssueLocked(scope string, refresh bool) admitadTokenReply {
	expires := s.now().Add(s.lifetime)
	var tok string
	for {
		tok = randomHex(15)
		if _, dup := s.tokens[tok]; !dup {
			break
		}
	}
	s.tokens[tok] = &accessToken{expires: expires}
	s.issued = append(s.issued, tok)
	reply := admitadTokenReply{
		Username:    s.adm.username,
		FirstName:   "Sandbox",
		LastName:    "Advertiser",
		Language:    "en",
		AccessToken: tok,
		TokenType:   "bearer",
		ExpiresIn:   s.expiresIn(),
		Scope:       scope,
	}
	if refresh {
		reply.RefreshToken = s.newRefreshLocked(s.adm, scope)
	}
	return reply
}

func (s *Server) admitadMe(w http.ResponseWriter, r *http.Request) {
	tok, _ := bearer(r)
	switch s.check(tok) {
	case tokenOK:
	case tokenForbidden:
		admitadError(w, http.StatusForbidden, "insufficient_scope", "The token lacks the scope this resource needs")
		return
	default:
		w.Header().Set("WWW-Authenticate", `Bearer realm="admitad", error="invalid_token"`)
		writeRaw(w, http.StatusUnauthorized, admitadBody("invalid_token", "The access token is invalid or has expired"))
		return
	}
	s.mu.Lock()
	name := s.adm.username
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"id": 1, "username": name, "first_name": "Sandbox", "last_name": "Advertiser", "language": "en",
	})
}

// IssuedRefreshTokens returns every refresh token issued so far, valid or
// not, for scanning output for leaks. (Admitad only.)
func (s *Server) IssuedRefreshTokens() []string {
	a := s.mustAdmitad("IssuedRefreshTokens")
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(a.refresh))
	for rt := range a.refresh {
		out = append(out, rt)
	}
	return out
}
