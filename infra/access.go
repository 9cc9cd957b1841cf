package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// TokenAccessProps configures the policies apps attach.
type TokenAccessProps struct {
	NamePrefix string
	Refreshers []*Refresher
}

// TokenAccess holds the managed policies an app's role attaches.
type TokenAccess struct {
	constructs.Construct
	// Reader may read the token secrets and nothing else: not the
	// credentials, not refresh tokens, not signing keys.
	Reader awsiam.ManagedPolicy
	// Rejecter may invoke the refreshers, which the reader package does
	// when an app reports a token the vendor refused.
	Rejecter awsiam.ManagedPolicy
}

// NewTokenAccess creates the reader and rejecter policies.
func NewTokenAccess(scope constructs.Construct, id string, props *TokenAccessProps) *TokenAccess {
	c := constructs.NewConstruct(scope, jsii.String(id))
	var tokens, functions []*string
	for _, r := range props.Refreshers {
		tokens = append(tokens, r.Token.SecretArn())
		functions = append(functions, r.Function.FunctionArn())
	}
	reader := awsiam.NewManagedPolicy(c, jsii.String("Reader"), &awsiam.ManagedPolicyProps{
		Description: jsii.String("Read the " + props.NamePrefix + " token secrets (and nothing else)"),
		Statements: &[]awsiam.PolicyStatement{awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:       jsii.String("ReadTokens"),
			Actions:   jsii.Strings("secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"),
			Resources: &tokens,
		})},
	})
	rejecter := awsiam.NewManagedPolicy(c, jsii.String("Rejecter"), &awsiam.ManagedPolicyProps{
		Description: jsii.String("Ask the " + props.NamePrefix + " refreshers for a new token after a vendor refused one"),
		Statements: &[]awsiam.PolicyStatement{awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:       jsii.String("InvokeRefreshers"),
			Actions:   jsii.Strings("lambda:InvokeFunction"),
			Resources: &functions,
		})},
	})
	return &TokenAccess{Construct: c, Reader: reader, Rejecter: rejecter}
}
