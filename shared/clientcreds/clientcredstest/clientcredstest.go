// Package clientcredstest runs a test server for a vendor declared by a
// row of the vendor table alone: it speaks the client-credentials protocol
// the row's ClientCredentials describes, as package clientcreds calls it,
// on the path of the row's DefaultURL.
//
// The token endpoint takes client_id and client_secret where the row says
// (HTTP Basic, form body or JSON body), grant_type=client_credentials
// unless the row says NoGrantType, and the row's Params and
// CredentialParams; it answers a standard reply (in camel case if the row
// says so) with an opaque token living the row's Lifetime (or
// Options.Lifetime), or a standard error body: 400 invalid_request (a
// malformed request or a wrong parameter), 400 unsupported_grant_type, 401
// invalid_client (unknown client, with WWW-Authenticate for HTTP Basic).
// GET /_check, with "Authorization: Bearer <token>", answers 200 for a
// token the server accepts and 401 otherwise. Everything else (faults,
// accounts, the control endpoints) is package vendortest's.
//
// Sandbox returns the credentials the server accepts: for each credentials
// field of the row, "sandbox-<vendor>-<field>" (public test values, never
// real ones). Package internal/testservers registers the server for every
// row vendor that has no test package of its own.
package clientcredstest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/token-refresher/token-refresher/shared/vendors"
	"github.com/token-refresher/token-refresher/shared/vendortest"
)

// Sandbox returns the sandbox credentials of spec's test server.
func Sandbox(spec vendors.Spec) map[string]string {
	out := make(map[string]string, len(spec.CredentialFields))
	for _, f := range spec.CredentialFields {
		out[f] = "sandbox-" + spec.Name + "-" + strings.ReplaceAll(f, "_", "-")
		if vs := spec.FieldValues[f]; len(vs) > 0 {
			out[f] = vs[0]
		}
	}
	return out
}

// Server returns the constructor of spec's test server, for
// vendortest.Register. It panics when spec declares no ClientCredentials.
func Server(spec vendors.Spec) func(vendortest.Options) *vendortest.Server {
	if spec.ClientCredentials == nil {
		panic("clientcredstest: vendor " + spec.Name + " declares no ClientCredentials")
	}
	return func(opts vendortest.Options) *vendortest.Server { return NewServer(spec, opts) }
}

// NewServer starts spec's test server.
func NewServer(spec vendors.Spec, opts vendortest.Options) *vendortest.Server {
	s := vendortest.NewBase(spec.Name, opts, spec.Lifetime, errorBody)
	path := "/oauth2/token"
	if u, err := url.Parse(spec.DefaultURL); err == nil && u.Path != "" && u.Path != "/" {
		path = u.Path
	}
	s.SetTokenPath(path)
	s.HandleFunc(path, s.TokenEndpoint(func(w http.ResponseWriter, r *http.Request) { token(s, spec, w, r) }))
	s.HandleFunc("GET /_check", func(w http.ResponseWriter, r *http.Request) { check(s, w, r) })
	return s.Start()
}

// errorBody is the standard error body for a status.
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

func fail(w http.ResponseWriter, basic bool, status int, code string) {
	if status == http.StatusUnauthorized && basic {
		w.Header().Set("WWW-Authenticate", `Basic realm="token"`)
	}
	vendortest.WriteRaw(w, status, vendortest.JSONString(map[string]string{"error": code}))
}

// params reads the request's parameters from its form or JSON body.
func params(w http.ResponseWriter, r *http.Request, auth vendors.Auth) (map[string]string, bool) {
	out := map[string]string{}
	if auth == vendors.AuthJSON {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
		var raw map[string]any
		if err != nil || json.Unmarshal(body, &raw) != nil || raw == nil {
			return nil, false
		}
		for k, v := range raw {
			s, ok := v.(string)
			if !ok {
				return nil, false
			}
			out[k] = s
		}
		return out, true
	}
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	if err := r.ParseForm(); err != nil {
		return nil, false
	}
	for k := range r.PostForm {
		out[k] = r.PostForm.Get(k)
	}
	return out, true
}

func token(s *vendortest.Server, spec vendors.Spec, w http.ResponseWriter, r *http.Request) {
	cc := spec.ClientCredentials
	basic := cc.Auth == vendors.AuthBasic
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		fail(w, basic, http.StatusMethodNotAllowed, "invalid_request")
		return
	}
	p, ok := params(w, r, cc.Auth)
	if !ok {
		fail(w, basic, http.StatusBadRequest, "invalid_request")
		return
	}
	if !cc.NoGrantType {
		switch p["grant_type"] {
		case "":
			fail(w, basic, http.StatusBadRequest, "invalid_request")
			return
		case "client_credentials":
		default:
			fail(w, basic, http.StatusBadRequest, "unsupported_grant_type")
			return
		}
	}
	for k, v := range cc.Params {
		if p[k] != v {
			fail(w, basic, http.StatusBadRequest, "invalid_request")
			return
		}
	}
	given := map[string]string{}
	if basic {
		id, secret, ok := r.BasicAuth()
		if !ok {
			fail(w, basic, http.StatusUnauthorized, "invalid_client")
			return
		}
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
		given["client_id"], given["client_secret"] = id, secret
	} else {
		given["client_id"], given["client_secret"] = p["client_id"], p["client_secret"]
		if given["client_id"] == "" || given["client_secret"] == "" {
			fail(w, basic, http.StatusBadRequest, "invalid_request")
			return
		}
	}
	for _, f := range cc.CredentialParams {
		given[f] = p[f]
	}
	acct, ok := s.Account(given)
	if !ok {
		fail(w, basic, http.StatusUnauthorized, "invalid_client")
		return
	}
	var expires time.Time // a row without a lifetime: tokens never expire
	if s.Lifetime() > 0 {
		expires = s.Now().Add(s.Lifetime())
	}
	tok := vendortest.RandomHex(24)
	for !s.Record(acct, tok, expires) {
		tok = vendortest.RandomHex(24)
	}
	access, typ, in := "access_token", "token_type", "expires_in"
	if cc.CamelCase {
		access, typ, in = "accessToken", "tokenType", "expiresIn"
	}
	vendortest.WriteToken(w, map[string]any{access: tok, typ: "Bearer", in: s.ExpiresIn()})
}

func check(s *vendortest.Server, w http.ResponseWriter, r *http.Request) {
	tok, _ := vendortest.Bearer(r)
	switch s.CheckToken(tok) {
	case vendortest.TokenOK:
		vendortest.WriteJSON(w, http.StatusOK, map[string]any{"ok": true})
	case vendortest.TokenForbidden:
		fail(w, false, http.StatusForbidden, "insufficient_scope")
	default:
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		vendortest.WriteRaw(w, http.StatusUnauthorized, `{"error":"invalid_token"}`)
	}
}
