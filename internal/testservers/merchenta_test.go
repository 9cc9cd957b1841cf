package testservers

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/token-refresher/token-refresher/shared/merchenta/merchentatest"
	"github.com/token-refresher/token-refresher/shared/vendors"
	"github.com/token-refresher/token-refresher/shared/vendortest"
)

func merchentaAuth(t *testing.T, s *vendortest.Server, fields map[string]string) *http.Request {
	c := vendortest.Credentials(vendors.Merchenta)
	q := url.Values{"username": {c["username"]}, "password": {c["password"]}, "advertiser": {c["advertiser"]}}
	for k, v := range fields {
		if v == "-" {
			q.Del(k)
		} else {
			q.Set(k, v)
		}
	}
	return newReq(t, http.MethodGet, s.TokenURL()+"?"+q.Encode(), "", nil)
}

const (
	auth001 = `{"status":"error","message":"Authentication required - pass access token using 'Authorization' header","code":"AUTH001"}`
	auth003 = `{"status":"error","message":"Authorization failed","code":"AUTH003"}`
)

var hex64 = regexp.MustCompile(`^[0-9a-f]{64}$`)

func TestMerchentaProtocol(t *testing.T) {
	runProto(t, merchentatest.NewServer, []protoCase{
		{
			name:   "token",
			req:    func(t *testing.T, s *vendortest.Server) *http.Request { return merchentaAuth(t, s, nil) },
			status: 200,
			check: func(t *testing.T, s *vendortest.Server, r reply) {
				m := decode(t, r.body)
				if m["status"] != "success" {
					t.Errorf("status field %v, want success", m["status"])
				}
				tok := m["data"].(map[string]any)["accessToken"].(string)
				parts := strings.Split(tok, ".")
				if len(parts) != 3 {
					t.Fatalf("token has %d parts", len(parts))
				}
				if parts[0] != "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9" {
					t.Errorf("header %s differs from the documented one", parts[0])
				}
				if !hex64.MatchString(parts[2]) {
					t.Errorf("signature is not 64 hex digits")
				}
				raw, _ := base64.RawURLEncoding.DecodeString(parts[1])
				if !regexp.MustCompile(`^\{"adv":"MERCHENTA","exp":"[^"]+","rlm":"ADMIN","usr":"test@merchenta.com","iat":"[^"]+"\}$`).Match(raw) {
					t.Errorf("payload %s is not shaped like the documented one", raw)
				}
				p := jwtPayload(t, tok)
				exp, err1 := time.Parse(merchentatest.TimeLayout, p["exp"].(string))
				iat, err2 := time.Parse(merchentatest.TimeLayout, p["iat"].(string))
				if err1 != nil || err2 != nil || exp.Sub(iat) != time.Hour {
					t.Errorf("exp %v iat %v: want ISO times one hour apart", p["exp"], p["iat"])
				}
				if len(p["exp"].(string)) != len("2014-10-07T10:20:12.489") {
					t.Errorf("exp %q is not in the documented format", p["exp"])
				}
				if !s.Valid(tok) {
					t.Error("token not Valid")
				}
				assertNoSecretEcho(t, vendors.Merchenta, r)
			},
		},
		{
			name: "wrong password",
			req: func(t *testing.T, s *vendortest.Server) *http.Request {
				return merchentaAuth(t, s, map[string]string{"password": "nope"})
			},
			status:  401,
			bodyHas: []string{auth001},
		},
		{
			name: "missing password",
			req: func(t *testing.T, s *vendortest.Server) *http.Request {
				return merchentaAuth(t, s, map[string]string{"password": "-"})
			},
			status:  401,
			bodyHas: []string{auth001},
		},
		{
			name: "wrong username",
			req: func(t *testing.T, s *vendortest.Server) *http.Request {
				return merchentaAuth(t, s, map[string]string{"username": "x@y.z"})
			},
			status:  401,
			bodyHas: []string{auth001},
		},
		{
			name: "advertiser not permitted",
			req: func(t *testing.T, s *vendortest.Server) *http.Request {
				return merchentaAuth(t, s, map[string]string{"advertiser": "OTHER"})
			},
			status:  403,
			bodyHas: []string{auth003},
		},
		{
			name: "missing advertiser",
			req: func(t *testing.T, s *vendortest.Server) *http.Request {
				return merchentaAuth(t, s, map[string]string{"advertiser": "-"})
			},
			status:  403,
			bodyHas: []string{auth003},
		},
		{
			name: "POST",
			req: func(t *testing.T, s *vendortest.Server) *http.Request {
				r := merchentaAuth(t, s, nil)
				r.Method = http.MethodPost
				return r
			},
			status: 405,
		},
		{
			name: "API call with the token",
			req: func(t *testing.T, s *vendortest.Server) *http.Request {
				tok := decode(t, send(t, merchentaAuth(t, s, nil)).body)["data"].(map[string]any)["accessToken"].(string)
				return newReq(t, http.MethodGet, s.URL()+"/v3/campaigns", "", map[string]string{"Authorization": "Bearer " + tok})
			},
			status:  200,
			bodyHas: []string{`"status":"success"`},
		},
		{
			name: "API call without a token",
			req: func(t *testing.T, s *vendortest.Server) *http.Request {
				return newReq(t, http.MethodGet, s.URL()+"/v3/campaigns", "", nil)
			},
			status:  401,
			bodyHas: []string{auth001},
		},
		{
			name: "API call with a forbidden token",
			req: func(t *testing.T, s *vendortest.Server) *http.Request {
				tok := decode(t, send(t, merchentaAuth(t, s, nil)).body)["data"].(map[string]any)["accessToken"].(string)
				s.Forbid(tok)
				return newReq(t, http.MethodGet, s.URL()+"/v3/campaigns", "", map[string]string{"Authorization": "Bearer " + tok})
			},
			status:  403,
			bodyHas: []string{auth003},
		},
	})
}
