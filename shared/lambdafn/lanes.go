package lambdafn

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

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

// On reports whether the vendor's connections run in lanes.
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

// Handing a run to a lane that is busy (throttled: its one execution
// environment is running another connection) is retried with full jitter
// from handBackoff doubling to handMaxBackoff, until the invocation's
// deadline. So are a 5xx and a request that got no answer: a run the lane
// may have started is then either still running (the retry is throttled
// until it ends) or over, and a second run of one connection after the
// first is what a schedule does anyway. Any other refusal (no such
// function, no permission) ends the hand-over at once.
const (
	handBackoff    = 200 * time.Millisecond
	handMaxBackoff = 2 * time.Second
)

// handBackoffDelay is the wait before retry attempt (1 is the first).
func handBackoffDelay(attempt int) time.Duration {
	d := handMaxBackoff
	if attempt <= 4 {
		d = min(handBackoff<<(attempt-1), handMaxBackoff)
	}
	return time.Duration(rand.Int64N(int64(d) + 1))
}

// laneInvoker invokes a lane synchronously.
type laneInvoker interface {
	invoke(ctx context.Context, function string, payload []byte) (invokeReply, error)
}

// invokeReply is what the Invoke API answered for an invocation that
// reached the function.
type invokeReply struct {
	// FunctionError is X-Amz-Function-Error: set when the function failed
	// and Payload is its error document.
	FunctionError string
	Payload       []byte
}

// InvokeError is a refusal of the Invoke API itself: the function did not
// run.
type InvokeError struct {
	Status  int
	Code    string // X-Amzn-ErrorType, e.g. TooManyRequestsException
	Message string
}

func (e *InvokeError) Error() string {
	return fmt.Sprintf("Lambda Invoke: HTTP %d %s: %s", e.Status, e.Code, e.Message)
}

// retryable reports whether a hand-over that failed with err may be tried
// again: the lane was busy, Lambda failed, or no answer came.
func retryable(err error) bool {
	var ie *InvokeError
	if errors.As(err, &ie) {
		return ie.Status == http.StatusTooManyRequests || ie.Status >= 500
	}
	return true
}

// lambdaAPI calls Lambda's Invoke API (POST
// /2015-03-31/functions/{name}/invocations, signed with SigV4). It is
// written out rather than taken from the SDK's Lambda client because that
// client's package initialisation alone costs every cold start of every
// refresher about 4,700 allocations, 0.8 MB and 1.2 ms of CPU here (its
// schemas and endpoint rules: more than the whole rest of the function's
// initialisation), for one call that only a vendor's function with lanes
// makes. The SDK still signs the request and holds the credentials, and
// the endpoint comes from the SDK's rules (lambdaEndpoint); the tests
// check the call against the SDK's client and a local Invoke API.
type lambdaAPI struct {
	http     *http.Client
	endpoint string // scheme://host, no trailing slash
	region   string
	creds    aws.CredentialsProvider
	signer   *v4.Signer
}

func (c *lambdaAPI) invoke(ctx context.Context, function string, payload []byte) (invokeReply, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost,
		c.endpoint+"/2015-03-31/functions/"+url.PathEscape(function)+"/invocations", bytes.NewReader(payload))
	if err != nil {
		return invokeReply{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Amz-Invocation-Type", "RequestResponse")
	creds, err := c.creds.Retrieve(ctx)
	if err != nil {
		return invokeReply{}, fmt.Errorf("credentials: %w", err)
	}
	sum := sha256.Sum256(payload)
	if err := c.signer.SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), "lambda", c.region, time.Now()); err != nil {
		return invokeReply{}, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return invokeReply{}, err
	}
	defer resp.Body.Close()
	// A reply holds at most the 6 MB a synchronous invoke may return.
	body, err := io.ReadAll(io.LimitReader(resp.Body, 6<<20+1))
	if err != nil {
		return invokeReply{}, err
	}
	if resp.StatusCode != http.StatusOK {
		var doc struct {
			Message  string `json:"message"`
			Message2 string `json:"Message"`
			Type     string `json:"__type"`
		}
		_ = json.Unmarshal(body, &doc)
		ie := &InvokeError{Status: resp.StatusCode, Code: resp.Header.Get("X-Amzn-ErrorType"), Message: doc.Message}
		if ie.Message == "" {
			ie.Message = doc.Message2
		}
		if ie.Code == "" {
			ie.Code = doc.Type
		}
		if i := strings.IndexByte(ie.Code, ':'); i >= 0 {
			ie.Code = ie.Code[:i]
		}
		return invokeReply{}, ie
	}
	return invokeReply{FunctionError: resp.Header.Get("X-Amz-Function-Error"), Payload: body}, nil
}

// newLambdaAPI builds the Invoke API client of the vendor's function from
// AWSConfig's config and the environment: AWS_ENDPOINT_URL_LAMBDA (else
// AWS_ENDPOINT_URL) unless AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true, else
// the region's endpoint, with AWS_USE_FIPS_ENDPOINT and
// AWS_USE_DUALSTACK_ENDPOINT as for Secrets Manager.
func newLambdaAPI(cfg aws.Config, getenv func(string) string) (*lambdaAPI, error) {
	ignore, err := envBool(getenv, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")
	if err != nil {
		return nil, err
	}
	fips, err := envBool(getenv, "AWS_USE_FIPS_ENDPOINT")
	if err != nil {
		return nil, err
	}
	dualStack, err := envBool(getenv, "AWS_USE_DUALSTACK_ENDPOINT")
	if err != nil {
		return nil, err
	}
	var endpoint string
	if ignore != "true" {
		for _, name := range []string{"AWS_ENDPOINT_URL_LAMBDA", "AWS_ENDPOINT_URL"} {
			if v := getenv(name); v != "" {
				if err := checkEndpointURL(name, v); err != nil {
					return nil, err
				}
				if fips == "true" || dualStack == "true" {
					return nil, fmt.Errorf("AWS_USE_FIPS_ENDPOINT or AWS_USE_DUALSTACK_ENDPOINT=true cannot be used with %s: the SDK has no FIPS or dual-stack form of a custom endpoint", name)
				}
				endpoint = strings.TrimSuffix(v, "/")
				break
			}
		}
	}
	if endpoint == "" {
		if endpoint, err = lambdaEndpoint(cfg.Region, fips == "true", dualStack == "true"); err != nil {
			return nil, err
		}
	}
	return &lambdaAPI{
		http:     &http.Client{Transport: awshttp.NewBuildableClient().GetTransport()},
		endpoint: endpoint,
		region:   cfg.Region,
		creds:    aws.NewCredentialsCache(cfg.Credentials),
		signer:   v4.NewSigner(),
	}, nil
}

// lambdaEndpoint is Lambda's endpoint in region. Lambda and Secrets
// Manager follow the same pattern in every partition
// (<service>[-fips].<region>.<DNS suffix>), so the Secrets Manager client's
// endpoint rules, already in the binary, give it with the service's label
// replaced. Secrets Manager's rules have no dual-stack form; Lambda's is
// the partition's dual-stack suffix, known here for the partitions that
// have one. TestLambdaEndpoint checks every case against the Lambda
// client's own rules.
func lambdaEndpoint(region string, fips, dualStack bool) (string, error) {
	ep, err := secretsmanager.NewDefaultEndpointResolverV2().ResolveEndpoint(context.Background(), secretsmanager.EndpointParameters{
		Region: aws.String(region), UseFIPS: aws.Bool(fips),
	})
	if err != nil {
		return "", fmt.Errorf("no Lambda endpoint for region %q: %w", region, err)
	}
	host, ok := strings.CutPrefix(ep.URI.Host, "secretsmanager")
	if !ok {
		return "", fmt.Errorf("no Lambda endpoint for region %q: Secrets Manager's is %s", region, ep.URI.Host)
	}
	if dualStack {
		// host is [-fips].<region>.<suffix>
		label, suffix, ok := strings.Cut(host, "."+region+".")
		dual, known := dualStackSuffix[suffix]
		if !ok || !known {
			return "", fmt.Errorf("no dual-stack Lambda endpoint is known for region %q: set AWS_ENDPOINT_URL_LAMBDA", region)
		}
		host = label + "." + region + "." + dual
	}
	return ep.URI.Scheme + "://lambda" + host, nil
}

// dualStackSuffix maps a partition's DNS suffix to its dual-stack one.
var dualStackSuffix = map[string]string{
	"amazonaws.com":    "api.aws",                      // aws, aws-us-gov
	"amazonaws.com.cn": "api.amazonwebservices.com.cn", // aws-cn
	"c2s.ic.gov":       "api.aws.ic.gov",               // aws-iso
	"sc2s.sgov.gov":    "api.aws.scloud",               // aws-iso-b
	"cloud.adc-e.uk":   "api.cloud-aws.adc-e.uk",       // aws-iso-e
	"csp.hci.ic.gov":   "api.aws.hci.ic.gov",           // aws-iso-f
}

// relayedError is a lane's failed run, as the vendor's function replies
// with it: the lane's own message and errorType.
type relayedError struct {
	typ, msg string
}

func (e *relayedError) Error() string { return e.msg }

// hand runs raw, an event of connection, in lane and returns the lane's
// reply, or its error with the lane's errorType.
func (h *Handler) hand(ctx context.Context, raw json.RawMessage, connection string, lane int) (refresh.Summary, error) {
	name := vendors.LaneFunctionName(h.cfg.FunctionName, lane)
	start := time.Now()
	log := h.log.With("vendor", h.cfg.Spec.Name, "connection", connection, "lane", lane, "function", name)
	var out invokeReply
	var err error
	throttled := 0
	for attempt := 1; ; attempt++ {
		out, err = h.lambda.invoke(ctx, name, raw)
		if err == nil || ctx.Err() != nil || !retryable(err) {
			break
		}
		var ie *InvokeError
		if errors.As(err, &ie) && ie.Status == http.StatusTooManyRequests {
			throttled++
		}
		t := time.NewTimer(handBackoffDelay(attempt))
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
		if ctx.Err() != nil {
			break
		}
	}
	elapsed := time.Since(start).Milliseconds()
	if err != nil {
		err = typed(ErrorTypeLaneUnavailable, fmt.Errorf("%s: connection %s: lane %d (%s) did not run it (%d times busy): %w", h.cfg.Spec.Name, connection, lane, name, throttled, err))
		log.Error("lane unavailable", "durationMs", elapsed, "throttled", throttled, "error", err.Error())
		return refresh.Summary{}, err
	}
	if out.FunctionError != "" {
		var doc struct {
			Message string `json:"errorMessage"`
			Type    string `json:"errorType"`
		}
		if json.Unmarshal(out.Payload, &doc) != nil || doc.Type == "" {
			doc.Type, doc.Message = ErrorTypeLaneUnavailable, fmt.Sprintf("%s: connection %s: lane %d (%s) failed without an error document (%s)", h.cfg.Spec.Name, connection, lane, name, out.FunctionError)
		}
		log.Warn("lane run failed", "durationMs", elapsed, "throttled", throttled, "errorType", doc.Type)
		return refresh.Summary{}, &relayedError{typ: doc.Type, msg: doc.Message}
	}
	var sum refresh.Summary
	if err := json.Unmarshal(out.Payload, &sum); err != nil || sum.Action == "" {
		err = typed(ErrorTypeLaneUnavailable, fmt.Errorf("%s: connection %s: lane %d (%s) replied with something that is not a run's reply", h.cfg.Spec.Name, connection, lane, name))
		log.Error("lane reply unreadable", "durationMs", elapsed)
		return refresh.Summary{}, err
	}
	log.Info("lane ran", "durationMs", elapsed, "throttled", throttled, "action", sum.Action, "fingerprint", sum.Fingerprint)
	return sum, nil
}
