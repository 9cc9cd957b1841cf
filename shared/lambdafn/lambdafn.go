// Package lambdafn wires a vendor into a Lambda function: it reads the
// function's environment once at cold start, builds the Secrets Manager
// client and the refresher, and serves invocations.
//
// Environment (a public contract, set by the stack):
//
//	CREDENTIALS_SECRET_ID  secret holding the vendor credentials (read only)
//	TOKEN_SECRET_ID        secret the token is written to
//	REFRESH_SECRET_ID      refresh-token secret (Admitad only)
//	TOKEN_URL              vendor endpoint (Invoca: VALIDATE_URL); defaults
//	                       to the vendor's production URL
//	CONNECTIONS            named connections, comma-separated (see
//	                       refresh.LoadTargets); NAME_PREFIX names their
//	                       secrets
//	CONNECTIONS_FILE       instead of CONNECTIONS, a file listing them, for
//	                       more than fit in the 4 KB environment
//	CONNECTION_LANES       the named connections run in this many lanes
//	                       (lanes.go); CONNECTION_LANE is a lane's own
//
// plus the AWS SDK's own variables that apply in Lambda, read by AWSConfig:
// AWS_REGION (else AWS_DEFAULT_REGION); AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN, else
// AWS_CONTAINER_CREDENTIALS_FULL_URI with AWS_CONTAINER_AUTHORIZATION_TOKEN
// or AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE; AWS_ENDPOINT_URL_SECRETS_MANAGER
// (else AWS_ENDPOINT_URL) unless AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true,
// and AWS_ENDPOINT_URL_LAMBDA in a vendor's function with lanes;
// AWS_USE_FIPS_ENDPOINT, AWS_USE_DUALSTACK_ENDPOINT; AWS_MAX_ATTEMPTS,
// AWS_RETRY_MODE. Shared config files, profiles and instance metadata are
// not read.
//
// Contract: a configuration error ends the cold start with one message
// naming the variable that is wrong, before any AWS call. Each invocation
// writes one JSON log line (NewLogger: slog's JSON handler with Lambda's key
// names) through refresh, which scrubs every secret from it; nothing else
// in this package logs. A Handler serves one invocation at a time, as the
// Lambda runtime calls it.
package lambdafn

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/token-refresher/token-refresher/shared/refresh"
	"github.com/token-refresher/token-refresher/shared/secretstore"
	"github.com/token-refresher/token-refresher/shared/vendorhttp"
	"github.com/token-refresher/token-refresher/shared/vendors"
)

// Config is a refresher function's configuration.
type Config struct {
	Spec vendors.Spec
	// Target is the default connection's; Targets has every connection.
	Target   refresh.Target
	Targets  refresh.Targets
	Endpoint string
	// FunctionName is AWS_LAMBDA_FUNCTION_NAME.
	FunctionName string
	// Lanes is where the function stands among its vendor's lanes.
	Lanes Lanes
}

// LoadConfig reads the configuration of spec's refresher from getenv.
// Errors name the variable that is wrong.
func LoadConfig(spec vendors.Spec, getenv func(string) string) (Config, error) {
	targets, err := refresh.LoadTargets(spec, getenv)
	if err != nil {
		return Config{}, err
	}
	def, _ := targets.Lookup(spec.Name, "")
	c := Config{
		Spec:     spec,
		Target:   def,
		Targets:  targets,
		Endpoint: getenv(spec.URLEnv),
		// Lambda sets the bare name; an emulator started for an alias
		// may carry ":<alias>", which is not part of the name.
		FunctionName: strings.SplitN(getenv("AWS_LAMBDA_FUNCTION_NAME"), ":", 2)[0],
	}
	if c.Lanes, err = loadLanes(getenv); err != nil {
		return Config{}, fmt.Errorf("%s: %w", spec.Name, err)
	}
	if c.Lanes.On() && !c.Lanes.IsLane() && c.FunctionName == "" {
		return Config{}, fmt.Errorf("%s: %s is set but AWS_LAMBDA_FUNCTION_NAME is not: the lanes' names derive from it", spec.Name, vendors.EnvConnectionLanes)
	}
	if c.Endpoint == "" {
		c.Endpoint = spec.DefaultURL
	}
	if c.Endpoint != "" {
		if err := vendorhttp.CheckEndpoint(c.Endpoint); err != nil {
			return Config{}, fmt.Errorf("%s: %s: %w", spec.Name, spec.URLEnv, err)
		}
	}
	return c, nil
}

// NewVendor builds a vendor client for a configuration. It may read
// Config.Endpoint and use the store (Admitad keeps its refresh token there).
type NewVendor func(cfg Config, store *secretstore.Store) (refresh.Vendor, error)

// Main runs the refresher function of the vendor named name. It never
// returns; a configuration error ends the cold start with a message naming
// the variable. A failed invocation carries a stable errorType
// (ErrorType, with the vendor's own rules first), never a Go type name.
func Main(name string, newVendor NewVendor, rules ...ErrorRule) {
	h, err := NewHandler(context.Background(), vendors.MustLookup(name), os.Getenv, newVendor, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	lambda.Start(func(ctx context.Context, raw json.RawMessage) (refresh.Summary, error) {
		sum, err := h.Invoke(ctx, raw)
		return sum, LambdaError(err, rules...)
	})
}

// Handler serves invocations of one refresher function.
type Handler struct {
	cfg       Config
	refresher *refresh.Refresher
	log       *slog.Logger
	// lambda hands runs to the lanes (the vendor's function, lanes on).
	lambda laneInvoker
}

// NewHandler builds everything an invocation needs, once.
func NewHandler(ctx context.Context, spec vendors.Spec, getenv func(string) string, newVendor NewVendor, out io.Writer) (*Handler, error) {
	cfg, err := LoadConfig(spec, getenv)
	if err != nil {
		return nil, err
	}
	awsCfg, err := AWSConfig(getenv)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", spec.Name, err)
	}
	store := &secretstore.Store{API: secretsmanager.NewFromConfig(awsCfg)}
	v, err := newVendor(cfg, store)
	if err != nil {
		return nil, err
	}
	log := NewLogger(out)
	var lc laneInvoker
	if cfg.Lanes.On() && !cfg.Lanes.IsLane() {
		c, err := newLambdaAPI(awsCfg, getenv)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", spec.Name, err)
		}
		lc = c
	}
	return &Handler{
		cfg:    cfg,
		log:    log,
		lambda: lc,
		refresher: &refresh.Refresher{
			Spec:         spec,
			Vendor:       v,
			Store:        store,
			Endpoint:     cfg.Endpoint,
			FunctionName: cfg.FunctionName,
			Log:          log,
			Metrics:      out,
			Credentials:  &refresh.CredentialsCache{},
			Held:         &refresh.Held{},
		},
	}, nil
}

// NewLogger returns the JSON logger every function uses: slog's JSON
// handler with Lambda's key names (timestamp, message).
func NewLogger(out io.Writer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(out, &slog.HandlerOptions{ReplaceAttr: lambdacontext.ReplaceAttr}))
}

// reportMargin is kept back from the Lambda deadline so a run that ran out
// of time still logs, emits metrics and returns its error.
const reportMargin = 750 * time.Millisecond

// Invoke handles one event.
func (h *Handler) Invoke(ctx context.Context, raw json.RawMessage) (refresh.Summary, error) {
	ev, err := refresh.ParseEvent(raw)
	if err != nil {
		return refresh.Summary{}, typed(ErrorTypeInvalidEvent, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, dl.Add(-reportMargin))
		defer cancel()
	}
	r := *h.refresher
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		r.Log = h.log.With("requestId", lc.AwsRequestID)
		// Apps hold an invoke permission on the reject alias only; what
		// arrives through it may report a rejected token, never force.
		if err := refresh.CheckInvoker(refresh.Qualifier(lc.InvokedFunctionArn), ev); err != nil {
			r.Log.Warn("refused", "vendor", h.cfg.Spec.Name, "reason", err.Error())
			return refresh.Summary{}, err
		}
	}
	// An unknown connection is refused before any Secrets Manager call.
	target, err := h.cfg.Targets.Lookup(h.cfg.Spec.Name, ev.Connection)
	if err != nil {
		return refresh.Summary{}, typed(ErrorTypeUnknownConnection, err)
	}
	if lanes := h.cfg.Lanes; lanes.On() {
		if err := lanes.check(h.cfg.Spec.Name, ev.Connection); err != nil {
			r.Log.Warn("refused", "vendor", h.cfg.Spec.Name, "reason", err.Error())
			return refresh.Summary{}, typed(ErrorTypeUnknownConnection, err)
		}
		if !lanes.IsLane() {
			h := *h
			h.log = r.Log
			conn := target.Connection
			if conn == "" {
				conn = vendors.DefaultConnection
			}
			return h.hand(ctx, raw, conn, vendors.LaneOf(conn, lanes.Count))
		}
	}
	return r.Run(ctx, target, ev)
}
