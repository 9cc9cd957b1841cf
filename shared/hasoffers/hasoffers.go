// Package hasoffers speaks the HasOffers / TUNE Integrator API's token
// protocol: an OAuth2 two-legged client-credentials flow with an audience.
//
//	POST https://integrator-auth.hasoffers.com/authorize
//	{"client_id": "...", "client_secret": "...", "audience": "BrandAPI"}
//	→ {"access_token": "<JWT>", "token_type": "Bearer", "expires_in": 86400}
//
// The token is a JWT that lives 24 hours and serves every network the
// integrator may access. Apps also need the IntegratorId on every call, so
// it is published next to the token as "integrator_id".
//
// Contract: Client.Fetch returns the token as a *refresh.Grant, or an error
// prefixed "hasoffers: " and the step. A refusal by HasOffers is a *vendorhttp.Error
// (match it with errors.As) carrying the HTTP status, HasOffers's error code and
// whether a retry may help; the retries themselves are vendorhttp's. The
// package logs nothing. Its errors never carry the request's body or query
// string; the vendor's own error text is kept, bounded, and refresh
// scrubs every credential from it before anything is logged or returned. A
// Client holds no state of its own and is safe for concurrent use.
package hasoffers

import (
	"context"
	"fmt"

	"github.com/token-refresher/token-refresher/shared/refresh"
	"github.com/token-refresher/token-refresher/shared/vendorhttp"
)

// Audiences are the values of the "audience" credential HasOffers
// documents ("Making Calls to the Integrator API": "audience":"BrandAPI").
// tokenctl set-credentials refuses any other.
var Audiences = []string{"BrandAPI"}

// Client fetches HasOffers tokens. The zero value is usable.
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
		return Reply{}, fmt.Errorf("reply has no access_token")
	case r.ExpiresIn < 0:
		return Reply{}, fmt.Errorf("reply has a negative expires_in")
	}
	return r, nil
}

// Fetch requests a token with the credentials' client_id, client_secret and
// audience.
func (c *Client) Fetch(ctx context.Context, req *refresh.Request) (*refresh.Grant, error) {
	resp, err := c.HTTP.PostJSON(ctx, "hasoffers", req.Endpoint, map[string]string{
		"client_id":     req.Credentials.Get("client_id"),
		"client_secret": req.Credentials.Get("client_secret"),
		"audience":      req.Credentials.Get("audience"),
	}, vendorhttp.OAuthError)
	if err != nil {
		return nil, fmt.Errorf("hasoffers: request token: %w", err)
	}
	reply, err := ParseReply(resp.Body, resp.Header.Get("Content-Type"))
	if err != nil {
		return nil, fmt.Errorf("hasoffers: token reply: %w", err)
	}
	g := refresh.NewGrant(resp, reply.AccessToken, reply.TokenType, reply.ExpiresIn)
	g.Extras = map[string]string{"integrator_id": req.Credentials.Get("integrator_id")}
	return g, nil
}
