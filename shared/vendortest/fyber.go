package vendortest

import (
	"encoding/json"
	"io"
	"net/http"
	"time"

	"github.com/token-refresher/token-refresher/shared/vendors"
)

func init() {
	Register(vendors.Fyber, NewFyber, map[string]string{"client_id": fyberClientID, "client_secret": fyberClientSecret})
}

// NewFyber starts a fake Fyber / Digital Turbine Offer Wall Reporting API:
// POST /auth/v1/token issues JWTs living one hour (or opts.Lifetime), POST
// /api/v1/report accepts them.
func NewFyber(opts Options) *Server {
	s := newServer(vendors.Fyber, opts, time.Hour, fyberErrorBody)
	s.tokenPath = "/auth/v1/token"
	s.mux.HandleFunc("/auth/v1/token", s.tokenEndpoint(s.fyberToken))
	s.mux.HandleFunc("/api/v1/report", s.fyberReport)
	return s.start(opts)
}

func fyberBody(code string) string { return jsonString(map[string]string{"error": code}) }

// fyberErrorBody is the documented body for a status: 400 invalid_request,
// 500 internal_server_error; other statuses get the same shape.
func fyberErrorBody(status int) string {
	switch status {
	case http.StatusBadRequest:
		return fyberBody("invalid_request")
	case http.StatusInternalServerError:
		return fyberBody("internal_server_error")
	}
	return fyberBody(snake(status))
}

func fyberError(w http.ResponseWriter, status int, code string) {
	writeRaw(w, status, fyberBody(code))
}

func (s *Server) fyberToken(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		fyberError(w, http.StatusMethodNotAllowed, "method_not_allowed")
		return
	}
	var req map[string]json.RawMessage
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil || json.Unmarshal(body, &req) != nil || req == nil {
		fyberError(w, http.StatusBadRequest, "invalid_request")
		return
	}
	field := func(name string) (string, bool) {
		var v string
		raw, ok := req[name]
		if !ok || json.Unmarshal(raw, &v) != nil || v == "" {
			return "", false
		}
		return v, true
	}
	grant, ok := field("grant_type")
	if !ok {
		fyberError(w, http.StatusBadRequest, "invalid_request")
		return
	}
	if grant != "client_credentials" {
		fyberError(w, http.StatusBadRequest, "unsupported_grant_type")
		return
	}
	id, okID := field("client_id")
	secret, okSecret := field("client_secret")
	if !okID || !okSecret {
		fyberError(w, http.StatusBadRequest, "invalid_request")
		return
	}
	acct, ok := s.account(map[string]string{"client_id": id, "client_secret": secret})
	if !ok {
		fyberError(w, http.StatusBadRequest, "invalid_client")
		return
	}
	now := s.now()
	expires := now.Add(s.lifetime)
	var tok string
	for {
		tok = s.jwt(map[string]any{
			"iat": now.Unix(),
			"exp": expires.Unix(),
			"aud": "speedball",
			"sub": "210263",
			"jti": randomHex(16),
		})
		if s.recordFor(acct, tok, expires) {
			break
		}
	}
	writeToken(w, map[string]any{
		"accessToken": tok,
		"tokenType":   "bearer",
		"expiresIn":   s.expiresIn(),
	})
}

func (s *Server) fyberReport(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		fyberError(w, http.StatusMethodNotAllowed, "method_not_allowed")
		return
	}
	tok, _ := bearer(r)
	switch s.check(tok) {
	case tokenOK:
	case tokenForbidden:
		fyberError(w, http.StatusForbidden, "forbidden")
		return
	default:
		fyberError(w, http.StatusUnauthorized, "unauthorized")
		return
	}
	w.Header().Set("Content-Type", "text/csv")
	w.Write([]byte("date,app_id,offer_id,conversions,payout\n"))
}
