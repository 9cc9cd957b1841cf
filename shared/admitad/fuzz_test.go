package admitad_test

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/token-refresher/token-refresher/shared/admitad"
)

func FuzzParseReply(f *testing.F) {
	f.Add([]byte(`{"username":"advertiser1","access_token":"4b8b33955a","token_type":"bearer","expires_in":604800,"refresh_token":"ea957cce42","scope":"advertiser_statistics"}`))
	f.Add([]byte(`{"access_token":"x","expires_in":604800}`))
	f.Add([]byte(`{"error":"invalid_grant","error_description":"bad"}`))
	f.Add([]byte(`{"access_token":"x","refresh_token":"y","expires_in":"soon"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := admitad.ParseReply(body, "application/json")
		if err == nil && (r.AccessToken == "" || r.RefreshToken == "" || r.ExpiresIn < 0) {
			t.Fatalf("accepted %+v", r)
		}
	})
}

func FuzzParseConnection(f *testing.F) {
	f.Add(admitad.Connection{RefreshToken: "ea957cce42", Username: "advertiser1", ConnectedAt: time.Unix(1790000000, 5)}.Encode())
	f.Add(`Zx8#random-value-of-a-new-secret`)
	f.Add(`{"refresh_token":"x","connected_at":"yesterday"}`)
	f.Fuzz(func(t *testing.T, secret string) {
		c, err := admitad.ParseConnection(secret)
		if err != nil {
			return
		}
		if c.RefreshToken == "" {
			t.Fatal("a connection without a refresh token")
		}
		again, err := admitad.ParseConnection(c.Encode())
		if err != nil || again.RefreshToken != c.RefreshToken || !again.ConnectedAt.Equal(c.ConnectedAt) {
			t.Fatalf("round trip: %+v, %v", again, err)
		}
	})
}

// Whatever the bytes, a state is accepted only under the key that signed it
// and only with the cookie it was issued to, and a link only under its key:
// nothing about them can be forged without the signing key. The seeds
// include genuine ones.
func FuzzVerifyStateAndLink(f *testing.F) {
	key := []byte(strings.Repeat("k", 32))
	other := []byte(strings.Repeat("o", 32))
	now := time.Unix(1790000000, 0)
	state, err := admitad.NewState(key, "cookie-value", now, 0)
	if err != nil {
		f.Fatal(err)
	}
	link, _ := url.Parse(admitad.MintLink(key, "https://example.com/admitad/authorize", 0, now))
	f.Add(state, "cookie-value", link.RawQuery)
	named, err := admitad.NewConnectionState(key, "cookie-value", "eu", now, 0)
	if err != nil {
		f.Fatal(err)
	}
	namedLink, _ := url.Parse(admitad.MintConnectionLink(key, "https://example.com/admitad/authorize", "eu", 0, now))
	f.Add(named, "cookie-value", namedLink.RawQuery)
	f.Add(strings.Replace(named, ".eu.", ".us.", 1), "cookie-value", strings.Replace(namedLink.RawQuery, "connection=eu", "connection=us", 1))
	f.Add("v1.1.2.nonce.sig", "cookie-value", "exp=1790000600&sig=00")
	f.Add(state, "other-cookie", "exp=99999999999&sig="+strings.Repeat("0", 64))
	f.Fuzz(func(t *testing.T, s, cookie, rawQuery string) {
		if st, err := admitad.VerifyState(key, s, []string{cookie}, now); err == nil {
			if st.Connection != admitad.StateConnection(s) {
				t.Fatalf("a state verifies as connection %q but names %q", st.Connection, admitad.StateConnection(s))
			}
			if _, err := admitad.VerifyState(other, s, []string{cookie}, now); err == nil {
				t.Fatal("a state verifies under two keys")
			}
			if _, err := admitad.VerifyState(key, s, []string{cookie + "x"}, now); err == nil {
				t.Fatal("a state verifies with another cookie")
			}
		}
		q, err := url.ParseQuery(rawQuery)
		if err != nil {
			return
		}
		if admitad.VerifyLink(key, q, now) == nil && admitad.VerifyLink(other, q, now) == nil {
			t.Fatal("a link verifies under two keys")
		}
		if conn, err := admitad.VerifyConnectionLink(key, q, now); err == nil {
			if conn != admitad.LinkConnection(q) {
				t.Fatalf("a link verifies as connection %q but names %q", conn, admitad.LinkConnection(q))
			}
			for _, other := range []string{"", "eu", "us", "default"} {
				if other == q.Get("connection") {
					continue
				}
				moved := url.Values{}
				for k, v := range q {
					moved[k] = v
				}
				moved.Set("connection", other)
				if other == "" {
					moved.Del("connection")
				}
				if _, err := admitad.VerifyConnectionLink(key, moved, now); err == nil {
					t.Fatalf("a link for %q verifies for %q too", conn, other)
				}
			}
		}
	})
}
