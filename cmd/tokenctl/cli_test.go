package main

import (
	"encoding/json"
	"os"
	"runtime/debug"
	"strings"
	"testing"
)

// Scripts written for the flag-package tokenctl keep working: single-dash
// long flags, before or after the command.
func TestSingleDashFlagsStillWork(t *testing.T) {
	sm, prefix := localStack(t, "")
	createSecret(t, sm, prefix+"/fyber/token", tokenJSON(t, "fyber", "tok-compat", t0.Add(-10*60e9), 3600e9))
	for _, args := range [][]string{
		{"-prefix", prefix, "status", "-vendor", "fyber", "-json"},
		{"-prefix=" + prefix, "status", "-vendor=fyber", "-json"},
		{"--prefix", prefix, "status", "--vendor", "fyber", "--json"},
		{"status", "-prefix", prefix, "fyber", "-json"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			r := runCLI(t, "", nil, t0, args...)
			var rep statusReport
			if r.code != exitOK || json.Unmarshal([]byte(r.stdout), &rep) != nil || len(rep.Vendors) != 1 || rep.Vendors[0].State != stateOK {
				t.Errorf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
			}
		})
	}
	if got := singleDashCompat(newRoot(&cli{env: &env{}}), []string{"-x", "-h", "-json", "--", "-json"}); strings.Join(got, " ") != "-x -h --json -- -json" {
		t.Errorf("singleDashCompat = %q", got)
	}
}

func TestDidYouMean(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"stauts"}, "did you mean status?"},
		{[]string{"refersh", "fyber"}, "did you mean refresh?"},
		{[]string{"refresh", "fybr"}, `did you mean "fyber"?`},
		{[]string{"status", "--vendor", "invocaa"}, `did you mean "invoca"?`},
		{[]string{"set-credentials", "merch"}, `did you mean "merchenta"?`},
		{[]string{"status", "--bogus"}, "unknown flag: --bogus"},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			r := runCLI(t, "", nil, t0, tt.args...)
			if r.code != exitUsage || !strings.Contains(r.stderr, tt.want) || !strings.Contains(r.stderr, "--help' for usage") {
				t.Errorf("exit %d, stderr %q; want %d and %q", r.code, r.stderr, exitUsage, tt.want)
			}
		})
	}
}

// Completion scripts are generated for bash, zsh and fish, and complete
// commands, vendors and flags.
func TestCompletion(t *testing.T) {
	for shell, marker := range map[string]string{
		"bash": "__start_tokenctl",
		"zsh":  "#compdef tokenctl",
		"fish": "complete -c tokenctl",
	} {
		t.Run(shell, func(t *testing.T) {
			r := runCLI(t, "", nil, t0, "completion", shell)
			if r.code != exitOK || !strings.Contains(r.stdout, marker) {
				t.Errorf("exit %d, script lacks %q; stderr %q", r.code, marker, r.stderr)
			}
		})
	}
	for _, tt := range []struct {
		args []string
		want []string
	}{
		{[]string{"__complete", "re"}, []string{"refresh"}},
		{[]string{"__complete", "refresh", "f"}, []string{"fyber"}},
		{[]string{"__complete", "status", "fyber", ""}, []string{"hasoffers", "admitad"}},
		{[]string{"__complete", "connect", ""}, []string{"admitad"}},
		{[]string{"__complete", "set-credentials", "fyber", "--"}, []string{"--secret-id", "--allow-untagged", "--prefix"}},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			r := runCLI(t, "", nil, t0, tt.args...)
			for _, w := range tt.want {
				if !strings.Contains(r.stdout, w) {
					t.Errorf("completions %q lack %q", r.stdout, w)
				}
			}
			if strings.Contains(tt.args[len(tt.args)-1], "f") && strings.Contains(r.stdout, "merchenta") {
				t.Errorf("completions %q do not filter", r.stdout)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	info := &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Path: "github.com/token-refresher/token-refresher", Version: "v1.4.0"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "0123abcd"}, {Key: "vcs.time", Value: "2026-11-30T10:00:00Z"}, {Key: "vcs.modified", Value: "true"}}}
	if got, want := readVersion(info, true).String(), "v1.4.0 (revision 0123abcd, 2026-11-30T10:00:00Z, modified) go1.26.0"; got != want {
		t.Errorf("version = %q, want %q", got, want)
	}
	if got := readVersion(&debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, true).String(); got != "(devel) (no VCS revision stamped)" {
		t.Errorf("unstamped version = %q", got)
	}
	if got := readVersion(nil, false).Module; got != "unknown" {
		t.Errorf("without build info: %q", got)
	}

	want := currentVersion()
	for _, args := range [][]string{{"--version"}, {"-v"}, {"version"}} {
		r := runCLI(t, "", nil, t0, args...)
		if r.code != exitOK || r.stdout != "tokenctl "+want.String()+"\n" {
			t.Errorf("%v: exit %d, stdout %q", args, r.code, r.stdout)
		}
	}
	r := runCLI(t, "", nil, t0, "version", "--json")
	var got buildVersion
	if r.code != exitOK || json.Unmarshal([]byte(r.stdout), &got) != nil || got != want {
		t.Errorf("version --json: exit %d, stdout %q, want %+v", r.code, r.stdout, want)
	}
}

// Without credentials, one plain line says so, once, whatever the command.
func TestNoAWSCredentials(t *testing.T) {
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_SESSION_TOKEN": "", "AWS_PROFILE": "",
		"AWS_CONFIG_FILE": os.DevNull, "AWS_SHARED_CREDENTIALS_FILE": os.DevNull, "AWS_EC2_METADATA_DISABLED": "true",
		"AWS_CONTAINER_CREDENTIALS_FULL_URI": "", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "", "AWS_WEB_IDENTITY_TOKEN_FILE": "",
		"AWS_REGION": "eu-west-1", "AWS_ENDPOINT_URL_SECRETS_MANAGER": "http://127.0.0.1:1", "AWS_ENDPOINT_URL_LAMBDA": "http://127.0.0.1:1",
	} {
		t.Setenv(k, v)
	}
	for _, tt := range []struct {
		args  []string
		stdin string
	}{
		{[]string{"status"}, ""},
		{[]string{"status", "--json"}, ""},
		{[]string{"refresh", "fyber"}, ""},
		{[]string{"set-credentials", "fyber"}, `{"client_id":"c","client_secret":"s3cr3t-nocreds"}`},
		{[]string{"connect", "admitad", "--url", "https://abc.example.com/admitad/authorize"}, ""},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			r := runCLI(t, tt.stdin, nil, t0, tt.args...)
			lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
			if r.code != exitFail || len(lines) != 1 || strings.Count(r.stderr, "no AWS credentials found") != 1 ||
				strings.Contains(r.stderr, "IMDS") || strings.Contains(r.stderr, "EC2 instance") {
				t.Errorf("exit %d, stderr %q; want 1 and one line saying no AWS credentials found", r.code, r.stderr)
			}
			if r.stdout != "" {
				t.Errorf("stdout %q", r.stdout)
			}
		})
	}
}
