// Package zenith speaks the token protocol of the Zenith Ads Reporting API,
// OAuth 2.0 client credentials (RFC 6749 section 4.4):
//
//	POST https://auth.zenith-ads.example/oauth2/token
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
// prefixed "zenith: " and the step. A refusal by Zenith is a *vendorhttp.Error
// (match it with errors.As) carrying the HTTP status, Zenith's error code and
// whether a retry may help; the retries themselves are vendorhttp's. The
// package logs nothing, and its errors never carry the request's body or
// headers. A Client holds no state of its own and is safe for concurrent
// use.
package zenith

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
const Name = "zenith"

// Client fetches Zenith tokens. The zero value is usable.
type Client struct {
	HTTP vendorhttp.Client
}

var _ refresh.Vendor = (*Client)(nil)

// decodeError reads Zenith's error body and says what each documented code
// means for an operator.
func decodeError(status int, body []byte) (string, string) {
	code, desc := vendorhttp.OAuthError(status, body)
	switch code {
	case "invalid_request":
		desc = "request refused as malformed"
	case "unsupported_grant_type":
		desc = "grant_type was refused (it must be client_credentials)"
	case "invalid_client":
		desc = "client authentication failed: check client_id and client_secret"
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
		return nil, fmt.Errorf("zenith: request token: %w", err)
	}
	var reply struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int64  `json:"expires_in"`
	}
	if err := vendorhttp.DecodeJSON(resp, &reply); err != nil {
		return nil, fmt.Errorf("zenith: token reply: %w", err)
	}
	if reply.AccessToken == "" || reply.ExpiresIn < 0 {
		return nil, errors.New("zenith: token reply: no access_token, or a negative expires_in")
	}
	return refresh.NewGrant(resp, reply.AccessToken, reply.TokenType, reply.ExpiresIn), nil
}
