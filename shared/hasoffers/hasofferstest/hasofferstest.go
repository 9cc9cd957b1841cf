// Package hasofferstest runs a test server that speaks the HasOffers /
// TUNE Integrator API's token protocol, as documented:
//
//	POST /authorize {"client_id", "client_secret", "audience"}
//	→ {"access_token": "<JWT with numeric iat/exp>", "token_type": "Bearer", "expires_in": 86400}
//
// Wrong credentials or audience: 401; a body that is not JSON: 400. GET
// /Apiv3/json with a Bearer token and IntegratorId answers a
// Network-API-shaped reply (400 without IntegratorId, 401 for a bad token,
// 404 for an unknown integrator). The documentation lists error messages,
// not the shape of the body; the server sends {"error": <code>, "message":
// <documented message>}. Everything else (faults, accounts, the control
// endpoints) is package vendortest's.
//
// Importing the package registers the server with vendortest.Register
// under "hasoffers", with the sandbox credentials it accepts (public test
// values). Nothing here is built into a Lambda function.
package hasofferstest

import (
	"encoding/json"
	"io"
	"net/http"
	"time"

	"github.com/token-refresher/token-refresher/shared/vendors"
	"github.com/token-refresher/token-refresher/shared/vendortest"
)

// Sandbox values the server accepts: public test values, not secrets.
const (
	ClientID     = "sandbox-hasoffers-client"
	ClientSecret = "sandbox-hasoffers-secret-5f1c2b7e"
	// Audience is the audience HasOffers documents.
	Audience = "BrandAPI"
	// IntegratorID is the integrator the server knows.
	IntegratorID = "sandbox-integrator"
)

func init() {
	vendortest.Register(vendors.HasOffers, NewServer, map[string]string{
		"client_id":     ClientID,
		"client_secret": ClientSecret,
		"audience":      Audience,
		"integrator_id": IntegratorID,
	})
}

// NewServer starts a fake HasOffers / TUNE Integrator API: POST
// /authorize issues JWTs living 24 hours (or opts.Lifetime), GET
// /Apiv3/json accepts them.
func NewServer(opts vendortest.Options) *vendortest.Server {
	s := vendortest.NewBase(vendors.HasOffers, opts, 24*time.Hour, hasOffersErrorBody)
	s.SetTokenPath("/authorize")
	s.HandleFunc("/authorize", s.TokenEndpoint(func(w http.ResponseWriter, r *http.Request) { hasOffersAuthorize(s, w, r) }))
	s.HandleFunc("/Apiv3/json", func(w http.ResponseWriter, r *http.Request) { hasOffersAPI(s, w, r) })
	return s.Start()
}

// hasOffersMessages is the documented error table of the Integrator API.
var hasOffersMessages = map[int]string{
	400: "missing integratorId parameter",
	401: "JWT is not valid or missing",
	403: "Invalid origin: http://127.0.0.1",
	404: "sandbox does not exist within our system. Please contact an administrator",
	405: "Invalid HTTP Method: TRACE",
	414: "URL exceeds allowed length. Please shorten query and try again.",
	429: "Exceeded concurrent rate limit: 11 / 10",
	500: "Error encountered while validating origin",
	502: "Internal Server Error",
}

const hasOffersForbiddenMessage = "Insufficient permissions for this request. Please verify your JWT and try again later"

func hasOffersBody(status int, message string) string {
	return vendortest.JSONString(map[string]string{"error": vendortest.ErrorCode(status), "message": message})
}

func hasOffersErrorBody(status int) string {
	m, ok := hasOffersMessages[status]
	if !ok {
		m = http.StatusText(status)
	}
	return hasOffersBody(status, m)
}

func hasOffersError(w http.ResponseWriter, status int, message string) {
	vendortest.WriteRaw(w, status, hasOffersBody(status, message))
}

func hasOffersAuthorize(s *vendortest.Server, w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		hasOffersError(w, http.StatusMethodNotAllowed, "Invalid HTTP Method: "+r.Method)
		return
	}
	var req struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
		Audience     string `json:"audience"`
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil || json.Unmarshal(body, &req) != nil {
		hasOffersError(w, http.StatusBadRequest, "request body is not a JSON object with client_id, client_secret and audience")
		return
	}
	acct, ok := s.Account(map[string]string{"client_id": req.ClientID, "client_secret": req.ClientSecret})
	if !ok {
		hasOffersError(w, http.StatusUnauthorized, hasOffersMessages[401])
		return
	}
	if req.Audience != Audience {
		hasOffersError(w, http.StatusUnauthorized, hasOffersForbiddenMessage)
		return
	}
	now := s.Now()
	expires := now.Add(s.Lifetime())
	tok := s.IssueJWT(acct, map[string]any{
		"iss": s.URL() + "/",
		"sub": req.ClientID + "@clients",
		"aud": req.Audience,
		"iat": now.Unix(),
		"exp": expires.Unix(),
		"gty": "client-credentials",
	}, expires)
	vendortest.WriteToken(w, map[string]any{
		"access_token": tok,
		"token_type":   "Bearer",
		"expires_in":   s.ExpiresIn(),
	})
}

func hasOffersAPI(s *vendortest.Server, w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		hasOffersError(w, http.StatusMethodNotAllowed, "Invalid HTTP Method: "+r.Method)
		return
	}
	q := r.URL.Query()
	integrator := q.Get("IntegratorId")
	if integrator == "" {
		hasOffersError(w, http.StatusBadRequest, hasOffersMessages[400])
		return
	}
	tok, ok := vendortest.Bearer(r)
	if !ok {
		hasOffersError(w, http.StatusUnauthorized, hasOffersMessages[401])
		return
	}
	switch s.CheckToken(tok) {
	case vendortest.TokenOK:
	case vendortest.TokenForbidden:
		hasOffersError(w, http.StatusUnauthorized, hasOffersForbiddenMessage)
		return
	default:
		hasOffersError(w, http.StatusUnauthorized, hasOffersMessages[401])
		return
	}
	if integrator != IntegratorID {
		hasOffersError(w, http.StatusNotFound, integrator+" does not exist within our system. Please contact an administrator")
		return
	}
	vendortest.WriteJSON(w, http.StatusOK, map[string]any{
		"request": map[string]string{
			"NetworkId": q.Get("NetworkId"),
			"Target":    q.Get("Target"),
			"Method":    q.Get("Method"),
		},
		"response": map[string]any{
			"status":       1,
			"httpStatus":   200,
			"data":         map[string]any{},
			"errors":       []any{},
			"errorMessage": nil,
		},
	})
}
