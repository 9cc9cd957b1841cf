package admitad

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/token-refresher/token-refresher/shared/lambdafn"
	"github.com/token-refresher/token-refresher/shared/refresh"
	"github.com/token-refresher/token-refresher/shared/secretstore"
	"github.com/token-refresher/token-refresher/shared/token"
	"github.com/token-refresher/token-refresher/shared/vendorhttp"
	"github.com/token-refresher/token-refresher/shared/vendors"
)

// CallbackConfig is the callback function's configuration, read from its
// environment (a public contract set by the stack):
//
//	CREDENTIALS_SECRET_ID   the default connection's Admitad credentials (client_id,
//	                        client_secret, scope, optional expected_username); read only
//	TOKEN_SECRET_ID         the default connection's token secret apps read; written
//	REFRESH_SECRET_ID       the default connection's refresh-token secret
//	                        (Connection); read and written
//	CONNECTIONS             optional; the named connections it may connect, as the
//	                        refresher's (refresh.LoadTargets): "eu,us", each with
//	                        its own <prefix>/admitad/<connection>/{credentials,
//	                        token,refresh-token}
//	NAME_PREFIX             the <prefix> of those names; CREDENTIALS_SECRET_IDS
//	                        names imported credentials secrets (refresh.LoadTargets)
//	SIGNING_KEY_SECRET_ID   HMAC key of links and states, shared by all
//	                        connections; read only
//	TOKEN_URL               token endpoint (default https://api.admitad.com/token/)
//	AUTHORIZE_URL           authorize dialogue (default DefaultAuthorizeURL)
//	CALLBACK_URL            optional redirect_uri; else derived from the request's
//	                        domain and stage: https://<domain>[/<stage>]/admitad/callback
//	REFRESHER_FUNCTION_NAME optional; published as the token's "refresher"
type CallbackConfig struct {
	// Targets are the connections served: a link or state naming any
	// other is refused before any call.
	Targets               refresh.Targets
	SigningKeySecretID    string
	TokenURL              string
	AuthorizeURL          string
	CallbackURL           string
	RefresherFunctionName string
}

// LoadCallbackConfig reads the configuration from getenv. Errors name the
// variable that is wrong.
func LoadCallbackConfig(getenv func(string) string) (CallbackConfig, error) {
	targets, err := refresh.LoadTargets(vendors.MustLookup(Name), getenv)
	if err != nil {
		return CallbackConfig{}, fmt.Errorf("admitad-callback: %w", err)
	}
	c := CallbackConfig{
		Targets:               targets,
		SigningKeySecretID:    getenv("SIGNING_KEY_SECRET_ID"),
		TokenURL:              getenv("TOKEN_URL"),
		AuthorizeURL:          getenv("AUTHORIZE_URL"),
		CallbackURL:           getenv("CALLBACK_URL"),
		RefresherFunctionName: getenv("REFRESHER_FUNCTION_NAME"),
	}
	if c.SigningKeySecretID == "" {
		return CallbackConfig{}, errors.New("admitad-callback: SIGNING_KEY_SECRET_ID is not set")
	}
	if c.TokenURL == "" {
		c.TokenURL = vendors.MustLookup(Name).DefaultURL
	}
	if c.AuthorizeURL == "" {
		c.AuthorizeURL = DefaultAuthorizeURL
	}
	for _, v := range []struct{ name, value string }{
		{"TOKEN_URL", c.TokenURL}, {"AUTHORIZE_URL", c.AuthorizeURL}, {"CALLBACK_URL", c.CallbackURL},
	} {
		if v.value == "" {
			continue
		}
		if err := vendorhttp.CheckEndpoint(v.value); err != nil {
			return CallbackConfig{}, fmt.Errorf("admitad-callback: %s: %w", v.name, err)
		}
	}
	return c, nil
}

// Callback serves the two routes of the callback function behind an API
// Gateway HTTP API (payload format 2.0):
//
//	GET /admitad/authorize?[connection=...&]exp=...&sig=...   a link minted by
//	    MintConnectionLink: sets the connection's connect cookie and redirects
//	    (302) to Admitad's authorize dialogue with a state naming the connection
//	GET /admitad/callback?code=...&state=... Admitad's redirect: checks the state
//	    and the cookie of the connection it names, exchanges the code, saves the
//	    refresh token to that connection's refresh-token secret, publishes the
//	    access token to its token secret, clears the cookie
//
// The connection comes only from the signed link, then the signed state
// bound to the cookie: a flow started for one connection can read and
// write that connection's secrets and no other's. A link or state naming a
// connection the function does not serve is refused before any call.
//
// Every answer is a small HTML page (everything escaped) or a redirect;
// none ever shows a token, a code or the client secret. Handle never
// returns an error: failures are pages with a 4xx/5xx status, and one JSON
// log line per request says what happened. Safe for concurrent use.
type Callback struct {
	Config CallbackConfig
	Store  *secretstore.Store
	// Client exchanges codes; its Store is not used.
	Client *Client
	// Publisher writes the token secret in the public contract.
	Publisher *refresh.Refresher
	// Log receives one line per request; nil discards.
	Log *slog.Logger
	// Now is the clock; nil uses time.Now.
	Now func() time.Time
	// StateTTL is how long a started flow may take; zero means StateTTL.
	StateTTL time.Duration
	// KeyTTL is how long the signing key, once read, is used before it is
	// read again; zero means SigningKeyTTL.
	KeyTTL time.Duration

	keyMu sync.Mutex
	key   []byte
	// keyRead is when key was read, keyTried the last read attempt,
	// keyErr that attempt's error.
	keyRead, keyTried time.Time
	keyErr            error
}

// The signing key is read from Secrets Manager once and kept in the
// process, so that requests (anyone can send one) do not each cost a
// Secrets Manager call.
const (
	// SigningKeyTTL is how long a read key is used; a key an operator
	// rotates is picked up within this time at the latest.
	SigningKeyTTL = 5 * time.Minute
	// SigningKeyRecheck: when a link or state fails to verify with a key
	// read longer ago than this, the key is read once more and the check
	// repeated, so a link minted with a just-rotated key works at once.
	// Forged or stale links therefore cause at most one read per
	// SigningKeyRecheck per instance, however many are sent.
	SigningKeyRecheck = time.Minute
	// SigningKeyRetry: after a failed read, no read is tried for this
	// long; requests meanwhile use the key read before, if any, or get
	// the same error.
	SigningKeyRetry = 5 * time.Second
)

// NewCallback builds the callback from the environment, once per cold
// start. Logs go to out as JSON.
func NewCallback(ctx context.Context, getenv func(string) string, out io.Writer) (*Callback, error) {
	cfg, err := LoadCallbackConfig(getenv)
	if err != nil {
		return nil, err
	}
	awsCfg, err := lambdafn.AWSConfig(getenv)
	if err != nil {
		return nil, fmt.Errorf("admitad-callback: %w", err)
	}
	store := &secretstore.Store{API: secretsmanager.NewFromConfig(awsCfg)}
	return NewCallbackWith(cfg, store, lambdafn.NewLogger(out)), nil
}

// NewCallbackWith builds the callback from its parts.
func NewCallbackWith(cfg CallbackConfig, store *secretstore.Store, log *slog.Logger) *Callback {
	return &Callback{
		Config: cfg,
		Store:  store,
		Client: &Client{},
		Publisher: &refresh.Refresher{
			Spec:         vendors.MustLookup(Name),
			Store:        store,
			Endpoint:     cfg.TokenURL,
			FunctionName: cfg.RefresherFunctionName,
		},
		Log: log,
	}
}

// CookieName is the connect cookie that binds a state of the default
// connection to the browser that started the flow.
const CookieName = "admitad_connect"

// ConnectionCookieName is the connect cookie of connection's flows:
// CookieName for the default connection, CookieName + "_" + connection
// for a named one, so flows of different connections in one browser do not
// replace each other's cookie.
func ConnectionCookieName(connection string) string {
	if c := named(connection); c != "" {
		return CookieName + "_" + c
	}
	return CookieName
}

// Route paths, after the stage prefix.
const (
	AuthorizePath = "/admitad/authorize"
	CallbackPath  = "/admitad/callback"
	cookieScope   = "/admitad"
)

// responseMargin is kept back from the Lambda deadline so a slow vendor or
// store still leaves time to answer with a page.
const responseMargin = 750 * time.Millisecond

// Handle serves one API Gateway request.
func (h *Callback) Handle(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	if dl, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, dl.Add(-responseMargin))
		defer cancel()
	}
	rq := &request{ev: req, log: h.Log, start: h.now()}
	if lc, ok := lambdacontext.FromContext(ctx); ok && rq.log != nil {
		rq.log = rq.log.With("requestId", lc.AwsRequestID)
	}
	rq.route, rq.prefix = route(req)
	rq.query = query(req)
	var resp events.APIGatewayV2HTTPResponse
	switch {
	case rq.route == "" || (rq.method() != http.MethodGet && rq.method() != http.MethodHead):
		resp = rq.page(http.StatusNotFound, "notfound", nil, page{
			Title: "Not found",
			Lines: []string{"This address serves only " + AuthorizePath + " and " + CallbackPath + "."},
		})
	case rq.route == AuthorizePath:
		resp = h.authorize(ctx, rq)
	default:
		resp = h.callback(ctx, rq)
	}
	return resp, nil
}

// request is one request being served.
type request struct {
	ev            events.APIGatewayV2HTTPRequest
	route, prefix string
	query         url.Values
	log           *slog.Logger
	start         time.Time
	secrets       refresh.Scrubber
	attrs         []slog.Attr
	cookies       []string
	// conn is the connection the request is for, once known; target its
	// secrets.
	conn   string
	target refresh.Target
}

func (r *request) method() string {
	if m := r.ev.RequestContext.HTTP.Method; m != "" {
		return strings.ToUpper(m)
	}
	if i := strings.IndexByte(r.ev.RouteKey, ' '); i > 0 {
		return strings.ToUpper(r.ev.RouteKey[:i])
	}
	return http.MethodGet
}

// hide registers values that must never reach a page or a log line.
func (r *request) hide(values ...string) { r.secrets.Add(values...) }

func (r *request) scrub(s string) string { return r.secrets.Scrub(s) }

// message is err's text with secrets scrubbed, then shortened.
func (r *request) message(err error) string { return r.secrets.Message(err) }

// route finds which route a request is for, and the path prefix in front
// of it (the stage, when the API is not served from the $default stage).
func route(req events.APIGatewayV2HTTPRequest) (string, string) {
	path := req.RawPath
	if path == "" {
		path = req.RequestContext.HTTP.Path
	}
	for _, p := range []string{AuthorizePath, CallbackPath} {
		if strings.HasSuffix(path, p) {
			return p, strings.TrimSuffix(path, p)
		}
		if strings.HasSuffix(req.RouteKey, " "+p) && path == "" {
			return p, ""
		}
	}
	return "", ""
}

func query(req events.APIGatewayV2HTTPRequest) url.Values {
	if req.RawQueryString != "" {
		if q, err := url.ParseQuery(req.RawQueryString); err == nil {
			return q
		}
	}
	q := url.Values{}
	for k, v := range req.QueryStringParameters {
		q.Set(k, v)
	}
	return q
}

// connectCookies returns every value of the connect cookie name the
// browser sent (payload 2.0 puts cookies in "cookies"; a "cookie" header is
// read too).
func connectCookies(req events.APIGatewayV2HTTPRequest, name string) []string {
	var lines []string
	lines = append(lines, req.Cookies...)
	for k, v := range req.Headers {
		if strings.EqualFold(k, "cookie") {
			lines = append(lines, v)
		}
	}
	var out []string
	for _, line := range lines {
		cs, err := http.ParseCookie(line)
		if err != nil {
			continue
		}
		for _, c := range cs {
			if c.Name == name && c.Value != "" {
				out = append(out, c.Value)
			}
		}
	}
	return out
}

func (r *request) cookiePath() string { return r.prefix + cookieScope }

func (r *request) setCookie(value string, maxAge time.Duration) string {
	c := &http.Cookie{
		Name:     ConnectionCookieName(r.conn),
		Value:    value,
		Path:     r.cookiePath(),
		MaxAge:   int(maxAge / time.Second),
		HttpOnly: true,
		Secure:   true,
		SameSite: http.SameSiteLaxMode,
	}
	return c.String()
}

func (r *request) clearCookie() string {
	c := &http.Cookie{
		Name:     ConnectionCookieName(r.conn),
		Value:    "",
		Path:     r.cookiePath(),
		MaxAge:   -1,
		HttpOnly: true,
		Secure:   true,
		SameSite: http.SameSiteLaxMode,
	}
	return c.String()
}

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
	if code == "" {
		return r.clearing(r.page(http.StatusBadRequest, "refused", errors.New("admitad: callback: no code"), page{
			Title: "This sign-in cannot be completed",
			Lines: []string{"Admitad's redirect carried neither a code nor an error. Nothing was stored."},
		}))
	}
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

// clearing adds the cookie-clearing header to resp.
func (r *request) clearing(resp events.APIGatewayV2HTTPResponse) events.APIGatewayV2HTTPResponse {
	resp.Cookies = append(resp.Cookies, r.clearCookie())
	return resp
}

// failure is a page for a failure on our side.
func (r *request) failure(status int, outcome string, err error, what string) events.APIGatewayV2HTTPResponse {
	lines := []string{}
	if what != "" {
		lines = append(lines, what)
	}
	lines = append(lines, sentence(errors.New(r.message(err))), "An operator can find details in the function's log.")
	return r.page(status, outcome, err, page{Title: "Something went wrong", Lines: lines})
}

// page renders p and logs the outcome. Its texts are scrubbed before
// rendering (escaping would hide a secret holding <, >, &, ' or " from the
// scrubber), and the page once more after.
func (r *request) page(status int, outcome string, err error, p page) events.APIGatewayV2HTTPResponse {
	p.Title = r.scrub(p.Title)
	lines := make([]string, len(p.Lines))
	for i, l := range p.Lines {
		lines[i] = r.scrub(l)
	}
	facts := make([]fact, len(p.Facts))
	for i, f := range p.Facts {
		facts[i] = fact{Name: r.scrub(f.Name), Value: r.scrub(f.Value)}
	}
	p.Lines, p.Facts = lines, facts
	body, rerr := render(p)
	if rerr != nil {
		body = "<!doctype html><title>Error</title><p>The page could not be rendered.</p>"
	}
	return r.respond(status, outcome, err, r.scrub(body))
}

func (r *request) respond(status int, outcome string, err error, body string) events.APIGatewayV2HTTPResponse {
	if r.log != nil {
		var msg string
		if err != nil {
			// First: it scrubs vendor errors in place, vendor_code too.
			msg = r.message(err)
		}
		attrs := []slog.Attr{
			slog.String("vendor", Name),
			slog.String("route", r.route),
			slog.String("outcome", outcome),
			slog.Int("status", status),
			slog.Int64("duration_ms", time.Since(r.start).Milliseconds()),
		}
		for _, a := range r.attrs {
			if a.Value.Kind() == slog.KindString {
				a.Value = slog.StringValue(vendorhttp.Clean(r.scrub(a.Value.String()), 300))
			}
			attrs = append(attrs, a)
		}
		level := slog.LevelInfo
		if err != nil {
			attrs = append(attrs, slog.String("error", msg))
			if status >= 500 {
				level = slog.LevelError
			} else {
				level = slog.LevelWarn
			}
		}
		r.log.LogAttrs(context.Background(), level, "admitad-callback "+outcome, attrs...)
	}
	return events.APIGatewayV2HTTPResponse{
		StatusCode: status,
		Headers: map[string]string{
			"Content-Type":            "text/html; charset=utf-8",
			"Cache-Control":           "no-store",
			"Referrer-Policy":         "no-referrer",
			"X-Content-Type-Options":  "nosniff",
			"X-Frame-Options":         "DENY",
			"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
		},
		Body: body,
	}
}

// sentence turns an error into a sentence for a page: the part after the
// package prefix, capitalised, with a full stop.
func sentence(err error) string {
	s := err.Error()
	for _, p := range []string{"admitad: ", "callback: "} {
		s = strings.TrimPrefix(s, p)
	}
	s = strings.TrimPrefix(s, ErrState.Error()+": ")
	s = strings.TrimPrefix(s, ErrLink.Error()+": ")
	if s == "" {
		return ""
	}
	s = strings.ToUpper(s[:1]) + s[1:]
	if !strings.HasSuffix(s, ".") {
		s += "."
	}
	return s
}

// verifyWithKey runs check (a link's or a state's verification) with the
// signing key, read from Secrets Manager at most once per KeyTTL. When
// check fails, the key was not read just now and no read was tried in the
// last SigningKeyRecheck, the key is read once more and, if it changed,
// check repeated with it. It returns the key check ran with last, check's
// error, and the error of reading the key when there is no key to check
// with at all.
func (h *Callback) verifyWithKey(ctx context.Context, check func(key []byte) error) (key []byte, checkErr, readErr error) {
	key, fresh, readErr := h.signingKey(ctx, false)
	if readErr != nil {
		return nil, nil, readErr
	}
	if checkErr = check(key); checkErr == nil || fresh {
		return key, checkErr, nil
	}
	h.keyMu.Lock()
	recheck := !h.now().Before(h.keyTried.Add(SigningKeyRecheck))
	h.keyMu.Unlock()
	if !recheck {
		return key, checkErr, nil
	}
	if newer, _, err := h.signingKey(ctx, true); err == nil && !bytes.Equal(newer, key) {
		return newer, check(newer), nil
	}
	// Unchanged or unreadable: the refusal stands, the cached key stays.
	return key, checkErr, nil
}

// signingKey returns the cached signing key, reading it when there is
// none, it is KeyTTL old, or reload is set. fresh reports that it was read
// just now. When a read fails, the key read before (if any) is used until
// a read works; reads are then tried at most once per SigningKeyRetry.
func (h *Callback) signingKey(ctx context.Context, reload bool) (key []byte, fresh bool, err error) {
	h.keyMu.Lock()
	defer h.keyMu.Unlock()
	ttl := h.KeyTTL
	if ttl <= 0 {
		ttl = SigningKeyTTL
	}
	now := h.now()
	live := h.key != nil && !now.Before(h.keyRead) && now.Sub(h.keyRead) < ttl
	backoff := h.keyErr != nil && !now.Before(h.keyTried) && now.Sub(h.keyTried) < SigningKeyRetry
	if !reload && (live || backoff) {
		if h.key != nil {
			return h.key, false, nil
		}
		return nil, false, h.keyErr
	}
	h.keyTried = now
	key, err = LoadSigningKey(ctx, h.Store, h.Config.SigningKeySecretID)
	h.keyErr = err
	if err != nil {
		if h.key != nil && !reload {
			// Expired but readable before: keep using it until a read
			// works, rather than refuse every link.
			return h.key, false, nil
		}
		return nil, false, err
	}
	h.key, h.keyRead = key, now
	return key, true, nil
}

func (h *Callback) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

func (h *Callback) stateTTL() time.Duration {
	if h.StateTTL > 0 {
		return h.StateTTL
	}
	return StateTTL
}

func header(req events.APIGatewayV2HTTPRequest, name string) string {
	for k, v := range req.Headers {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}
