// Package merchentatest runs a test server that speaks Merchenta's RTB
// API token protocol, as documented: GET
// /v3/oauth/accessToken?username=&password=&advertiser= answers
// {"status":"success","data":{"accessToken":T}} where T is JWT-shaped with
// ISO-8601 times without a zone and a 64-hex-digit signature, one hour
// apart. Wrong username or password: 401 AUTH001; an advertiser the user
// may not act for: 403 AUTH003. Any other GET under /v3/ checks the Bearer
// token (401 AUTH001). Everything else (faults, accounts, the control
// endpoints) is package vendortest's.
//
// Importing the package registers the server with vendortest.Register
// under "merchenta", with the sandbox credentials it accepts (public test
// values). Nothing here is built into a Lambda function.
package merchentatest

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"time"

	"github.com/token-refresher/token-refresher/shared/vendors"
	"github.com/token-refresher/token-refresher/shared/vendortest"
)

// TimeLayout is the layout of the exp and iat fields of a
// Merchenta token: ISO 8601 in UTC with milliseconds and no zone.
const TimeLayout = "2006-01-02T15:04:05.000"

// Sandbox values the server accepts: public test values, not secrets.
const (
	Username = "test@merchenta.com"
	password = "sandbox-merchenta-password"
	// Advertiser is the advertiser code the sandbox user may act for; any
	// other code is answered 403 AUTH003.
	Advertiser = "MERCHENTA"
)

func init() {
	vendortest.Register(vendors.Merchenta, NewServer, map[string]string{"username": Username, "password": password, "advertiser": Advertiser})
}

// NewServer starts a fake Merchenta RTB API: GET /v3/oauth/accessToken
// issues JWT-shaped tokens living one hour (or opts.Lifetime); any other
// GET under /v3/ accepts them as a Bearer token.
func NewServer(opts vendortest.Options) *vendortest.Server {
	s := vendortest.NewBase(vendors.Merchenta, opts, time.Hour, merchentaErrorBody)
	s.SetTokenPath("/v3/oauth/accessToken")
	s.HandleFunc("/v3/oauth/accessToken", s.TokenEndpoint(func(w http.ResponseWriter, r *http.Request) { merchentaToken(s, w, r) }))
	s.HandleFunc("/v3/", func(w http.ResponseWriter, r *http.Request) { merchentaAPI(s, w, r) })
	return s.Start()
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
		return vendortest.JSONString(merchentaAUTH001)
	case http.StatusForbidden:
		return vendortest.JSONString(merchentaAUTH003)
	}
	return vendortest.JSONString(merchentaError{Status: "error", Message: http.StatusText(status)})
}

func merchentaToken(s *vendortest.Server, w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		vendortest.WriteJSON(w, http.StatusMethodNotAllowed, merchentaError{Status: "error", Message: "Method Not Allowed"})
		return
	}
	q := r.URL.Query()
	user, adv := q.Get("username"), q.Get("advertiser")
	if _, ok := s.Account(map[string]string{"username": user, "password": q.Get("password")}); !ok {
		vendortest.WriteJSON(w, http.StatusUnauthorized, merchentaAUTH001)
		return
	}
	acct, ok := s.Account(map[string]string{"username": user, "password": q.Get("password"), "advertiser": adv})
	if !ok {
		vendortest.WriteJSON(w, http.StatusForbidden, merchentaAUTH003)
		return
	}
	now := s.Now().UTC()
	expires := now.Add(s.Lifetime())
	// Field order as in the documented example; the times are strings.
	payload, err := json.Marshal(struct {
		Adv string `json:"adv"`
		Exp string `json:"exp"`
		Rlm string `json:"rlm"`
		Usr string `json:"usr"`
		Iat string `json:"iat"`
	}{adv, expires.Format(TimeLayout), "ADMIN", user, now.Format(TimeLayout)})
	if err != nil {
		panic("vendortest: encode merchenta payload: " + err.Error())
	}
	enc := base64.RawURLEncoding
	head := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + enc.EncodeToString(payload) + "."
	var tok string
	for {
		// The signature is 64 hex digits; random ones keep tokens issued
		// in the same millisecond distinct.
		tok = head + vendortest.RandomHex(32)
		if s.Record(acct, tok, expires) {
			break
		}
	}
	w.Header().Set("Cache-Control", "no-store")
	vendortest.WriteJSON(w, http.StatusOK, map[string]any{
		"status": "success",
		"data":   map[string]string{"accessToken": tok},
	})
}

func merchentaAPI(s *vendortest.Server, w http.ResponseWriter, r *http.Request) {
	tok, _ := vendortest.Bearer(r)
	switch s.CheckToken(tok) {
	case vendortest.TokenOK:
	case vendortest.TokenForbidden:
		vendortest.WriteJSON(w, http.StatusForbidden, merchentaAUTH003)
		return
	default:
		vendortest.WriteJSON(w, http.StatusUnauthorized, merchentaAUTH001)
		return
	}
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		vendortest.WriteJSON(w, http.StatusMethodNotAllowed, merchentaError{Status: "error", Message: "Method Not Allowed"})
		return
	}
	vendortest.WriteJSON(w, http.StatusOK, map[string]any{"status": "success", "data": []any{}})
}
