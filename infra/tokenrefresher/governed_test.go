package tokenrefresher

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/jsii-runtime-go"

	"github.com/token-refresher/token-refresher/infra/cfnguard"
	"github.com/token-refresher/token-refresher/shared/vendors"
)

// TestLogGroupsKeepAYearEncrypted: by default every log group keeps its
// events for a year and is encrypted with the deployment's own key
// (Control Tower's CT.CLOUDWATCH.PR.2 and PR.3).
func TestLogGroupsKeepAYearEncrypted(t *testing.T) {
	keys := testDoc.ofType("AWS::KMS::Key")
	logKey := ""
	for _, id := range keys {
		if strings.HasPrefix(id, "LogKey") {
			logKey = id
		}
	}
	if logKey == "" {
		t.Fatalf("no LogKey among the keys %v", keys)
	}
	groups := testDoc.ofType("AWS::Logs::LogGroup")
	if len(groups) == 0 {
		t.Fatal("no log groups")
	}
	for _, id := range groups {
		p := testDoc.Resources[id].Properties
		if p["RetentionInDays"] != float64(365) {
			t.Errorf("%s: RetentionInDays = %v, want 365", id, p["RetentionInDays"])
		}
		if !reflect.DeepEqual(p["KmsKeyId"], getAttArn(logKey)) {
			t.Errorf("%s: KmsKeyId = %v, want the LogKey's ARN", id, p["KmsKeyId"])
		}
	}
	policy := testDoc.Resources[logKey].Properties["KeyPolicy"]
	found := false
	for _, s := range statements(policy) {
		if slices.Contains(s.Actions, "kms:GenerateDataKey*") && s.Effect == "Allow" {
			found = true
		}
	}
	if !found || !strings.Contains(fmt.Sprint(policy), "kms:EncryptionContext:aws:logs:arn") {
		t.Errorf("LogKey's policy lets no CloudWatch Logs encrypt with it for this account's log groups: %v", policy)
	}
}

// TestLogProps: LogRetention, EncryptLogs and LogKey reach every log
// group, and a key of the caller's replaces the deployment's own.
func TestLogProps(t *testing.T) {
	for _, tc := range []struct {
		name      string
		props     func(awscdk.Stack, *Props)
		retention float64
		keys      int
		keyID     func(template) any
	}{
		{"a month, unencrypted", func(_ awscdk.Stack, p *Props) {
			p.LogRetention = awslogs.RetentionDays_ONE_MONTH
			p.EncryptLogs = jsii.Bool(false)
		}, 30, 1, func(template) any { return nil }},
		{"two years, the caller's key", func(s awscdk.Stack, p *Props) {
			p.LogRetention = awslogs.RetentionDays_TWO_YEARS
			p.LogKey = awskms.NewKey(s, jsii.String("PlatformLogKey"), &awskms.KeyProps{EnableKeyRotation: jsii.Bool(true)})
		}, 731, 2, func(d template) any {
			for _, id := range d.ofType("AWS::KMS::Key") {
				if strings.HasPrefix(id, "PlatformLogKey") {
					return getAttArn(id)
				}
			}
			return "no PlatformLogKey"
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stack := awscdk.NewStack(newTestApp(), jsii.String("Host"), nil)
			p := &Props{AssetDir: testAssetDir, Vendors: []vendors.Spec{vendors.MustLookup(vendors.Admitad)}, Dashboard: jsii.Bool(false)}
			tc.props(stack, p)
			New(stack, "Tokens", p)
			doc := parseTemplate(assertions.Template_FromStack(stack, nil))
			if got := len(doc.ofType("AWS::KMS::Key")); got != tc.keys {
				t.Errorf("%d KMS keys, want %d (the alarm topic's and the logs')", got, tc.keys)
			}
			want := tc.keyID(doc)
			for _, id := range doc.ofType("AWS::Logs::LogGroup") {
				p := doc.Resources[id].Properties
				if p["RetentionInDays"] != tc.retention {
					t.Errorf("%s: RetentionInDays = %v, want %v", id, p["RetentionInDays"], tc.retention)
				}
				if !reflect.DeepEqual(p["KmsKeyId"], want) {
					t.Errorf("%s: KmsKeyId = %v, want %v", id, p["KmsKeyId"], want)
				}
			}
		})
	}
}

// TestKeysLetOnlyAWSServicesCreateGrants: every key of the deployment
// denies kms:CreateGrant unless an AWS service asks for an AWS resource
// (Control Tower's CT.KMS.PR.3).
func TestKeysLetOnlyAWSServicesCreateGrants(t *testing.T) {
	keys := testDoc.ofType("AWS::KMS::Key")
	if len(keys) != 2 {
		t.Errorf("keys %v, want the alarm topic's and the logs'", keys)
	}
	for _, id := range keys {
		testTemplate.HasResourceProperties(jsii.String("AWS::KMS::Key"), map[string]any{
			"KeyPolicy": map[string]any{"Statement": assertions.Match_ArrayWith(&[]any{map[string]any{
				"Sid":       "OnlyAWSServicesCreateGrants",
				"Effect":    "Deny",
				"Principal": map[string]any{"AWS": "*"},
				"Action":    "kms:CreateGrant",
				"Resource":  "*",
				"Condition": map[string]any{"BoolIfExists": map[string]any{
					"kms:GrantIsForAWSResource": "false",
					"aws:PrincipalIsAWSService": "false",
				}},
			}})},
		})
		if !strings.Contains(fmt.Sprint(testDoc.Resources[id].Properties["KeyPolicy"]), "OnlyAWSServicesCreateGrants") {
			t.Errorf("key %s lacks the grant statement", id)
		}
	}
}

// TestConnectAPIInvokesWithARole: the connect API's integration invokes
// the callback with a role that may invoke only the callback, and the
// callback has no resource policy at all (Control Tower's CT.LAMBDA.PR.2).
func TestConnectAPIInvokesWithARole(t *testing.T) {
	if p := testDoc.ofType("AWS::Lambda::Permission"); len(p) != 0 {
		t.Errorf("Lambda permissions %v: the functions should have no resource policy", p)
	}
	integrations := testDoc.ofType("AWS::ApiGatewayV2::Integration")
	if len(integrations) != 1 {
		t.Fatalf("integrations %v, want one", integrations)
	}
	creds := refs(testDoc.Resources[integrations[0]].Properties["CredentialsArn"])
	if len(creds) != 1 {
		t.Fatalf("integration CredentialsArn = %v, want the invoke role", testDoc.Resources[integrations[0]].Properties["CredentialsArn"])
	}
	var role string
	for id := range creds {
		role = id
	}
	trust := fmt.Sprint(testDoc.Resources[role].Properties["AssumeRolePolicyDocument"])
	if !strings.Contains(trust, "apigateway.amazonaws.com") {
		t.Errorf("invoke role %s is not for API Gateway: %s", role, trust)
	}
	callback := functionIDs(t)[vendors.MustLookup(vendors.Admitad).CallbackFunctionName()]
	var grants []statement
	for _, id := range testDoc.ofType("AWS::IAM::Policy") {
		p := testDoc.Resources[id].Properties
		if refs(p["Roles"])[role] {
			grants = append(grants, statements(p["PolicyDocument"])...)
		}
	}
	if len(grants) != 1 || !reflect.DeepEqual(grants[0].Actions, []string{"lambda:InvokeFunction"}) ||
		!reflect.DeepEqual(grants[0].Resources, []any{getAttArn(callback)}) {
		t.Errorf("invoke role's grants = %+v, want lambda:InvokeFunction on the callback only", grants)
	}
}

// TestDeadLetterQueuesSayTheyAreOnes: each schedule's dead-letter queue
// declares itself one (CT.SQS.PR.1 asks every other queue for a
// dead-letter queue of its own).
func TestDeadLetterQueuesSayTheyAreOnes(t *testing.T) {
	queues := testDoc.ofType("AWS::SQS::Queue")
	if len(queues) != len(vendors.All()) {
		t.Errorf("queues %v, want one per vendor", queues)
	}
	for _, id := range queues {
		if got := testDoc.Resources[id].Properties["RedriveAllowPolicy"]; !reflect.DeepEqual(got, map[string]any{"redrivePermission": "allowAll"}) {
			t.Errorf("%s: RedriveAllowPolicy = %v", id, got)
		}
	}
}

// guardExceptions returns, per logical id, the Guard rules a template's
// resources declare exceptions from, each with a reason.
func guardExceptions(t *testing.T, d template) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for id, r := range d.Resources {
		g, ok := r.Metadata[GuardMetadataKey].(map[string]any)
		if !ok {
			continue
		}
		list, _ := g["Exceptions"].([]any)
		for _, raw := range list {
			e, _ := raw.(map[string]any)
			if reason, _ := e["Reason"].(string); len(reason) < 40 || !strings.HasPrefix(fmt.Sprint(e["Control"]), "CT.") {
				t.Errorf("%s: exception %v has no control or no real reason", id, e)
			}
			out[id] = append(out[id], fmt.Sprint(e["Rule"]))
		}
		if !reflect.DeepEqual(g["SuppressedRules"], toAny(out[id])) {
			t.Errorf("%s: SuppressedRules %v, want the exceptions' rules %v", id, g["SuppressedRules"], out[id])
		}
	}
	return out
}

func toAny(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

// TestGuardExceptionsAreExplained: only the connect routes (no
// authorization type) and, without a VPC, the functions carry an
// exception, each with its control and reason.
func TestGuardExceptionsAreExplained(t *testing.T) {
	got := guardExceptions(t, testDoc)
	want := map[string][]string{}
	for _, id := range testDoc.ofType("AWS::Lambda::Function") {
		want[id] = []string{guardFunctionVpc.Rule}
	}
	for _, id := range testDoc.ofType("AWS::ApiGatewayV2::Route") {
		want[id] = []string{guardConnectRouteAuth.Rule}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("guard exceptions:\n got %v\nwant %v", got, want)
	}
}

// vpcStack is a deployment of every vendor, with a connection in 2 lanes,
// in the subnets of an existing VPC.
func vpcStack(app awscdk.App, securityGroup bool) awscdk.Stack {
	stack := awscdk.NewStack(app, jsii.String("Host"), &awscdk.StackProps{
		Env: &awscdk.Environment{Account: jsii.String("123456789012"), Region: jsii.String("eu-west-1")},
	})
	vpc := awsec2.Vpc_FromVpcAttributes(stack, jsii.String("Vpc"), &awsec2.VpcAttributes{
		VpcId:                      jsii.String("vpc-0123456789abcdef0"),
		AvailabilityZones:          jsii.Strings("eu-west-1a", "eu-west-1b"),
		PrivateSubnetIds:           jsii.Strings("subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"),
		PrivateSubnetRouteTableIds: jsii.Strings("rtb-0aaaaaaaaaaaaaaaa", "rtb-0bbbbbbbbbbbbbbbb"),
	})
	p := &Props{
		AssetDir:        testAssetDir,
		Vendors:         vendors.All(),
		Connections:     map[string][]string{vendors.Merchenta: {"acme"}},
		ConnectionLanes: 2,
		Vpc:             vpc,
		VpcSubnets:      &awsec2.SubnetSelection{SubnetType: awsec2.SubnetType_PRIVATE_WITH_EGRESS},
	}
	if securityGroup {
		p.SecurityGroups = []awsec2.ISecurityGroup{awsec2.SecurityGroup_FromSecurityGroupId(stack, jsii.String("Sg"),
			jsii.String("sg-0123456789abcdef0"), nil)}
	}
	New(stack, "Tokens", p)
	return stack
}

// TestVpcPlacement: with Props.Vpc every function runs in the given
// subnets, with the given security groups or one of its own; no function
// carries the VPC exception, and cdk-nag stays clean.
func TestVpcPlacement(t *testing.T) {
	for _, sg := range []bool{false, true} {
		t.Run(fmt.Sprintf("security group given %v", sg), func(t *testing.T) {
			stack := vpcStack(newTestApp(), sg)
			doc := parseTemplate(assertions.Template_FromStack(stack, nil))
			// The lanes' functions are in a nested stack: take them in.
			lanes := 0
			for path, nested := range nestedTemplates(stack) {
				for id, r := range nested.Resources {
					switch r.Type {
					case "AWS::Lambda::Function":
						lanes++
						fallthrough
					case "AWS::EC2::SecurityGroup":
						doc.Resources[path+"/"+id] = r
					}
				}
			}
			if lanes == 0 {
				t.Error("no lane in the VPC deployment")
			}
			for _, id := range doc.ofType("AWS::Lambda::Function") {
				vc, _ := doc.Resources[id].Properties["VpcConfig"].(map[string]any)
				if !reflect.DeepEqual(vc["SubnetIds"], []any{"subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"}) {
					t.Errorf("%s: SubnetIds = %v", id, vc["SubnetIds"])
				}
				groups, _ := vc["SecurityGroupIds"].([]any)
				if len(groups) != 1 || sg && groups[0] != "sg-0123456789abcdef0" {
					t.Errorf("%s: SecurityGroupIds = %v", id, vc["SecurityGroupIds"])
				}
			}
			if got := len(doc.ofType("AWS::EC2::SecurityGroup")); sg && got != 0 || !sg && got != len(doc.ofType("AWS::Lambda::Function")) {
				t.Errorf("%d security groups created", got)
			}
			for id, rules := range guardExceptions(t, doc) {
				if doc.Resources[id].Type == "AWS::Lambda::Function" {
					t.Errorf("%s keeps its exceptions %v in a VPC", id, rules)
				}
			}
			for _, f := range append(nagFindings(stack, true), nagFindings(stack, false)...) {
				t.Errorf("cdk-nag: %s", f)
			}
		})
	}
}

// TestGuardInProcess synthesizes deployments in-process and runs Control
// Tower's rules on every template, nested stacks included: the stack of
// this repository with connections, environment-agnostic (with lanes) and
// in a concrete account and region, and a deployment in a VPC (with
// lanes), where the functions need no exception.
func TestGuardInProcess(t *testing.T) {
	tool, err := cfnguard.Find(filepath.Join(testRepoRoot, ".tools", "cfnguard"))
	if err != nil {
		if os.Getenv("REQUIRE_CDK_CLI") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	conns := map[string][]string{vendors.Merchenta: {"acme"}, vendors.Admitad: {"eu"}}
	for _, tc := range []struct {
		name      string
		build     func(awscdk.App)
		templates int
		vpc       bool
	}{
		{"no environment, lanes", func(app awscdk.App) {
			NewStack(app, "TokenRefresher", &StackProps{Props: Props{AssetDir: testAssetDir, Vendors: vendors.All(), Connections: conns, ConnectionLanes: 2}})
		}, 5, false},
		{"123456789012/us-east-1", func(app awscdk.App) {
			NewStack(app, "TokenRefresher", &StackProps{
				StackProps: awscdk.StackProps{Env: &awscdk.Environment{Account: jsii.String("123456789012"), Region: jsii.String("us-east-1")}},
				Props:      Props{AssetDir: testAssetDir, Vendors: vendors.All(), Connections: conns},
			})
		}, 3, false},
		{"in a VPC, lanes", func(app awscdk.App) { vpcStack(app, false) }, 3, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			app := newTestAppIn(dir)
			tc.build(app)
			app.Synth(nil)
			templates, err := cfnguard.Templates(dir)
			if err != nil {
				t.Fatal(err)
			}
			if len(templates) != tc.templates {
				t.Errorf("templates %v, want %d", templates, tc.templates)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			res, err := tool.Check(ctx, templates)
			if err != nil {
				t.Fatal(err)
			}
			res.Report(t)
			for _, e := range res.Explained {
				if tc.vpc && e.Control == guardFunctionVpc.Control {
					t.Errorf("exception in a VPC: %s", e)
				}
			}
			if tc.vpc && res.Passed[guardFunctionVpc.Control] == 0 {
				t.Errorf("%s did not pass in a VPC: passed %v", guardFunctionVpc.Control, res.Passed)
			}
		})
	}
}

// newTestAppIn is newTestApp writing its cloud assembly to dir.
func newTestAppIn(dir string) awscdk.App {
	ctx := make(map[string]any, len(cdkFlags))
	for k, v := range cdkFlags {
		ctx[k] = v
	}
	return awscdk.NewApp(&awscdk.AppProps{Context: &ctx, Outdir: jsii.String(dir)})
}

// TestBuildFromSourceFailureStopsSynth: with no AssetDir the construct
// builds each function at synth time; a function that does not compile
// stops the synth, with the compiler's message on stderr, instead of
// falling back to Docker.
func TestBuildFromSourceFailureStopsSynth(t *testing.T) {
	src := t.TempDir()
	fyber := vendors.MustLookup(vendors.Fyber)
	files := map[string]string{
		"go.mod": "module " + ModulePath + "\n\ngo 1.26.0\n",
		filepath.Join("functions", fyber.FunctionName(), "main.go"): "package main\n\nfunc main() { undefinedCall() }\n",
	}
	for name, content := range files {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(src, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(src, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var log strings.Builder
	bundleLog = &log
	defer func() {
		bundleLog = os.Stderr
		r := fmt.Sprint(recover())
		if !strings.Contains(r, "Bundling did not produce any output") {
			t.Errorf("panic = %s, want CDK's bundling error", r)
		}
		if l := log.String(); !strings.Contains(l, "build ./functions/"+fyber.FunctionName()+" for linux/arm64") || !strings.Contains(l, "undefinedCall") {
			t.Errorf("build log = %s, want the failed build with the compiler's message", l)
		}
	}()
	app := newTestAppIn(t.TempDir())
	stack := awscdk.NewStack(app, jsii.String("Host"), nil)
	New(stack, "Tokens", &Props{SourceDir: src, Vendors: []vendors.Spec{fyber}, Dashboard: jsii.Bool(false)})
	app.Synth(nil)
}
