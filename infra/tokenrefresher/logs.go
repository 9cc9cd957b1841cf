package tokenrefresher

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// DefaultLogRetention is how long log groups keep their events unless
// Props.LogRetention says otherwise: one year, the least that Control
// Tower's CT.CLOUDWATCH.PR.2 accepts. A deployment logs about 7 MB a month
// (docs/deploying.md), so a year of it costs well under a cent a month to
// store.
const DefaultLogRetention = awslogs.RetentionDays_ONE_YEAR

// logSettings is what every log group of a deployment gets.
type logSettings struct {
	Retention awslogs.RetentionDays
	// Key encrypts the log groups; nil leaves them with CloudWatch Logs'
	// own encryption.
	Key awskms.IKey
}

// newLogKey creates the customer managed key that encrypts a deployment's
// log groups (Control Tower's CT.CLOUDWATCH.PR.3). CloudWatch Logs of this
// account and region may use it for this account's log groups only; key
// rotation is on, and nobody but AWS services may create grants on it
// (CT.KMS.PR.3). It costs $1.00 a month.
func newLogKey(scope constructs.Construct, id, prefix string) awskms.Key {
	key := awskms.NewKey(scope, jsii.String(id), &awskms.KeyProps{
		Description:       jsii.String("Encrypts the " + prefix + " log groups"),
		EnableKeyRotation: jsii.Bool(true),
		RemovalPolicy:     awscdk.RemovalPolicy_DESTROY,
	})
	logsPrincipal := awscdk.Fn_Join(jsii.String(""), &[]*string{jsii.String("logs."), awscdk.Aws_REGION(), awscdk.Aws_URL_SUFFIX()})
	key.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("CloudWatchLogsEncrypt"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(logsPrincipal, nil)},
		Actions: jsii.Strings("kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*",
			"kms:Describe*"),
		Resources: jsii.Strings("*"),
		Conditions: &map[string]any{
			"ArnLike": map[string]any{
				"kms:EncryptionContext:aws:logs:arn": awscdk.Stack_Of(scope).FormatArn(&awscdk.ArnComponents{
					Partition:    awscdk.Aws_PARTITION(),
					Region:       awscdk.Aws_REGION(),
					Account:      awscdk.Aws_ACCOUNT_ID(),
					Service:      jsii.String("logs"),
					Resource:     jsii.String("log-group"),
					ResourceName: jsii.String("*"),
					ArnFormat:    awscdk.ArnFormat_COLON_RESOURCE_NAME,
				}),
			},
		},
	}), nil)
	denyGrantsButForAWSServices(key)
	return key
}

// newLogGroup creates a log group with the deployment's retention and
// encryption, deleted with the stack.
func newLogGroup(scope constructs.Construct, id string, name string, logs logSettings) awslogs.LogGroup {
	props := &awslogs.LogGroupProps{
		Retention:     logs.Retention,
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
		EncryptionKey: logs.Key,
	}
	if name != "" {
		props.LogGroupName = jsii.String(name)
	}
	lg := awslogs.NewLogGroup(scope, jsii.String(id), props)
	if k := logs.Key; k != nil && *awscdk.Token_IsUnresolved(k.KeyArn()) &&
		*awscdk.Stack_Of(k).Node().Path() != *awscdk.Stack_Of(scope).Node().Path() {
		addGuardException(lg, guardLogKeyParameter)
	}
	return lg
}
