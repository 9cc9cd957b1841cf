// Package invoca checks and publishes an Invoca API token.
//
// Invoca tokens are static: an operator creates one in Invoca's UI
// (Integrations → Manage Integrations → Invoca APIs → New API Credential)
// and stores it in the credentials secret. It does not expire on a schedule
// and there is no refresh token, but it can be revoked and it carries the
// rights of the user who made it. So the refresher makes one cheap
// authenticated call — the Transactions API with limit=1 — and publishes the
// token only if Invoca still accepts it. The header is
// "Authorization: <token>", without "Bearer".
package invoca

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"github.com/token-refresher/token-refresher/shared/refresh"
	"github.com/token-refresher/token-refresher/shared/vendorhttp"
)

// APIVersion is the Invoca API version of the validation call.
const APIVersion = "2020-10-01"

// Client validates Invoca tokens. The zero value is usable.
type Client struct {
	HTTP vendorhttp.Client
}

var _ refresh.Vendor = (*Client)(nil)

// ValidateURL returns the URL of the cheap authenticated call for a network:
// https://<vanity>.invoca.net/api/<version>/networks/transactions/<network_id>.csv?limit=1&include_columns=transaction_id
func ValidateURL(vanity, networkID string) string {
	return fmt.Sprintf("https://%s.invoca.net/api/%s/networks/transactions/%s.csv?limit=1&include_columns=transaction_id",
		url.PathEscape(vanity), APIVersion, url.PathEscape(networkID))
}

// endpoint picks the validation URL: VALIDATE_URL, else the credentials'
// validate_url, else one built from vanity and network_id.
func endpoint(req *refresh.Request) (string, error) {
	u := req.Endpoint
	if u == "" {
		u = req.Credentials.Get("validate_url")
	}
	if u == "" {
		vanity, network := req.Credentials.Get("vanity"), req.Credentials.Get("network_id")
		if vanity == "" || network == "" {
			return "", fmt.Errorf("no validation URL: set VALIDATE_URL, or validate_url, or vanity and network_id in the credentials secret")
		}
		u = ValidateURL(vanity, network)
	}
	if err := vendorhttp.CheckEndpoint(u); err != nil {
		return "", err
	}
	return u, nil
}

// Fetch checks that the credentials' api_token still works and returns it.
// A 401 or 403 is a permanent error saying the token was revoked or lacks
// rights.
func (c *Client) Fetch(ctx context.Context, req *refresh.Request) (*refresh.Grant, error) {
	u, err := endpoint(req)
	if err != nil {
		return nil, fmt.Errorf("invoca: %w", err)
	}
	tok := req.Credentials.Get("api_token")
	resp, err := c.HTTP.Do(ctx, vendorhttp.Request{
		Vendor: "invoca",
		NewRequest: func(ctx context.Context) (*http.Request, error) {
			r, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
			if err != nil {
				return nil, err
			}
			r.Header.Set("Authorization", tok)
			r.Header.Set("Accept", "text/csv, application/json")
			return r, nil
		},
		DecodeError: func(status int, body []byte) (string, string) {
			if status == http.StatusUnauthorized || status == http.StatusForbidden {
				return "token_rejected", "token revoked or lacks rights: create a new API token in Invoca and store it in the credentials secret"
			}
			return vendorhttp.OAuthError(status, body)
		},
	})
	if err != nil {
		return nil, fmt.Errorf("invoca: validate token: %w", err)
	}
	return &refresh.Grant{
		AccessToken:   tok,
		TokenType:     "token",
		Authorization: tok,
		Date:          resp.Date,
		Sent:          resp.Sent,
		Validated:     true,
	}, nil
}
