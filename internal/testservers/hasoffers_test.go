package testservers

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/token-refresher/token-refresher/shared/hasoffers/hasofferstest"
	"github.com/token-refresher/token-refresher/shared/vendors"
	"github.com/token-refresher/token-refresher/shared/vendortest"
)

// protoCase is one request and what the fake must answer.
type protoCase struct {
	name    string
	req     func(t *testing.T, s *vendortest.Server) *http.Request
	status  int
	bodyHas []string
	check   func(t *testing.T, s *vendortest.Server, r reply)
}

func runProto(t *testing.T, newServer func(vendortest.Options) *vendortest.Server, cases []protoCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newServer(vendortest.Options{})
			defer s.Close()
			r := send(t, tc.req(t, s))
			if r.status != tc.status {
				t.Fatalf("status %d, want %d; body %s", r.status, tc.status, r.body)
			}
			for _, frag := range tc.bodyHas {
				if !strings.Contains(r.body, frag) {
					t.Errorf("body %s lacks %s", r.body, frag)
				}
			}
			if tc.check != nil {
				tc.check(t, s, r)
			}
		})
	}
}

// assertNoSecretEcho fails if a reply repeats a credential.
func assertNoSecretEcho(t *testing.T, vendor string, r reply) {
	t.Helper()
	for k, v := range vendortest.Credentials(vendor) {
		if (strings.Contains(k, "secret") || k == "password" || k == "api_token") && strings.Contains(r.body, v) {
			t.Errorf("reply repeats %s", k)
		}
	}
}

func hasOffersAuth(t *testing.T, s *vendortest.Server, fields map[string]string) *http.Request {
	c := vendortest.Credentials(vendors.HasOffers)
	body := map[string]string{"client_id": c["client_id"], "client_secret": c["client_secret"], "audience": c["audience"]}
	for k, v := range fields {
		if v == "-" {
			delete(body, k)
		} else {
			body[k] = v
		}
	}
	return newReq(t, http.MethodPost, s.TokenURL(), jsonBody(t, body), map[string]string{"Content-Type": "application/json"})
}

// hasOffersToken gets a token from s.
func hasOffersToken(t *testing.T, s *vendortest.Server) string {
	r := send(t, hasOffersAuth(t, s, nil))
	if r.status != 200 {
		t.Fatalf("authorize: %d", r.status)
	}
	return decode(t, r.body)["access_token"].(string)
}

func hasOffersAPI(t *testing.T, s *vendortest.Server, query url.Values, token string) *http.Request {
	h := map[string]string{}
	if token != "" {
		h["Authorization"] = "Bearer " + token
	}
	return newReq(t, http.MethodGet, s.URL()+"/Apiv3/json?"+query.Encode(), "", h)
}

func TestHasOffersProtocol(t *testing.T) {
	api := url.Values{"NetworkId": {"demo"}, "IntegratorId": {hasofferstest.IntegratorID}, "Target": {"Conversion"}, "Method": {"findAll"}}
	without := func(k string) url.Values {
		q := url.Values{}
		for kk, v := range api {
			if kk != k {
				q[kk] = v
			}
		}
		return q
	}
	runProto(t, hasofferstest.NewServer, []protoCase{
		{
			name:   "authorize",
			req:    func(t *testing.T, s *vendortest.Server) *http.Request { return hasOffersAuth(t, s, nil) },
			status: 200,
			check: func(t *testing.T, s *vendortest.Server, r reply) {
				m := decode(t, r.body)
				if m["token_type"] != "Bearer" || m["expires_in"] != float64(86400) {
					t.Errorf("token_type %v expires_in %v, want Bearer 86400", m["token_type"], m["expires_in"])
				}
				p := jwtPayload(t, m["access_token"].(string))
				iat, ok1 := p["iat"].(float64)
				exp, ok2 := p["exp"].(float64)
				if !ok1 || !ok2 || exp-iat != 86400 {
					t.Errorf("JWT iat %v exp %v, want numbers 86400 apart", p["iat"], p["exp"])
				}
				if r.header.Get("Cache-Control") != "no-store" {
					t.Error("token reply may be cached")
				}
				assertNoSecretEcho(t, vendors.HasOffers, r)
			},
		},
		{
			name: "wrong client_secret",
			req: func(t *testing.T, s *vendortest.Server) *http.Request {
				return hasOffersAuth(t, s, map[string]string{"client_secret": "nope"})
			},
			status:  401,
			bodyHas: []string{`"message":"JWT is not valid or missing"`},
			check:   func(t *testing.T, s *vendortest.Server, r reply) { assertNoSecretEcho(t, vendors.HasOffers, r) },
		},
		{
			name: "wrong client_id",
			req: func(t *testing.T, s *vendortest.Server) *http.Request {
				return hasOffersAuth(t, s, map[string]string{"client_id": "nope"})
			},
			status:  401,
			bodyHas: []string{"JWT is not valid or missing"},
		},
		{
			name: "missing client_secret",
			req: func(t *testing.T, s *vendortest.Server) *http.Request {
				return hasOffersAuth(t, s, map[string]string{"client_secret": "-"})
			},
			status:  401,
			bodyHas: []string{"JWT is not valid or missing"},
		},
		{
			name: "wrong audience",
			req: func(t *testing.T, s *vendortest.Server) *http.Request {
				return hasOffersAuth(t, s, map[string]string{"audience": "NetworkAPI"})
			},
			status:  401,
			bodyHas: []string{"Insufficient permissions for this request"},
		},
		{
			name: "body is not JSON",
			req: func(t *testing.T, s *vendortest.Server) *http.Request {
				return newReq(t, http.MethodPost, s.TokenURL(), "client_id=a&client_secret=b", map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
			},
			status: 400,
		},
		{
			name: "GET authorize",
			req: func(t *testing.T, s *vendortest.Server) *http.Request {
				return newReq(t, http.MethodGet, s.TokenURL(), "", nil)
			},
			status:  405,
			bodyHas: []string{"Invalid HTTP Method: GET"},
		},
		{
			name: "API call",
			req: func(t *testing.T, s *vendortest.Server) *http.Request {
				return hasOffersAPI(t, s, api, hasOffersToken(t, s))
			},
			status:  200,
			bodyHas: []string{`"httpStatus":200`, `"Target":"Conversion"`},
		},
		{
			name: "API call without IntegratorId",
			req: func(t *testing.T, s *vendortest.Server) *http.Request {
				return hasOffersAPI(t, s, without("IntegratorId"), hasOffersToken(t, s))
			},
			status:  400,
			bodyHas: []string{"missing integratorId parameter"},
		},
		{
			name:    "API call without token",
			req:     func(t *testing.T, s *vendortest.Server) *http.Request { return hasOffersAPI(t, s, api, "") },
			status:  401,
			bodyHas: []string{"JWT is not valid or missing"},
		},
		{
			name: "API call with a forged token",
			req: func(t *testing.T, s *vendortest.Server) *http.Request {
				return hasOffersAPI(t, s, api, hasOffersToken(t, s)+"x")
			},
			status:  401,
			bodyHas: []string{"JWT is not valid or missing"},
		},
		{
			name: "API call with a revoked token",
			req: func(t *testing.T, s *vendortest.Server) *http.Request {
				tok := hasOffersToken(t, s)
				s.RevokeAll()
				return hasOffersAPI(t, s, api, tok)
			},
			status: 401,
		},
		{
			name: "API call with a token of another server",
			req: func(t *testing.T, s *vendortest.Server) *http.Request {
				other := hasofferstest.NewServer(vendortest.Options{})
				defer other.Close()
				return hasOffersAPI(t, s, api, hasOffersToken(t, other))
			},
			status: 401,
		},
		{
			name: "API call for an unknown integrator",
			req: func(t *testing.T, s *vendortest.Server) *http.Request {
				q := without("IntegratorId")
				q.Set("IntegratorId", "acme")
				return hasOffersAPI(t, s, q, hasOffersToken(t, s))
			},
			status:  404,
			bodyHas: []string{"acme does not exist within our system. Please contact an administrator"},
		},
	})
}
