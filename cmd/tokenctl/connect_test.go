package main

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/token-refresher/token-refresher/shared/admitad"
	"github.com/token-refresher/token-refresher/shared/vendors"
)

const connectURL = "https://abc123.execute-api.eu-west-1.amazonaws.com/admitad/authorize"

func TestConnectAdmitad(t *testing.T) {
	sm, prefix := localStack(t, "")
	key := "k3y-0123456789abcdef0123456789abcdef-signing"
	createSecret(t, sm, prefix+"/admitad/signing-key", key)

	r := runCLI(t, "", nil, t0, "--prefix", prefix, "connect", "admitad", "--url", connectURL, "--ttl", "10m")
	if r.code != exitOK {
		t.Fatalf("exit %d; stderr %q", r.code, r.stderr)
	}
	u, err := url.Parse(strings.TrimSpace(r.stdout))
	if err != nil || !strings.HasPrefix(u.String(), connectURL+"?") {
		t.Fatalf("link %q does not start with %s", r.stdout, connectURL)
	}
	if conn, err := admitad.VerifyConnectionLink([]byte(key), u.Query(), t0.Add(9*time.Minute)); err != nil || conn != vendors.DefaultConnection {
		t.Errorf("the minted link does not verify within its ttl as the default connection's: %q, %v", conn, err)
	}
	if u.Query().Has("connection") {
		t.Errorf("the default connection's link %q names a connection: links minted before connections look the same", u)
	}
	if err := admitad.VerifyLink([]byte(key), u.Query(), t0.Add(12*time.Minute)); err == nil {
		t.Error("the minted link still verifies after its ttl")
	}
	if strings.Contains(r.stdout+r.stderr, key) {
		t.Error("connect printed the signing key")
	}

	r = runCLI(t, "", nil, t0, "--prefix", prefix, "connect", "admitad", "--url", connectURL, "--json")
	var link connectLink
	if err := json.Unmarshal([]byte(r.stdout), &link); err != nil || link.Vendor != "admitad" || link.Connection != vendors.DefaultConnection || link.ExpiresAt != "2025-03-01T12:15:00Z" {
		t.Errorf("connect --json: exit %d, stdout %q (%v)", r.code, r.stdout, err)
	} else if u, err := url.Parse(link.URL); err != nil || admitad.VerifyLink([]byte(key), u.Query(), t0.Add(time.Minute)) != nil {
		t.Errorf("connect --json: the link %q does not verify", link.URL)
	}
	if strings.Contains(r.stdout+r.stderr, key) {
		t.Error("connect --json printed the signing key")
	}

	t.Setenv("ADMITAD_CONNECT_URL", connectURL)
	if r := runCLI(t, "", nil, t0, "--prefix", prefix, "connect", "admitad"); r.code != exitOK {
		t.Errorf("with ADMITAD_CONNECT_URL: exit %d, stderr %q", r.code, r.stderr)
	}
	t.Setenv("ADMITAD_CONNECT_URL", "")

	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no url", []string{"connect", "admitad"}, exitUsage, "--url"},
		{"url of another path", []string{"connect", "admitad", "--url", "https://abc.example.com/elsewhere"}, exitUsage, "/admitad/authorize"},
		{"plain http to a remote host", []string{"connect", "admitad", "--url", "http://abc.example.com/admitad/authorize"}, exitUsage, "--url"},
		{"ttl over the maximum", []string{"connect", "admitad", "--url", connectURL, "--ttl", "2h"}, exitUsage, "--ttl"},
		{"missing signing key", []string{"--prefix", prefix + "-none", "connect", "admitad", "--url", connectURL}, exitFail, prefix + "-none/admitad/signing-key"},
		{"a vendor no person connects", []string{"connect", "fyber/acme", "--url", connectURL}, exitUsage, "only admitad"},
		{"an invalid connection name", []string{"connect", "admitad/EU", "--url", connectURL}, exitUsage, "[a-z0-9]"},
		{"a named connection without --url", []string{"connect", "admitad/eu"}, exitUsage, "connect admitad/eu: no --url"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := tt.args
			if args[0] != "--prefix" {
				args = append([]string{"--prefix", prefix}, args...)
			}
			r := runCLI(t, "", nil, t0, args...)
			if r.code != tt.code || !strings.Contains(r.stderr, tt.want) {
				t.Errorf("exit %d, stderr %q; want %d and %q", r.code, r.stderr, tt.code, tt.want)
			}
		})
	}
}

// TestConnectNamedConnection: connect admitad/<connection> mints a link
// for that connection, which verifies as that connection's and no other's,
// with the vendor's one signing key; a connection the stack does not have
// is refused before the key is read.
func TestConnectNamedConnection(t *testing.T) {
	sm, prefix := localStack(t, "")
	key := "k3y-0123456789abcdef0123456789abcdef-signing"
	createSecret(t, sm, prefix+"/admitad/signing-key", key)
	for _, conn := range []string{"eu", "us"} {
		createTagged(t, sm, vendors.SecretName(prefix, vendors.Admitad, conn, vendors.RoleToken), "x", vendors.SecretTags(vendors.Admitad, conn, vendors.RoleToken))
	}

	links := map[string]url.Values{}
	for _, conn := range []string{"eu", "us"} {
		t.Run(conn, func(t *testing.T) {
			r := runCLI(t, "", nil, t0, "--prefix", prefix, "connect", "admitad/"+conn, "--url", connectURL)
			if r.code != exitOK {
				t.Fatalf("exit %d; stderr %q", r.code, r.stderr)
			}
			u, err := url.Parse(strings.TrimSpace(r.stdout))
			if err != nil || !strings.HasPrefix(u.String(), connectURL+"?") {
				t.Fatalf("link %q", r.stdout)
			}
			got, err := admitad.VerifyConnectionLink([]byte(key), u.Query(), t0.Add(time.Minute))
			if err != nil || got != conn {
				t.Fatalf("the link verifies as connection %q (%v), want %q", got, err, conn)
			}
			if !strings.Contains(r.stderr, "connection "+conn) {
				t.Errorf("stderr %q does not name the connection", r.stderr)
			}
			if strings.Contains(r.stdout+r.stderr, key) {
				t.Error("connect printed the signing key")
			}
			links[conn] = u.Query()

			r = runCLI(t, "", nil, t0, "--prefix", prefix, "connect", "admitad/"+conn, "--url", connectURL, "--json", "--ttl", "30m")
			var link connectLink
			if err := json.Unmarshal([]byte(r.stdout), &link); err != nil || r.code != exitOK || link.Vendor != vendors.Admitad || link.Connection != conn || link.ExpiresAt != "2025-03-01T12:30:00Z" {
				t.Fatalf("connect --json: exit %d, stdout %q (%v)", r.code, r.stdout, err)
			}
			ju, _ := url.Parse(link.URL)
			if got, err := admitad.VerifyConnectionLink([]byte(key), ju.Query(), t0.Add(29*time.Minute)); err != nil || got != conn {
				t.Errorf("connect --json: the link verifies as %q (%v)", got, err)
			}
		})
	}
	// eu's link with us's name is no link at all.
	if q := links["eu"]; q != nil {
		q.Set("connection", "us")
		if _, err := admitad.VerifyConnectionLink([]byte(key), q, t0.Add(time.Minute)); err == nil {
			t.Error("eu's link verifies once it names us")
		}
	}

	r := runCLI(t, "", nil, t0, "--prefix", prefix, "connect", "admitad/apac", "--url", connectURL)
	if r.code != exitFail || !strings.Contains(r.stderr, "no connection apac") || !strings.Contains(r.stderr, prefix+"/admitad/apac/token") || r.stdout != "" {
		t.Errorf("a connection the stack does not have: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	// "default" is the default connection.
	r = runCLI(t, "", nil, t0, "--prefix", prefix, "connect", "admitad/default", "--url", connectURL, "--json")
	var link connectLink
	if err := json.Unmarshal([]byte(r.stdout), &link); err != nil || link.Connection != vendors.DefaultConnection || strings.Contains(link.URL, "connection=") {
		t.Errorf("admitad/default: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}
