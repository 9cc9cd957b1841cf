// Package clientcreds speaks the token protocol of every vendor declared
// by a row of the vendor table alone: OAuth 2.0 client credentials (RFC
// 6749, section 4.4), as the row's ClientCredentials describes it.
//
//	POST <the row's endpoint>
//	client_id and client_secret by HTTP Basic, in a form body or in a JSON
//	body; grant_type=client_credentials (unless the row says NoGrantType);
//	the row's Params and CredentialParams
//	→ {"access_token", "token_type", "expires_in"} (vendorhttp.DecodeToken)
//
// A vendor's refusal is decoded as the standard error body
// (vendorhttp.OAuthError), with the row's sentence for each documented
// code. Retries, backoff, Retry-After, timeouts and the bounded body are
// vendorhttp's; the refresh path (package refresh) decides when to call,
// scrubs secrets from errors and publishes the token, with the row's
// Publish fields next to it.
//
// Contract: Client.Fetch returns the token as a *refresh.Grant, or an
// error prefixed "<vendor>: " and the step. A refusal is a
// *vendorhttp.Error (match it with errors.As) carrying the HTTP status,
// the vendor's error code and whether a retry may help. The package logs
// nothing; its errors never carry the request's body, a header or the
// reply body. A Client holds no state of its own and is safe for
// concurrent use.
package clientcreds

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/token-refresher/token-refresher/shared/refresh"
	"github.com/token-refresher/token-refresher/shared/vendorhttp"
	"github.com/token-refresher/token-refresher/shared/vendors"
)

// Client fetches tokens from the vendor of one row.
type Client struct {
	Spec vendors.Spec
	HTTP vendorhttp.Client
}

var _ refresh.Vendor = (*Client)(nil)

// New returns the client of spec, which must declare ClientCredentials.
func New(spec vendors.Spec) (*Client, error) {
	if err := Check(spec); err != nil {
		return nil, err
	}
	return &Client{Spec: spec}, nil
}

// Check reports whether spec declares a client-credentials vendor this
// package can call: ClientCredentials set, a known Auth, and client_id and
// client_secret among the credentials fields, as every field it sends or
// publishes.
func Check(spec vendors.Spec) error {
	cc := spec.ClientCredentials
	if cc == nil {
		return fmt.Errorf("%s: the vendor table declares no ClientCredentials for it", spec.Name)
	}
	switch cc.Auth {
	case vendors.AuthBasic, vendors.AuthForm, vendors.AuthJSON:
	default:
		return fmt.Errorf("%s: ClientCredentials.Auth %q is not basic, form or json", spec.Name, cc.Auth)
	}
	fields := append(append([]string{"client_id", "client_secret"}, cc.CredentialParams...), cc.Publish...)
	for _, f := range fields {
		if !contains(spec.CredentialFields, f) {
			return fmt.Errorf("%s: ClientCredentials uses the credentials field %q, which CredentialFields does not list", spec.Name, f)
		}
	}
	return nil
}

// Fetch requests a token with the credentials the row names.
func (c *Client) Fetch(ctx context.Context, req *refresh.Request) (*refresh.Grant, error) {
	name, cc := c.Spec.Name, c.Spec.ClientCredentials
	if cc == nil {
		return nil, errors.New(name + ": request token: the vendor table declares no ClientCredentials")
	}
	params := map[string]string{}
	if !cc.NoGrantType {
		params["grant_type"] = "client_credentials"
	}
	for k, v := range cc.Params {
		params[k] = v
	}
	for _, f := range cc.CredentialParams {
		params[f] = req.Credentials.Get(f)
	}
	id, secret := req.Credentials.Get("client_id"), req.Credentials.Get("client_secret")
	if cc.Auth != vendors.AuthBasic {
		params["client_id"], params["client_secret"] = id, secret
	}
	body, ctype, err := encode(cc.Auth, params)
	if err != nil {
		return nil, fmt.Errorf("%s: request token: %w", name, err)
	}
	resp, err := c.HTTP.Do(ctx, vendorhttp.Request{
		Vendor: name,
		NewRequest: func(ctx context.Context) (*http.Request, error) {
			r, err := http.NewRequestWithContext(ctx, http.MethodPost, req.Endpoint, strings.NewReader(body))
			if err != nil {
				return nil, err
			}
			if cc.Auth == vendors.AuthBasic {
				// RFC 6749, section 2.3.1: form-encode both before Basic.
				r.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
			}
			r.Header.Set("Content-Type", ctype)
			r.Header.Set("Accept", "application/json")
			return r, nil
		},
		DecodeError: c.decodeError,
	})
	if err != nil {
		return nil, fmt.Errorf("%s: request token: %w", name, err)
	}
	naming := vendorhttp.SnakeCase
	if cc.CamelCase {
		naming = vendorhttp.CamelCase
	}
	reply, err := vendorhttp.DecodeToken(resp.Body, resp.Header.Get("Content-Type"), naming)
	if err != nil {
		return nil, fmt.Errorf("%s: token reply: %w", name, err)
	}
	g := refresh.NewGrant(resp, reply.AccessToken, reply.TokenType, reply.ExpiresIn)
	if len(cc.Publish) > 0 {
		g.Extras = make(map[string]string, len(cc.Publish))
		for _, f := range cc.Publish {
			g.Extras[f] = req.Credentials.Get(f)
		}
	}
	return g, nil
}

// Explain returns the row's sentence for a documented error code, "" for
// another.
func (c *Client) Explain(code string) string {
	if c.Spec.ClientCredentials == nil {
		return ""
	}
	return c.Spec.ClientCredentials.Errors[code]
}

func (c *Client) decodeError(status int, body []byte) (string, string) {
	code, desc := vendorhttp.OAuthError(status, body)
	if e := c.Explain(code); e != "" {
		desc = e
	}
	return code, desc
}

// encode renders the request body: a JSON object for AuthJSON, a form
// otherwise.
func encode(auth vendors.Auth, params map[string]string) (body, contentType string, err error) {
	if auth == vendors.AuthJSON {
		b, err := json.Marshal(params)
		if err != nil {
			return "", "", errors.New("encode request body")
		}
		return string(b), "application/json", nil
	}
	form := url.Values{}
	for k, v := range params {
		form.Set(k, v)
	}
	return form.Encode(), "application/x-www-form-urlencoded", nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
