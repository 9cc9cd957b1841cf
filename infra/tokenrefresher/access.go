package tokenrefresher

import (
	"slices"

	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/token-refresher/token-refresher/shared/vendors"
)

// TokenAccessProps configures the policies apps and operators attach.
type TokenAccessProps struct {
	NamePrefix string
	Refreshers []*Refresher
	// Connects are the connect flows of authorization-code vendors; their
	// signing keys are what `tokenctl connect` reads.
	Connects []*AuthCodeConnect
	// TokenReplicaRegions: the reader policy also reads the token
	// secrets' replicas there.
	TokenReplicaRegions []string
}

// TokenAccess holds the managed policies that an app's or an operator's
// role attaches.
type TokenAccess struct {
	constructs.Construct
	// Reader may read the token secrets and nothing else: not the
	// credentials, not refresh tokens, not signing keys.
	Reader awsiam.ManagedPolicy
	// Rejecter may invoke the refreshers' reject aliases, which the reader
	// package does when an app reports a token the vendor refused. It
	// cannot invoke the functions themselves, so it cannot force a refresh.
	Rejecter awsiam.ManagedPolicy
	// Operator holds exactly what tokenctl needs: status (read and
	// describe token secrets, and list secrets to find named
	// connections), set-credentials (describe and write
	// credentials secrets, never read them), refresh (invoke the functions
	// themselves, force included), connect (read signing keys; the
	// operator's role must also be in the stack's OperatorPrincipalArns,
	// which exempts it from the signing keys' read guard), and the
	// rotation of signing keys (write them; the same list exempts the
	// role from their write guard).
	Operator awsiam.ManagedPolicy
}

// NewTokenAccess creates the reader, rejecter and operator policies.
func NewTokenAccess(scope constructs.Construct, id string, props *TokenAccessProps) *TokenAccess {
	c := constructs.NewConstruct(scope, jsii.String(id))
	var tokens, credentials, functions, aliases, keys []*string
	var replicas []*string // the reader's only: operators run tokenctl against the primary region
	for _, r := range props.Refreshers {
		tokens = append(tokens, r.Token.SecretArn())
		replicas = append(replicas, replicaArns(r.Token.SecretArn(), props.TokenReplicaRegions)...)
		credentials = append(credentials, r.Credentials.SecretArn())
		functions = append(functions, r.Function.FunctionArn())
		aliases = append(aliases, r.RejectAlias.FunctionArn())
		// Named connections by name pattern: the policy stays the same
		// size however many connections there are.
		if len(r.Connections) > 0 {
			tokens = append(tokens, secretPatternArn(c, props.NamePrefix, r.Spec.Name, vendors.RoleToken))
			replicas = append(replicas, replicaPatternArns(c, props.NamePrefix, r.Spec.Name, vendors.RoleToken, props.TokenReplicaRegions)...)
			credentials = append(credentials, secretPatternArn(c, props.NamePrefix, r.Spec.Name, vendors.RoleCredentials))
		}
		for _, conn := range r.Connections {
			if conn.CredentialsImported {
				credentials = append(credentials, conn.Credentials.SecretArn())
			}
		}
	}
	for _, a := range props.Connects {
		keys = append(keys, a.SigningKey.SecretArn())
	}
	statement := func(sid string, actions []string, resources []*string) awsiam.PolicyStatement {
		return awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:       jsii.String(sid),
			Actions:   jsii.Strings(actions...),
			Resources: &resources,
		})
	}
	reader := awsiam.NewManagedPolicy(c, jsii.String("Reader"), &awsiam.ManagedPolicyProps{
		Description: jsii.String("Read the " + props.NamePrefix + " token secrets (and nothing else)"),
		Statements: &[]awsiam.PolicyStatement{
			statement("ReadTokens", []string{"secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"}, append(slices.Clone(tokens), replicas...)),
		},
	})
	rejecter := awsiam.NewManagedPolicy(c, jsii.String("Rejecter"), &awsiam.ManagedPolicyProps{
		Description: jsii.String("Ask the " + props.NamePrefix + " refreshers for a new token after a vendor refused one"),
		Statements: &[]awsiam.PolicyStatement{
			statement("InvokeRejectAliases", []string{"lambda:InvokeFunction"}, aliases),
		},
	})
	operatorStatements := []awsiam.PolicyStatement{
		statement("StatusReadTokens", []string{"secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"}, tokens),
		statement("SetCredentialsWriteOnly", []string{"secretsmanager:DescribeSecret", "secretsmanager:PutSecretValue"}, credentials),
		statement("RefreshInvokeFunctions", []string{"lambda:InvokeFunction"}, functions),
		// tokenctl status finds named connections by their tags:
		// ListSecrets has no resource type, so IAM takes it only on "*".
		// It returns names, tags and descriptions, never a value.
		statement("StatusListSecrets", []string{"secretsmanager:ListSecrets"}, []*string{jsii.String("*")}),
	}
	if len(keys) > 0 {
		operatorStatements = append(operatorStatements,
			statement("ConnectReadSigningKeys", []string{"secretsmanager:GetSecretValue"}, keys),
			// docs/deploying.md: rotating the signing key. The keys'
			// resource policy still denies it to roles outside
			// OperatorPrincipalArns.
			statement("RotateSigningKeys", []string{"secretsmanager:PutSecretValue"}, keys))
	}
	operator := awsiam.NewManagedPolicy(c, jsii.String("Operator"), &awsiam.ManagedPolicyProps{
		Description: jsii.String("Run tokenctl against " + props.NamePrefix + ": status, set-credentials, refresh, connect"),
		Statements:  &operatorStatements,
	})
	cdknag.NagSuppressions_AddResourceSuppressions(operator, &[]*cdknag.NagPackSuppression{{
		Id: jsii.String("AwsSolutions-IAM5"),
		Reason: jsii.String("secretsmanager:ListSecrets has no resource type and is granted on *; tokenctl status " +
			"lists the deployment's named connections with it. It returns names, tags and descriptions, never a value."),
		AppliesTo: &[]any{"Resource::*"},
	}}, jsii.Bool(false))
	named := false
	for _, r := range props.Refreshers {
		named = named || len(r.Connections) > 0
	}
	for _, p := range []awsiam.ManagedPolicy{reader, operator} {
		if !named {
			break
		}
		cdknag.NagSuppressions_AddResourceSuppressions(p, &[]*cdknag.NagPackSuppression{{
			Id: jsii.String("AwsSolutions-IAM5"),
			Reason: jsii.String("Named connections' secrets are granted by name pattern " + props.NamePrefix +
				"/<vendor>/*/<role>-??????: only that vendor's connection secrets of that role match."),
			AppliesTo: &[]any{&cdknag.RegexAppliesTo{Regex: jsii.String(connectionPatternNagRegex)}},
		}}, jsii.Bool(false))
	}
	return &TokenAccess{Construct: c, Reader: reader, Rejecter: rejecter, Operator: operator}
}
