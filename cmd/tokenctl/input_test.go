package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/token-refresher/token-refresher/shared/vendors"
)

// Each way stdin can be wrong gets its own message; none quotes the input.
func TestSetCredentialsInputErrors(t *testing.T) {
	sm, prefix := localStack(t, "")
	tests := []struct {
		name, vendor, stdin string
		want                string
	}{
		{"empty stdin", "fyber", "", "stdin is empty"},
		{"only white space", "fyber", " \n\t", "stdin is empty"},
		{"malformed", "fyber", `{"client_id": s3cr3t-x}`, "not valid JSON (syntax error at byte 15)"},
		{"cut short", "fyber", `{"client_id":"s3cr3t-x"`, "not valid JSON (the input ends inside the object, at byte 23)"},
		{"cut short inside a value", "fyber", `{"client_id":"c","client_secret":"s3cr3t`, "the input ends inside the object, at byte 40"},
		{"cut short after a newline", "fyber", "{\"client_id\":\"c\",\n", "the input ends inside the object, at byte 18"},
		{"hasoffers: an undocumented audience", "hasoffers", `{"client_id":"c","client_secret":"s3cr3t-x","audience":"Brand","integrator_id":"i"}`,
			`field "audience" is not an audience HasOffers documents: use "BrandAPI"`},
		{"trailing garbage", "fyber", `{"client_id":"c","client_secret":"s3cr3t-x"} s3cr3t-y`, "trailing data after the JSON object (from byte 46)"},
		{"two objects", "fyber", `{"client_id":"c","client_secret":"s3cr3t-x"}{}`, "trailing data after the JSON object (from byte 45)"},
		{"an array", "fyber", `[{"client_id":"c","client_secret":"s3cr3t-x"}]`, "credentials are a JSON array"},
		{"a string", "fyber", `"s3cr3t-x"`, "credentials are a JSON string"},
		{"null", "fyber", `null`, "credentials are JSON null"},
		{"a typo in a field name", "fyber", `{"client_id":"c","client_secret":"s3cr3t-x","clientsecret":"s3cr3t-y"}`,
			`unknown field "clientsecret" (did you mean "client_secret"?)`},
		{"white space around a value", "fyber", `{"client_id":"c ","client_secret":"s3cr3t-x"}`, `field "client_id" starts or ends with white space`},
		{"invoca: api_token alone", "invoca", `{"api_token":"s3cr3t-x"}`, `invoca needs "validate_url", or "vanity" and "network_id"`},
		{"invoca: vanity alone", "invoca", `{"api_token":"s3cr3t-x","vanity":"acme"}`, `field "vanity" needs "network_id" too`},
		{"invoca: network_id alone", "invoca", `{"api_token":"s3cr3t-x","network_id":"42"}`, `field "network_id" needs "vanity" too`},
		{"invoca: plain http validate_url", "invoca", `{"api_token":"s3cr3t-x","validate_url":"http://acme.invoca.net/api/x"}`, `field "validate_url"`},
		{"invoca: vanity not a host label", "invoca", `{"api_token":"s3cr3t-x","vanity":"a.b/c","network_id":"42"}`, `field "vanity" is not a host name label`},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := fmt.Sprintf("%s-%d", prefix, i)
			id := vendors.SecretName(p, tt.vendor, "", vendors.RoleCredentials)
			createTagged(t, sm, id, "{}", vendors.SecretTags(tt.vendor, "", vendors.RoleCredentials))
			r := runCLI(t, tt.stdin, nil, t0, "--prefix", p, "set-credentials", tt.vendor)
			if r.code != exitFail || !strings.Contains(r.stderr, tt.want) || !strings.Contains(r.stderr, "nothing written") {
				t.Errorf("exit %d, stderr %q; want %d and %q", r.code, r.stderr, exitFail, tt.want)
			}
			if strings.Contains(r.stderr, "s3cr3t") {
				t.Errorf("stderr %q quotes the input", r.stderr)
			}
			if got := secretValue(t, sm, id); got != "{}" {
				t.Errorf("secret changed to %q", got)
			}
		})
	}
	for _, ok := range []string{
		`{"api_token":"s3cr3t-x","validate_url":"https://acme.invoca.net/api/2020-10-01/networks/transactions/42.csv?limit=1"}`,
		`{"api_token":"s3cr3t-x","vanity":"acme","network_id":"42"}`,
		`{"api_token":"s3cr3t-x","vanity":"acme","network_id":42}`,
	} {
		if _, err := parseCredentials(vendors.MustLookup("invoca"), ok); err != nil {
			t.Errorf("parseCredentials(%s): %v", strings.ReplaceAll(ok, "s3cr3t-x", "…"), err)
		}
	}
}

// On a terminal, fields that are not secret are shown as typed, secret
// ones are hidden, and each answer is checked as it is given.
func TestPromptedCredentials(t *testing.T) {
	sm, prefix := localStack(t, "")
	tests := []struct {
		name, target string
		answers      []string
		wantCode     int
		wantLabels   []string // label prefixes, in order
		wantHidden   []bool
		want         string // the secret written, "" for none
		wantSaid     string
		wantErr      string
	}{
		{name: "merchenta", target: "merchenta", answers: []string{"user-1", "s3cr3t-pw", "ADV1"},
			wantLabels: []string{"username: ", "password [hidden]: ", "advertiser: "}, wantHidden: []bool{false, true, false},
			want: `{"advertiser":"ADV1","password":"s3cr3t-pw","username":"user-1"}`},
		{name: "an empty required field is asked again", target: "fyber", answers: []string{"", "cid", "s3cr3t-cs"},
			wantLabels: []string{"client_id: ", "client_id: ", "client_secret [hidden]: "}, wantHidden: []bool{false, false, true},
			want: `{"client_id":"cid","client_secret":"s3cr3t-cs"}`, wantSaid: `field "client_id" is required; try again`},
		{name: "the placeholder is refused", target: "fyber", answers: []string{vendors.Placeholder, "cid", "s3cr3t-cs"},
			want: `{"client_id":"cid","client_secret":"s3cr3t-cs"}`, wantSaid: "still holds the placeholder"},
		{name: "invoca with a validation URL skips vanity and network_id", target: "invoca",
			answers:    []string{"s3cr3t-tok", "https://acme.invoca.net/api/2020-10-01/networks/transactions/42.csv?limit=1"},
			wantLabels: []string{"api_token [hidden]: ", "validate_url (optional, Enter to skip): "}, wantHidden: []bool{true, false},
			want: `{"api_token":"s3cr3t-tok","validate_url":"https://acme.invoca.net/api/2020-10-01/networks/transactions/42.csv?limit=1"}`},
		{name: "invoca without one needs vanity and network_id", target: "invoca", answers: []string{"s3cr3t-tok", "", "acme", "", "42"},
			wantLabels: []string{"api_token", "validate_url", "vanity (needed without validate_url): ", "network_id (needed without validate_url): ", "network_id"},
			want:       `{"api_token":"s3cr3t-tok","network_id":"42","vanity":"acme"}`, wantSaid: `field "network_id" is required`},
		{name: "a bad validation URL is asked again, then given up", target: "invoca",
			answers: []string{"s3cr3t-tok", "http://x.example.com/", "ftp://x", "not a url"}, wantCode: exitFail, wantErr: `field "validate_url"`},
		{name: "white space around a value is refused as from stdin", target: "fyber", answers: []string{" cid", "cid ", "cid", "s3cr3t-cs"},
			wantLabels: []string{"client_id: ", "client_id: ", "client_id: ", "client_secret [hidden]: "},
			want:       `{"client_id":"cid","client_secret":"s3cr3t-cs"}`, wantSaid: `field "client_id" starts or ends with white space; try again`},
		{name: "white space around a secret is refused", target: "fyber", answers: []string{"cid", "s3cr3t-cs ", "s3cr3t-cs"},
			want: `{"client_id":"cid","client_secret":"s3cr3t-cs"}`, wantSaid: `field "client_secret" starts or ends with white space`},
		{name: "hasoffers audience checked as it is given", target: "hasoffers", answers: []string{"cid", "s3cr3t-cs", "Brand", "BrandAPI", "integ"},
			want: `{"audience":"BrandAPI","client_id":"cid","client_secret":"s3cr3t-cs","integrator_id":"integ"}`, wantSaid: `"audience" is not an audience HasOffers documents`},
		{name: "Ctrl-C", target: "fyber", answers: []string{"cid", "^C"}, wantCode: exitInterrupt, wantErr: "interrupted (Ctrl-C); nothing written"},
		{name: "Ctrl-D", target: "fyber", answers: []string{"cid"}, wantCode: exitFail, wantErr: "input ended (Ctrl-D or end of file); nothing written"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := fmt.Sprintf("%s-%d", prefix, i)
			tg, err := parseTarget(tt.target)
			if err != nil {
				t.Fatal(err)
			}
			id := vendors.SecretName(p, tg.spec.Name, tg.connection, vendors.RoleCredentials)
			createTagged(t, sm, id, "{}", vendors.SecretTags(tg.spec.Name, tg.connection, vendors.RoleCredentials))
			r := runCLI(t, "", tt.answers, t0, "--prefix", p, "set-credentials", tt.target)
			if r.code != tt.wantCode {
				t.Fatalf("exit %d, want %d; stderr %q", r.code, tt.wantCode, r.stderr)
			}
			if !r.prompts.closed {
				t.Error("the terminal was not given back")
			}
			for j, l := range tt.wantLabels {
				if j >= len(r.prompts.labels) || !strings.HasPrefix(r.prompts.labels[j], l) {
					t.Errorf("labels %q: #%d does not start with %q", r.prompts.labels, j, l)
				}
			}
			for j, h := range tt.wantHidden {
				if j < len(r.prompts.hidden) && r.prompts.hidden[j] != h {
					t.Errorf("prompt %q hidden = %v, want %v", r.prompts.labels[j], r.prompts.hidden[j], h)
				}
			}
			if tt.wantSaid != "" && !strings.Contains(strings.Join(r.prompts.said, "\n"), tt.wantSaid) {
				t.Errorf("said %q, want %q", r.prompts.said, tt.wantSaid)
			}
			if tt.wantErr != "" && !strings.Contains(r.stderr, tt.wantErr) {
				t.Errorf("stderr %q lacks %q", r.stderr, tt.wantErr)
			}
			if strings.Contains(r.stdout+r.stderr+strings.Join(r.prompts.said, ""), "s3cr3t") {
				t.Error("output shows a secret")
			}
			got := secretValue(t, sm, id)
			if tt.want == "" {
				tt.want = "{}"
			}
			if got != tt.want {
				t.Errorf("secret = %q, want %q", got, tt.want)
			}
		})
	}
}
