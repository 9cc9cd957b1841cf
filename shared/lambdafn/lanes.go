package lambdafn

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/token-refresher/token-refresher/shared/refresh"
	"github.com/token-refresher/token-refresher/shared/vendors"
)

// Lanes run a vendor's connections in parallel (docs/deploying.md, "How
// connections scale"). Each lane is a function of its own with a reserved
// concurrency of 1 that serves the connections vendors.LaneOf gives it
// (the default connection hashes as "default"); their schedules invoke it
// directly. Every other run reaches the vendor's function (apps' rejects
// through the reject alias, operators' forced runs), which checks the
// event and the connection, hands the run to the connection's lane and
// relays the reply; it runs nothing itself. So every run of a connection,
// whoever asked for it, runs in the one function that runs that
// connection, one at a time, as all of a vendor's runs did in one
// function before lanes, while the vendor's function can wait for several
// lanes at once.

// Lanes is where a function stands among its vendor's lanes.
type Lanes struct {
	// Count is the number of lanes (EnvConnectionLanes); 0 when the
	// vendor's function runs every connection itself.
	Count int
	// Lane is the function's own lane (EnvConnectionLane), or -1 for the
	// vendor's function.
	Lane int
}

// On reports whether the vendor's named connections run in lanes.
func (l Lanes) On() bool { return l.Count > 0 }

// IsLane reports whether the function is one of the lanes.
func (l Lanes) IsLane() bool { return l.On() && l.Lane >= 0 }

// loadLanes reads EnvConnectionLanes and EnvConnectionLane. Errors name
// the variable.
func loadLanes(getenv func(string) string) (Lanes, error) {
	l := Lanes{Lane: -1}
	rawCount, rawLane := getenv(vendors.EnvConnectionLanes), getenv(vendors.EnvConnectionLane)
	if rawCount == "" {
		if rawLane != "" {
			return Lanes{}, fmt.Errorf("%s is set but %s is not", vendors.EnvConnectionLane, vendors.EnvConnectionLanes)
		}
		return l, nil
	}
	n, err := strconv.Atoi(rawCount)
	if err != nil || n < 2 || n > vendors.MaxLanes {
		return Lanes{}, fmt.Errorf("%s=%q is not a number of lanes from 2 to %d", vendors.EnvConnectionLanes, rawCount, vendors.MaxLanes)
	}
	l.Count = n
	if rawLane != "" {
		i, err := strconv.Atoi(rawLane)
		if err != nil || i < 0 || i >= n {
			return Lanes{}, fmt.Errorf("%s=%q is not a lane from 0 to %d", vendors.EnvConnectionLane, rawLane, n-1)
		}
		l.Lane = i
	}
	return l, nil
}

// ErrWrongLane refuses, in a lane, a run of a connection that another
// lane runs. It is an UnknownConnection: the function does not serve that
// connection.
var ErrWrongLane = errors.New("this lane does not run that connection")

// check refuses, in lane l, a connection that is not l's.
func (l Lanes) check(vendor, connection string) error {
	if !l.IsLane() {
		return nil
	}
	if own := vendors.LaneOf(connection, l.Count); own != l.Lane {
		if connection == "" {
			connection = vendors.DefaultConnection
		}
		return fmt.Errorf("%w: connection %q of %s runs in lane %d, not in lane %d", ErrWrongLane, connection, vendor, own, l.Lane)
	}
	return nil
}

// LambdaInvoker is the Lambda API the vendor's function hands runs to
// its lanes with.
type LambdaInvoker interface {
	Invoke(ctx context.Context, in *lambda.InvokeInput, optFns ...func(*lambda.Options)) (*lambda.InvokeOutput, error)
}

// Handing a run to a lane that is busy (throttled: its one execution
// environment is running another connection) is retried with full jitter
// from handBackoff doubling to handMaxBackoff, until the invocation's
// deadline. So are a 5xx and a request that got no answer: a run the lane
// may have started is then either still running (the retry is throttled
// until it ends) or over, and a second run of one connection after the
// first is what a schedule does anyway.
const (
	handBackoff    = 200 * time.Millisecond
	handMaxBackoff = 2 * time.Second
	// handAttempts only stops a retry loop the deadline would stop too.
	handAttempts = 1000
)

// handBackoffDelay is the wait before retry attempt (1 is the first).
func handBackoffDelay(attempt int) time.Duration {
	d := handMaxBackoff
	if attempt <= 4 {
		d = min(handBackoff<<(attempt-1), handMaxBackoff)
	}
	return time.Duration(rand.Int64N(int64(d) + 1))
}

// NewLambdaClient builds the Lambda client of the vendor's function from
// AWSConfig's config and the environment: AWS_ENDPOINT_URL_LAMBDA (else
// AWS_ENDPOINT_URL) unless AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true,
// AWS_USE_FIPS_ENDPOINT and AWS_USE_DUALSTACK_ENDPOINT as for Secrets
// Manager, and the retry rules above in place of the standard retryer's
// three attempts.
func NewLambdaClient(cfg aws.Config, getenv func(string) string) (*lambda.Client, error) {
	ignore, err := envBool(getenv, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")
	if err != nil {
		return nil, err
	}
	var endpoint string
	if ignore != "true" {
		endpoint = getenv("AWS_ENDPOINT_URL_LAMBDA")
		if err := checkEndpointURL("AWS_ENDPOINT_URL_LAMBDA", endpoint); err != nil {
			return nil, err
		}
	} else {
		cfg.BaseEndpoint = nil
	}
	fips, err := envBool(getenv, "AWS_USE_FIPS_ENDPOINT")
	if err != nil {
		return nil, err
	}
	dualStack, err := envBool(getenv, "AWS_USE_DUALSTACK_ENDPOINT")
	if err != nil {
		return nil, err
	}
	if endpoint != "" && (fips == "true" || dualStack == "true") {
		return nil, fmt.Errorf("AWS_USE_FIPS_ENDPOINT or AWS_USE_DUALSTACK_ENDPOINT=true cannot be used with AWS_ENDPOINT_URL_LAMBDA: the SDK has no FIPS or dual-stack form of a custom endpoint")
	}
	return lambda.NewFromConfig(cfg, func(o *lambda.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
		switch fips {
		case "true":
			o.EndpointOptions.UseFIPSEndpoint = aws.FIPSEndpointStateEnabled
		case "false":
			o.EndpointOptions.UseFIPSEndpoint = aws.FIPSEndpointStateDisabled
		}
		switch dualStack {
		case "true":
			o.EndpointOptions.UseDualStackEndpoint = aws.DualStackEndpointStateEnabled
		case "false":
			o.EndpointOptions.UseDualStackEndpoint = aws.DualStackEndpointStateDisabled
		}
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
			so.MaxAttempts = handAttempts
			so.Backoff = retry.BackoffDelayerFunc(func(attempt int, _ error) (time.Duration, error) {
				return handBackoffDelay(attempt), nil
			})
			// A lane busy with a long run may throttle many attempts in a
			// row; the retry quota would end the wait early.
			so.RateLimiter = ratelimit.None
		})
	}), nil
}

// relayedError is a lane's failed run, as the vendor's function replies
// with it: the lane's own message and errorType.
type relayedError struct {
	typ, msg string
}

func (e *relayedError) Error() string { return e.msg }

// hand runs ev, which names a connection of lane, in that lane and
// returns its reply, or its error with the lane's errorType.
func (h *Handler) hand(ctx context.Context, raw json.RawMessage, connection string, lane int) (refresh.Summary, error) {
	name := vendors.LaneFunctionName(h.cfg.FunctionName, lane)
	start := time.Now()
	log := h.log.With("vendor", h.cfg.Spec.Name, "connection", connection, "lane", lane, "function", name)
	out, err := h.lambda.Invoke(ctx, &lambda.InvokeInput{
		FunctionName:   aws.String(name),
		InvocationType: types.InvocationTypeRequestResponse,
		Payload:        raw,
	})
	elapsed := time.Since(start).Milliseconds()
	if err != nil {
		err = typed(ErrorTypeLaneUnavailable, fmt.Errorf("%s: connection %s: lane %d (%s) did not run it: %w", h.cfg.Spec.Name, connection, lane, name, err))
		log.Error("lane unavailable", "durationMs", elapsed, "error", err.Error())
		return refresh.Summary{}, err
	}
	if out.FunctionError != nil {
		var doc struct {
			Message string `json:"errorMessage"`
			Type    string `json:"errorType"`
		}
		if json.Unmarshal(out.Payload, &doc) != nil || doc.Type == "" {
			doc.Type, doc.Message = ErrorTypeLaneUnavailable, fmt.Sprintf("%s: connection %s: lane %d (%s) failed without an error document (%s)", h.cfg.Spec.Name, connection, lane, name, aws.ToString(out.FunctionError))
		}
		log.Warn("lane run failed", "durationMs", elapsed, "errorType", doc.Type)
		return refresh.Summary{}, &relayedError{typ: doc.Type, msg: doc.Message}
	}
	var sum refresh.Summary
	if err := json.Unmarshal(out.Payload, &sum); err != nil || sum.Action == "" {
		err = typed(ErrorTypeLaneUnavailable, fmt.Errorf("%s: connection %s: lane %d (%s) replied with something that is not a run's reply", h.cfg.Spec.Name, connection, lane, name))
		log.Error("lane reply unreadable", "durationMs", elapsed)
		return refresh.Summary{}, err
	}
	log.Info("lane ran", "durationMs", elapsed, "action", sum.Action, "fingerprint", sum.Fingerprint)
	return sum, nil
}
