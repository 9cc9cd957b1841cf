package main

import (
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
)

// TestNagAwsSolutions requires zero unsuppressed AwsSolutions errors.
func TestNagAwsSolutions(t *testing.T) {
	ann := assertions.Annotations_FromStack(testStack.Stack)
	errs := ann.FindError(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*")))
	for _, e := range *errs {
		t.Errorf("cdk-nag error at %s: %v", *e.Id, e.Entry.Data)
	}
}

// TestNagWarnings lists AwsSolutions warnings: they need no suppression,
// but each must have been looked at.
func TestNagWarnings(t *testing.T) {
	ann := assertions.Annotations_FromStack(testStack.Stack)
	warns := ann.FindWarning(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*")))
	for _, w := range *warns {
		t.Logf("cdk-nag warning at %s: %v", *w.Id, w.Entry.Data)
	}
}
