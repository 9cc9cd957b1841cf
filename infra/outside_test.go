package main

import (
	"bytes"
	"context"
	"debug/elf"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// outsideApp is the CDK app of a platform team that adds two vendors and
// a connection to a stack of its own, with nothing prebuilt: the construct
// builds the functions from this module's source at synth time.
const outsideApp = `package main

import (
	"os"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/token-refresher/token-refresher/infra/tokenrefresher"
	"github.com/token-refresher/token-refresher/shared/vendors"
)

func main() {
	defer jsii.Close()
	app := awscdk.NewApp(nil)
	var env *awscdk.Environment
	if a, r := os.Getenv("CDK_DEFAULT_ACCOUNT"), os.Getenv("CDK_DEFAULT_REGION"); a != "" && r != "" {
		env = &awscdk.Environment{Account: jsii.String(a), Region: jsii.String(r)}
	}
	stack := awscdk.NewStack(app, jsii.String("PlatformTokens"), &awscdk.StackProps{Env: env})
	tokens := tokenrefresher.New(stack, "VendorTokens", &tokenrefresher.Props{
		Vendors:     []vendors.Spec{vendors.MustLookup(vendors.Fyber), vendors.MustLookup(vendors.Merchenta)},
		Connections: map[string][]string{vendors.Merchenta: {"acme"}},
		NamePrefix:  "platform-tokens",
		Dashboard:   jsii.Bool(false),
	})
	role := awsiam.NewRole(stack, jsii.String("ReportingTaskRole"), &awsiam.RoleProps{
		AssumedBy: awsiam.NewServicePrincipal(jsii.String("ecs-tasks.amazonaws.com"), nil),
	})
	tokens.GrantRead(role, vendors.Merchenta, "acme")
	tokens.GrantReject(role, vendors.Merchenta)
	awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(nil), nil)
	app.Synth(nil)
}
`

// TestOutsideAppBuildsItsFunctions is a platform team's first synth: a
// CDK app in a module of its own, outside this one (its go.mod replaces
// this module by this checkout, as a team would before a release), with
// two vendors and a connection, no `make build` and no asset folder. The
// CDK CLI synthesizes it offline: Go resolves modules from the shared
// module cache only, and every other proxy points at a closed port. The
// functions come out as linux/arm64 executables built from this module's
// source, and Control Tower's rules pass on every template.
func TestOutsideAppBuildsItsFunctions(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	cli := cdkCLI(t, root)
	app := t.TempDir()
	if strings.HasPrefix(app, root+string(filepath.Separator)) {
		t.Fatalf("temporary folder %s is inside the module", app)
	}
	goVersion := goDirective(t, filepath.Join(root, "go.mod"))
	gomod := "module example.com/platform-tokens\n\ngo " + goVersion + "\n\n" +
		"require github.com/token-refresher/token-refresher v0.0.0-00010101000000-000000000000\n\n" +
		"replace github.com/token-refresher/token-refresher => " + root + "\n"
	// The app's go.sum starts as this module's: the same dependencies at
	// the same versions, so that no checksum has to be looked up.
	gosum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	flags, err := featureFlags(filepath.Join(root, "cdk.json"))
	if err != nil {
		t.Fatal(err)
	}
	cdkJSON, err := json.MarshalIndent(map[string]any{"app": "go run .", "context": flags}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string][]byte{
		"go.mod": []byte(gomod), "go.sum": gosum, "main.go": []byte(outsideApp), "cdk.json": cdkJSON,
	} {
		if err := os.WriteFile(filepath.Join(app, name), content, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	gomodcache, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(app, "cdk.out")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, cli, "synth", "--no-notices", "--no-version-reporting", "-q", "-o", out)
	cmd.Dir = app
	cmd.Env = append(offlineEnv(),
		"CDK_DEFAULT_ACCOUNT=123456789012", "CDK_DEFAULT_REGION=eu-west-1",
		"GOFLAGS=-mod=mod", "GOWORK=off",
		"GOPROXY=file://"+filepath.ToSlash(filepath.Join(strings.TrimSpace(string(gomodcache)), "cache", "download")),
		"GONOSUMDB=*", "GOSUMDB=off",
	)
	var output bytes.Buffer
	cmd.Stdout, cmd.Stderr = &output, &output
	start := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("cdk synth of the outside app: %v\n%s", err, output.String())
	}
	t.Logf("cdk synth of the outside app, functions built from source: %s", time.Since(start).Round(time.Second))

	tmpl, err := os.ReadFile(filepath.Join(out, "PlatformTokens.template.json"))
	if err != nil {
		t.Fatalf("no template: %v\n%s", err, output.String())
	}
	for _, want := range []string{`"platform-tokens-fyber"`, `"platform-tokens-merchenta"`, `"platform-tokens/merchenta/token"`} {
		if !strings.Contains(string(tmpl), want) {
			t.Errorf("template lacks %s", want)
		}
	}
	// Every function's asset is a linux/arm64 executable.
	bootstraps, _ := filepath.Glob(filepath.Join(out, "asset.*", "bootstrap"))
	if len(bootstraps) != 2 {
		t.Errorf("bootstraps in the cloud assembly: %v, want the two refreshers'", bootstraps)
	}
	for _, b := range bootstraps {
		f, err := elf.Open(b)
		if err != nil {
			t.Errorf("%s: %v", b, err)
			continue
		}
		if f.Machine != elf.EM_AARCH64 || f.Class != elf.ELFCLASS64 {
			t.Errorf("%s: %s %s, want an arm64 executable", b, f.Machine, f.Class)
		}
		f.Close()
	}
	checkGuard(t, root, out, 2)
}

// cdkCLI returns the CDK CLI of .tools/cdk (or $CDK_CLI), skipping the
// test without it unless REQUIRE_CDK_CLI is set.
func cdkCLI(t *testing.T, root string) string {
	t.Helper()
	cli := os.Getenv("CDK_CLI")
	if cli == "" {
		cli = filepath.Join(root, ".tools", "cdk", "node_modules", ".bin", "cdk")
	}
	if _, err := os.Stat(cli); err != nil {
		if os.Getenv("REQUIRE_CDK_CLI") != "" {
			t.Fatalf("CDK CLI not found at %s: %v", cli, err)
		}
		t.Skipf("CDK CLI not installed at %s (scripts/install-tools.sh cdk)", cli)
	}
	return cli
}

// offlineEnv is the environment of a CDK CLI run that must not reach the
// network: telemetry off, and every proxy pointing at a closed port.
func offlineEnv() []string {
	return append(os.Environ(),
		"CDK_DISABLE_CLI_TELEMETRY=true",
		"JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20",
		"AWS_EC2_METADATA_DISABLED=true",
		"HTTP_PROXY=http://127.0.0.1:9", "HTTPS_PROXY=http://127.0.0.1:9",
		"http_proxy=http://127.0.0.1:9", "https_proxy=http://127.0.0.1:9",
		"NO_PROXY=", "no_proxy=",
	)
}

// goDirective returns the go line of a go.mod.
func goDirective(t *testing.T, path string) string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "go "); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("%s has no go directive", path)
	return ""
}

// featureFlags returns the feature flags (keys starting with "@") of a
// cdk.json's context.
func featureFlags(path string) (map[string]any, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var doc struct {
		Context map[string]any `json:"context"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, err
	}
	flags := map[string]any{}
	for k, v := range doc.Context {
		if strings.HasPrefix(k, "@") {
			flags[k] = v
		}
	}
	return flags, nil
}
