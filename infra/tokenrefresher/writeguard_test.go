package tokenrefresher

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/constructs-go/constructs/v10"

	"github.com/token-refresher/token-refresher/shared/vendors"
)

// checkWriteGuard asserts that a refresh-token or signing-key secret's
// policy denies the write calls to every principal but writers, the
// deploying role of `cdk bootstrap` and CloudFormation acting with the
// deployer's credentials.
func checkWriteGuard(t *testing.T, doc map[string]any, writers []any) {
	t.Helper()
	st := policyStatement(t, doc, WriteGuardSid, ReadGuardSid, WriteGuardSid)
	want := map[string]any{
		"Effect":    "Deny",
		"Principal": map[string]any{"AWS": "*"},
		"Action":    []any{"secretsmanager:PutSecretValue", "secretsmanager:UpdateSecret", "secretsmanager:UpdateSecretVersionStage"},
		"Resource":  "*",
	}
	for k, v := range want {
		if !reflect.DeepEqual(st[k], v) {
			t.Errorf("statement %s = %v, want %v", k, st[k], v)
		}
	}
	cond, _ := st["Condition"].(map[string]any)
	if len(cond) != 2 {
		t.Errorf("condition %v, want ArnNotLike and ForAllValues:StringNotEquals", cond)
	}
	calledVia, _ := cond["ForAllValues:StringNotEquals"].(map[string]any)
	if !reflect.DeepEqual(calledVia, map[string]any{"aws:CalledVia": []any{"cloudformation.amazonaws.com"}}) {
		t.Errorf("CloudFormation's own calls are not exempt: %v", calledVia)
	}
	arnNotLike, _ := cond["ArnNotLike"].(map[string]any)
	var got []any
	switch v := arnNotLike["aws:PrincipalArn"].(type) {
	case []any:
		got = v
	default:
		got = []any{v}
	}
	var exec any
	var named []any
	for _, g := range got {
		if strings.Contains(fmt.Sprint(g), "cfn-exec-role") {
			exec = g
		} else {
			named = append(named, g)
		}
	}
	if !strings.Contains(fmt.Sprint(exec), ":role/cdk-*-cfn-exec-role-") {
		t.Errorf("the cdk bootstrap's deploying role is not exempt: %v", got)
	}
	if !sameElements(named, writers) {
		t.Errorf("principals that may write:\n got %v\nwant %v", named, writers)
	}
}

// TestRefreshTokenAndSigningKeyDenyWrites (issue 19, item 7): only the
// Admitad refresher and callback write the refresh token; nobody but the
// deployment writes the signing key when no operator or break-glass role
// is named.
func TestRefreshTokenAndSigningKeyDenyWrites(t *testing.T) {
	fns := functionIDs(t)
	spec := vendors.MustLookup(vendors.Admitad)
	refresher, callback := testDoc.roleOf(fns[spec.FunctionName()]), testDoc.roleOf(fns[spec.CallbackFunctionName()])
	t.Run("refresh-token", func(t *testing.T) {
		checkWriteGuard(t, testDoc.resourcePolicyOf(t, testDoc.secret(t, refreshSecretName(DefaultNamePrefix, spec.Name))), []any{refresher, callback})
	})
	t.Run("signing-key", func(t *testing.T) {
		checkWriteGuard(t, testDoc.resourcePolicyOf(t, testDoc.secret(t, signingKeySecretName(DefaultNamePrefix, spec.Name))), nil)
	})
	// Credentials are written by operators with tokenctl set-credentials
	// (their read guard stays); token secrets have no resource policy.
	for _, s := range vendors.All() {
		if p := testDoc.resourcePolicyOf(t, testDoc.secret(t, tokenSecretName(DefaultNamePrefix, s.Name))); p != nil {
			t.Errorf("token secret of %s has a resource policy: %v", s.Name, p)
		}
	}
}

// TestWriteGuardsNameOperatorsBreakGlassAndDeployers: operators may
// rotate the signing key, break-glass may write both secrets, and further
// deploying roles are exempt from both; a named connection's refresh token
// is guarded like the default one's.
func TestWriteGuardsNameOperatorsBreakGlassAndDeployers(t *testing.T) {
	const (
		ops    = "arn:aws:iam::123456789012:role/token-operators"
		glass  = "arn:aws:iam::123456789012:role/break-glass"
		deploy = "arn:aws:iam::123456789012:role/platform-cfn-deploy"
	)
	s := NewStack(newTestApp(), "TokenRefresher", &StackProps{Props: Props{
		AssetDir:                testAssetDir,
		Vendors:                 []vendors.Spec{vendors.MustLookup(vendors.Admitad)},
		Connections:             map[string][]string{vendors.Admitad: {"eu"}},
		OperatorPrincipalArns:   []string{ops},
		BreakGlassPrincipalArns: []string{glass},
		DeployPrincipalArns:     []string{deploy},
	}})
	doc := parseTemplate(assertions.Template_FromStack(s.Stack, nil))
	spec := vendors.MustLookup(vendors.Admitad)
	fn := func(folder string) any {
		return doc.roleOf(doc.find(t, "AWS::Lambda::Function", "FunctionName", functionName(DefaultNamePrefix, folder)))
	}
	refresher, callback := fn(spec.FunctionName()), fn(spec.CallbackFunctionName())
	checkWriteGuard(t, doc.resourcePolicyOf(t, doc.secret(t, refreshSecretName(DefaultNamePrefix, spec.Name))), []any{refresher, callback, glass, deploy})
	checkWriteGuard(t, doc.resourcePolicyOf(t, doc.secret(t, signingKeySecretName(DefaultNamePrefix, spec.Name))), []any{ops, glass, deploy})

	// The connection's secrets live in a shard stack; its roles are
	// parameters passed in from the parent.
	var shard awscdk.NestedStack
	for _, c := range *s.Stack.Node().FindAll(constructs.ConstructOrder_PREORDER) {
		if *awscdk.NestedStack_IsNestedStack(c) {
			shard = c.(awscdk.NestedStack)
		}
	}
	if shard == nil {
		t.Fatal("no shard stack")
	}
	sdoc := parseTemplate(assertions.Template_FromStack(shard, nil))
	policy := sdoc.resourcePolicyOf(t, sdoc.secret(t, vendors.SecretName(DefaultNamePrefix, spec.Name, "eu", vendors.RoleRefreshToken)))
	st := policyStatement(t, policy, WriteGuardSid, ReadGuardSid, WriteGuardSid)
	principals := fmt.Sprint(st["Condition"])
	for _, want := range []string{glass, deploy, "cfn-exec-role", "cloudformation.amazonaws.com"} {
		if !strings.Contains(principals, want) {
			t.Errorf("connection eu's write guard lacks %s: %s", want, principals)
		}
	}
	if strings.Contains(principals, ops) {
		t.Errorf("operators may write connection eu's refresh token: %s", principals)
	}
	for _, f := range nagFindings(s.Stack, true) {
		t.Errorf("cdk-nag error at %s", f)
	}
}
