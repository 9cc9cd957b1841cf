package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/token-refresher/token-refresher/infra/cfnguard"
)

// TestCDKCLISynthOffline runs the CDK CLI's synth on cdk.json exactly as an
// operator would, with every proxy pointed at a closed port so that any
// network attempt would fail. The CLI is installed by
// `scripts/install-tools.sh cdk` (or named by CDK_CLI);
// without it the test is skipped, unless REQUIRE_CDK_CLI is set.
func TestCDKCLISynthOffline(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	cli := cdkCLI(t, root)

	// Both ways a deployment synthesizes: environment-agnostic (no AWS
	// credentials), and with the account and region that `cdk deploy`
	// sets, both with named connections declared.
	for _, tc := range []struct {
		name string
		env  []string
	}{
		{"no environment", []string{"CDK_DEFAULT_ACCOUNT=", "CDK_DEFAULT_REGION="}},
		{"123456789012/us-east-1", []string{"CDK_DEFAULT_ACCOUNT=123456789012", "CDK_DEFAULT_REGION=us-east-1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synthWithCLI(t, cli, root, tc.env)
		})
	}
}

// synthWithCLI runs `cdk synth` in root with connections declared and env
// added to the environment, and checks the root template.
func synthWithCLI(t *testing.T, cli, root string, env []string) {
	t.Helper()
	out := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, cli, "synth", "--no-notices", "--no-version-reporting", "-q",
		"-c", "assetDir="+testAssetDir, "-c", `connections={"merchenta":["acme"],"admitad":["eu"]}`, "-o", out)
	cmd.Dir = root
	cmd.Env = append(offlineEnv(), env...)
	var output bytes.Buffer
	cmd.Stdout, cmd.Stderr = &output, &output
	if err := cmd.Run(); err != nil {
		t.Fatalf("cdk synth: %v\n%s", err, output.String())
	}
	// cdk.json sets the recommended feature flags of the CDK version in
	// use; a CDK upgrade that brings new ones shows up here.
	if strings.Contains(output.String(), "feature flags") {
		t.Errorf("cdk synth printed a feature-flag notice; set the new flags in cdk.json (cdk flags --unstable=flags):\n%s", output.String())
	}
	tmpl, err := os.ReadFile(filepath.Join(out, "TokenRefresher.template.json"))
	if err != nil {
		t.Fatalf("cdk synth wrote no template: %v\n%s", err, output.String())
	}
	for _, want := range []string{`"token-refresher/fyber/token"`, `"GET /admitad/callback"`} {
		if !strings.Contains(string(tmpl), want) {
			t.Errorf("synthesized template lacks %s", want)
		}
	}
	checkGuard(t, root, out, 3)
}

// checkGuard runs AWS Control Tower's proactive controls (cfn-guard and
// the rules of @cdklabs/cdk-validator-cfnguard, installed in
// .tools/cfnguard) against every template of the cloud assembly in dir:
// the root stack and each nested stack, at least want of them. It fails
// on any failure that the template does not explain, and on any
// exception that explains nothing, and logs the explained ones.
func checkGuard(t *testing.T, root, dir string, want int) {
	t.Helper()
	tool, err := cfnguard.Find(filepath.Join(root, ".tools", "cfnguard"))
	if err != nil {
		if os.Getenv("REQUIRE_CDK_CLI") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	templates, err := cfnguard.Templates(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(templates) < want {
		t.Errorf("%d templates in %s, want at least %d (root and nested stacks): %v", len(templates), dir, want, templates)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := tool.Check(ctx, templates)
	if err != nil {
		t.Fatal(err)
	}
	res.Report(t)
}
