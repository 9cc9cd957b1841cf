// Package fyber speaks the token protocol of Digital Turbine's (Fyber's)
// Offer Wall Reporting API:
//
//	POST https://reporting.fyber.com/auth/v1/token
//	{"grant_type": "client_credentials", "client_id": "...", "client_secret": "..."}
//	→ {"accessToken": "<JWT>", "tokenType": "bearer", "expiresIn": 3600}
//
// The token is a JWT with numeric iat/exp that lives one hour. Errors come
// as {"error": "<code>"}: 400 unsupported_grant_type, invalid_request or
// invalid_client, and 500 internal_server_error.
//
// Contract: Client.Fetch returns the token as a *refresh.Grant, or an error
// prefixed "fyber: " and the step. A refusal by Fyber is a *vendorhttp.Error
// (match it with errors.As) carrying the HTTP status, Fyber's error code and
// whether a retry may help; the retries themselves are vendorhttp's. The
// package logs nothing. Its errors never carry the request's body or query
// string; the vendor's own error text is kept, bounded, and refresh
// scrubs every credential from it before anything is logged or returned. A
// Client holds no state of its own and is safe for concurrent use.
package fyber

import (
	"context"
	"errors"
	"fmt"

	"github.com/token-refresher/token-refresher/shared/refresh"
	"github.com/token-refresher/token-refresher/shared/vendorhttp"
)

// Client fetches Fyber tokens. The zero value is usable.
type Client struct {
	HTTP vendorhttp.Client
}

var _ refresh.Vendor = (*Client)(nil)

// Reply is the token endpoint's successful reply.
type Reply struct {
	AccessToken string `json:"accessToken"`
	TokenType   string `json:"tokenType"`
	ExpiresIn   int64  `json:"expiresIn"`
}

// ParseReply decodes and checks a successful reply body.
func ParseReply(body []byte, contentType string) (Reply, error) {
	var r Reply
	if err := vendorhttp.DecodeJSONBody(body, contentType, &r); err != nil {
		return Reply{}, err
	}
	switch {
	case r.AccessToken == "":
		return Reply{}, errors.New("reply has no accessToken")
	case r.ExpiresIn < 0:
		return Reply{}, errors.New("reply has a negative expiresIn")
	}
	return r, nil
}

// explanations say what each documented error code means for an operator.
var explanations = map[string]string{
	"unsupported_grant_type": "grant_type was refused (it must be client_credentials)",
	"invalid_request":        "request refused as malformed: missing or invalid client_id or client_secret",
	"invalid_client":         "credentials not found, incorrect, disabled or revoked: check client_id and client_secret",
	"internal_server_error":  "unexpected error on Digital Turbine's side",
}

// Explain returns the operator-facing meaning of a Fyber error code.
func Explain(code string) string { return explanations[code] }

func decodeError(status int, body []byte) (string, string) {
	code, desc := vendorhttp.OAuthError(status, body)
	if e := explanations[code]; e != "" {
		desc = e
	}
	return code, desc
}

// Fetch requests a token with the credentials' client_id and client_secret.
func (c *Client) Fetch(ctx context.Context, req *refresh.Request) (*refresh.Grant, error) {
	resp, err := c.HTTP.PostJSON(ctx, "fyber", req.Endpoint, map[string]string{
		"grant_type":    "client_credentials",
		"client_id":     req.Credentials.Get("client_id"),
		"client_secret": req.Credentials.Get("client_secret"),
	}, decodeError)
	if err != nil {
		return nil, fmt.Errorf("fyber: request token: %w", err)
	}
	reply, err := ParseReply(resp.Body, resp.Header.Get("Content-Type"))
	if err != nil {
		return nil, fmt.Errorf("fyber: token reply: %w", err)
	}
	g := refresh.NewGrant(resp, reply.AccessToken, reply.TokenType, reply.ExpiresIn)
	return g, nil
}
