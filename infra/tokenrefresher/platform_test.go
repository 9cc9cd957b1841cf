package tokenrefresher

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/token-refresher/token-refresher/shared/vendors"
)

// hostStack is a platform team's stack holding a deployment of fyber and
// merchenta (with the connection acme) made with props, and a task role.
func hostStack(props Props) (awscdk.Stack, *TokenRefresher, awsiam.Role) {
	stack := awscdk.NewStack(newTestApp(), jsii.String("Host"), nil)
	props.AssetDir = testAssetDir
	props.Vendors = []vendors.Spec{vendors.MustLookup(vendors.Fyber), vendors.MustLookup(vendors.Merchenta)}
	props.Connections = map[string][]string{vendors.Merchenta: {"acme"}}
	props.Dashboard = jsii.Bool(false)
	tokens := New(stack, "Tokens", &props)
	role := awsiam.NewRole(stack, jsii.String("TaskRole"), &awsiam.RoleProps{
		AssumedBy: awsiam.NewServicePrincipal(jsii.String("ecs-tasks.amazonaws.com"), nil),
	})
	return stack, tokens, role
}

// inlineStatements returns the statements of the inline policies of role.
func inlineStatements(stack awscdk.Stack, doc template, role awsiam.Role) []statement {
	id := *stack.GetLogicalId(role.Node().DefaultChild().(awscdk.CfnElement))
	var out []statement
	for _, pid := range doc.ofType("AWS::IAM::Policy") {
		if p := doc.Resources[pid].Properties; refs(p["Roles"])[id] {
			out = append(out, statements(p["PolicyDocument"])...)
		}
	}
	return out
}

// TestOutputsAreOptIn: New adds no outputs to the host stack unless
// Props.Outputs asks for them; NewStack (the repository's app) always has
// them.
func TestOutputsAreOptIn(t *testing.T) {
	stack, _, _ := hostStack(Props{})
	if n := len(parseTemplate(assertions.Template_FromStack(stack, nil)).Outputs); n != 0 {
		t.Errorf("host stack has %d outputs without Props.Outputs", n)
	}
	stack, _, _ = hostStack(Props{Outputs: true})
	outputs := parseTemplate(assertions.Template_FromStack(stack, nil)).Outputs
	// 3 per vendor, merchenta's connections, the three policies and the topic.
	if len(outputs) != 3*2+1+4 {
		t.Errorf("outputs with Props.Outputs: %d, want 11", len(outputs))
	}
	for _, want := range []string{"TokenReaderPolicyArn", "AlarmTopicArn", "FyberTokenSecret", "MerchentaConnections"} {
		found := false
		for id := range outputs {
			found = found || strings.HasPrefix(id, "Tokens"+want) || id == want
		}
		if !found {
			t.Errorf("no output %s among %v", want, outputs)
		}
	}
	for _, want := range []string{"TokenReaderPolicyArn", "AdmitadAuthorizeUrl", "FyberTokenSecret"} {
		if _, ok := testDoc.Outputs[want]; !ok {
			t.Errorf("NewStack lacks output %s", want)
		}
	}
}

// TestGrantRead: a role may read exactly one connection's token secret,
// the default connection's or a named one's, and a vendor or connection
// the deployment lacks panics.
func TestGrantRead(t *testing.T) {
	stack, tokens, role := hostStack(Props{})
	tokens.GrantRead(role, vendors.Fyber, "")
	tokens.GrantRead(role, vendors.Merchenta, "acme")
	doc := parseTemplate(assertions.Template_FromStack(stack, nil))
	sts := inlineStatements(stack, doc, role)
	// With @aws-cdk/aws-iam:minimizePolicies the two grants merge into
	// one statement.
	if len(sts) != 1 || !reflect.DeepEqual(sts[0].Actions, []string{"secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"}) ||
		len(sts[0].Resources) != 2 {
		t.Fatalf("statements %+v, want read on two secrets", sts)
	}
	fyberToken := *stack.GetLogicalId(tokens.Refreshers[0].Token.Node().DefaultChild().(awscdk.CfnElement))
	var acme string
	for _, r := range sts[0].Resources {
		if reflect.DeepEqual(r, ref(fyberToken)) {
			fyberToken = ""
		} else {
			acme = fmt.Sprint(r)
		}
	}
	if fyberToken != "" {
		t.Errorf("no grant on the fyber token secret %s: %v", fyberToken, sts[0].Resources)
	}
	// merchenta/acme's token lives in a shard stack: the grant names its output.
	if !strings.Contains(acme, "Connectionacme") || !strings.Contains(acme, "Token") ||
		strings.Contains(acme, "RefreshToken") || strings.Contains(acme, "Credentials") {
		t.Errorf("merchenta/acme grant on %s", acme)
	}
	for _, f := range nagFindings(stack, true) {
		t.Errorf("cdk-nag error at %s", f)
	}
	for _, bad := range [][2]string{{vendors.Admitad, ""}, {vendors.Merchenta, "globex"}} {
		func() {
			defer func() {
				if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "GrantRead") {
					t.Errorf("GrantRead(%v): panic = %v", bad, r)
				}
			}()
			tokens.GrantRead(role, bad[0], bad[1])
		}()
	}
}

// TestGrantReject: a role may invoke one refresher's reject alias, and not
// the function itself.
func TestGrantReject(t *testing.T) {
	stack, tokens, role := hostStack(Props{})
	tokens.GrantReject(role, vendors.Merchenta)
	doc := parseTemplate(assertions.Template_FromStack(stack, nil))
	alias := *stack.GetLogicalId(tokens.Refreshers[1].RejectAlias.Node().DefaultChild().(awscdk.CfnElement))
	sts := inlineStatements(stack, doc, role)
	if len(sts) != 1 || !reflect.DeepEqual(sts[0].Actions, []string{"lambda:InvokeFunction"}) || !reflect.DeepEqual(sts[0].Resources, []any{ref(alias)}) {
		t.Errorf("statements %+v, want lambda:InvokeFunction on the alias %s only", sts, alias)
	}
	defer func() {
		if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), `no vendor "invoca"`) {
			t.Errorf("panic = %v", r)
		}
	}()
	tokens.GrantReject(role, vendors.Invoca)
}

// TestTokenReplicaRegions: every token secret, named connections' too, is
// replicated to the listed regions; no credentials, refresh-token or
// signing-key secret is; the reader policy and GrantRead cover the
// replicas; cdk-nag stays clean.
func TestTokenReplicaRegions(t *testing.T) {
	regions := []string{"eu-west-1", "ap-southeast-2"}
	s := NewStack(newTestApp(), "TokenRefresher", &StackProps{Props: Props{
		AssetDir: testAssetDir, Vendors: vendors.All(), Connections: testConnections, TokenReplicaRegions: regions,
	}})
	role := awsiam.NewRole(s.Stack, jsii.String("AppRole"), &awsiam.RoleProps{AssumedBy: awsiam.NewAccountRootPrincipal()})
	s.GrantRead(role, vendors.Fyber, "")
	want := []any{map[string]any{"Region": "eu-west-1"}, map[string]any{"Region": "ap-southeast-2"}}
	var docs []template
	tmpl := assertions.Template_FromStack(s.Stack, nil)
	docs = append(docs, parseTemplate(tmpl))
	for _, c := range *s.Stack.Node().FindAll(constructs.ConstructOrder_PREORDER) {
		if ns, ok := c.(awscdk.NestedStack); ok && *awscdk.NestedStack_IsNestedStack(c) {
			docs = append(docs, parseTemplate(assertions.Template_FromStack(ns, nil)))
		}
	}
	tokens := 0
	for _, doc := range docs {
		for _, id := range doc.ofType("AWS::SecretsManager::Secret") {
			p := doc.Resources[id].Properties
			name := fmt.Sprint(p["Name"])
			if strings.HasSuffix(name, "/token") {
				tokens++
				if !reflect.DeepEqual(p["ReplicaRegions"], want) {
					t.Errorf("%s: ReplicaRegions = %v, want %v", name, p["ReplicaRegions"], want)
				}
			} else if p["ReplicaRegions"] != nil {
				t.Errorf("%s is replicated: %v", name, p["ReplicaRegions"])
			}
		}
	}
	named := 0
	for _, c := range testConnections {
		named += len(c)
	}
	if tokens != len(vendors.All())+named {
		t.Errorf("%d token secrets, want one per vendor and per named connection", tokens)
	}
	doc := docs[0]
	readerID := *s.Stack.GetLogicalId(s.Access.Reader.Node().DefaultChild().(awscdk.CfnElement))
	reader := fmt.Sprint(doc.Resources[readerID].Properties["PolicyDocument"])
	for _, r := range regions {
		if strings.Count(reader, r) != len(vendors.All())+len(testConnections) {
			t.Errorf("reader policy names %s %d times, want once per vendor's token and once per vendor's connection pattern:\n%s",
				r, strings.Count(reader, r), reader)
		}
	}
	grant := inlineStatements(s.Stack, doc, role)
	if len(grant) != 1 || len(grant[0].Resources) != 1+len(regions) || !strings.Contains(fmt.Sprint(grant[0].Resources), "ap-southeast-2") {
		t.Errorf("GrantRead with replicas: %+v", grant)
	}
	for _, f := range append(nagFindings(s.Stack, true), nagFindings(s.Stack, false)...) {
		t.Errorf("cdk-nag: %s", f)
	}
}

// TestBadReplicaRegionsPanic: a replica region is a region name, listed
// once, and not the stack's own.
func TestBadReplicaRegionsPanic(t *testing.T) {
	for _, tc := range []struct {
		regions []string
		want    string
	}{
		{[]string{"Europe"}, "not a region name"},
		{[]string{"eu-west-1", "eu-west-1"}, "listed twice"},
		{[]string{"us-east-1"}, "own region"},
	} {
		t.Run(strings.Join(tc.regions, ","), func(t *testing.T) {
			defer func() {
				if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), tc.want) {
					t.Errorf("panic = %v, want %q", r, tc.want)
				}
			}()
			stack := awscdk.NewStack(newTestApp(), jsii.String("Host"), &awscdk.StackProps{
				Env: &awscdk.Environment{Account: jsii.String("123456789012"), Region: jsii.String("us-east-1")},
			})
			New(stack, "Tokens", &Props{AssetDir: testAssetDir, Vendors: vendors.All(), TokenReplicaRegions: tc.regions})
		})
	}
}
