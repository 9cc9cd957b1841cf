// Package jwtexp reads the expiry a vendor put inside its token, without
// verifying the signature (the refresher only uses it as a hint that can
// shorten, never lengthen, a token's life).
//
// Two shapes exist among our vendors: standard JWTs with a numeric "exp"
// (HasOffers, Fyber), and Merchenta's JWT-looking tokens whose payload
// carries ISO-8601 times without a zone, e.g. "2014-10-07T10:20:12.489",
// meant as UTC; standard JWT libraries reject those.
package jwtexp

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Numeric returns the numeric "exp" claim of a JWT. ok is false when tok is
// not a JWT or has no usable exp.
func Numeric(tok string) (exp time.Time, ok bool) {
	var claims jwt.MapClaims
	if _, _, err := jwt.NewParser().ParseUnverified(tok, &claims); err != nil {
		return time.Time{}, false
	}
	at, err := claims.GetExpirationTime()
	if err != nil || at == nil || at.Unix() <= 0 {
		return time.Time{}, false
	}
	return at.UTC(), true
}

// isoLayouts are the zone-less forms Merchenta's tokens use.
var isoLayouts = []string{
	"2006-01-02T15:04:05.999999999",
	"2006-01-02T15:04:05",
	"2006-01-02 15:04:05.999999999",
}

// ISO returns the "exp" of a token whose payload holds it as an ISO-8601
// string without a zone, read as UTC. A string with a zone or offset is
// honoured. ok is false when the payload does not decode.
func ISO(tok string) (exp time.Time, ok bool) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return time.Time{}, false
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return time.Time{}, false
	}
	var claims struct {
		Exp any `json:"exp"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		return time.Time{}, false
	}
	switch v := claims.Exp.(type) {
	case string:
		if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
			return t.UTC(), true
		}
		for _, layout := range isoLayouts {
			if t, err := time.ParseInLocation(layout, v, time.UTC); err == nil {
				return t, true
			}
		}
	case float64:
		if v > 0 && v < 1e11 {
			return time.Unix(int64(v), 0).UTC(), true
		}
	}
	return time.Time{}, false
}
