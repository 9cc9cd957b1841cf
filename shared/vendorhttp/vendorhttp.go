// Package vendorhttp is the HTTP client every vendor package calls its token
// endpoint with. It adds what a token request needs and net/http does not:
// bounded retries with exponential backoff and full jitter on 429 (honouring
// Retry-After), 5xx and network errors, all inside the caller's deadline; a
// size limit on response bodies; and errors that never carry the request's
// query string, where some vendors (Merchenta) put passwords.
//
// A Client is safe for concurrent use.
//
// Contract: a failed call is an *Error (errors.As) with the status, the
// vendor's error code and description, and Retryable; a retry is made only
// when Retryable is true and the deadline leaves room for it. An Error never
// carries a request URL's query string, a request body or a header; the
// vendor's own text is kept, and refresh scrubs credentials from it before it
// is shown. The package logs nothing.
package vendorhttp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Defaults for a zero Client field.
const (
	DefaultMaxAttempts    = 4
	DefaultBaseDelay      = 200 * time.Millisecond
	DefaultMaxDelay       = 5 * time.Second
	DefaultMaxBody        = 64 << 10
	DefaultAttemptTimeout = 10 * time.Second
	// MaxRetryAfter caps the wait a Retry-After header can ask for. A
	// larger value (up to one that overflows time.Duration) reads as
	// MaxRetryAfter, which is past any Lambda deadline: Do then fails fast
	// instead of waiting.
	MaxRetryAfter = 24 * time.Hour
)

// Error is a failed vendor call. It is the model of golang/oauth2's
// RetrieveError: callers decide on retry with errors.As and Retryable, never
// by matching strings. Its message never contains a request's query string,
// a request body or a response body from a successful call.
type Error struct {
	// Vendor is the vendor's short name.
	Vendor string
	// Status is the HTTP status, or 0 when no response arrived.
	Status int
	// Code is the vendor's own error code ("invalid_client", "AUTH001"),
	// when the reply had one.
	Code string
	// Description is the vendor's human-readable message. It is kept
	// whole (the body it came from is bounded by Client.MaxBody) until
	// Scrub shortens it: a secret the vendor echoes must be scrubbed
	// before the text is cut, or the cut can leave a piece of it that no
	// scrubber recognises.
	Description string
	// Retryable reports whether asking again may succeed.
	Retryable bool
	// RetryAfter is the delay the vendor asked for, if any.
	RetryAfter time.Duration
	// Err is the underlying transport error, when no response arrived.
	Err error
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.Status == 0 {
		b.WriteString("no response")
	} else {
		fmt.Fprintf(&b, "HTTP %d", e.Status)
	}
	if e.Code != "" {
		fmt.Fprintf(&b, " %s", Clean(e.Code, math.MaxInt))
	}
	if e.Description != "" {
		fmt.Fprintf(&b, ": %s", Clean(e.Description, math.MaxInt))
	}
	if e.Err != nil {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Longest vendor code and description an Error shows once scrubbed, in
// bytes.
const (
	MaxCode        = 64
	MaxDescription = 200
)

// Scrub passes e's vendor text (Code and Description) through scrub,
// which removes secrets, and only then shortens it to MaxCode and
// MaxDescription bytes. It changes e in place, so every later reader
// (errors.As in a log line) sees the clean text; calling it again changes
// nothing more. refresh.Scrubber.Message calls it for every *Error in an
// error's chain.
func (e *Error) Scrub(scrub func(string) string) {
	e.Code = Clean(scrub(e.Code), MaxCode)
	e.Description = Clean(scrub(e.Description), MaxDescription)
}

// Response is a successful (2xx) reply, body fully read.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
	// Date is the vendor's Date header, zero when absent or unparseable.
	Date time.Time
	// Sent is when the request that produced this reply was sent, by the
	// local clock. Expiry arithmetic measures from here.
	Sent time.Time
	// Attempts is how many requests it took.
	Attempts int
}

// ErrorDecoder turns a non-2xx reply into the vendor's code and description.
// It must not return text that could contain a secret.
type ErrorDecoder func(status int, body []byte) (code, description string)

// Client sends token requests. The zero value is usable.
type Client struct {
	// HTTP is the underlying client; nil uses a client with sane
	// transport timeouts.
	HTTP *http.Client
	// MaxAttempts bounds the number of requests per Do.
	MaxAttempts int
	// BaseDelay and MaxDelay shape the backoff: attempt n waits a random
	// duration in [0, min(MaxDelay, BaseDelay*2^n)).
	BaseDelay, MaxDelay time.Duration
	// AttemptTimeout bounds one request.
	AttemptTimeout time.Duration
	// MaxBody is the largest body read; a larger one is an error.
	MaxBody int64
	// Sleep waits between attempts; nil uses a timer honouring ctx.
	Sleep func(ctx context.Context, d time.Duration) error
	// Now is the clock; nil uses time.Now.
	Now func() time.Time
}

var defaultHTTP = newHTTPClient(10 * time.Second)

// unrepeatableHTTP is defaultHTTP without a response-header timeout: an
// unrepeatable request waits for its answer until its context ends.
var unrepeatableHTTP = newHTTPClient(0)

func newHTTPClient(responseHeaderTimeout time.Duration) *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			TLSHandshakeTimeout:   5 * time.Second,
			ResponseHeaderTimeout: responseHeaderTimeout,
			MaxIdleConnsPerHost:   2,
			IdleConnTimeout:       90 * time.Second,
			ForceAttemptHTTP2:     true,
		},
		// Token endpoints do not redirect; following one could send
		// credentials somewhere unexpected.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Request describes one call. NewRequest is called for every attempt so a
// body can be sent again.
type Request struct {
	Vendor     string
	NewRequest func(ctx context.Context) (*http.Request, error)
	// DecodeError reads the vendor's error body; nil leaves Code empty.
	DecodeError ErrorDecoder
	// Permanent reports vendor codes that must not be retried even on a
	// retryable status (e.g. an OAuth "invalid_grant" sent with a 5xx).
	Permanent func(code string) bool
	// Unrepeatable marks a request that takes effect at the vendor even
	// when its answer is lost, and cannot be sent again once it has
	// (Admitad's refresh-token grant: the token sent is dead once Admitad
	// has rotated it). Such a request is given the whole of ctx: no
	// AttemptTimeout and no response-header timeout cut it short. After a
	// failure with no answer it is sent again only when the request
	// provably never reached the vendor (the connection could not be
	// made: refused, unreachable, DNS). An answer that says the vendor
	// did not act (429, 5xx) is retried as usual.
	Unrepeatable bool
}

// Do sends req until it succeeds, fails permanently, runs out of attempts,
// or the next wait would pass ctx's deadline. A non-2xx reply or a transport
// failure is returned as *Error.
func (c *Client) Do(ctx context.Context, req Request) (*Response, error) {
	attempts := c.MaxAttempts
	if attempts <= 0 {
		attempts = DefaultMaxAttempts
	}
	var last *Error
	for n := 0; n < attempts; n++ {
		if n > 0 {
			wait := c.backoff(n, last.RetryAfter)
			if dl, ok := ctx.Deadline(); ok && c.now().Add(wait).After(dl) {
				return nil, last
			}
			if err := c.sleep(ctx, wait); err != nil {
				return nil, last
			}
		}
		resp, err := c.once(ctx, req)
		if err == nil {
			resp.Attempts = n + 1
			return resp, nil
		}
		var ve *Error
		if !errors.As(err, &ve) {
			return nil, err
		}
		last = ve
		if !ve.Retryable || ctx.Err() != nil {
			return nil, ve
		}
	}
	return nil, last
}

func (c *Client) once(ctx context.Context, req Request) (*Response, error) {
	timeout := c.AttemptTimeout
	if timeout <= 0 {
		timeout = DefaultAttemptTimeout
	}
	actx, cancel := context.WithTimeout(ctx, timeout)
	if req.Unrepeatable {
		actx, cancel = context.WithCancel(ctx)
	}
	defer cancel()
	hreq, err := req.NewRequest(actx)
	if err != nil {
		return nil, fmt.Errorf("%s: build request: %w", req.Vendor, Redact(err))
	}
	sent := c.now()
	hc := c.HTTP
	switch {
	case hc != nil:
	case req.Unrepeatable:
		hc = unrepeatableHTTP
	default:
		hc = defaultHTTP
	}
	resp, err := hc.Do(hreq)
	if err != nil {
		return nil, &Error{Vendor: req.Vendor, Retryable: !req.Unrepeatable || NeverSent(err), Err: Redact(err)}
	}
	defer resp.Body.Close()
	limit := c.MaxBody
	if limit <= 0 {
		limit = DefaultMaxBody
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, &Error{Vendor: req.Vendor, Status: resp.StatusCode, Retryable: !req.Unrepeatable || resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500, Err: fmt.Errorf("read body: %w", Redact(err))}
	}
	if int64(len(body)) > limit {
		return nil, &Error{Vendor: req.Vendor, Status: resp.StatusCode, Description: fmt.Sprintf("reply body larger than %d bytes", limit)}
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		r := &Response{Status: resp.StatusCode, Header: resp.Header, Body: body, Sent: sent}
		if d, err := http.ParseTime(resp.Header.Get("Date")); err == nil {
			r.Date = d
		}
		return r, nil
	}
	ve := &Error{
		Vendor:    req.Vendor,
		Status:    resp.StatusCode,
		Retryable: resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500,
	}
	if req.DecodeError != nil {
		code, desc := req.DecodeError(resp.StatusCode, body)
		// Not cut here: Scrub cuts, after removing secrets.
		ve.Code, ve.Description = Clean(code, math.MaxInt), Clean(desc, math.MaxInt)
	}
	if ve.Code != "" && req.Permanent != nil && req.Permanent(ve.Code) {
		ve.Retryable = false
	}
	ve.RetryAfter = retryAfter(resp.Header.Get("Retry-After"), c.now())
	return nil, ve
}

func (c *Client) backoff(n int, retryAfter time.Duration) time.Duration {
	base, max := c.BaseDelay, c.MaxDelay
	if base <= 0 {
		base = DefaultBaseDelay
	}
	if max <= 0 {
		max = DefaultMaxDelay
	}
	ceil := base << (n - 1)
	if ceil > max || ceil <= 0 {
		ceil = max
	}
	d := rand.N(ceil) + 1
	if retryAfter > d {
		d = retryAfter
	}
	return d
}

func (c *Client) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Client) sleep(ctx context.Context, d time.Duration) error {
	if c.Sleep != nil {
		return c.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// NeverSent reports whether a failed request's error proves that the
// request never reached the server: the connection could not be made
// (refused, unreachable, a DNS failure, a dial timeout). Any other failure
// (a timeout or a reset after connecting) may have come after the server
// acted on the request.
func NeverSent(err error) bool {
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return true
	}
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// retryAfter parses a Retry-After value: delta-seconds or an HTTP date.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseUint(v, 10, 64); err == nil || errors.Is(err, strconv.ErrRange) {
		// Compare in seconds: multiplying first would overflow
		// time.Duration into a negative wait.
		if err != nil || s >= uint64(MaxRetryAfter/time.Second) {
			return MaxRetryAfter
		}
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return min(t.Sub(now), MaxRetryAfter)
	}
	return 0
}

// Redact removes query strings and user info from every URL inside err, so
// a failed request cannot print a password sent in the query. The returned
// error keeps the type of the innermost cause (timeouts stay timeouts).
func Redact(err error) error {
	var ue *url.Error
	if !errors.As(err, &ue) {
		return err
	}
	return &url.Error{Op: ue.Op, URL: RedactURL(ue.URL), Err: Redact(ue.Err)}
}

// RedactURL returns raw without query, fragment and user info.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "[unparseable URL]"
	}
	hadQuery := u.RawQuery != "" || u.ForceQuery
	u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment, u.User = "", false, "", "", nil
	if hadQuery {
		return u.String() + "?[redacted]"
	}
	return u.String()
}

// Clean shortens s to max bytes and removes control characters, for vendor
// text that goes into error messages and logs. Text that may hold a secret
// must be scrubbed before it is cleaned: a cut inside a secret leaves a
// piece of it that no scrubber recognises.
func Clean(s string, max int) string {
	s = strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, strings.TrimSpace(s))
	if len(s) > max {
		cut := max
		for cut > 0 && !utf8Start(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }

// Quote returns s quoted (and cleaned of control characters) when it is at
// most max bytes, else only its length: vendor text that is not scrubbed
// yet must not be cut, since a cut inside a secret leaves a piece of it
// that no scrubber recognises.
func Quote(s string, max int) string {
	if len(s) > max {
		return fmt.Sprintf("(%d bytes)", len(s))
	}
	return strconv.Quote(Clean(s, max))
}

// CheckEndpoint refuses a URL that is not HTTPS unless its host is loopback,
// so a misconfigured endpoint cannot send credentials in clear text.
func CheckEndpoint(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Errorf("endpoint %q is not an absolute URL", RedactURL(raw))
	}
	if u.User != nil {
		return fmt.Errorf("endpoint %s must not carry user info", RedactURL(raw))
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		host := u.Hostname()
		if host == "localhost" {
			return nil
		}
		if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
			return nil
		}
		return fmt.Errorf("endpoint %s is not HTTPS (plain HTTP is allowed only on loopback)", RedactURL(raw))
	default:
		return fmt.Errorf("endpoint %s has scheme %q, want https", RedactURL(raw), u.Scheme)
	}
}

// PostJSON sends body, encoded as JSON, to url with Do. decode reads the
// vendor's error bodies.
func (c *Client) PostJSON(ctx context.Context, vendor, url string, body any, decode ErrorDecoder) (*Response, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("%s: encode request: %w", vendor, err)
	}
	return c.Do(ctx, Request{
		Vendor: vendor,
		NewRequest: func(ctx context.Context) (*http.Request, error) {
			r, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(b))
			if err != nil {
				return nil, err
			}
			r.Header.Set("Content-Type", "application/json")
			r.Header.Set("Accept", "application/json")
			return r, nil
		},
		DecodeError: decode,
	})
}
