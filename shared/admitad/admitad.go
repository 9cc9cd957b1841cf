// Package admitad speaks Admitad's OAuth2 authorization-code protocol and
// keeps an Admitad connection alive.
//
// A person connects once: the callback function (Callback) sends the
// browser to Admitad's authorize dialogue, Admitad redirects back with a
// one-time code, and the code is exchanged:
//
//	POST https://api.admitad.com/token/   (form-encoded, HTTP Basic client_id:client_secret)
//	grant_type=authorization_code&code=...&redirect_uri=...&client_id=...&client_secret=...
//	→ {"username": "advertiser1", "access_token": "...", "token_type": "bearer",
//	   "expires_in": 604800, "refresh_token": "...", "scope": "..."}
//
// The access token lives 7 days. From then on the scheduled refresher
// (Client.Fetch) trades the refresh token for a new pair:
//
//	POST https://api.admitad.com/token/   (form-encoded)
//	grant_type=refresh_token&client_id=...&client_secret=...&refresh_token=...
//
// Refresh tokens rotate: the one sent is dead once Admitad answers, so the
// new one is saved (Connection, in the Admitad-only refresh-token secret)
// before the access token is published. The refresh token's own lifetime
// is undocumented, so the vendor table has the refresher trade it once the
// access token is a day old (checked every 6 hours), long before either
// could lapse from disuse. Errors are OAuth bodies
// {"error", "error_description"}; invalid_grant and invalid_client mean a
// person must reconnect (see ErrReconnect).
//
// Contract: the only thing in this package that logs is Callback, one JSON
// line per request saying what happened; no log line, page or error
// contains a client secret, a code, a state, an access token or a refresh
// token. Match causes with errors.Is: ErrReconnect (a person must connect
// again), ErrNotConnected (never connected), ErrLink and ErrState (a
// connect link or state that does not verify). Client and Callback are safe
// for concurrent use.
package admitad

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/token-refresher/token-refresher/shared/refresh"
	"github.com/token-refresher/token-refresher/shared/secretstore"
	"github.com/token-refresher/token-refresher/shared/vendorhttp"
	"github.com/token-refresher/token-refresher/shared/vendors"
)

// Name is the vendor's short name.
const Name = vendors.Admitad

// DefaultAuthorizeURL is Admitad's authorization dialogue (AUTHORIZE_URL's
// default).
const DefaultAuthorizeURL = "https://store.admitad.com/api/authorize/"

// ConnectHint tells an operator how to (re)connect Admitad. It ends every
// error that only a person can fix.
const ConnectHint = "reconnect Admitad: run `make connect-admitad` (or `tokenctl connect admitad`) and open the printed link in a browser"

// ErrReconnect is wrapped by every error that needs a person to connect
// Admitad again: no refresh token stored, a refresh token Admitad refuses
// (invalid_grant), client credentials it refuses (invalid_client), or a
// refresh token that was rotated but could not be saved.
var ErrReconnect = errors.New("admitad: must be reconnected")

// Reply is the token endpoint's successful reply.
type Reply struct {
	Username     string `json:"username"`
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token"`
	Scope        string `json:"scope"`
}

// ParseReply decodes and checks a successful reply body, a standard OAuth
// 2.0 token reply (vendorhttp.DecodeToken) with Admitad's username. Its
// errors never quote the body. A reply that carries a refresh_token but is
// otherwise unusable returns that refresh token in the Reply together
// with the error: Admitad has rotated, and the new refresh token must be
// kept.
func ParseReply(body []byte, contentType string) (Reply, error) {
	t, err := vendorhttp.DecodeToken(body, contentType, vendorhttp.SnakeCase)
	if err != nil && !vendorhttp.Incomplete(err) {
		return Reply{}, err
	}
	r := Reply{Username: t.Fields["username"], AccessToken: t.AccessToken, TokenType: t.TokenType, ExpiresIn: t.ExpiresIn, RefreshToken: t.RefreshToken, Scope: t.Scope}
	if r.RefreshToken != "" {
		if err := checkRefreshToken(r.RefreshToken); err != nil {
			return Reply{}, err
		}
	}
	switch {
	case r.RefreshToken == "" && r.AccessToken == "":
		return Reply{}, errors.New("reply has no access_token and no refresh_token")
	case r.RefreshToken == "":
		return Reply{}, errors.New("reply has no refresh_token")
	case err != nil:
		return Reply{RefreshToken: r.RefreshToken, Username: r.Username, Scope: r.Scope}, err
	}
	return r, nil
}

// maxRefreshToken bounds a refresh token kept in the secret.
const maxRefreshToken = 4096

// checkRefreshToken refuses a refresh token that cannot be one: too long,
// or with characters outside printable ASCII.
func checkRefreshToken(rt string) error {
	if len(rt) > maxRefreshToken {
		return fmt.Errorf("reply's refresh_token is longer than %d bytes", maxRefreshToken)
	}
	for i := 0; i < len(rt); i++ {
		if rt[i] <= ' ' || rt[i] >= 0x7f {
			return errors.New("reply's refresh_token has characters outside printable ASCII")
		}
	}
	return nil
}

// explanations say what each OAuth error code means for an operator.
var explanations = map[string]string{
	"invalid_grant":           "Admitad refused the code or refresh token (invalid, expired, already used or revoked)",
	"invalid_client":          "Admitad refused client_id/client_secret: check the credentials secret",
	"invalid_request":         "Admitad refused the request as malformed",
	"unsupported_grant_type":  "Admitad refused the grant type",
	"invalid_scope":           "Admitad refused the scope: check the credentials secret's scope",
	"server_error":            "unexpected error on Admitad's side",
	"temporarily_unavailable": "Admitad is temporarily unavailable",
}

func decodeError(status int, body []byte) (string, string) {
	code, desc := vendorhttp.OAuthError(status, body)
	if e := explanations[code]; e != "" {
		if desc != "" {
			desc = e + " (" + desc + ")"
		} else {
			desc = e
		}
	}
	return code, desc
}

// needsPerson reports OAuth codes that no retry can fix.
func needsPerson(code string) bool { return code == "invalid_grant" || code == "invalid_client" }

// Client talks to Admitad's token endpoint and keeps the connection's
// refresh token. Its zero value can exchange codes; Fetch also needs
// Store. A Client is safe for concurrent use.
type Client struct {
	HTTP vendorhttp.Client
	// Store holds the refresh-token secret (Fetch only).
	Store *secretstore.Store
	// Now is the clock; nil uses time.Now.
	Now func() time.Time
	// SaveTimeout bounds saving a rotated refresh token when the context
	// has no deadline; zero means DefaultSaveTimeout.
	SaveTimeout time.Duration
}

// Result is a token reply with the timing the refresh core needs.
type Result struct {
	Reply
	// Sent is when the request was sent (local clock), Date the vendor's
	// Date header.
	Sent, Date time.Time
}

// Grant converts r to the refresh core's grant: Admitad's username and
// scope are published next to the access token.
func (r Result) Grant() *refresh.Grant {
	extras := map[string]string{}
	if r.Scope != "" {
		extras["scope"] = r.Scope
	}
	if r.Username != "" {
		extras["username"] = r.Username
	}
	return &refresh.Grant{
		AccessToken: r.AccessToken,
		TokenType:   r.TokenType,
		ExpiresIn:   refresh.Seconds(r.ExpiresIn),
		Date:        r.Date,
		Sent:        r.Sent,
		Extras:      extras,
	}
}

// Exchange trades an authorization code for tokens at endpoint, sending
// client_id and client_secret both as HTTP Basic and in the body as
// Admitad's documentation shows. redirectURI must equal the one of the
// authorize request. A refused code or client gives an error wrapping a
// *vendorhttp.Error with its Code.
func (c *Client) Exchange(ctx context.Context, endpoint string, creds refresh.Credentials, code, redirectURI string) (Result, error) {
	form := url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {code},
		"redirect_uri":  {redirectURI},
		"client_id":     {creds.Get("client_id")},
		"client_secret": {creds.Get("client_secret")},
	}
	res, err := c.post(ctx, endpoint, form, true, nil)
	if err != nil {
		return Result{}, fmt.Errorf("admitad: exchange code: %w", err)
	}
	return res, nil
}

// oauthCode returns the OAuth error code of a failed call, or "".
func oauthCode(err error) string {
	var ve *vendorhttp.Error
	if errors.As(err, &ve) {
		return ve.Code
	}
	return ""
}

// Refresh trades a refresh token for new tokens at endpoint, with
// grant_type, client_id, client_secret and refresh_token in the form body
// (as Admitad's official clients send them). invalid_grant and
// invalid_client are not retried; the error then wraps ErrReconnect and the
// *vendorhttp.Error.
//
// A reply that rotated the refresh token but is unusable otherwise returns
// a Result holding only the new refresh token, with the error.
func (c *Client) Refresh(ctx context.Context, endpoint string, creds refresh.Credentials, refreshToken string) (Result, error) {
	return c.refresh(ctx, endpoint, creds, refreshToken, nil)
}

// refresh is Refresh, counting the requests sent in *attempts.
func (c *Client) refresh(ctx context.Context, endpoint string, creds refresh.Credentials, refreshToken string, attempts *int) (Result, error) {
	form := url.Values{
		"grant_type":    {"refresh_token"},
		"client_id":     {creds.Get("client_id")},
		"client_secret": {creds.Get("client_secret")},
		"refresh_token": {refreshToken},
	}
	res, err := c.post(ctx, endpoint, form, false, attempts)
	if err != nil {
		if res.RefreshToken != "" {
			return res, fmt.Errorf("token reply: %w", err)
		}
		var ve *vendorhttp.Error
		if errors.As(err, &ve) && needsPerson(ve.Code) {
			return Result{}, &reconnectError{step: "refresh", cause: err}
		}
		return Result{}, fmt.Errorf("admitad: refresh: %w", err)
	}
	return res, nil
}

func (c *Client) post(ctx context.Context, endpoint string, form url.Values, basic bool, attempts *int) (Result, error) {
	body := form.Encode()
	resp, err := c.HTTP.Do(ctx, vendorhttp.Request{
		Vendor: Name,
		NewRequest: func(ctx context.Context) (*http.Request, error) {
			if attempts != nil {
				*attempts++
			}
			r, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(body))
			if err != nil {
				return nil, err
			}
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded;charset=UTF-8")
			r.Header.Set("Accept", "application/json")
			if basic {
				r.SetBasicAuth(form.Get("client_id"), form.Get("client_secret"))
			}
			return r, nil
		},
		DecodeError: decodeError,
		Permanent:   needsPerson,
		// A code and a refresh token are good for one use: once Admitad
		// has acted on the request, the one sent is dead and only its
		// answer carries what works now.
		Unrepeatable: true,
	})
	if err != nil {
		return Result{}, err
	}
	reply, err := ParseReply(resp.Body, resp.Header.Get("Content-Type"))
	if err != nil {
		if reply.RefreshToken != "" {
			return Result{Reply: reply, Sent: resp.Sent, Date: resp.Date}, err
		}
		return Result{}, fmt.Errorf("token reply: %w", err)
	}
	return Result{Reply: reply, Sent: resp.Sent, Date: resp.Date}, nil
}

// reconnectError is a failure only a person can fix.
type reconnectError struct {
	step  string
	cause error
}

func (e *reconnectError) Error() string {
	return fmt.Sprintf("admitad: %s: %v: %s", e.step, e.cause, ConnectHint)
}

func (e *reconnectError) Unwrap() []error { return []error{ErrReconnect, e.cause} }
