package cfnguard

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// tool finds the cfn-guard that scripts/install-tools.sh installs.
func tool(t *testing.T) Tool {
	t.Helper()
	tool, err := Find(filepath.Join("..", "..", ".tools", "cfnguard"))
	if err != nil {
		if os.Getenv("REQUIRE_CDK_CLI") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	return tool
}

// A queue without a dead-letter queue fails CT.SQS.PR.1: unexplained on
// one queue, explained on another; an exception on a compliant queue and
// a suppressed rule without a reason are both unused.
const testTemplate = `{
  "Resources": {
    "Plain": {"Type": "AWS::SQS::Queue", "Properties": {"SqsManagedSseEnabled": true}},
    "Excepted": {"Type": "AWS::SQS::Queue", "Properties": {"SqsManagedSseEnabled": true},
      "Metadata": {"guard": {"SuppressedRules": ["sqs_dlq_check"],
        "Exceptions": [{"Control": "CT.SQS.PR.1", "Rule": "sqs_dlq_check", "Reason": "a test says so"}]}}},
    "Declared": {"Type": "AWS::SQS::Queue", "Properties": {"SqsManagedSseEnabled": true,
        "RedriveAllowPolicy": {"redrivePermission": "allowAll"}},
      "Metadata": {"guard": {"SuppressedRules": ["sqs_dlq_check"],
        "Exceptions": [{"Control": "CT.SQS.PR.1", "Rule": "sqs_dlq_check", "Reason": "not needed"}]}}},
    "Unexplained": {"Type": "AWS::SQS::Queue", "Properties": {"SqsManagedSseEnabled": true,
        "RedriveAllowPolicy": {"redrivePermission": "allowAll"}},
      "Metadata": {"guard": {"SuppressedRules": ["sqs_queue_encrypted_check"]}}}
  }
}`

func TestCheckHoldsFailuresAgainstExceptions(t *testing.T) {
	g := tool(t)
	path := filepath.Join(t.TempDir(), "Test.template.json")
	if err := os.WriteFile(path, []byte(testTemplate), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := g.Check(ctx, []string{path})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Unexplained) != 1 || res.Unexplained[0].Resource != "Plain" || res.Unexplained[0].Control != "CT.SQS.PR.1" {
		t.Errorf("unexplained = %v, want Plain failing CT.SQS.PR.1", res.Unexplained)
	}
	if len(res.Explained) != 1 || res.Explained[0].Resource != "Excepted" || res.Explained[0].Reason != "a test says so" {
		t.Errorf("explained = %v, want Excepted's", res.Explained)
	}
	var unused []string
	for _, e := range res.Unused {
		unused = append(unused, e.Resource+"/"+e.Rule)
	}
	if got := strings.Join(unused, " "); got != "Declared/sqs_dlq_check Unexplained/sqs_queue_encrypted_check" {
		t.Errorf("unused = %s", got)
	}
	if res.OK() {
		t.Error("OK with an unexplained failure")
	}
	if res.Passed["CT.SQS.PR.2"] != 1 {
		t.Errorf("passed = %v, want CT.SQS.PR.2 (encryption) once", res.Passed)
	}
}

func TestControls(t *testing.T) {
	controls, err := tool(t).Controls()
	if err != nil {
		t.Fatal(err)
	}
	for rule, want := range map[string]string{
		"lambda_inside_vpc_check":            "CT.LAMBDA.PR.3",
		"kms_create_grant_aws_service_check": "CT.KMS.PR.3",
		"sqs_dlq_check":                      "CT.SQS.PR.1",
	} {
		if controls[rule] != want {
			t.Errorf("control of %s = %q, want %s", rule, controls[rule], want)
		}
	}
}
