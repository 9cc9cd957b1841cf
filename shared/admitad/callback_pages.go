package admitad

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/token-refresher/token-refresher/shared/vendorhttp"
)

// The answers the callback sends a person: pages and failures, with the
// cookie cleared where the flow ends.

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
