package vendortest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"time"

	"github.com/token-refresher/token-refresher/shared/vendors"
)

func init() {
	Register(vendors.HasOffers, NewHasOffers, map[string]string{
		"client_id":     hasOffersClientID,
		"client_secret": hasOffersClientSecret,
		"audience":      HasOffersAudience,
		"integrator_id": HasOffersIntegratorID,
	})
}

// NewHasOffers starts a fake HasOffers / TUNE Integrator API: POST
// /authorize issues JWTs living 24 hours (or opts.Lifetime), GET
// /Apiv3/json accepts them.
func NewHasOffers(opts Options) *Server {
	s := newServer(vendors.HasOffers, opts, 24*time.Hour, hasOffersErrorBody)
	s.tokenPath = "/authorize"
	s.mux.HandleFunc("/authorize", s.tokenEndpoint(s.hasOffersAuthorize))
	s.mux.HandleFunc("/Apiv3/json", s.hasOffersAPI)
	return s.start(opts)
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
	return jsonString(map[string]string{"error": snake(status), "message": message})
}

func hasOffersErrorBody(status int) string {
	m, ok := hasOffersMessages[status]
	if !ok {
		m = http.StatusText(status)
	}
	return hasOffersBody(status, m)
}

func hasOffersError(w http.ResponseWriter, status int, message string) {
	writeRaw(w, status, hasOffersBody(status, message))
}

func (s *Server) hasOffersAuthorize(w http.ResponseWriter, r *http.Request) {
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
	acct, ok := s.account(map[string]string{"client_id": req.ClientID, "client_secret": req.ClientSecret})
	if !ok {
		hasOffersError(w, http.StatusUnauthorized, hasOffersMessages[401])
		return
	}
	if req.Audience != HasOffersAudience {
		hasOffersError(w, http.StatusUnauthorized, hasOffersForbiddenMessage)
		return
	}
	now := s.now()
	expires := now.Add(s.lifetime)
	var tok string
	for {
		tok = s.jwt(map[string]any{
			"iss": s.URL() + "/",
			"sub": req.ClientID + "@clients",
			"aud": req.Audience,
			"iat": now.Unix(),
			"exp": expires.Unix(),
			"gty": "client-credentials",
			"jti": randomHex(16),
		})
		if s.recordFor(acct, tok, expires) {
			break
		}
	}
	writeToken(w, map[string]any{
		"access_token": tok,
		"token_type":   "Bearer",
		"expires_in":   s.expiresIn(),
	})
}

func (s *Server) hasOffersAPI(w http.ResponseWriter, r *http.Request) {
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
	tok, ok := bearer(r)
	if !ok {
		hasOffersError(w, http.StatusUnauthorized, hasOffersMessages[401])
		return
	}
	switch s.check(tok) {
	case tokenOK:
	case tokenForbidden:
		hasOffersError(w, http.StatusUnauthorized, hasOffersForbiddenMessage)
		return
	default:
		hasOffersError(w, http.StatusUnauthorized, hasOffersMessages[401])
		return
	}
	if integrator != HasOffersIntegratorID {
		hasOffersError(w, http.StatusNotFound, integrator+" does not exist within our system. Please contact an administrator")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
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

// jwt signs claims as an HS256 JSON Web Token with the server's key.
func (s *Server) jwt(claims map[string]any) string {
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
