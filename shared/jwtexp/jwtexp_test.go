package jwtexp

import (
	"encoding/base64"
	"testing"
	"time"
)

func makeJWT(payload string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + enc([]byte(payload)) + ".sig"
}

func withHeader(header, payload string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(header)) + "." + enc([]byte(payload)) + ".sig"
}

// padded is a JWT whose segments keep base64's "=" padding.
func padded(header, payload string) string {
	enc := base64.URLEncoding.EncodeToString
	return enc([]byte(header)) + "." + enc([]byte(payload)) + ".sig"
}

// merchentaDoc is the token from Merchenta's documentation.
const merchentaDoc = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJhZHYiOiJNRVJDSEVOVEEiLCJleHAiOiIyMDE0LTEwLTA3VDEwOjIwOjEyLjQ4OSIsInJsbSI6IkFETUlOIiwidXNyIjoidGVzdEBtZXJjaGVudGEuY29tIiwiaWF0IjoiMjAxNC0xMC0wN1QwOToyMDoxMi40NTAifQ.7fb8007c49abb7e083f4aca024512ef3c9d32ea1ab0502d2603f4c2c92545b80"

// fyberDoc is the token from Fyber's documentation (iat 1570016900, exp 1570020500).
const fyberDoc = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXXXJ9.eyJpYXQiOjE1NzAwMTY5MDAsImV4cCI6MTU3MDAyMDUwMCwiYXVkIjoic3BlZWRiYWxsIiwic3ViIjoiMjEwMjYzIn0.hDo1waTytSys_oRhFNUPqZPom26bL05rxgtSt3XYHqI"

func TestNumeric(t *testing.T) {
	tests := []struct {
		name string
		tok  string
		want time.Time
		ok   bool
	}{
		{name: "numeric exp", tok: makeJWT(`{"exp":1790000000}`), want: time.Unix(1790000000, 0).UTC(), ok: true},
		{name: "fraction truncated to the second", tok: makeJWT(`{"exp":1790000000.9}`), want: time.Unix(1790000000, 0).UTC(), ok: true},
		{name: "padded payload", tok: padded(`{"alg":"HS256"}`, `{"exp":1790000000}`), want: time.Unix(1790000000, 0).UTC(), ok: true},
		{name: "no exp", tok: makeJWT(`{"iat":1}`)},
		{name: "null exp", tok: makeJWT(`{"exp":null}`)},
		{name: "zero exp", tok: makeJWT(`{"exp":0}`)},
		{name: "negative exp", tok: makeJWT(`{"exp":-5}`)},
		{name: "exp beyond the year 5138", tok: makeJWT(`{"exp":1e11}`)},
		{name: "exp overflowing int64", tok: makeJWT(`{"exp":1e300}`)},
		{name: "payload an array", tok: makeJWT(`[1790000000]`)},
		{name: "header without alg", tok: withHeader(`{"typ":"JWT"}`, `{"exp":1790000000}`)},
		{name: "header alg not a string", tok: withHeader(`{"alg":1}`, `{"exp":1790000000}`)},
		{name: "header not JSON", tok: withHeader(`HS256`, `{"exp":1790000000}`)},
		{name: "string exp", tok: makeJWT(`{"exp":"2014-10-07T10:20:12.489"}`)},
		{name: "opaque token", tok: "4b8b33955a"},
		{name: "bad base64", tok: "a.!!!.c"},
		{name: "empty", tok: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := Numeric(tt.tok)
			if ok != tt.ok || !got.Equal(tt.want) {
				t.Errorf("Numeric = %v, %v; want %v, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestNumericFyberDocToken(t *testing.T) {
	// The doc's header was mangled in copying ("IkpXXXJ9" is not valid
	// JSON), so the token is not a JWT: no expiry is claimed and the
	// refresher falls back to expiresIn and the nominal hour.
	if got, ok := Numeric(fyberDoc); ok {
		t.Errorf("Numeric(doc) = %v, true; want no expiry from a malformed JWT", got)
	}
	fixed := makeJWT(`{"iat":1570016900,"exp":1570020500,"aud":"speedball","sub":"210263"}`)
	if got, ok := Numeric(fixed); !ok || !got.Equal(time.Unix(1570020500, 0).UTC()) {
		t.Errorf("Numeric(doc payload) = %v, %v", got, ok)
	}
}

func TestISO(t *testing.T) {
	tests := []struct {
		name string
		tok  string
		want time.Time
		ok   bool
	}{
		{name: "Merchenta's documented token", tok: merchentaDoc, want: time.Date(2014, 10, 7, 10, 20, 12, 489e6, time.UTC), ok: true},
		{name: "no fraction", tok: makeJWT(`{"exp":"2026-11-25T13:00:00"}`), want: time.Date(2026, 11, 25, 13, 0, 0, 0, time.UTC), ok: true},
		{name: "with zone", tok: makeJWT(`{"exp":"2026-11-25T13:00:00+01:00"}`), want: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC), ok: true},
		{name: "numeric", tok: makeJWT(`{"exp":1790000000}`), want: time.Unix(1790000000, 0).UTC(), ok: true},
		{name: "header not decoded", tok: "!." + base64.RawURLEncoding.EncodeToString([]byte(`{"exp":"2026-11-25T13:00:00"}`)) + ".c", want: time.Date(2026, 11, 25, 13, 0, 0, 0, time.UTC), ok: true},
		{name: "padded payload", tok: padded(`{"alg":"HS256"}`, `{"exp":"2026-11-25T13:00:00"}`), want: time.Date(2026, 11, 25, 13, 0, 0, 0, time.UTC), ok: true},
		{name: "garbage exp", tok: makeJWT(`{"exp":"tomorrow"}`)},
		{name: "no exp", tok: makeJWT(`{"iat":"2026-11-25T13:00:00"}`)},
		{name: "numeric exp beyond the year 5138", tok: makeJWT(`{"exp":1e11}`)},
		{name: "payload not JSON", tok: "a." + base64.RawURLEncoding.EncodeToString([]byte("xx")) + ".c"},
		{name: "two parts", tok: "a.b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ISO(tt.tok)
			if ok != tt.ok || !got.Equal(tt.want) {
				t.Errorf("ISO = %v, %v; want %v, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func FuzzNumeric(f *testing.F) {
	f.Add(fyberDoc)
	f.Add(makeJWT(`{"exp":1790000000}`))
	f.Add(makeJWT(`{"exp":1e300}`))
	f.Add("...")
	f.Fuzz(func(t *testing.T, tok string) {
		if exp, ok := Numeric(tok); ok && exp.Unix() <= 0 {
			t.Fatalf("accepted exp %v", exp)
		}
	})
}

func FuzzISO(f *testing.F) {
	f.Add(merchentaDoc)
	f.Add(makeJWT(`{"exp":"2026-11-25T13:00:00"}`))
	f.Add(makeJWT(`{"exp":-5}`))
	f.Fuzz(func(t *testing.T, tok string) {
		if exp, ok := ISO(tok); ok && exp.IsZero() {
			t.Fatal("ok with a zero time")
		}
	})
}
