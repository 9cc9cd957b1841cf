package deploytest

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// testTools are the programs only tests, make dev and make bench use.
var testTools = []string{"moto_server", "aws-lambda-rie"}

// repoRoot is the folder of the Makefile.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "Makefile")); err != nil {
		t.Fatalf("no Makefile at %s: %v", root, err)
	}
	return root
}

// pathWithout returns a PATH of one folder holding a link to every
// program on the current PATH except the named ones, so that a run with it
// behaves as on a machine where they were never installed.
func pathWithout(t *testing.T, names ...string) string {
	t.Helper()
	skip := map[string]bool{}
	for _, n := range names {
		skip[n] = true
	}
	bin := t.TempDir()
	for _, dir := range filepath.SplitList(os.Getenv("PATH")) {
		entries, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range entries {
			name := e.Name()
			if skip[name] {
				continue
			}
			if _, err := os.Lstat(filepath.Join(bin, name)); err == nil {
				continue // an earlier PATH entry wins, as in a shell
			}
			full := filepath.Join(dir, name)
			if st, err := os.Stat(full); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
				continue
			}
			if err := os.Symlink(full, filepath.Join(bin, name)); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, n := range names {
		if _, err := exec.LookPath(filepath.Join(bin, n)); err == nil {
			t.Fatalf("%s still reachable in %s", n, bin)
		}
	}
	return bin
}

// cleanEnv is an environment without any AWS configuration: HOME is an
// empty folder and no AWS_* variable is set. extra entries are appended.
func cleanEnv(t *testing.T, path string, extra ...string) []string {
	t.Helper()
	env := []string{
		"PATH=" + path,
		"HOME=" + t.TempDir(),
		"LANG=C",
	}
	// Keep Go's caches where they are: HOME moved.
	for _, k := range []string{"GOPATH", "GOCACHE", "GOMODCACHE", "GOTOOLCHAIN", "GOFLAGS", "GOPROXY", "GONOSUMDB", "GOSUMDB"} {
		if out, err := exec.Command("go", "env", k).Output(); err == nil {
			if v := strings.TrimSpace(string(out)); v != "" {
				env = append(env, k+"="+v)
			}
		}
	}
	return append(env, extra...)
}

// run runs make (or another program) in the repository root.
func run(t *testing.T, env []string, name string, args ...string) (string, string, error) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = repoRoot(t)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}

// dummyCredentials satisfy the Makefile's credentials check; make -n never
// sends them anywhere.
var dummyCredentials = []string{"AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test"}

// installLines returns the scripts/install-tools.sh lines of a make -n
// listing, trimmed.
func installLines(listing string) []string {
	var out []string
	for _, line := range strings.Split(listing, "\n") {
		if strings.Contains(line, "install-tools.sh") {
			out = append(out, strings.TrimSpace(line))
		}
	}
	return out
}

// TestDeployTargetsNeedNoTestTools lists what each deploy target would run
// on a machine without moto_server and aws-lambda-rie: the only tool it
// installs is the CDK CLI, and it names no test tool anywhere.
func TestDeployTargetsNeedNoTestTools(t *testing.T) {
	path := pathWithout(t, testTools...)
	for _, target := range []string{"synth", "deploy", "diff", "destroy", "bootstrap"} {
		t.Run(target, func(t *testing.T) {
			stdout, stderr, err := run(t, cleanEnv(t, path, dummyCredentials...), "make", "-n", target)
			if err != nil {
				t.Fatalf("make -n %s: %v\n%s%s", target, err, stdout, stderr)
			}
			if got, want := installLines(stdout), []string{"scripts/install-tools.sh cdk"}; strings.Join(got, "|") != strings.Join(want, "|") {
				t.Errorf("make %s installs %q, want only %q", target, got, want)
			}
			for _, tool := range append([]string{"moto", "install-tools.sh rie"}, testTools...) {
				if strings.Contains(stdout, tool) {
					t.Errorf("make %s mentions %q:\n%s", target, tool, stdout)
				}
			}
			if !strings.Contains(stdout, ".tools/cdk/node_modules/.bin/cdk "+target) {
				t.Errorf("make %s does not run cdk %s:\n%s", target, target, stdout)
			}
		})
	}
}

// TestCDKInstallNeedsNoTestTools runs the deploy targets' install step for
// real without moto_server and aws-lambda-rie on PATH. The CDK CLI must be
// installed already (make test installs it first): the test must not reach
// the npm registry.
func TestCDKInstallNeedsNoTestTools(t *testing.T) {
	root := repoRoot(t)
	if _, err := os.Stat(filepath.Join(root, ".tools", "cdk", "node_modules", ".bin", "cdk")); err != nil {
		if os.Getenv("REQUIRE_CDK_CLI") != "" {
			t.Fatalf("CDK CLI not installed in .tools/cdk: %v", err)
		}
		t.Skip("CDK CLI not installed in .tools/cdk (scripts/install-tools.sh cdk)")
	}
	stdout, stderr, err := run(t, cleanEnv(t, pathWithout(t, testTools...)), "scripts/install-tools.sh", "cdk")
	if err != nil {
		t.Fatalf("install-tools.sh cdk without the test tools: %v\n%s%s", err, stdout, stderr)
	}
	if !strings.HasPrefix(stdout, "cdk: already installed") || strings.Contains(stdout+stderr, "moto") || strings.Contains(stdout+stderr, "rie") {
		t.Errorf("install-tools.sh cdk printed:\n%s%s", stdout, stderr)
	}
}

// TestInstallScriptRefusesUnknownTools keeps a typo in a target from
// installing nothing silently.
func TestInstallScriptRefusesUnknownTools(t *testing.T) {
	_, stderr, err := run(t, cleanEnv(t, os.Getenv("PATH")), "scripts/install-tools.sh", "cdkk")
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || !strings.Contains(stderr, `unknown tool "cdkk"`) {
		t.Errorf("install-tools.sh cdkk: %v, %q", err, stderr)
	}
}

// TestEveryTargetInstallsWhatItRuns: make dev and make bench get
// aws-lambda-rie and moto_server but not the CDK CLI; make test gets all
// three and still runs vet, the race tests and the CLI synth.
func TestEveryTargetInstallsWhatItRuns(t *testing.T) {
	env := cleanEnv(t, os.Getenv("PATH"))
	for _, tc := range []struct {
		target string
		want   []string
		runs   []string
	}{
		{"dev", []string{"scripts/install-tools.sh rie moto"}, []string{"go build -o build/dev ./cmd/dev"}},
		{"bench", []string{"scripts/install-tools.sh rie moto"}, []string{"go run ./cmd/bench"}},
		{"test", []string{"scripts/install-tools.sh", "scripts/install-tools.sh cdk"},
			[]string{"go vet ./...", "REQUIRE_CDK_CLI=1 go test -race -count=1", "cdk synth"}},
		{"tools", []string{"scripts/install-tools.sh"}, nil},
	} {
		t.Run(tc.target, func(t *testing.T) {
			stdout, stderr, err := run(t, env, "make", "-n", tc.target)
			if err != nil {
				t.Fatalf("make -n %s: %v\n%s%s", tc.target, err, stdout, stderr)
			}
			if got := installLines(stdout); strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("make %s installs %q, want %q", tc.target, got, tc.want)
			}
			for _, r := range tc.runs {
				if !strings.Contains(stdout, r) {
					t.Errorf("make %s does not run %q:\n%s", tc.target, r, stdout)
				}
			}
		})
	}
}

// TestAWSTargetsFailFastWithoutCredentials runs each target that talks to
// AWS, for real, with no AWS configuration at all: it fails before it
// installs or builds anything, with one line naming what to set.
func TestAWSTargetsFailFastWithoutCredentials(t *testing.T) {
	path := pathWithout(t, testTools...)
	for _, target := range []string{"deploy", "diff", "destroy", "bootstrap"} {
		t.Run(target, func(t *testing.T) {
			build := filepath.Join(t.TempDir(), "build")
			stdout, stderr, err := run(t, cleanEnv(t, path), "make", target, "BUILD_DIR="+build)
			if err == nil {
				t.Fatalf("make %s without credentials succeeded:\n%s%s", target, stdout, stderr)
			}
			if stdout != "" {
				t.Errorf("make %s ran something before failing:\n%s", target, stdout)
			}
			lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
			if len(lines) != 1 {
				t.Errorf("make %s: %d lines on stderr, want 1:\n%s", target, len(lines), stderr)
			}
			for _, want := range []string{"make " + target + ": no AWS credentials found", "AWS_PROFILE", "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"} {
				if !strings.Contains(stderr, want) {
					t.Errorf("make %s: stderr %q lacks %q", target, stderr, want)
				}
			}
			if _, err := os.Stat(build); !os.IsNotExist(err) {
				t.Errorf("make %s built %s before failing (%v)", target, build, err)
			}
		})
	}
}

// TestCredentialSources: each way of configuring credentials passes the
// check (make -n then lists the deploy), and configuration that names no
// credentials fails it.
func TestCredentialSources(t *testing.T) {
	path := pathWithout(t, testTools...)
	write := func(t *testing.T, body string) string {
		t.Helper()
		f := filepath.Join(t.TempDir(), "aws-file")
		if err := os.WriteFile(f, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return f
	}
	for _, tc := range []struct {
		name string
		env  func(t *testing.T) []string
		ok   bool
	}{
		{"nothing", func(*testing.T) []string { return nil }, false},
		{"keys", func(*testing.T) []string { return dummyCredentials }, true},
		{"access key without secret", func(*testing.T) []string { return []string{"AWS_ACCESS_KEY_ID=test"} }, false},
		{"profile", func(*testing.T) []string { return []string{"AWS_PROFILE=ops"} }, true},
		{"web identity", func(*testing.T) []string { return []string{"AWS_WEB_IDENTITY_TOKEN_FILE=/var/run/token"} }, true},
		{"container role", func(*testing.T) []string { return []string{"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI=/v2/credentials"} }, true},
		{"credentials file", func(t *testing.T) []string {
			return []string{"AWS_SHARED_CREDENTIALS_FILE=" + write(t, "[default]\naws_access_key_id = test\naws_secret_access_key = test\n")}
		}, true},
		{"sso profile in config", func(t *testing.T) []string {
			return []string{"AWS_CONFIG_FILE=" + write(t, "[default]\nsso_session = corp\nregion = eu-west-1\n")}
		}, true},
		{"config with a region only", func(t *testing.T) []string {
			return []string{"AWS_CONFIG_FILE=" + write(t, "[default]\nregion = eu-west-1\n")}
		}, false},
		{"instance role allowed", func(*testing.T) []string { return []string{"AWS_EC2_METADATA_DISABLED=false"} }, true},
		{"instance role disabled", func(*testing.T) []string { return []string{"AWS_EC2_METADATA_DISABLED=true"} }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, err := run(t, cleanEnv(t, path, tc.env(t)...), "make", "-n", "deploy")
			if tc.ok && err != nil {
				t.Errorf("credentials not found: %v\n%s", err, stderr)
			}
			if !tc.ok && (err == nil || !strings.Contains(stderr, "no AWS credentials found")) {
				t.Errorf("passed the check without credentials: %v\n%s%s", err, stdout, stderr)
			}
		})
	}
}
