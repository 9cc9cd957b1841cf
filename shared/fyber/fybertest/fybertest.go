// Package fybertest runs a test server that speaks the token protocol of
// Digital Turbine's (Fyber's) Offer Wall Reporting API, as documented:
//
//	POST /auth/v1/token {"grant_type": "client_credentials", "client_id", "client_secret"}
//	→ {"accessToken": "<JWT with numeric iat/exp>", "tokenType": "bearer", "expiresIn": 3600}
//
// Errors are 400 {"error":"unsupported_grant_type"|"invalid_request"|
// "invalid_client"} and 500 {"error":"internal_server_error"}. POST
// /api/v1/report checks a Bearer token. Everything else (faults, accounts,
// the control endpoints) is package vendortest's.
//
// Importing the package registers the server with vendortest.Register
// under "fyber", with the sandbox credentials it accepts (public test
// values). Nothing here is built into a Lambda function.
package fybertest

import (
	"encoding/json"
	"io"
	"net/http"
	"time"

	"github.com/token-refresher/token-refresher/shared/vendors"
	"github.com/token-refresher/token-refresher/shared/vendortest"
)

// Sandbox credentials: public test values, not secrets.
const (
	ClientID     = "3ce66d885aa0b1c2d3e4fa3b752bb9058"
	ClientSecret = "sandbox-fyber-secret-YtMvC7VYTQMQ7w9UCUaF"
)

func init() {
	vendortest.Register(vendors.Fyber, NewServer, map[string]string{"client_id": ClientID, "client_secret": ClientSecret})
}

// NewServer starts a fake Fyber / Digital Turbine Offer Wall Reporting API:
// POST /auth/v1/token issues JWTs living one hour (or opts.Lifetime), POST
// /api/v1/report accepts them.
func NewServer(opts vendortest.Options) *vendortest.Server {
	s := vendortest.NewBase(vendors.Fyber, opts, time.Hour, fyberErrorBody)
	s.SetTokenPath("/auth/v1/token")
	s.HandleFunc("/auth/v1/token", s.TokenEndpoint(func(w http.ResponseWriter, r *http.Request) { fyberToken(s, w, r) }))
	s.HandleFunc("/api/v1/report", func(w http.ResponseWriter, r *http.Request) { fyberReport(s, w, r) })
	return s.Start()
}

func fyberBody(code string) string { return vendortest.JSONString(map[string]string{"error": code}) }

// fyberErrorBody is the documented body for a status: 400 invalid_request,
// 500 internal_server_error; other statuses get the same shape.
func fyberErrorBody(status int) string {
	switch status {
	case http.StatusBadRequest:
		return fyberBody("invalid_request")
	case http.StatusInternalServerError:
		return fyberBody("internal_server_error")
	}
	return fyberBody(vendortest.ErrorCode(status))
}

func fyberError(w http.ResponseWriter, status int, code string) {
	vendortest.WriteRaw(w, status, fyberBody(code))
}

func fyberToken(s *vendortest.Server, w http.ResponseWriter, r *http.Request) {
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
	acct, ok := s.Account(map[string]string{"client_id": id, "client_secret": secret})
	if !ok {
		fyberError(w, http.StatusBadRequest, "invalid_client")
		return
	}
	now := s.Now()
	expires := now.Add(s.Lifetime())
	tok := s.IssueJWT(acct, map[string]any{
		"iat": now.Unix(),
		"exp": expires.Unix(),
		"aud": "speedball",
		"sub": "210263",
	}, expires)
	vendortest.WriteToken(w, map[string]any{
		"accessToken": tok,
		"tokenType":   "bearer",
		"expiresIn":   s.ExpiresIn(),
	})
}

func fyberReport(s *vendortest.Server, w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		fyberError(w, http.StatusMethodNotAllowed, "method_not_allowed")
		return
	}
	tok, _ := vendortest.Bearer(r)
	switch s.CheckToken(tok) {
	case vendortest.TokenOK:
	case vendortest.TokenForbidden:
		fyberError(w, http.StatusForbidden, "forbidden")
		return
	default:
		fyberError(w, http.StatusUnauthorized, "unauthorized")
		return
	}
	w.Header().Set("Content-Type", "text/csv")
	w.Write([]byte("date,app_id,offer_id,conversions,payout\n"))
}
