package tokenrefresher

import (
	"fmt"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
)

// TestNagAwsSolutions requires zero unsuppressed AwsSolutions errors.
func TestNagAwsSolutions(t *testing.T) {
	for _, f := range nagFindings(testStack.Stack, true) {
		t.Errorf("cdk-nag error at %s", f)
	}
}

// TestNagWarnings requires zero AwsSolutions warnings too: a warning is
// either fixed or suppressed with its reason, like an error.
func TestNagWarnings(t *testing.T) {
	for _, f := range nagFindings(testStack.Stack, false) {
		t.Errorf("cdk-nag warning at %s", f)
	}
}

// nagFindings returns a stack's AwsSolutions errors (or warnings) as
// "<construct path>: <message>".
func nagFindings(stack awscdk.Stack, errors bool) []string {
	ann := assertions.Annotations_FromStack(stack)
	match := assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*"))
	found := ann.FindWarning(jsii.String("*"), match)
	if errors {
		found = ann.FindError(jsii.String("*"), match)
	}
	var out []string
	for _, m := range *found {
		//lint:ignore SA1019 FindError/FindWarning return cxapi.SynthesisMessage; awscdk v2.276's Go bindings have no replacement type.
		out = append(out, fmt.Sprintf("%s: %v", *m.Id, m.Entry.Data))
	}
	return out
}
