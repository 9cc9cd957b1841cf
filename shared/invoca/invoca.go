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
//
// Invoca accepts the token only if the reply is the report that call
// returns: HTTP 200, a CSV report (text/csv, a header row naming the asked
// include_columns) for a .csv URL or a JSON array for a .json URL. Any
// other 2xx (an HTML page from a proxy or a login wall, an empty body, an
// Invoca error object) is refused with what was wrong, and the old token
// stays published.
//
// Contract: Client.Fetch returns the validated token as a *refresh.Grant, or
// an error prefixed "invoca: " and the step. A refusal by Invoca is a
// *vendorhttp.Error (errors.As) with the status and whether a retry may
// help; a reply that is not the report is an error saying what was wrong
// with it, and in both cases nothing is published. The package logs
// nothing; its errors never carry the token or the request's query string,
// and refresh scrubs the token from any vendor text before it is logged. A
// Client holds no state of its own and is safe for concurrent use.
package invoca

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"

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
	if err := CheckReply(u, resp.Status, resp.Header.Get("Content-Type"), resp.Body); err != nil {
		return nil, fmt.Errorf("invoca: validate token: %w: token not confirmed, old token kept", err)
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

// Media types of the reports.
const (
	csvType  = "text/csv"
	jsonType = "application/json"
)

// CheckReply checks that a successful reply to the validation call at
// rawURL is the Transactions API's report, not any 2xx: status 200; a
// content type matching the URL (.csv: text/csv, .json: application/json,
// other URLs either); a CSV body whose header row names the columns the
// URL's include_columns asks for, or a JSON array (an object is accepted
// for URLs other than a .csv or .json report, unless it is an Invoca error
// object). Errors say what is wrong without quoting the body.
func CheckReply(rawURL string, status int, contentType string, body []byte) error {
	if status != http.StatusOK {
		return fmt.Errorf("reply is HTTP %d, want 200 with the transactions report", status)
	}
	want := []string{csvType, jsonType}
	u, _ := url.Parse(rawURL)
	var ext string
	if u != nil {
		ext = strings.ToLower(path.Ext(u.Path))
	}
	switch ext {
	case ".csv":
		want = []string{csvType}
	case ".json":
		want = []string{jsonType}
	}
	mt, _, _ := mime.ParseMediaType(contentType)
	kind := ""
	switch {
	case mt == csvType || mt == "application/csv":
		kind = csvType
	case mt == jsonType || strings.HasSuffix(mt, "+json"):
		kind = jsonType
	}
	if kind == "" || !slices.Contains(want, kind) {
		got := "reply has no content type"
		if mt != "" {
			got = "reply is " + mt
		}
		return fmt.Errorf("%s, want %s: not Invoca's report (a proxy's or login page?)", got, strings.Join(want, " or "))
	}
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return errors.New("reply body is empty, want the transactions report")
	}
	if kind == csvType {
		var columns []string
		if u != nil {
			for _, c := range strings.Split(u.Query().Get("include_columns"), ",") {
				if c = strings.TrimSpace(c); c != "" {
					columns = append(columns, c)
				}
			}
		}
		return checkCSV(trimmed, columns)
	}
	return checkJSON(trimmed, ext == ".json")
}

// checkCSV checks that body starts with a header row of column names that
// includes columns.
func checkCSV(body []byte, columns []string) error {
	r := csv.NewReader(bytes.NewReader(body))
	r.FieldsPerRecord = -1
	header, err := r.Read()
	if err != nil {
		return fmt.Errorf("reply is not a CSV report (%d bytes): its header row does not parse", len(body))
	}
	names := map[string]bool{}
	for _, h := range header {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		if h == "" || len(h) > 100 || strings.ContainsAny(h, "<>{}") {
			return fmt.Errorf("reply is not a CSV report (%d bytes): its first line is not a row of column names", len(body))
		}
		names[h] = true
	}
	for _, c := range columns {
		if !names[c] {
			return fmt.Errorf("reply's CSV header lacks the column %q the call asks for: not the transactions report", c)
		}
	}
	return nil
}

// checkJSON checks that body is a JSON array, or (unless arrayOnly) an
// object that is not an Invoca error ({"errors": {"class": ...}}).
func checkJSON(body []byte, arrayOnly bool) error {
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return fmt.Errorf("reply is not valid JSON (%d bytes)", len(body))
	}
	switch x := v.(type) {
	case []any:
		return nil
	case map[string]any:
		if e, ok := x["errors"]; ok {
			class := ""
			if m, ok := e.(map[string]any); ok {
				class, _ = m["class"].(string)
			}
			if len(class) > 64 {
				class = ""
			}
			return fmt.Errorf("reply is an Invoca error (class %q), not the transactions report", class)
		}
		if !arrayOnly {
			return nil
		}
		return errors.New("reply is a JSON object, want the transactions report (a JSON array)")
	}
	return errors.New("reply is not a JSON array or object")
}
