package admitad

import (
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
	"github.com/token-refresher/token-refresher/shared/vendorhttp"
	"github.com/token-refresher/token-refresher/shared/vendors"
)

// The callback function's HTTP handler: its configuration, routing and
// request plumbing. The exchange (callback_exchange.go), the connect
// cookie (callback_cookies.go), the signing key (callback_keys.go) and the
// pages it answers with (callback_pages.go) are beside it.

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
		SigningKeySecretID:    getenv(vendors.EnvSigningKeySecretID),
		TokenURL:              getenv(vendors.MustLookup(Name).URLEnv),
		AuthorizeURL:          getenv(vendors.EnvAuthorizeURL),
		CallbackURL:           getenv(vendors.EnvCallbackURL),
		RefresherFunctionName: getenv(vendors.EnvRefresherFunctionName),
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
