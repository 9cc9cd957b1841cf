package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/token-refresher/token-refresher/shared/vendors"
)

// set-credentials writes only into the credentials secret of the vendor
// and connection named: the target's tags are checked before any write.
func TestSetCredentialsChecksTags(t *testing.T) {
	sm, prefix := localStack(t, "")
	const before = `{"untouched":"yes"}`
	fyber := `{"client_id":"cid-tags","client_secret":"s3cr3t-tags-1"}`
	tests := []struct {
		name     string
		target   string
		tags     map[string]string // of the secret named by --secret-id
		extra    []string
		wantCode int
		want     []string // substrings of stderr
	}{
		{name: "the vendor's token secret", target: "fyber", tags: vendors.SecretTags("fyber", "", vendors.RoleToken),
			wantCode: exitFail, want: []string{"is the token secret (apps read it) of fyber (connection default)", "not the credentials secret of fyber", "nothing written"}},
		{name: "another vendor's credentials", target: "fyber", tags: vendors.SecretTags("merchenta", "", vendors.RoleCredentials),
			wantCode: exitFail, want: []string{"is the credentials secret of merchenta (connection default), not the credentials secret of fyber"}},
		{name: "another connection's credentials", target: "fyber", tags: vendors.SecretTags("fyber", "acme", vendors.RoleCredentials),
			wantCode: exitFail, want: []string{"is the credentials secret of fyber (connection acme), not the credentials secret of fyber (connection default)"}},
		{name: "the default connection's, for a named one", target: "fyber/acme", tags: vendors.SecretTags("fyber", "", vendors.RoleCredentials),
			wantCode: exitFail, want: []string{"of fyber (connection default), not the credentials secret of fyber (connection acme)"}},
		{name: "a refresh-token secret", target: "fyber", tags: vendors.SecretTags("fyber", "", vendors.RoleRefreshToken),
			wantCode: exitFail, want: []string{"is the refresh-token secret of fyber"}},
		{name: "a signing key", target: "fyber", tags: vendors.SecretTags("admitad", "", vendors.RoleSigningKey),
			wantCode: exitFail, want: []string{"is the signing-key secret of admitad,"}},
		{name: "a signing key, even with --allow-untagged", target: "fyber", tags: vendors.SecretTags("fyber", "", vendors.RoleSigningKey),
			extra: []string{"--allow-untagged"}, wantCode: exitFail, want: []string{"is the signing-key secret of fyber"}},
		{name: "untagged", target: "fyber", tags: map[string]string{"team": "ads"},
			wantCode: exitFail, want: []string{"has no token-refresher tags", "--allow-untagged"}},
		{name: "untagged, allowed", target: "fyber", tags: nil, extra: []string{"--allow-untagged"},
			want: []string{"no token-refresher tags; writing it because of --allow-untagged"}},
		{name: "the right secret", target: "fyber", tags: vendors.SecretTags("fyber", "", vendors.RoleCredentials)},
		{name: "the right secret of a named connection", target: "fyber/acme", tags: vendors.SecretTags("fyber", "acme", vendors.RoleCredentials)},
		{name: "tagged before connections existed", target: "fyber",
			tags: map[string]string{vendors.TagRole: vendors.RoleCredentials, vendors.TagVendor: "fyber"}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := fmt.Sprintf("%s/tags-%d", prefix, i)
			createTagged(t, sm, id, before, tt.tags)
			args := append([]string{"--prefix", prefix, "set-credentials", tt.target, "--secret-id", id}, tt.extra...)
			r := runCLI(t, fyber, nil, t0, args...)
			if r.code != tt.wantCode {
				t.Fatalf("exit %d, want %d; stderr %q", r.code, tt.wantCode, r.stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr %q does not contain %q", r.stderr, w)
				}
			}
			if strings.Contains(r.stdout+r.stderr, "s3cr3t-tags") {
				t.Errorf("output shows the secret: %q %q", r.stdout, r.stderr)
			}
			got := secretValue(t, sm, id)
			if tt.wantCode != exitOK {
				if got != before {
					t.Errorf("refused write changed the secret to %q", got)
				}
				return
			}
			if got != fyber {
				t.Errorf("secret = %q, want the credentials", got)
			}
		})
	}
}

// The stack's own names: a named connection's credentials secret is
// <prefix>/<vendor>/<connection>/credentials.
func TestSetCredentialsNamedConnection(t *testing.T) {
	sm, prefix := localStack(t, "")
	id := vendors.SecretName(prefix, "merchenta", "acme", vendors.RoleCredentials)
	createTagged(t, sm, id, "{}", vendors.SecretTags("merchenta", "acme", vendors.RoleCredentials))
	r := runCLI(t, `{"username":"u","password":"s3cr3t-named","advertiser":"A1"}`, nil, t0,
		"--prefix", prefix, "set-credentials", "merchenta/acme", "--json")
	if r.code != exitOK {
		t.Fatalf("exit %d; stderr %q", r.code, r.stderr)
	}
	var out credentialsWritten
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("--json printed %q: %v", r.stdout, err)
	}
	if out.Vendor != "merchenta" || out.Connection != "acme" || out.SecretID != id || out.VersionID == "" ||
		strings.Join(out.Fields, ",") != "advertiser,password,username" {
		t.Errorf("--json = %+v", out)
	}
	if strings.Contains(r.stdout, "s3cr3t") {
		t.Error("--json shows the secret")
	}
	for _, bad := range []string{"merchenta/", "merchenta/Acme", "merchenta/a_b", "merchenta/acme/x"} {
		if r := runCLI(t, "{}", nil, t0, "--prefix", prefix, "set-credentials", bad); r.code != exitUsage {
			t.Errorf("set-credentials %s: exit %d, want %d; stderr %q", bad, r.code, exitUsage, r.stderr)
		}
	}
}
