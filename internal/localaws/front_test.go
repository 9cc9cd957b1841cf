package localaws

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// fakeInvoker answers with invoke, recording the last event.
type fakeInvoker struct {
	invoke func(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (Result, error)

	mu   sync.Mutex
	last events.APIGatewayV2HTTPRequest
}

func (f *fakeInvoker) Invoke(ctx context.Context, payload []byte) (Result, error) {
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(payload, &ev); err != nil {
		return Result{}, err
	}
	f.mu.Lock()
	f.last = ev
	f.mu.Unlock()
	return f.invoke(ctx, ev)
}

func (f *fakeInvoker) lastEvent() events.APIGatewayV2HTTPRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.last
}

func reply(v any) func(context.Context, events.APIGatewayV2HTTPRequest) (Result, error) {
	return func(context.Context, events.APIGatewayV2HTTPRequest) (Result, error) {
		b, err := json.Marshal(v)
		return Result{Payload: b}, err
	}
}

// noRedirect is a client that returns redirects instead of following them.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func TestFrontRequestEvent(t *testing.T) {
	inv := &fakeInvoker{invoke: reply(events.APIGatewayV2HTTPResponse{StatusCode: 204})}
	srv := httptest.NewServer(NewFront(map[string]Invoker{"POST /admitad/callback": inv}))
	defer srv.Close()

	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/admitad/callback?code=c1&state=s%2F1&x=1&x=2", strings.NewReader(`{"a":1}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "localaws-test")
	req.Header.Add("X-Multi", "a")
	req.Header.Add("X-Multi", "b")
	req.Header.Add("Cookie", "sid=abc; theme=dark")
	req.Header.Add("Cookie", "late=1")
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("status = %d", resp.StatusCode)
	}
	ev := inv.lastEvent()
	host := strings.TrimPrefix(srv.URL, "http://")
	checks := []struct {
		name      string
		got, want any
	}{
		{"version", ev.Version, "2.0"},
		{"routeKey", ev.RouteKey, "POST /admitad/callback"},
		{"rawPath", ev.RawPath, "/admitad/callback"},
		{"rawQueryString", ev.RawQueryString, "code=c1&state=s%2F1&x=1&x=2"},
		{"query code", ev.QueryStringParameters["code"], "c1"},
		{"query decoded", ev.QueryStringParameters["state"], "s/1"},
		{"query joined", ev.QueryStringParameters["x"], "1,2"},
		{"cookies", ev.Cookies, []string{"sid=abc", "theme=dark", "late=1"}},
		{"no cookie header", ev.Headers["cookie"], ""},
		{"header lower-cased and joined", ev.Headers["x-multi"], "a,b"},
		{"host header", ev.Headers["host"], host},
		{"x-forwarded-for", ev.Headers["x-forwarded-for"], "127.0.0.1"},
		{"x-forwarded-proto", ev.Headers["x-forwarded-proto"], "http"},
		{"content-type", ev.Headers["content-type"], "application/json"},
		{"body", ev.Body, `{"a":1}`},
		{"isBase64Encoded", ev.IsBase64Encoded, false},
		{"ctx routeKey", ev.RequestContext.RouteKey, "POST /admitad/callback"},
		{"ctx stage", ev.RequestContext.Stage, "$default"},
		{"ctx domainName", ev.RequestContext.DomainName, host},
		{"ctx method", ev.RequestContext.HTTP.Method, "POST"},
		{"ctx path", ev.RequestContext.HTTP.Path, "/admitad/callback"},
		{"ctx protocol", ev.RequestContext.HTTP.Protocol, "HTTP/1.1"},
		{"ctx sourceIp", ev.RequestContext.HTTP.SourceIP, "127.0.0.1"},
		{"ctx userAgent", ev.RequestContext.HTTP.UserAgent, "localaws-test"},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			if !reflect.DeepEqual(c.got, c.want) {
				t.Fatalf("got %#v, want %#v", c.got, c.want)
			}
		})
	}
	t.Run("request id and time", func(t *testing.T) {
		if ev.RequestContext.RequestID == "" {
			t.Error("empty requestId")
		}
		if d := time.Since(time.UnixMilli(ev.RequestContext.TimeEpoch)); d < 0 || d > time.Minute {
			t.Errorf("timeEpoch %d is not now", ev.RequestContext.TimeEpoch)
		}
		if _, err := time.Parse("02/Jan/2006:15:04:05 -0700", ev.RequestContext.Time); err != nil {
			t.Errorf("time %q: %v", ev.RequestContext.Time, err)
		}
	})
}

func TestFrontRequestBodyEncoding(t *testing.T) {
	cases := []struct {
		name, contentType string
		body              []byte
		wantB64           bool
	}{
		{"json", "application/json; charset=utf-8", []byte(`{"x":1}`), false},
		{"text", "text/plain", []byte("hello"), false},
		{"form", "application/x-www-form-urlencoded", []byte("a=1&b=2"), true},
		{"binary", "application/octet-stream", []byte{0, 1, 2, 255}, true},
		{"invalid utf-8 text", "text/plain", []byte{0xff, 0xfe}, true},
		{"no content type", "", []byte("x"), true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "http://api.example.com/p", nil)
			if tc.contentType != "" {
				r.Header.Set("Content-Type", tc.contentType)
			}
			ev := NewHTTPEvent(r, "POST /p", tc.body, time.Now())
			if ev.IsBase64Encoded != tc.wantB64 {
				t.Fatalf("isBase64Encoded = %v, want %v", ev.IsBase64Encoded, tc.wantB64)
			}
			got := []byte(ev.Body)
			if ev.IsBase64Encoded {
				var err error
				if got, err = base64.StdEncoding.DecodeString(ev.Body); err != nil {
					t.Fatal(err)
				}
			}
			if string(got) != string(tc.body) {
				t.Fatalf("body = %q, want %q", got, tc.body)
			}
			if ev.RequestContext.DomainPrefix != "api" {
				t.Fatalf("domainPrefix = %q, want api", ev.RequestContext.DomainPrefix)
			}
		})
	}
}

func TestFrontResponses(t *testing.T) {
	cases := []struct {
		name       string
		method     string
		path       string
		invoke     func(context.Context, events.APIGatewayV2HTTPRequest) (Result, error)
		timeout    time.Duration
		wantStatus int
		wantBody   string
		wantHeader map[string][]string
	}{
		{
			name: "redirect with cookies", method: "GET", path: "/admitad/authorize",
			invoke: reply(events.APIGatewayV2HTTPResponse{
				StatusCode: 302,
				Headers:    map[string]string{"Location": "https://store.admitad.com/api/authorize/?state=x"},
				Cookies:    []string{"state=x; HttpOnly; Secure; Path=/", "other=1"},
			}),
			wantStatus: 302,
			wantHeader: map[string][]string{
				"Location":   {"https://store.admitad.com/api/authorize/?state=x"},
				"Set-Cookie": {"state=x; HttpOnly; Secure; Path=/", "other=1"},
			},
		},
		{
			name: "multi-value headers and base64 body", method: "GET", path: "/admitad/authorize",
			invoke: reply(events.APIGatewayV2HTTPResponse{
				StatusCode:        200,
				MultiValueHeaders: map[string][]string{"X-Many": {"1", "2"}},
				Headers:           map[string]string{"Content-Type": "application/octet-stream"},
				Body:              base64.StdEncoding.EncodeToString([]byte{0, 1, 2}),
				IsBase64Encoded:   true,
			}),
			wantStatus: 200, wantBody: "\x00\x01\x02",
			wantHeader: map[string][]string{"X-Many": {"1", "2"}, "Content-Type": {"application/octet-stream"}},
		},
		{
			name: "plain JSON reply", method: "GET", path: "/admitad/authorize",
			invoke:     reply(map[string]string{"hello": "world"}),
			wantStatus: 200, wantBody: `{"hello":"world"}`,
			wantHeader: map[string][]string{"Content-Type": {"application/json"}},
		},
		{
			name: "JSON string reply", method: "GET", path: "/admitad/authorize",
			invoke:     reply("Hello from Lambda!"),
			wantStatus: 200, wantBody: `Hello from Lambda!`,
		},
		{
			name: "function error", method: "GET", path: "/admitad/authorize",
			invoke: func(context.Context, events.APIGatewayV2HTTPRequest) (Result, error) {
				return Result{ErrorType: "errorString", ErrorMessage: "boom"}, nil
			},
			wantStatus: 502, wantBody: `{"message":"Internal Server Error"}`,
		},
		{
			name: "malformed reply", method: "GET", path: "/admitad/authorize",
			invoke: func(context.Context, events.APIGatewayV2HTTPRequest) (Result, error) {
				return Result{Payload: []byte("not json")}, nil
			},
			wantStatus: 502, wantBody: `{"message":"Internal Server Error"}`,
		},
		{
			name: "invoke error", method: "GET", path: "/admitad/authorize",
			invoke: func(context.Context, events.APIGatewayV2HTTPRequest) (Result, error) {
				return Result{}, errors.New("emulator gone")
			},
			wantStatus: 500, wantBody: `{"message":"Internal Server Error"}`,
		},
		{
			name: "integration timeout", method: "GET", path: "/admitad/authorize", timeout: 50 * time.Millisecond,
			invoke: func(ctx context.Context, _ events.APIGatewayV2HTTPRequest) (Result, error) {
				<-ctx.Done()
				return Result{}, ctx.Err()
			},
			wantStatus: 503, wantBody: `{"message":"Service Unavailable"}`,
		},
		{
			name: "unknown path", method: "GET", path: "/nope",
			wantStatus: 404, wantBody: `{"message":"Not Found"}`,
		},
		{
			name: "wrong method", method: "DELETE", path: "/admitad/authorize",
			wantStatus: 404, wantBody: `{"message":"Not Found"}`,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			inv := &fakeInvoker{invoke: tc.invoke}
			front := NewFront(map[string]Invoker{"GET /admitad/authorize": inv})
			front.IntegrationTimeout = tc.timeout
			srv := httptest.NewServer(front)
			defer srv.Close()
			req, _ := http.NewRequest(tc.method, srv.URL+tc.path, nil)
			resp, err := noRedirect.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status = %d, want %d (body %q)", resp.StatusCode, tc.wantStatus, body)
			}
			if tc.wantBody != "" && string(body) != tc.wantBody {
				t.Fatalf("body = %q, want %q", body, tc.wantBody)
			}
			for k, want := range tc.wantHeader {
				got := resp.Header.Values(k)
				sort.Strings(got)
				sort.Strings(want)
				if !reflect.DeepEqual(got, want) {
					t.Errorf("header %s = %q, want %q", k, got, want)
				}
			}
		})
	}
}

func TestFrontRouteMatching(t *testing.T) {
	hit := func(name string) *fakeInvoker {
		return &fakeInvoker{invoke: reply(events.APIGatewayV2HTTPResponse{StatusCode: 200, Body: name})}
	}
	front := NewFront(map[string]Invoker{
		"GET /a":   hit("get-a"),
		"ANY /a":   hit("any-a"),
		"$default": hit("default"),
	})
	cases := []struct{ method, path, want string }{
		{"GET", "/a", "get-a"},
		{"POST", "/a", "any-a"},
		{"GET", "/b", "default"},
	}
	for _, tc := range cases {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			rec := httptest.NewRecorder()
			front.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
			if rec.Body.String() != tc.want {
				t.Fatalf("served by %q, want %q", rec.Body.String(), tc.want)
			}
		})
	}
}

// TestFrontWithFunction sends a browser request through Front to the real
// echo function under the emulator and reads the event it received.
func TestFrontWithFunction(t *testing.T) {
	f := startFunctionForTest(t, echoBootstrap(t), nil)
	srv := httptest.NewServer(NewFront(map[string]Invoker{"GET /echo": f}))
	defer srv.Close()

	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/echo?code=abc", nil)
	req.Header.Set("Cookie", "sid=1")
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("status %d content-type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var r struct {
		Event events.APIGatewayV2HTTPRequest `json:"event"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatal(err)
	}
	if r.Event.RouteKey != "GET /echo" || r.Event.QueryStringParameters["code"] != "abc" || len(r.Event.Cookies) != 1 {
		t.Fatalf("function saw %+v", r.Event)
	}

	// A failing function becomes API Gateway's 502.
	failing := httptest.NewServer(NewFront(map[string]Invoker{"GET /fail": invokerFunc(func(ctx context.Context, _ []byte) (Result, error) {
		return f.Invoke(ctx, []byte(`{"fail":true}`))
	})}))
	defer failing.Close()
	resp2, err := http.Get(failing.URL + "/fail")
	if err != nil {
		t.Fatal(err)
	}
	resp2.Body.Close()
	if resp2.StatusCode != http.StatusBadGateway {
		t.Fatalf("status = %d, want 502", resp2.StatusCode)
	}
}

type invokerFunc func(ctx context.Context, payload []byte) (Result, error)

func (f invokerFunc) Invoke(ctx context.Context, payload []byte) (Result, error) {
	return f(ctx, payload)
}
