package token

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func sample() Token {
	return Token{
		Vendor:        "hasoffers",
		AccessToken:   "eyJhbGciOiJIUzI1NiJ9.e30.sig",
		TokenType:     "Bearer",
		Authorization: "Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig",
		ExpiresAt:     time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC),
		RefreshedAt:   time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC),
		Fingerprint:   Fingerprint("eyJhbGciOiJIUzI1NiJ9.e30.sig"),
		Refresher:     "token-refresher-hasoffers",
		Extras:        map[string]string{"integrator_id": "42"},
	}
}

func TestRoundTrip(t *testing.T) {
	in := sample()
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"vendor":"hasoffers","access_token":"eyJhbGciOiJIUzI1NiJ9.e30.sig","token_type":"Bearer","authorization":"Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig","expires_at":"2026-11-26T12:00:00Z","refreshed_at":"2026-11-25T12:00:00Z","fingerprint":"` + in.Fingerprint + `","refresher":"token-refresher-hasoffers","integrator_id":"42"}`
	if string(b) != want {
		t.Errorf("wire form:\n got %s\nwant %s", b, want)
	}
	out, err := Parse(string(b))
	if err != nil {
		t.Fatal(err)
	}
	if out.AccessToken != in.AccessToken || !out.ExpiresAt.Equal(in.ExpiresAt) || out.Extras["integrator_id"] != "42" {
		t.Errorf("round trip = %+v", out)
	}
}

func TestNoExpiryOmitsField(t *testing.T) {
	tok := sample()
	tok.ExpiresAt = time.Time{}
	b, _ := json.Marshal(tok)
	if strings.Contains(string(b), "expires_at") {
		t.Errorf("expires_at present: %s", b)
	}
}

func TestExtraCannotShadowContract(t *testing.T) {
	tok := sample()
	tok.Extras = map[string]string{"access_token": "x"}
	if _, err := json.Marshal(tok); err == nil {
		t.Error("an extra named like a contract field was accepted")
	}
}

func TestParseRejects(t *testing.T) {
	base := sample()
	tests := []struct {
		name   string
		mutate func(*Token)
		raw    string
		want   string
	}{
		{name: "not JSON", raw: "Zx8#random", want: "invalid JSON"},
		{name: "wrong type", raw: `{"access_token": 5}`, want: "access_token"},
		{name: "no vendor", mutate: func(t *Token) { t.Vendor = "" }, want: "vendor"},
		{name: "empty token", mutate: func(t *Token) { t.AccessToken = ""; t.Authorization = ""; t.Fingerprint = Fingerprint("") }, want: "access_token is empty"},
		{name: "header mismatch", mutate: func(t *Token) { t.Authorization = "Bearer other" }, want: "authorization"},
		{name: "fingerprint mismatch", mutate: func(t *Token) { t.Fingerprint = "0000000000000000" }, want: "fingerprint"},
		{name: "expiry before refresh", mutate: func(t *Token) { t.ExpiresAt = t.RefreshedAt.Add(-time.Second) }, want: "expires_at"},
		{name: "bad time", raw: `{"vendor":"x","expires_at":"tomorrow"}`, want: "RFC 3339"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := tt.raw
			if tt.mutate != nil {
				tok := base
				tt.mutate(&tok)
				b, _ := json.Marshal(tok)
				raw = string(b)
			}
			_, err := Parse(raw)
			if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse = %v, want ErrMalformed naming %q", err, tt.want)
			}
			if err != nil && base.AccessToken != "" && strings.Contains(err.Error(), base.AccessToken) {
				t.Errorf("error quotes the token: %v", err)
			}
		})
	}
}

func TestFingerprint(t *testing.T) {
	fp := Fingerprint("abc")
	if len(fp) != 16 || fp != "ba7816bf8f01cfea" {
		t.Errorf("Fingerprint = %q", fp)
	}
}

func FuzzParse(f *testing.F) {
	b, _ := json.Marshal(sample())
	f.Add(string(b))
	f.Add(`{"vendor":"invoca","access_token":"x","token_type":"token","authorization":"x","refreshed_at":"2026-11-25T12:00:00Z"}`)
	f.Add(`{}`)
	f.Fuzz(func(t *testing.T, raw string) {
		tok, err := Parse(raw)
		if err != nil {
			return
		}
		if tok.Validate() != nil {
			t.Fatal("Parse accepted a token Validate refuses")
		}
		again, err := json.Marshal(tok)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		if _, err := Parse(string(again)); err != nil {
			t.Fatalf("round trip: %v", err)
		}
	})
}
