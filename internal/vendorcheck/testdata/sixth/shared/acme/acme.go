// Package acme speaks the token protocol of the Acme Ads Reporting API,
// OAuth 2.0 client credentials (RFC 6749 section 4.4):
//
//	POST https://auth.acme-ads.example/oauth2/token
//	Authorization: Basic base64(client_id:client_secret)
//	Content-Type: application/x-www-form-urlencoded
//
//	grant_type=client_credentials
//	→ {"access_token": "<opaque>", "token_type": "Bearer", "expires_in": 3600}
//
// Errors come as {"error": "<code>", "error_description": "..."}: 400
// invalid_request or unsupported_grant_type, 401 invalid_client.
//
// Contract: Client.Fetch returns the token as a *refresh.Grant, or an error
// prefixed "acme: " and the step. A refusal by Acme is a *vendorhttp.Error
// (match it with errors.As) carrying the HTTP status, Acme's error code and
// whether a retry may help; the retries themselves are vendorhttp's. The
// package logs nothing, and its errors never carry the request's body or
// headers. A Client holds no state of its own and is safe for concurrent
// use.
package acme

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/token-refresher/token-refresher/shared/refresh"
	"github.com/token-refresher/token-refresher/shared/vendorhttp"
)

// Name is the vendor's row in the vendor table.
const Name = "acme"

// Client fetches Acme tokens. The zero value is usable.
type Client struct {
	HTTP vendorhttp.Client
}

var _ refresh.Vendor = (*Client)(nil)

// Reply is the token endpoint's successful reply.
type Reply struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
}

// ParseReply decodes and checks a successful reply body.
func ParseReply(body []byte, contentType string) (Reply, error) {
	var r Reply
	if err := vendorhttp.DecodeJSONBody(body, contentType, &r); err != nil {
		return Reply{}, err
	}
	switch {
	case r.AccessToken == "":
		return Reply{}, errors.New("reply has no access_token")
	case r.ExpiresIn < 0:
		return Reply{}, errors.New("reply has a negative expires_in")
	}
	return r, nil
}

// explanations say what each documented error code means for an operator.
var explanations = map[string]string{
	"invalid_request":        "request refused as malformed",
	"unsupported_grant_type": "grant_type was refused (it must be client_credentials)",
	"invalid_client":         "client authentication failed: check client_id and client_secret",
}

func decodeError(status int, body []byte) (string, string) {
	code, desc := vendorhttp.OAuthError(status, body)
	if e := explanations[code]; e != "" {
		desc = e
	}
	return code, desc
}

// Fetch requests a token with the credentials' client_id and client_secret.
func (c *Client) Fetch(ctx context.Context, req *refresh.Request) (*refresh.Grant, error) {
	form := url.Values{"grant_type": {"client_credentials"}}.Encode()
	resp, err := c.HTTP.Do(ctx, vendorhttp.Request{
		Vendor: Name,
		NewRequest: func(ctx context.Context) (*http.Request, error) {
			r, err := http.NewRequestWithContext(ctx, http.MethodPost, req.Endpoint, strings.NewReader(form))
			if err != nil {
				return nil, err
			}
			r.SetBasicAuth(req.Credentials.Get("client_id"), req.Credentials.Get("client_secret"))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r.Header.Set("Accept", "application/json")
			return r, nil
		},
		DecodeError: decodeError,
	})
	if err != nil {
		return nil, fmt.Errorf("acme: request token: %w", err)
	}
	reply, err := ParseReply(resp.Body, resp.Header.Get("Content-Type"))
	if err != nil {
		return nil, fmt.Errorf("acme: token reply: %w", err)
	}
	return refresh.NewGrant(resp, reply.AccessToken, reply.TokenType, reply.ExpiresIn), nil
}
