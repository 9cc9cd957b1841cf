//go:build !lambda.norpc

// The test server is left out of the Lambda function, which is built with
// -tags lambda.norpc: make dev, make bench and the tests find it through
// vendortest.New.

package zenith

import (
	"net/http"
	"time"

	"github.com/token-refresher/token-refresher/shared/vendortest"
)

func init() {
	vendortest.Register(Name, NewServer, map[string]string{
		"client_id":     "sandbox-zenith-client",
		"client_secret": "sandbox-zenith-secret-9d2f4c1a",
	})
}

// NewServer starts a test server speaking Zenith's token protocol: POST
// /oauth2/token issues opaque tokens living one hour (or opts.Lifetime),
// GET /v1/reports accepts them as a Bearer token.
func NewServer(opts vendortest.Options) *vendortest.Server {
	s := vendortest.NewBase(Name, opts, time.Hour, errorBody)
	s.SetTokenPath("/oauth2/token")
	s.HandleFunc("/oauth2/token", s.TokenEndpoint(func(w http.ResponseWriter, r *http.Request) { token(s, w, r) }))
	s.HandleFunc("/v1/reports", func(w http.ResponseWriter, r *http.Request) { reports(s, w, r) })
	return s.Start()
}

// errorBody is the documented error body for a status.
func errorBody(status int) string {
	code := vendortest.ErrorCode(status)
	switch status {
	case http.StatusBadRequest:
		code = "invalid_request"
	case http.StatusUnauthorized:
		code = "invalid_client"
	}
	return vendortest.JSONString(map[string]string{"error": code})
}

func fail(w http.ResponseWriter, status int, code string) {
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="zenith"`)
	}
	vendortest.WriteRaw(w, status, vendortest.JSONString(map[string]string{"error": code}))
}

func token(s *vendortest.Server, w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		fail(w, http.StatusMethodNotAllowed, "method_not_allowed")
		return
	}
	if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") == "" {
		fail(w, http.StatusBadRequest, "invalid_request")
		return
	}
	if r.PostForm.Get("grant_type") != "client_credentials" {
		fail(w, http.StatusBadRequest, "unsupported_grant_type")
		return
	}
	id, secret, ok := r.BasicAuth()
	if !ok {
		fail(w, http.StatusUnauthorized, "invalid_client")
		return
	}
	acct, ok := s.Account(map[string]string{"client_id": id, "client_secret": secret})
	if !ok {
		fail(w, http.StatusUnauthorized, "invalid_client")
		return
	}
	expires := s.Now().Add(s.Lifetime())
	tok := vendortest.RandomHex(24)
	for !s.Record(acct, tok, expires) {
		tok = vendortest.RandomHex(24)
	}
	vendortest.WriteToken(w, map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": s.ExpiresIn()})
}

func reports(s *vendortest.Server, w http.ResponseWriter, r *http.Request) {
	tok, _ := vendortest.Bearer(r)
	switch s.CheckToken(tok) {
	case vendortest.TokenOK:
		vendortest.WriteJSON(w, http.StatusOK, map[string]any{"rows": []any{}})
	case vendortest.TokenForbidden:
		fail(w, http.StatusForbidden, "insufficient_scope")
	default:
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		vendortest.WriteRaw(w, http.StatusUnauthorized, `{"error":"invalid_token"}`)
	}
}
