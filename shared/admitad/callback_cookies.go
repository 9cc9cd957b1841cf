package admitad

import (
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// The connect cookie, which binds a signed state to the browser that
// started the flow.

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
