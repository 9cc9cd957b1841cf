package vendortest

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"time"

	"github.com/token-refresher/token-refresher/shared/vendors"
)

// MerchentaTimeLayout is the layout of the exp and iat fields of a
// Merchenta token: ISO 8601 in UTC with milliseconds and no zone.
const MerchentaTimeLayout = "2006-01-02T15:04:05.000"

func init() {
	Register(vendors.Merchenta, NewMerchenta, map[string]string{"username": merchentaUsername, "password": merchentaPassword, "advertiser": MerchentaAdvertiser})
}

// NewMerchenta starts a fake Merchenta RTB API: GET /v3/oauth/accessToken
// issues JWT-shaped tokens living one hour (or opts.Lifetime); any other
// GET under /v3/ accepts them as a Bearer token.
func NewMerchenta(opts Options) *Server {
	s := newServer(vendors.Merchenta, opts, time.Hour, merchentaErrorBody)
	s.tokenPath = "/v3/oauth/accessToken"
	s.mux.HandleFunc("/v3/oauth/accessToken", s.tokenEndpoint(s.merchentaToken))
	s.mux.HandleFunc("/v3/", s.merchentaAPI)
	return s.start(opts)
}

type merchentaError struct {
	Status  string `json:"status"`
	Message string `json:"message"`
	Code    string `json:"code,omitempty"`
}

var (
	merchentaAUTH001 = merchentaError{"error", "Authentication required - pass access token using 'Authorization' header", "AUTH001"}
	merchentaAUTH003 = merchentaError{"error", "Authorization failed", "AUTH003"}
)

// merchentaErrorBody: the documented bodies for 401 and 403; other
// statuses get the same shape without a code.
func merchentaErrorBody(status int) string {
	switch status {
	case http.StatusUnauthorized:
		return jsonString(merchentaAUTH001)
	case http.StatusForbidden:
		return jsonString(merchentaAUTH003)
	}
	return jsonString(merchentaError{Status: "error", Message: http.StatusText(status)})
}

func (s *Server) merchentaToken(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		writeJSON(w, http.StatusMethodNotAllowed, merchentaError{Status: "error", Message: "Method Not Allowed"})
		return
	}
	q := r.URL.Query()
	user, adv := q.Get("username"), q.Get("advertiser")
	if _, ok := s.account(map[string]string{"username": user, "password": q.Get("password")}); !ok {
		writeJSON(w, http.StatusUnauthorized, merchentaAUTH001)
		return
	}
	acct, ok := s.account(map[string]string{"username": user, "password": q.Get("password"), "advertiser": adv})
	if !ok {
		writeJSON(w, http.StatusForbidden, merchentaAUTH003)
		return
	}
	now := s.now().UTC()
	expires := now.Add(s.lifetime)
	// Field order as in the documented example; the times are strings.
	payload, err := json.Marshal(struct {
		Adv string `json:"adv"`
		Exp string `json:"exp"`
		Rlm string `json:"rlm"`
		Usr string `json:"usr"`
		Iat string `json:"iat"`
	}{adv, expires.Format(MerchentaTimeLayout), "ADMIN", user, now.Format(MerchentaTimeLayout)})
	if err != nil {
		panic("vendortest: encode merchenta payload: " + err.Error())
	}
	enc := base64.RawURLEncoding
	head := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + enc.EncodeToString(payload) + "."
	var tok string
	for {
		// The signature is 64 hex digits; random ones keep tokens issued
		// in the same millisecond distinct.
		tok = head + randomHex(32)
		if s.recordFor(acct, tok, expires) {
			break
		}
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]any{
		"status": "success",
		"data":   map[string]string{"accessToken": tok},
	})
}

func (s *Server) merchentaAPI(w http.ResponseWriter, r *http.Request) {
	tok, _ := bearer(r)
	switch s.check(tok) {
	case tokenOK:
	case tokenForbidden:
		writeJSON(w, http.StatusForbidden, merchentaAUTH003)
		return
	default:
		writeJSON(w, http.StatusUnauthorized, merchentaAUTH001)
		return
	}
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		writeJSON(w, http.StatusMethodNotAllowed, merchentaError{Status: "error", Message: "Method Not Allowed"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "success", "data": []any{}})
}
