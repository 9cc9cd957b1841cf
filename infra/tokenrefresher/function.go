package tokenrefresher

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/token-refresher/token-refresher/shared/vendors"
)

// functionTimeout is the deadline of every function. A refresher retries a
// failing vendor call with backoff until its deadline (a few attempts of at
// most ~10 s each) and must still have time to write the refresh token and
// then the token secret; 60 s covers that with room to spare, and is far
// below the shortest schedule period (15 minutes), so a run never overlaps
// the next one.
const functionTimeout = 60

// goFunctionProps configures a Go function built by `make build`.
type goFunctionProps struct {
	// AssetDir holds one folder per function with its `bootstrap`; empty
	// builds the function from SourceDir's functions/<Folder>.
	AssetDir  string
	SourceDir string
	// Folder is the function's folder under AssetDir (and under functions/).
	Folder string
	// Code, when set, is the function's code instead of functionCode's:
	// functions of one stack that run the same bootstrap share it, so it
	// is bundled once (a Code belongs to one stack).
	Code awslambda.Code
	// RolePath is the path of the function's role; "/" if empty.
	RolePath string
	// PhysicalName is the deployed function name.
	PhysicalName string
	Description  string
	Environment  map[string]string
	// Timeout in seconds; functionTimeout if zero.
	Timeout int
	// ReservedConcurrency, when above zero, caps concurrent executions.
	ReservedConcurrency int
	Logs                logSettings
	Network             networkSettings
}

// networkSettings places functions in a VPC (Props.Vpc); the zero value
// leaves them in Lambda's own network.
type networkSettings struct {
	Vpc            awsec2.IVpc
	Subnets        *awsec2.SubnetSelection
	SecurityGroups []awsec2.ISecurityGroup
}

// goFunction is a function together with the log group it writes to.
type goFunction struct {
	Function awslambda.Function
	LogGroup awslogs.LogGroup
}

// newGoFunction creates an arm64 provided.al2023 function from
// <AssetDir>/<Folder>/bootstrap, or built from functions/<Folder> at
// synth time when AssetDir is empty (functionCode), with its own log group and a role that may
// write to that log group and nothing else; callers add grants.
//
// It panics when the bootstrap file is missing or not a linux/arm64
// executable, so a deployment never ships a function that cannot start.
func newGoFunction(scope constructs.Construct, id string, p goFunctionProps) goFunction {
	code := p.Code
	if code == nil {
		code = functionCode(p.AssetDir, p.SourceDir, p.Folder)
	}

	logGroup := newLogGroup(scope, id+"Logs", "/aws/lambda/"+p.PhysicalName, p.Logs)
	roleProps := &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
		Description: jsii.String("Execution role of " + p.PhysicalName),
	}
	if p.RolePath != "" {
		roleProps.Path = jsii.String(p.RolePath)
	}
	role := awsiam.NewRole(scope, jsii.String(id+"Role"), roleProps)
	awsiam.Grant_AddToPrincipal(&awsiam.GrantOnPrincipalOptions{
		Grantee:      role,
		Actions:      jsii.Strings("logs:CreateLogStream", "logs:PutLogEvents"),
		ResourceArns: jsii.Strings(*logGroup.LogGroupArn()),
	})

	timeout := p.Timeout
	if timeout == 0 {
		timeout = functionTimeout
	}
	env := make(map[string]*string, len(p.Environment)+len(vendors.FunctionEnvironment))
	for k, v := range vendors.FunctionEnvironment {
		env[k] = jsii.String(v)
	}
	for k, v := range p.Environment {
		env[k] = jsii.String(v)
	}
	props := &awslambda.FunctionProps{
		FunctionName: jsii.String(p.PhysicalName),
		Description:  jsii.String(p.Description),
		Runtime:      awslambda.Runtime_PROVIDED_AL2023(),
		Architecture: awslambda.Architecture_ARM_64(),
		Handler:      jsii.String("bootstrap"),
		Code:         code,
		MemorySize:   jsii.Number(128),
		Timeout:      awscdk.Duration_Seconds(jsii.Number(timeout)),
		Environment:  &env,
		Role:         role,
		LogGroup:     logGroup,
	}
	if p.ReservedConcurrency > 0 {
		props.ReservedConcurrentExecutions = jsii.Number(p.ReservedConcurrency)
	}
	if n := p.Network; n.Vpc != nil {
		props.Vpc = n.Vpc
		props.VpcSubnets = n.Subnets
		if len(n.SecurityGroups) > 0 {
			props.SecurityGroups = &n.SecurityGroups
		}
	}
	fn := awslambda.NewFunction(scope, jsii.String(id), props)
	if p.Network.Vpc == nil {
		addGuardException(fn, guardFunctionVpc)
	} else {
		cdknag.NagSuppressions_AddResourceSuppressions(role, &[]*cdknag.NagPackSuppression{{
			Id: jsii.String("AwsSolutions-IAM4"),
			Reason: jsii.String("Lambda attaches a function in a VPC through the AWS managed policy " +
				"AWSLambdaVPCAccessExecutionRole (create, describe and delete its network interfaces), " +
				"which CDK adds for a function with a VPC."),
			AppliesTo: &[]any{"Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"},
		}}, jsii.Bool(true))
	}
	return goFunction{Function: fn, LogGroup: logGroup}
}
