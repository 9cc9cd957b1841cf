package localaws

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
)

// Limits of API Gateway HTTP APIs that Front applies too.
const (
	// DefaultIntegrationTimeout is how long Front waits for a function
	// before answering 503, as API Gateway's integration timeout.
	DefaultIntegrationTimeout = 30 * time.Second
	// MaxRequestBody is the largest request body API Gateway accepts.
	MaxRequestBody = 10 << 20
)

// Front is an http.Handler standing in for an API Gateway HTTP API with
// Lambda proxy integrations, payload format 2.0, stage "$default".
//
// Each request becomes an events.APIGatewayV2HTTPRequest for the route's
// Invoker; the reply, an events.APIGatewayV2HTTPResponse, becomes the HTTP
// response. Answers that API Gateway would give itself:
//
//	no route                            404 {"message":"Not Found"}
//	body over MaxRequestBody            413 {"message":"Request Entity Too Large"}
//	function failed or bad reply        502 {"message":"Internal Server Error"}
//	invoke failed (emulator down)       500 {"message":"Internal Server Error"}
//	no reply within IntegrationTimeout  503 {"message":"Service Unavailable"}
//
// Front is safe for concurrent use if its Invokers are.
type Front struct {
	routes map[string]Invoker
	// IntegrationTimeout overrides DefaultIntegrationTimeout when positive.
	IntegrationTimeout time.Duration
}

var _ http.Handler = (*Front)(nil)

// NewFront returns a Front serving routes. A key is a route key as API
// Gateway writes it: "GET /admitad/authorize", "ANY /path" or "$default".
// Paths match exactly; a request matches METHOD first, then ANY, then
// $default.
func NewFront(routes map[string]Invoker) *Front {
	r := make(map[string]Invoker, len(routes))
	for k, v := range routes {
		r[k] = v
	}
	return &Front{routes: r}
}

func (f *Front) route(r *http.Request) (string, Invoker) {
	for _, k := range []string{r.Method + " " + r.URL.Path, "ANY " + r.URL.Path, "$default"} {
		if inv, ok := f.routes[k]; ok {
			return k, inv
		}
	}
	return "", nil
}

// ServeHTTP implements http.Handler.
func (f *Front) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	routeKey, inv := f.route(r)
	if inv == nil {
		writeGatewayError(w, http.StatusNotFound, "Not Found")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxRequestBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeGatewayError(w, http.StatusRequestEntityTooLarge, "Request Entity Too Large")
			return
		}
		writeGatewayError(w, http.StatusBadRequest, "Bad Request")
		return
	}
	event := NewHTTPEvent(r, routeKey, body, time.Now())
	payload, err := json.Marshal(event)
	if err != nil {
		writeGatewayError(w, http.StatusInternalServerError, "Internal Server Error")
		return
	}
	timeout := f.IntegrationTimeout
	if timeout <= 0 {
		timeout = DefaultIntegrationTimeout
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	res, err := inv.Invoke(ctx, payload)
	switch {
	case err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded):
		writeGatewayError(w, http.StatusServiceUnavailable, "Service Unavailable")
		return
	case err != nil:
		writeGatewayError(w, http.StatusInternalServerError, "Internal Server Error")
		return
	case res.Failed():
		writeGatewayError(w, http.StatusBadGateway, "Internal Server Error")
		return
	}
	resp, ok := ParseHTTPResponse(res.Payload)
	if !ok {
		writeGatewayError(w, http.StatusBadGateway, "Internal Server Error")
		return
	}
	out := []byte(resp.Body)
	if resp.IsBase64Encoded {
		out, err = base64.StdEncoding.DecodeString(resp.Body)
		if err != nil {
			writeGatewayError(w, http.StatusBadGateway, "Internal Server Error")
			return
		}
	}
	h := w.Header()
	for k, vs := range resp.MultiValueHeaders {
		for _, v := range vs {
			h.Add(k, v)
		}
	}
	for k, v := range resp.Headers {
		h.Set(k, v)
	}
	for _, c := range resp.Cookies {
		h.Add("Set-Cookie", c)
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(out)
}

// NewHTTPEvent builds the payload-2.0 event API Gateway would send for r on
// routeKey, with body already read from r and now as the request time.
func NewHTTPEvent(r *http.Request, routeKey string, body []byte, now time.Time) events.APIGatewayV2HTTPRequest {
	sourceIP := r.RemoteAddr
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		sourceIP = host
	}
	var cookies []string
	headers := map[string]string{}
	for k, vs := range r.Header {
		lk := strings.ToLower(k)
		if lk == "cookie" {
			for _, v := range vs {
				for _, c := range strings.Split(v, ";") {
					if c = strings.TrimSpace(c); c != "" {
						cookies = append(cookies, c)
					}
				}
			}
			continue
		}
		headers[lk] = strings.Join(vs, ",")
	}
	headers["host"] = r.Host
	if prev := headers["x-forwarded-for"]; prev != "" {
		headers["x-forwarded-for"] = prev + ", " + sourceIP
	} else {
		headers["x-forwarded-for"] = sourceIP
	}
	proto, port := "http", "80"
	if r.TLS != nil {
		proto, port = "https", "443"
	}
	if _, p, err := net.SplitHostPort(r.Host); err == nil {
		port = p
	}
	headers["x-forwarded-proto"] = proto
	headers["x-forwarded-port"] = port

	var query map[string]string
	if values, _ := url.ParseQuery(r.URL.RawQuery); len(values) > 0 {
		query = make(map[string]string, len(values))
		for k, vs := range values {
			query[k] = strings.Join(vs, ",")
		}
	}

	domainPrefix := r.Host
	if h, _, err := net.SplitHostPort(r.Host); err == nil {
		domainPrefix = h
	}
	if i := strings.IndexByte(domainPrefix, '.'); i > 0 && net.ParseIP(domainPrefix) == nil {
		domainPrefix = domainPrefix[:i]
	}

	ev := events.APIGatewayV2HTTPRequest{
		Version:               "2.0",
		RouteKey:              routeKey,
		RawPath:               r.URL.EscapedPath(),
		RawQueryString:        r.URL.RawQuery,
		Cookies:               cookies,
		Headers:               headers,
		QueryStringParameters: query,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey:     routeKey,
			AccountID:    "123456789012",
			Stage:        "$default",
			RequestID:    newRequestID(),
			APIID:        "localaws",
			DomainName:   r.Host,
			DomainPrefix: domainPrefix,
			Time:         now.UTC().Format("02/Jan/2006:15:04:05 -0700"),
			TimeEpoch:    now.UnixMilli(),
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method:    r.Method,
				Path:      r.URL.EscapedPath(),
				Protocol:  r.Proto,
				SourceIP:  sourceIP,
				UserAgent: r.UserAgent(),
			},
		},
	}
	if len(body) > 0 {
		if isTextual(r.Header.Get("Content-Type")) && utf8.Valid(body) {
			ev.Body = string(body)
		} else {
			ev.Body = base64.StdEncoding.EncodeToString(body)
			ev.IsBase64Encoded = true
		}
	}
	return ev
}

// isTextual reports whether a body of this media type is passed as text.
// Everything else, form posts included, is base64-encoded, so handlers must
// honour isBase64Encoded.
func isTextual(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	switch {
	case strings.HasPrefix(mt, "text/"),
		mt == "application/json", strings.HasSuffix(mt, "+json"),
		mt == "application/xml", strings.HasSuffix(mt, "+xml"),
		mt == "application/javascript":
		return true
	}
	return false
}

// ParseHTTPResponse reads a function's reply as API Gateway does for payload
// format 2.0: a JSON object with "statusCode" is an
// events.APIGatewayV2HTTPResponse; any other valid JSON is a 200
// application/json response whose body is the reply (a JSON string's value,
// unquoted). ok is false for a reply API Gateway would reject.
func ParseHTTPResponse(payload []byte) (events.APIGatewayV2HTTPResponse, bool) {
	var probe map[string]json.RawMessage
	if json.Unmarshal(payload, &probe) == nil {
		if _, has := probe["statusCode"]; has {
			var resp events.APIGatewayV2HTTPResponse
			if json.Unmarshal(payload, &resp) != nil || resp.StatusCode < 100 || resp.StatusCode > 599 {
				return events.APIGatewayV2HTTPResponse{}, false
			}
			return resp, true
		}
	}
	if !json.Valid(payload) {
		return events.APIGatewayV2HTTPResponse{}, false
	}
	body := string(payload)
	var s string
	if json.Unmarshal(payload, &s) == nil {
		body = s
	}
	return events.APIGatewayV2HTTPResponse{
		StatusCode: http.StatusOK,
		Headers:    map[string]string{"Content-Type": "application/json"},
		Body:       body,
	}, true
}

func writeGatewayError(w http.ResponseWriter, status int, message string) {
	b, _ := json.Marshal(map[string]string{"message": message})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Apigw-Requestid", newRequestID())
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// newRequestID returns an id shaped like API Gateway's ("JKJaXmPLvHcESHA=").
func newRequestID() string {
	b := make([]byte, 10)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// RouteKeys returns the configured route keys, sorted.
func (f *Front) RouteKeys() []string {
	keys := make([]string, 0, len(f.routes))
	for k := range f.routes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
