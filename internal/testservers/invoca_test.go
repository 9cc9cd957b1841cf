package testservers

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/token-refresher/token-refresher/shared/invoca/invocatest"
	"github.com/token-refresher/token-refresher/shared/vendors"
	"github.com/token-refresher/token-refresher/shared/vendortest"
)

func invocaValidate(t *testing.T, u, authorization string) *http.Request {
	h := map[string]string{}
	if authorization != "" {
		h["Authorization"] = authorization
	}
	return newReq(t, http.MethodGet, u, "", h)
}

func TestInvocaProtocol(t *testing.T) {
	sandbox := vendortest.Credentials(vendors.Invoca)["api_token"]
	runProto(t, invocatest.NewServer, []protoCase{
		{
			name: "token in the Authorization header",
			req: func(t *testing.T, s *vendortest.Server) *http.Request {
				return invocaValidate(t, s.TokenURL(), sandbox)
			},
			status:  200,
			bodyHas: []string{"transaction_id\n"},
			check: func(t *testing.T, s *vendortest.Server, r reply) {
				if !strings.HasPrefix(r.header.Get("Content-Type"), "text/csv") {
					t.Errorf("Content-Type %q, want text/csv", r.header.Get("Content-Type"))
				}
				if lines := strings.Split(strings.TrimSpace(r.body), "\n"); len(lines) != 2 {
					t.Errorf("%d CSV lines, want header and one row", len(lines))
				}
				assertNoSecretEcho(t, vendors.Invoca, r)
			},
		},
		{
			name: "token as oauth_token",
			req: func(t *testing.T, s *vendortest.Server) *http.Request {
				return invocaValidate(t, s.TokenURL()+"&oauth_token="+sandbox, "")
			},
			status:  200,
			bodyHas: []string{"transaction_id\n"},
		},
		{
			name: "Bearer prefix is refused",
			req: func(t *testing.T, s *vendortest.Server) *http.Request {
				return invocaValidate(t, s.TokenURL(), "Bearer "+sandbox)
			},
			status:  401,
			bodyHas: []string{`"class":"NotAuthorized"`},
			check:   func(t *testing.T, s *vendortest.Server, r reply) { assertNoSecretEcho(t, vendors.Invoca, r) },
		},
		{
			name:   "no token",
			req:    func(t *testing.T, s *vendortest.Server) *http.Request { return invocaValidate(t, s.TokenURL(), "") },
			status: 401,
		},
		{
			name: "unknown token",
			req: func(t *testing.T, s *vendortest.Server) *http.Request {
				return invocaValidate(t, s.TokenURL(), "abc123")
			},
			status: 401,
		},
		{
			name: "revoked token",
			req: func(t *testing.T, s *vendortest.Server) *http.Request {
				s.Revoke(sandbox)
				return invocaValidate(t, s.TokenURL(), sandbox)
			},
			status: 401,
			check: func(t *testing.T, s *vendortest.Server, r reply) {
				if s.Valid(sandbox) {
					t.Error("revoked token is Valid")
				}
			},
		},
		{
			name: "token lacking rights",
			req: func(t *testing.T, s *vendortest.Server) *http.Request {
				s.Forbid(sandbox)
				return invocaValidate(t, s.TokenURL(), sandbox)
			},
			status:  403,
			bodyHas: []string{`"class":"Forbidden"`},
		},
		{
			name: "another network",
			req: func(t *testing.T, s *vendortest.Server) *http.Request {
				return invocaValidate(t, s.URL()+"/api/"+invocatest.APIVersion+"/networks/transactions/2222.csv?limit=1", sandbox)
			},
			status: 403,
		},
		{
			name: "a token made later, after revoking all",
			req: func(t *testing.T, s *vendortest.Server) *http.Request {
				s.RevokeAll()
				return invocaValidate(t, s.TokenURL(), invocatest.NewAPIToken(s))
			},
			status: 200,
			check: func(t *testing.T, s *vendortest.Server, r reply) {
				if got := len(s.Issued()); got != 2 {
					t.Errorf("Issued() has %d tokens, want the sandbox one and the new one", got)
				}
			},
		},
	})
	t.Run("TokenURL and Issued", func(t *testing.T) {
		s := invocatest.NewServer(vendortest.Options{})
		defer s.Close()
		want := s.URL() + "/api/2020-10-01/networks/transactions/" + invocatest.NetworkID + ".csv?limit=1&include_columns=transaction_id"
		if s.TokenURL() != want {
			t.Errorf("TokenURL %s, want %s", s.TokenURL(), want)
		}
		if got := s.Issued(); len(got) != 1 || got[0] != sandbox {
			t.Errorf("Issued() does not hold exactly the sandbox token")
		}
	})
}

// TestInvocaReportColumns: the report has the asked columns, as CSV or as
// a JSON array.
func TestInvocaReportColumns(t *testing.T) {
	sandbox := vendortest.Credentials(vendors.Invoca)["api_token"]
	s := invocatest.NewServer(vendortest.Options{})
	defer s.Close()
	base := s.URL() + "/api/" + invocatest.APIVersion + "/networks/transactions/" + invocatest.NetworkID
	for _, tc := range []struct {
		name, url, ctype, header string
	}{
		{"two columns", base + ".csv?limit=1&include_columns=transaction_id,call_start_time", "text/csv", "transaction_id,call_start_time\n"},
		{"no columns asked", base + ".csv?limit=1", "text/csv", "transaction_id\n"},
		{"json", base + ".json?limit=1&include_columns=transaction_id", "application/json", `[{"transaction_id":"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := http.DefaultClient.Do(invocaValidate(t, tc.url, sandbox))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), tc.ctype) || !strings.HasPrefix(string(b), tc.header) {
				t.Errorf("HTTP %d %s: %q", resp.StatusCode, resp.Header.Get("Content-Type"), b)
			}
		})
	}
}
