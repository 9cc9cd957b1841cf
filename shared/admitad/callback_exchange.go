package admitad

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/token-refresher/token-refresher/shared/refresh"
	"github.com/token-refresher/token-refresher/shared/secretstore"
	"github.com/token-refresher/token-refresher/shared/token"
	"github.com/token-refresher/token-refresher/shared/vendorhttp"
	"github.com/token-refresher/token-refresher/shared/vendors"
)

// The connect flow: a signed link becomes a redirect to Admitad's
// dialogue (authorize), and Admitad's redirect becomes a code exchange, a
// saved refresh token and a published access token (callback).

// redirectURI is the callback URL given to Admitad: CALLBACK_URL, or the
// request's own domain and stage.
func (h *Callback) redirectURI(r *request) string {
	if h.Config.CallbackURL != "" {
		return h.Config.CallbackURL
	}
	host := r.ev.RequestContext.DomainName
	if host == "" {
		host = header(r.ev, "host")
	}
	// API Gateway is HTTPS only; plain HTTP is believed only from a local
	// stand-in on loopback.
	scheme := "https"
	if header(r.ev, "x-forwarded-proto") == "http" && vendorhttp.CheckEndpoint("http://"+host) == nil {
		scheme = "http"
	}
	return scheme + "://" + host + r.prefix + CallbackPath
}

func (h *Callback) credentials(ctx context.Context, r *request) (refresh.Credentials, error) {
	id := r.target.CredentialsSecretID
	v, err := h.Store.Get(ctx, id)
	if errors.Is(err, secretstore.ErrNotFound) {
		return nil, fmt.Errorf("admitad: credentials secret %s does not exist or has no value", id)
	}
	if err != nil {
		return nil, fmt.Errorf("admitad: read credentials: %w", err)
	}
	creds, err := refresh.ParseCredentials(v.String, vendors.MustLookup(Name).CredentialFields)
	if err != nil {
		return nil, fmt.Errorf("admitad: credentials secret %s %v", id, err)
	}
	return creds, nil
}

// serve finds the target of connection name, the one a link or state
// names (not yet verified), before anything is read. An unknown or invalid
// name is refused with a page that names it but not the connections
// served (the log line lists them).
func (h *Callback) serve(r *request, name string) error {
	r.conn = name
	r.attrs = append(r.attrs, slog.String("connection", name))
	tg, err := h.Config.Targets.Lookup(Name, name)
	if err != nil {
		return err
	}
	r.target = tg
	return nil
}

// unserved is the page line for a connection serve refused.
func unserved(what, name string) string {
	if vendors.CheckConnection(name) != nil {
		return fmt.Sprintf("The %s names a connection, %q, that is not a valid connection name.", what, name)
	}
	return fmt.Sprintf("The %s is for the Admitad connection %q, which this deployment does not serve.", what, name)
}

// newLinkHint says how a person gets a new link for the request's
// connection: in words, for a browser (no commands, no Markdown).
func (r *request) newLinkHint() string {
	if named(r.conn) == "" {
		return "To connect, ask your operator for a new link."
	}
	return fmt.Sprintf("To connect, ask your operator for a new link for the Admitad connection %q.", r.conn)
}

func (h *Callback) authorize(ctx context.Context, r *request) events.APIGatewayV2HTTPResponse {
	now := h.now()
	if err := h.serve(r, LinkConnection(r.query)); err != nil {
		return r.page(http.StatusForbidden, "refused", err, page{
			Title: "This connect link does not work",
			Lines: []string{unserved("link", r.conn), "Nothing was read or stored. Ask an operator for a link of a connection this deployment serves."},
		})
	}
	key, err, readErr := h.verifyWithKey(ctx, func(key []byte) error {
		conn, err := VerifyConnectionLink(key, r.query, now)
		if err == nil && conn != r.conn {
			// Cannot happen: both come from the same query.
			err = fmt.Errorf("%w: the link is for connection %q, not %q", ErrLink, conn, r.conn)
		}
		return err
	})
	if readErr != nil {
		return r.failure(http.StatusInternalServerError, "failed", readErr, "The signing key could not be read.")
	}
	if err != nil {
		return r.page(http.StatusForbidden, "refused", err, page{
			Title: "This connect link does not work",
			Lines: []string{sentence(err), r.newLinkHint()},
		})
	}
	creds, err := h.credentials(ctx, r)
	if err != nil {
		return r.failure(http.StatusInternalServerError, "failed", err, "The Admitad credentials are not usable.")
	}
	r.hide(creds.Get("client_secret"))
	cookie, err := RandomToken(32)
	if err != nil {
		return r.failure(http.StatusInternalServerError, "failed", err, "")
	}
	ttl := h.stateTTL()
	state, err := NewConnectionState(key, cookie, r.conn, now, ttl)
	if err != nil {
		return r.failure(http.StatusInternalServerError, "failed", err, "")
	}
	target, err := url.Parse(h.Config.AuthorizeURL)
	if err != nil {
		return r.failure(http.StatusInternalServerError, "failed", fmt.Errorf("admitad: AUTHORIZE_URL is not a URL"), "")
	}
	q := target.Query()
	q.Set("client_id", creds.Get("client_id"))
	q.Set("redirect_uri", h.redirectURI(r))
	q.Set("scope", creds.Get("scope"))
	q.Set("response_type", "code")
	q.Set("state", state)
	target.RawQuery = q.Encode()
	r.attrs = append(r.attrs, slog.String("redirect_uri", h.redirectURI(r)))
	resp := r.respond(http.StatusFound, "redirected", nil, "")
	resp.Headers["Location"] = target.String()
	resp.Cookies = []string{r.setCookie(cookie, ttl)}
	return resp
}

// callback answers Admitad's redirect: it verifies the signed state against
// the browser's cookie (refusing a replay), then hands a refusal to denied
// and a code to connect.
func (h *Callback) callback(ctx context.Context, r *request) events.APIGatewayV2HTTPResponse {
	now := h.now()
	code := r.query.Get("code")
	r.hide(code)
	stateParam := r.query.Get("state")
	name := StateConnection(stateParam)
	if name == "" {
		// Missing or malformed: VerifyState says which.
		name = vendors.DefaultConnection
	}
	if err := h.serve(r, name); err != nil {
		return r.page(http.StatusBadRequest, "refused", err, page{
			Title: "This sign-in cannot be completed",
			Lines: []string{unserved("sign-in", r.conn), "Nothing was read or stored."},
		})
	}
	r.cookies = connectCookies(r.ev, ConnectionCookieName(name))
	var st State
	_, err, readErr := h.verifyWithKey(ctx, func(key []byte) (err error) {
		st, err = VerifyState(key, stateParam, r.cookies, now)
		if err == nil && st.Connection != r.conn {
			// Cannot happen: both come from the same state.
			err = fmt.Errorf("%w: the state is for connection %q, not %q", ErrState, st.Connection, r.conn)
		}
		return err
	})
	if readErr != nil {
		return r.failure(http.StatusInternalServerError, "failed", readErr, "The signing key could not be read.")
	}
	if err != nil {
		if h.alreadyUsed(ctx, r, stateParam) {
			return r.page(http.StatusBadRequest, "replay", fmt.Errorf("admitad: callback: state already used (%w)", err), usedLinkPage(r))
		}
		return r.page(http.StatusBadRequest, "refused", err, page{
			Title: "This sign-in cannot be completed",
			Lines: []string{sentence(err), "Nothing was stored.", r.newLinkHint()},
		})
	}
	// The state was good: from here on every answer ends the flow and
	// clears the cookie.
	if e := r.query.Get("error"); e != "" {
		return h.denied(ctx, r, e)
	}
	if code == "" {
		return r.clearing(r.page(http.StatusBadRequest, "refused", errors.New("admitad: callback: no code"), page{
			Title: "This sign-in cannot be completed",
			Lines: []string{"Admitad's redirect carried neither a code nor an error. Nothing was stored."},
		}))
	}
	return h.connect(ctx, r, st, code, now)
}

// denied answers Admitad's redirect with an error instead of a code: the
// person refused, or Admitad did.
func (h *Callback) denied(ctx context.Context, r *request, e string) events.APIGatewayV2HTTPResponse {
	// Admitad's text is shown, so the client secret must be known to
	// the scrubber first. Without it, only a documented code is shown.
	creds, cerr := h.credentials(ctx, r)
	if cerr == nil {
		r.hide(creds.Get("client_secret"))
	}
	// Scrubbed while whole, then cut.
	code := vendorhttp.Clean(r.scrub(e), vendorhttp.MaxCode)
	desc := vendorhttp.Clean(r.scrub(r.query.Get("error_description")), 300)
	if cerr != nil {
		if e != "access_denied" && explanations[e] == "" {
			code = "(not shown: the credentials could not be read to check it)"
		}
		desc = ""
	}
	r.attrs = append(r.attrs, slog.String("vendor_code", code))
	lines := []string{"Admitad did not grant access. Nothing was stored."}
	facts := []fact{{"Error", code}}
	if desc != "" {
		facts = append(facts, fact{"Description", desc})
	}
	if e == "access_denied" {
		lines = append(lines, "Access was denied in the Admitad dialogue. To connect, start again with a new link and choose Allow.")
	} else if x := explanations[e]; x != "" {
		lines = append(lines, x+".")
	}
	return r.clearing(r.page(http.StatusBadRequest, "denied", nil, page{Title: "Admitad refused the connection", Lines: lines, Facts: facts}))
}

// connect completes a verified callback: it refuses a replay or an older
// sign-in, exchanges the code, saves the refresh token with the record of
// the access token, and only then publishes the access token.
func (h *Callback) connect(ctx context.Context, r *request, st State, code string, now time.Time) events.APIGatewayV2HTTPResponse {
	id := r.target.RefreshSecretID
	conn, _, err := ReadConnection(ctx, h.Store, id)
	switch {
	case errors.Is(err, ErrNotConnected):
	case err != nil:
		return r.clearing(r.failure(http.StatusInternalServerError, "failed", err, "The refresh-token secret could not be read."))
	case conn.ConnectState == st.Fingerprint():
		return r.clearing(r.page(http.StatusBadRequest, "replay", errors.New("admitad: callback: state already used"), usedLinkPage(r)))
	case !st.IssuedAt.After(conn.ConnectedAt):
		return r.clearing(r.page(http.StatusBadRequest, "replay", errors.New("admitad: callback: state older than the current connection"), page{
			Title: "A newer connection exists",
			Lines: []string{fmt.Sprintf("Admitad connection %q was connected again after this sign-in started, so it cannot replace that connection. Nothing was changed. Start again with a new link if needed.", r.conn)},
		}))
	}
	creds, err := h.credentials(ctx, r)
	if err != nil {
		return r.clearing(r.failure(http.StatusInternalServerError, "failed", err, "The Admitad credentials are not usable."))
	}
	r.hide(creds.Get("client_secret"))
	res, err := h.Client.Exchange(ctx, h.Config.TokenURL, creds, code, h.redirectURI(r))
	if err != nil {
		lines := []string{"Admitad did not accept the sign-in. Nothing was stored."}
		var ve *vendorhttp.Error
		if errors.As(err, &ve) {
			r.attrs = append(r.attrs, slog.Int("vendor_status", ve.Status), slog.String("vendor_code", ve.Code))
			switch ve.Code {
			case "invalid_grant":
				lines = append(lines, "The code was refused: it was already used or it expired. Start again with a new link.")
			case "invalid_client":
				lines = append(lines, "Admitad refused client_id/client_secret: fix the credentials secret, then start again.")
			}
		}
		lines = append(lines, sentence(errors.New(r.message(err))))
		return r.clearing(r.page(http.StatusBadGateway, "vendor_error", err, page{Title: "Admitad refused the code", Lines: lines}))
	}
	r.hide(res.AccessToken, res.RefreshToken)
	r.attrs = append(r.attrs, slog.String("username", res.Username))
	if want := creds.Get("expected_username"); want != "" && res.Username != want {
		return r.clearing(r.page(http.StatusForbidden, "wrong_account", fmt.Errorf("admitad: callback: Admitad account %q is not the expected %q", res.Username, want), page{
			Title: "Wrong Admitad account",
			Lines: []string{
				fmt.Sprintf("You signed in to Admitad as %q, but connection %q is set up for %q. Nothing was stored.", res.Username, r.conn, want),
				fmt.Sprintf("Sign out of Admitad, sign in as %q, and start again with a new link.", want),
			},
		}))
	}
	// The refresh token first: an access token published without it would
	// leave a connection that dies in 7 days.
	next := Connection{
		RefreshToken: res.RefreshToken,
		Username:     res.Username,
		Scope:        res.Scope,
		ConnectedAt:  now.UTC(),
		RotatedAt:    now.UTC(),
		ConnectState: st.Fingerprint(),
	}
	pub := *h.Publisher
	pub.Now = h.now
	g := res.Grant()
	g.Connection, g.Trigger = r.conn, token.TriggerConnect
	tok, buildErr := pub.Build(g)
	if buildErr == nil {
		// Recorded with the refresh token: if publishing fails below,
		// the next run publishes it.
		next.Access = accessRecord(tok)
	}
	if err := SaveConnection(ctx, h.Store, id, next); err != nil {
		return r.clearing(r.failure(http.StatusInternalServerError, "failed", err,
			"Admitad granted access, but the refresh token could not be saved, so the connection is not usable. Nothing was published. Start again with a new link."))
	}
	facts := []fact{{"Connection", r.conn}, {"Admitad user", res.Username}, {"Scope", res.Scope}}
	err = buildErr
	if err == nil {
		tok, err = pub.PublishToken(ctx, r.target.TokenSecretID, tok)
	}
	if err != nil {
		return r.clearing(r.page(http.StatusInternalServerError, "partial", err, page{
			Title: "Admitad connected; access token not yet published",
			Lines: []string{
				"The connection is saved: the scheduled refresher keeps it alive.",
				"The access token could not be written to the token secret; the refresher publishes one on its next run (or invoke it with " + forceEvent(r.conn) + ").",
				sentence(errors.New(r.message(err))),
			},
			Facts: facts,
		}))
	}
	r.attrs = append(r.attrs, slog.String("fingerprint", tok.Fingerprint), slog.String("expires_at", tok.ExpiresAt.Format(time.RFC3339)))
	facts = append(facts, fact{"Access token expires", tok.ExpiresAt.UTC().Format("2006-01-02 15:04 MST")})
	return r.clearing(r.page(http.StatusOK, "connected", nil, page{
		Title: "Admitad connected",
		Lines: []string{fmt.Sprintf("Admitad connection %q is saved and its access token is published. You can close this page.", r.conn)},
		Facts: facts,
	}))
}

// forceEvent is the refresher event that forces a refresh of connection.
func forceEvent(connection string) string {
	if c := named(connection); c != "" {
		return `{"force": true, "connection": "` + c + `"}`
	}
	return `{"force": true}`
}
