package tokenrefresher

import (
	"encoding/json"
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// GuardMetadataKey is the CloudFormation Metadata key of a resource that
// does not meet one of AWS Control Tower's proactive controls by design.
// Its value is
//
//	{"SuppressedRules": ["<guard rule>", ...],
//	 "Exceptions": [{"Control": "CT.X.PR.n", "Rule": "<guard rule>", "Reason": "..."}]}
//
// SuppressedRules is the form the AWS Guard Rules Registry's rules honour;
// Exceptions says, per rule, which control it is and why the resource is
// built that way. The Control Tower rules themselves (and so the hooks of
// a governed account) do not read it: the metadata documents an exception,
// it does not grant one. The Guard test of this repository reads it, prints
// every exception and fails on any failure without one.
const GuardMetadataKey = "guard"

// GuardException is one explained exception from a Control Tower control.
type GuardException struct {
	Control string `json:"Control"`
	Rule    string `json:"Rule"`
	Reason  string `json:"Reason"`
}

// guardMetadata is the value under GuardMetadataKey.
type guardMetadata struct {
	SuppressedRules []string         `json:"SuppressedRules"`
	Exceptions      []GuardException `json:"Exceptions"`
}

// The controls that a deployment does not meet in every configuration,
// with their Guard rule names and the reasons, next to the cdk-nag
// suppressions of the same resources.
var (
	// The connect routes are opened by a browser redirect (the operator's
	// link, then the vendor's redirect back), which carries neither AWS
	// credentials nor a bearer token.
	guardConnectRouteAuth = GuardException{
		Control: "CT.APIGATEWAY.PR.5",
		Rule:    "api_gw_v2_authorization_type_configured_check",
		Reason: "An OAuth2 redirect route must be reachable from a browser without AWS credentials or a bearer " +
			"token (the vendor redirects the person's browser to it). The function authorizes every request itself: " +
			"/authorize needs a short-lived link signed with the signing-key secret, /callback a signed, unexpired " +
			"state bound to a cookie.",
	}
	// A log group of a nested stack (a lane's) is encrypted with the
	// deployment's log key, whose ARN reaches the stack as a parameter.
	guardLogKeyParameter = GuardException{
		Control: "CT.CLOUDWATCH.PR.3",
		Rule:    "cloudwatch_log_group_encrypted_check",
		Reason: "The log group is encrypted with the deployment's log key (KmsKeyId), whose ARN this nested stack " +
			"receives as a parameter from its parent: the rule, run on the template, accepts only a literal ARN or a key " +
			"of the same template. Control Tower's hook checks the resolved properties, where KmsKeyId is the key's ARN.",
	}
	// Without Props.Vpc the functions run in Lambda's own network.
	guardFunctionVpc = GuardException{
		Control: "CT.LAMBDA.PR.3",
		Rule:    "lambda_inside_vpc_check",
		Reason: "No VPC was given (Props.Vpc): the function reaches its vendor and Secrets Manager over Lambda's " +
			"own network, with no inbound path. Set Props.Vpc (with a NAT or egress path to the vendor and a " +
			"Secrets Manager VPC endpoint) to meet the control.",
	}
)

// addGuardException records on resource (a CfnResource, or a construct
// whose default child is one) that it does not meet e.Control, and why.
func addGuardException(resource constructs.IConstruct, e GuardException) {
	cfn, ok := resource.(awscdk.CfnResource)
	if !ok {
		cfn, ok = resource.Node().DefaultChild().(awscdk.CfnResource)
	}
	if !ok {
		panic(fmt.Sprintf("tokenrefresher: guard exception %s on %s: not a CloudFormation resource", e.Control, *resource.Node().Path()))
	}
	var md guardMetadata
	if prev := cfn.GetMetadata(jsii.String(GuardMetadataKey)); prev != nil {
		raw, err := json.Marshal(prev)
		if err == nil {
			err = json.Unmarshal(raw, &md)
		}
		if err != nil {
			panic(fmt.Sprintf("tokenrefresher: guard metadata of %s: %v", *resource.Node().Path(), err))
		}
	}
	for _, have := range md.Exceptions {
		if have.Rule == e.Rule {
			return
		}
	}
	md.SuppressedRules = append(md.SuppressedRules, e.Rule)
	md.Exceptions = append(md.Exceptions, e)
	cfn.AddMetadata(jsii.String(GuardMetadataKey), md)
}

// denyGrantsButForAWSServices adds the key-policy statement that Control
// Tower's CT.KMS.PR.3 asks for: nobody may create a grant on the key,
// except an AWS service acting on its own behalf or for an AWS resource.
// The deployment needs no grants (every use of its keys is in the key
// policy), so this takes nothing away.
func denyGrantsButForAWSServices(key awskms.Key) {
	key.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("OnlyAWSServicesCreateGrants"),
		Effect:     awsiam.Effect_DENY,
		Principals: &[]awsiam.IPrincipal{awsiam.NewAnyPrincipal()},
		Actions:    jsii.Strings("kms:CreateGrant"),
		Resources:  jsii.Strings("*"),
		Conditions: &map[string]any{
			"BoolIfExists": map[string]any{
				"kms:GrantIsForAWSResource": "false",
				"aws:PrincipalIsAWSService": "false",
			},
		},
	}), nil)
}
