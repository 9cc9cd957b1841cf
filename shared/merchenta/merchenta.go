// Package merchenta speaks the Merchenta RTB API's token protocol:
//
//	GET https://rtbapi.io/v3/oauth/accessToken?username=...&password=...&advertiser=...
//	→ {"status": "success", "data": {"accessToken": "<token>"}}
//
// The reply has no expiry. The token looks like a JWT whose payload holds
// ISO-8601 times without a zone ("exp": "2014-10-07T10:20:12.489", UTC);
// it lives about an hour and may expire early. Errors are
// {"status": "error", "message": "...", "code": "AUTH001"} (401, not
// authenticated) or "AUTH003" (403, not authorised).
//
// The password travels in the query string, so no URL this package builds
// ever reaches an error or a log: transport errors are redacted.
//
// Contract: Client.Fetch returns the token as a *refresh.Grant, or an error
// prefixed "merchenta: " and the step. A refusal by Merchenta is a *vendorhttp.Error
// (match it with errors.As) carrying the HTTP status, Merchenta's error code and
// whether a retry may help; the retries themselves are vendorhttp's. The
// package logs nothing. Its errors never carry the request's body or query
// string (which holds the password); the vendor's own error text is kept, bounded, and refresh
// scrubs every credential from it before anything is logged or returned. A
// Client holds no state of its own and is safe for concurrent use.
package merchenta

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/token-refresher/token-refresher/shared/jwtexp"
	"github.com/token-refresher/token-refresher/shared/refresh"
	"github.com/token-refresher/token-refresher/shared/vendorhttp"
)

// Client fetches Merchenta tokens. The zero value is usable.
type Client struct {
	HTTP vendorhttp.Client
}

var _ refresh.Vendor = (*Client)(nil)

// Reply is the token endpoint's reply.
type Reply struct {
	Status  string `json:"status"`
	Message string `json:"message"`
	Code    string `json:"code"`
	Data    struct {
		AccessToken string `json:"accessToken"`
	} `json:"data"`
}

// Error codes Merchenta documents.
const (
	CodeNotAuthenticated = "AUTH001"
	CodeNotAuthorized    = "AUTH003"
)

var explanations = map[string]string{
	CodeNotAuthenticated: "not authenticated: check username and password",
	CodeNotAuthorized:    "authorization failed: the user may not act for this advertiser",
}

// ParseReply decodes a reply body and returns the access token. A body with
// status "error" gives a *vendorhttp.Error carrying Merchenta's code.
func ParseReply(body []byte, contentType string) (string, error) {
	var r Reply
	if err := vendorhttp.DecodeJSONBody(body, contentType, &r); err != nil {
		return "", err
	}
	switch r.Status {
	case "success":
	case "error":
		code, desc := decodeError(0, body)
		return "", &vendorhttp.Error{Vendor: "merchenta", Status: http.StatusOK, Code: code, Description: desc}
	default:
		return "", fmt.Errorf("reply status is %s, want \"success\"", vendorhttp.Quote(r.Status, 32))
	}
	if r.Data.AccessToken == "" {
		return "", errors.New("reply has no data.accessToken")
	}
	return r.Data.AccessToken, nil
}

func decodeError(status int, body []byte) (string, string) {
	var r Reply
	if json.Unmarshal(body, &r) != nil || r.Status != "error" {
		return vendorhttp.OAuthError(status, body)
	}
	desc := r.Message
	if e := explanations[r.Code]; e != "" {
		desc = e
	}
	return r.Code, desc
}

// Fetch requests a token with the credentials' username, password and
// advertiser.
func (c *Client) Fetch(ctx context.Context, req *refresh.Request) (*refresh.Grant, error) {
	u, err := url.Parse(req.Endpoint)
	if err != nil {
		return nil, fmt.Errorf("merchenta: endpoint %s is not a URL", vendorhttp.RedactURL(req.Endpoint))
	}
	q := u.Query()
	q.Set("username", req.Credentials.Get("username"))
	q.Set("password", req.Credentials.Get("password"))
	q.Set("advertiser", req.Credentials.Get("advertiser"))
	u.RawQuery = q.Encode()
	full := u.String()
	resp, err := c.HTTP.Do(ctx, vendorhttp.Request{
		Vendor: "merchenta",
		NewRequest: func(ctx context.Context) (*http.Request, error) {
			r, err := http.NewRequestWithContext(ctx, http.MethodGet, full, nil)
			if err != nil {
				return nil, err
			}
			r.Header.Set("Accept", "application/json")
			return r, nil
		},
		DecodeError: decodeError,
	})
	if err != nil {
		return nil, fmt.Errorf("merchenta: request token: %w", err)
	}
	tok, err := ParseReply(resp.Body, resp.Header.Get("Content-Type"))
	if err != nil {
		return nil, fmt.Errorf("merchenta: token reply: %w", err)
	}
	g := refresh.NewGrant(resp, tok, "Bearer", 0)
	g.Extras = map[string]string{"advertiser": req.Credentials.Get("advertiser")}
	if exp, ok := jwtexp.ISO(tok); ok {
		g.NotAfter = exp
	}
	return g, nil
}
