package testservers

import (
	"net/http"
	"testing"

	"github.com/token-refresher/token-refresher/shared/fyber/fybertest"
	"github.com/token-refresher/token-refresher/shared/vendors"
	"github.com/token-refresher/token-refresher/shared/vendortest"
)

func fyberAuth(t *testing.T, s *vendortest.Server, fields map[string]any) *http.Request {
	c := vendortest.Credentials(vendors.Fyber)
	body := map[string]any{"grant_type": "client_credentials", "client_id": c["client_id"], "client_secret": c["client_secret"]}
	for k, v := range fields {
		if v == "-" {
			delete(body, k)
		} else {
			body[k] = v
		}
	}
	return newReq(t, http.MethodPost, s.TokenURL(), jsonBody(t, body), map[string]string{"Content-Type": "application/json"})
}

func TestFyberProtocol(t *testing.T) {
	bad := func(name string, fields map[string]any, code string) protoCase {
		return protoCase{
			name:    name,
			req:     func(t *testing.T, s *vendortest.Server) *http.Request { return fyberAuth(t, s, fields) },
			status:  400,
			bodyHas: []string{`{"error":"` + code + `"}`},
			check:   func(t *testing.T, s *vendortest.Server, r reply) { assertNoSecretEcho(t, vendors.Fyber, r) },
		}
	}
	runProto(t, fybertest.NewServer, []protoCase{
		{
			name:   "token",
			req:    func(t *testing.T, s *vendortest.Server) *http.Request { return fyberAuth(t, s, nil) },
			status: 200,
			check: func(t *testing.T, s *vendortest.Server, r reply) {
				m := decode(t, r.body)
				if m["tokenType"] != "bearer" || m["expiresIn"] != float64(3600) {
					t.Errorf("tokenType %v expiresIn %v, want bearer 3600", m["tokenType"], m["expiresIn"])
				}
				p := jwtPayload(t, m["accessToken"].(string))
				iat, ok1 := p["iat"].(float64)
				exp, ok2 := p["exp"].(float64)
				if !ok1 || !ok2 || exp-iat != 3600 {
					t.Errorf("JWT iat %v exp %v, want numbers 3600 apart", p["iat"], p["exp"])
				}
				assertNoSecretEcho(t, vendors.Fyber, r)
			},
		},
		bad("wrong grant_type", map[string]any{"grant_type": "password"}, "unsupported_grant_type"),
		bad("missing grant_type", map[string]any{"grant_type": "-"}, "invalid_request"),
		bad("missing client_id", map[string]any{"client_id": "-"}, "invalid_request"),
		bad("missing client_secret", map[string]any{"client_secret": "-"}, "invalid_request"),
		bad("client_secret not a string", map[string]any{"client_secret": 42}, "invalid_request"),
		bad("wrong client_secret", map[string]any{"client_secret": "nope"}, "invalid_client"),
		bad("unknown client_id", map[string]any{"client_id": "nope"}, "invalid_client"),
		{
			name: "body is not JSON",
			req: func(t *testing.T, s *vendortest.Server) *http.Request {
				return newReq(t, http.MethodPost, s.TokenURL(), "{grant_type", map[string]string{"Content-Type": "application/json"})
			},
			status:  400,
			bodyHas: []string{`{"error":"invalid_request"}`},
		},
		{
			name: "body is a JSON array",
			req: func(t *testing.T, s *vendortest.Server) *http.Request {
				return newReq(t, http.MethodPost, s.TokenURL(), "[]", map[string]string{"Content-Type": "application/json"})
			},
			status:  400,
			bodyHas: []string{`{"error":"invalid_request"}`},
		},
		{
			name: "report with the token",
			req: func(t *testing.T, s *vendortest.Server) *http.Request {
				tok := decode(t, send(t, fyberAuth(t, s, nil)).body)["accessToken"].(string)
				return newReq(t, http.MethodPost, s.URL()+"/api/v1/report?format=csv", "{}", map[string]string{"Authorization": "Bearer " + tok})
			},
			status: 200,
		},
		{
			name: "report with a revoked token",
			req: func(t *testing.T, s *vendortest.Server) *http.Request {
				tok := decode(t, send(t, fyberAuth(t, s, nil)).body)["accessToken"].(string)
				s.Revoke(tok)
				return newReq(t, http.MethodPost, s.URL()+"/api/v1/report?format=csv", "{}", map[string]string{"Authorization": "Bearer " + tok})
			},
			status: 401,
		},
	})
}
