package tokenrefresher

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/jsii-runtime-go"

	"github.com/token-refresher/token-refresher/shared/vendors"
)

// tagSecret tags a secret of the stack with its role and owner
// (vendors.SecretTags), so that tools can tell what a secret is before
// they write to it: tokenctl set-credentials refuses any secret that is not
// the credentials secret of the vendor and connection it was asked for.
func tagSecret(secret awssecretsmanager.ISecret, vendor, connection, role string) {
	tags := vendors.SecretTags(vendor, connection, role)
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		awscdk.Tags_Of(secret).Add(jsii.String(k), jsii.String(tags[k]), nil)
	}
}

// ReadGuardSid is the Sid of the statement that a credentials,
// refresh-token or signing-key secret's resource policy holds.
const ReadGuardSid = "OnlyNamedPrincipalsRead"

// guardReads gives secret a resource policy that denies
// secretsmanager:GetSecretValue to every principal whose ARN matches none
// of readers (aws:PrincipalArn, ArnNotLike: a pattern may hold * and ?).
// An identity policy that allows the read, however broad, cannot override
// an explicit deny. Nothing else is denied: CloudFormation still updates
// the secret, and `tokenctl set-credentials` still describes and writes it
// (DescribeSecret, PutSecretValue), without reading it.
//
// Imported secrets are left alone: their resource policy belongs to
// whoever created them.
func guardReads(secret awssecretsmanager.ISecret, readers []*string) {
	if len(readers) == 0 {
		panic("tokenrefresher: guardReads without readers would lock every reader out")
	}
	res := secret.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String(ReadGuardSid),
		Effect:     awsiam.Effect_DENY,
		Principals: &[]awsiam.IPrincipal{awsiam.NewAnyPrincipal()},
		Actions:    jsii.Strings("secretsmanager:GetSecretValue"),
		Resources:  jsii.Strings("*"),
		Conditions: &map[string]any{
			"ArnNotLike": map[string]any{"aws:PrincipalArn": readers},
		},
	}))
	if res.StatementAdded == nil || !*res.StatementAdded {
		panic(fmt.Sprintf("tokenrefresher: secret %s takes no resource policy", *secret.Node().Path()))
	}
}

// WriteGuardSid is the Sid of the statement that a refresh-token or
// signing-key secret's resource policy holds besides ReadGuardSid.
const WriteGuardSid = "OnlyNamedPrincipalsWrite"

// writeActions are the calls that give a secret a new current value:
// PutSecretValue, UpdateSecret with a value, and moving AWSCURRENT to a
// version written earlier with another label.
var writeActions = []string{
	"secretsmanager:PutSecretValue",
	"secretsmanager:UpdateSecret",
	"secretsmanager:UpdateSecretVersionStage",
}

// calledViaCloudFormation is the aws:CalledVia value of a call that
// CloudFormation makes with the deploying principal's credentials (a
// deploy without a CloudFormation execution role).
const calledViaCloudFormation = "cloudformation.amazonaws.com"

// cdkExecRolePattern matches the role CloudFormation deploys with after
// `cdk bootstrap` (any qualifier): the deployment's own updates of a
// secret (description, tags, a new generated value) come from it.
func cdkExecRolePattern() *string {
	return awscdk.Fn_Join(jsii.String(""), &[]*string{
		jsii.String("arn:"), awscdk.Aws_PARTITION(), jsii.String(":iam::"), awscdk.Aws_ACCOUNT_ID(),
		jsii.String(":role/cdk-*-cfn-exec-role-"), awscdk.Aws_ACCOUNT_ID(), jsii.String("-"), awscdk.Aws_REGION(),
	})
}

// guardWrites adds to secret's resource policy a statement that denies
// writeActions to every principal whose ARN matches none of writers
// (aws:PrincipalArn, ArnNotLike), unless the call comes from
// CloudFormation: the deploying role of `cdk bootstrap`
// (cdkExecRolePattern), deployers (extra ARNs, Props.DeployPrincipalArns),
// or CloudFormation acting with the caller's own credentials
// (aws:CalledVia). Whoever could write a signing key could mint connect
// links, and whoever could write a refresh token could connect an account
// of their own: broad secretsmanager:* rights in an identity policy are
// not enough. Reads stay guarded by guardReads.
func guardWrites(secret awssecretsmanager.ISecret, writers []*string, deployers []string) {
	exempt := append(slices.Clone(writers), cdkExecRolePattern())
	for _, d := range deployers {
		exempt = append(exempt, jsii.String(d))
	}
	res := secret.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String(WriteGuardSid),
		Effect:     awsiam.Effect_DENY,
		Principals: &[]awsiam.IPrincipal{awsiam.NewAnyPrincipal()},
		Actions:    jsii.Strings(writeActions...),
		Resources:  jsii.Strings("*"),
		Conditions: &map[string]any{
			"ArnNotLike":                   map[string]any{"aws:PrincipalArn": exempt},
			"ForAllValues:StringNotEquals": map[string]any{"aws:CalledVia": []string{calledViaCloudFormation}},
		},
	}))
	if res.StatementAdded == nil || !*res.StatementAdded {
		panic(fmt.Sprintf("tokenrefresher: secret %s takes no resource policy", *secret.Node().Path()))
	}
}

// roleArns returns the ARNs of roles, then patterns.
func roleArns(roles []awsiam.IRole, patterns ...string) []*string {
	out := make([]*string, 0, len(roles)+len(patterns))
	for _, r := range roles {
		out = append(out, r.RoleArn())
	}
	for _, p := range patterns {
		out = append(out, jsii.String(p))
	}
	return out
}

// checkPrincipalArns panics unless every entry is an IAM ARN (or ARN
// pattern) that aws:PrincipalArn can match.
func checkPrincipalArns(what string, arns []string) {
	for _, a := range arns {
		if !strings.HasPrefix(a, "arn:") || strings.Count(a, ":") < 5 || strings.ContainsAny(a, " ,") {
			panic(fmt.Sprintf("tokenrefresher: props: %s: %q is not an IAM principal ARN (arn:aws:iam::<account>:role/<name>)", what, a))
		}
	}
}
