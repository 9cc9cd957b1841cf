package tokenrefresher

import (
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/jsii-runtime-go"

	"github.com/token-refresher/token-refresher/shared/vendors"
)

// TestEmbeddedInAnotherStack adds the refreshers of two vendors to a stack
// that has resources of its own, as Example does, and checks the result
// with CDK assertions: only those vendors, under the host's prefix, the
// host's role holding the app policies, the host's resources untouched,
// and the AwsSolutions checks clean.
func TestEmbeddedInAnotherStack(t *testing.T) {
	app := newTestApp()
	stack := awscdk.NewStack(app, jsii.String("Billing"), nil)
	failed := awssqs.NewQueue(stack, jsii.String("FailedInvoices"), &awssqs.QueueProps{EnforceSSL: jsii.Bool(true)})
	queue := awssqs.NewQueue(stack, jsii.String("Invoices"), &awssqs.QueueProps{
		EnforceSSL:      jsii.Bool(true),
		DeadLetterQueue: &awssqs.DeadLetterQueue{Queue: failed, MaxReceiveCount: jsii.Number(3)},
	})
	role := awsiam.NewRole(stack, jsii.String("TaskRole"), &awsiam.RoleProps{
		AssumedBy: awsiam.NewServicePrincipal(jsii.String("ecs-tasks.amazonaws.com"), nil),
	})
	tokens := New(stack, "VendorTokens", &Props{
		AssetDir:   testAssetDir,
		Vendors:    []vendors.Spec{vendors.MustLookup(vendors.Fyber), vendors.MustLookup(vendors.Merchenta)},
		NamePrefix: "billing-tokens",
		Dashboard:  jsii.Bool(false),
	})
	role.AddManagedPolicy(tokens.Access.Reader)
	role.AddManagedPolicy(tokens.Access.Rejecter)
	queue.GrantSendMessages(role)

	tmpl := assertions.Template_FromStack(stack, nil)
	doc := parseTemplate(tmpl)
	tmpl.ResourceCountIs(jsii.String("AWS::Lambda::Function"), jsii.Number(2))
	tmpl.ResourceCountIs(jsii.String("AWS::Lambda::Alias"), jsii.Number(2))
	tmpl.ResourceCountIs(jsii.String("AWS::Scheduler::Schedule"), jsii.Number(2))
	tmpl.ResourceCountIs(jsii.String("AWS::SecretsManager::Secret"), jsii.Number(4))
	tmpl.ResourceCountIs(jsii.String("AWS::CloudWatch::Dashboard"), jsii.Number(0))
	tmpl.ResourceCountIs(jsii.String("AWS::ApiGatewayV2::Api"), jsii.Number(0))
	for _, spec := range tokens.Refreshers {
		doc.find(t, "AWS::Lambda::Function", "FunctionName", "billing-tokens-"+spec.Spec.Name)
		doc.secret(t, "billing-tokens/"+spec.Spec.Name+"/token")
		doc.secret(t, "billing-tokens/"+spec.Spec.Name+"/credentials")
	}

	logicalID := func(c awscdk.CfnElement) string { return *stack.GetLogicalId(c) }
	roleID := logicalID(role.Node().DefaultChild().(awsiam.CfnRole))
	attached := refs(doc.Resources[roleID].Properties["ManagedPolicyArns"])
	for _, pol := range []awsiam.ManagedPolicy{tokens.Access.Reader, tokens.Access.Rejecter} {
		if id := logicalID(pol.Node().DefaultChild().(awsiam.CfnManagedPolicy)); !attached[id] {
			t.Errorf("host role lacks managed policy %s (has %v)", id, attached)
		}
	}
	if _, ok := doc.Resources[logicalID(queue.Node().DefaultChild().(awssqs.CfnQueue))]; !ok {
		t.Error("the host's own queue is gone")
	}
	if got, want := len(doc.ofType("AWS::SQS::Queue")), 2+len(tokens.Refreshers); got != want {
		t.Errorf("queues: %d, want the host's two and one per refresher (%d)", got, want)
	}
	for _, f := range nagFindings(stack, true) {
		t.Errorf("cdk-nag error at %s", f)
	}
}
