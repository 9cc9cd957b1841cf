// Package jwtexp reads the expiry a vendor put inside its token, without
// verifying the signature (the refresher only uses it as a hint that can
// shorten, never lengthen, a token's life).
//
// Two shapes exist among our vendors: standard JWTs with a numeric "exp"
// (HasOffers, Fyber), and Merchenta's JWT-looking tokens whose payload
// carries ISO-8601 times without a zone, e.g. "2014-10-07T10:20:12.489",
// meant as UTC; standard JWT libraries reject those.
//
// Contract: both functions are pure and safe for concurrent use. They never
// return an error, only ok = false, so no part of a token can reach an
// error string or a log through them. An exp at or before the Unix epoch,
// or at or after 1e11 seconds (the year 5138), is no usable expiry. Both
// decode the payload the same way: the middle of three dot-separated
// segments, base64url with or without padding, a JSON object. Only Numeric
// also requires a JWT header.
//
// No JWT library is used: all a library adds over this file is signature
// verification, which the refresher never does (a vendor's token is
// authenticated by the TLS connection it came over), and none of them
// reads Merchenta's zone-less "exp".
package jwtexp

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"time"
)

// maxExp is the largest "exp", in seconds since the epoch, taken as an
// expiry: beyond it the value is garbage (or milliseconds), not a date.
const maxExp = 1e11

// Numeric returns the numeric "exp" claim of a JWT, truncated to the
// second. ok is false when tok is not a JWT (its header must be a JSON
// object naming an "alg") or has no usable numeric exp.
func Numeric(tok string) (exp time.Time, ok bool) {
	parts, payload, ok := split(tok)
	if !ok {
		return time.Time{}, false
	}
	header, err := decode(parts[0])
	if err != nil {
		return time.Time{}, false
	}
	var h struct {
		Alg any `json:"alg"`
	}
	if err := json.Unmarshal(header, &h); err != nil {
		return time.Time{}, false
	}
	if alg, isString := h.Alg.(string); !isString || alg == "" {
		return time.Time{}, false
	}
	v, ok := claimExp(payload)
	if !ok {
		return time.Time{}, false
	}
	if n, isNumber := v.(float64); isNumber {
		return fromSeconds(n)
	}
	return time.Time{}, false
}

// isoLayouts are the zone-less forms Merchenta's tokens use.
var isoLayouts = []string{
	"2006-01-02T15:04:05.999999999",
	"2006-01-02T15:04:05",
	"2006-01-02 15:04:05.999999999",
}

// ISO returns the "exp" of a token whose payload holds it as an ISO-8601
// string without a zone, read as UTC. A string with a zone or offset is
// honoured, and so is a numeric exp. ok is false when the payload does not
// decode or exp is neither.
func ISO(tok string) (exp time.Time, ok bool) {
	_, payload, ok := split(tok)
	if !ok {
		return time.Time{}, false
	}
	v, ok := claimExp(payload)
	if !ok {
		return time.Time{}, false
	}
	switch v := v.(type) {
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
		return fromSeconds(v)
	}
	return time.Time{}, false
}

// split cuts a token into its three segments and decodes the payload.
func split(tok string) (parts []string, payload []byte, ok bool) {
	parts = strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil, nil, false
	}
	payload, err := decode(parts[1])
	if err != nil {
		return nil, nil, false
	}
	return parts, payload, true
}

func decode(seg string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(seg, "="))
}

// claimExp is the payload's "exp" as JSON decoded it (float64, string,
// ...); ok is false when the payload is not a JSON object or has no exp.
func claimExp(payload []byte) (any, bool) {
	var claims struct {
		Exp any `json:"exp"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil || claims.Exp == nil {
		return nil, false
	}
	return claims.Exp, true
}

func fromSeconds(v float64) (time.Time, bool) {
	if !(v >= 1 && v < maxExp) {
		return time.Time{}, false
	}
	return time.Unix(int64(v), 0).UTC(), true
}
