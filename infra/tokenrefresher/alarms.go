package tokenrefresher

import (
	"fmt"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssnssubscriptions"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/token-refresher/token-refresher/shared/vendors"
)

// expiryAlarmFraction is the share of a token's lifetime under which the
// dead man's switch fires. A healthy refresher keeps the token above
// RefreshBelow of its life (at least half for every vendor), so crossing a
// quarter means refreshes have been failing for a while.
const expiryAlarmFraction = 0.25

// NamedFunction is a function whose errors alarm, with the name alarms use.
type NamedFunction struct {
	Name     string
	Function awslambda.IFunction
}

// AlarmsProps configures the alarms of a deployment.
type AlarmsProps struct {
	NamePrefix string
	// AlarmEmail, when set, is subscribed to the alarm topic (the address
	// must confirm the subscription).
	AlarmEmail string
	Refreshers []*Refresher
	// Functions are further functions whose errors alarm (callbacks).
	Functions []NamedFunction
}

// Alarms sends every alarm of a deployment to one encrypted SNS topic:
// function errors, undeliverable scheduled runs, and per expiring vendor a
// dead man's switch on SecondsUntilExpiry.
type Alarms struct {
	constructs.Construct
	Topic awssns.Topic
	Key   awskms.Key
	// Errors holds each function's error alarm, by function name;
	// DeadLetters each vendor's DLQ alarm and Expiry each expiring
	// vendor's dead man's switch, by vendor name.
	Errors      map[string]awscloudwatch.Alarm
	DeadLetters map[string]awscloudwatch.Alarm
	Expiry      map[string]awscloudwatch.Alarm

	action awscloudwatchactions.SnsAction
}

// notify sends an alarm's state changes (to ALARM and back to OK) to the
// topic.
func (a *Alarms) notify(alarm awscloudwatch.Alarm) awscloudwatch.Alarm {
	alarm.AddAlarmAction(a.action)
	alarm.AddOkAction(a.action)
	return alarm
}

// NewAlarms creates the topic and the alarms.
func NewAlarms(scope constructs.Construct, id string, props *AlarmsProps) *Alarms {
	c := constructs.NewConstruct(scope, jsii.String(id))
	a := &Alarms{
		Construct:   c,
		Errors:      map[string]awscloudwatch.Alarm{},
		DeadLetters: map[string]awscloudwatch.Alarm{},
		Expiry:      map[string]awscloudwatch.Alarm{},
	}

	// CloudWatch cannot publish to a topic encrypted with the AWS managed
	// aws/sns key, so the topic has a key of its own that CloudWatch may use.
	a.Key = awskms.NewKey(c, jsii.String("TopicKey"), &awskms.KeyProps{
		Description:       jsii.String("Encrypts the " + props.NamePrefix + " alarm topic"),
		EnableKeyRotation: jsii.Bool(true),
		RemovalPolicy:     awscdk.RemovalPolicy_DESTROY,
	})
	a.Key.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("CloudWatchAlarmsPublish"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("cloudwatch.amazonaws.com"), nil)},
		Actions:    jsii.Strings("kms:Decrypt", "kms:GenerateDataKey*"),
		Resources:  jsii.Strings("*"),
		Conditions: &map[string]any{
			"StringEquals": map[string]any{"aws:SourceAccount": awscdk.Aws_ACCOUNT_ID()},
		},
	}), nil)
	denyGrantsButForAWSServices(a.Key)
	a.Topic = awssns.NewTopic(c, jsii.String("Topic"), &awssns.TopicProps{
		DisplayName: jsii.String(props.NamePrefix + " alarms"),
		MasterKey:   a.Key,
		EnforceSSL:  jsii.Bool(true),
	})
	if props.AlarmEmail != "" {
		a.Topic.AddSubscription(awssnssubscriptions.NewEmailSubscription(jsii.String(props.AlarmEmail), nil))
	}
	a.action = awscloudwatchactions.NewSnsAction(a.Topic)
	notify := a.notify

	errorsAlarm := func(id, name string, fn awslambda.IFunction) {
		a.Errors[name] = notify(newErrorsAlarm(c, id, props.NamePrefix, name, fn))
	}

	for _, r := range props.Refreshers {
		spec := r.Spec
		errorsAlarm(spec.Name+"Errors", spec.FunctionName(), r.Function)

		a.DeadLetters[spec.Name] = notify(undeliveredRuns(r.DeadLetterQueue, "Maximum", 5*time.Minute).CreateAlarm(c, jsii.String(spec.Name+"DeadLetters"), &awscloudwatch.CreateAlarmOptions{
			AlarmName: jsii.String(props.NamePrefix + "-" + spec.Name + "-undelivered-runs"),
			AlarmDescription: jsii.String(fmt.Sprintf("The scheduler could not invoke the %s refresher; "+
				"the dead-letter queue holds the runs it gave up on", spec.Title)),
			Threshold:          jsii.Number(0),
			ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD,
			EvaluationPeriods:  jsii.Number(1),
			TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
		}))

		if spec.Expires() {
			a.Expiry[spec.Name] = notify(newExpiryAlarm(c, spec.Name+"Expiry", props.NamePrefix, spec, ""))
		}
	}
	for _, f := range props.Functions {
		errorsAlarm(f.Name+"Errors", f.Name, f.Function)
	}
	return a
}

// newErrorsAlarm fires when the function named prefix-name fails at least
// once in five minutes.
func newErrorsAlarm(scope constructs.Construct, id, prefix, name string, fn awslambda.IFunction) awscloudwatch.Alarm {
	return functionErrors(fn, "Sum", 5*time.Minute).CreateAlarm(scope, jsii.String(id), &awscloudwatch.CreateAlarmOptions{
		AlarmName:          jsii.String(prefix + "-" + name + "-errors"),
		AlarmDescription:   jsii.String(fmt.Sprintf("%s failed; its log group says why", name)),
		Threshold:          jsii.Number(0),
		ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD,
		EvaluationPeriods:  jsii.Number(1),
		TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
	})
}

// newExpiryAlarm is the dead man's switch of an expiring vendor's
// connection ("" is the default one): it fires when the stored token has
// less than a quarter of its life left, or when the refresher has stopped
// reporting for two schedule periods (missing data is breaching). Two
// periods tolerate one late or missed run.
func newExpiryAlarm(scope constructs.Construct, id, prefix string, spec vendors.Spec, connection string) awscloudwatch.Alarm {
	period := spec.Every
	threshold := expiryAlarmFraction * spec.Lifetime.Seconds()
	metric := vendorMetric(MetricSecondsUntilExpiry, spec.Name, "Minimum", period)
	base, token, forIt := prefix+"-"+spec.Name, "The "+spec.Title+" token", ""
	if connection != "" {
		metric = connectionMetric(MetricSecondsUntilExpiry, spec.Name, connection, "Minimum", period)
		base += "-" + connection
		token, forIt = token+" of connection "+connection, " for it"
	}
	return metric.CreateAlarm(scope, jsii.String(id), &awscloudwatch.CreateAlarmOptions{
		AlarmName: jsii.String(base + "-token-expiring"),
		AlarmDescription: jsii.String(fmt.Sprintf("%s has less than %s left, or the refresher "+
			"has not reported%s for two runs (every %s)", token,
			human(time.Duration(threshold)*time.Second), forIt, human(spec.Every))),
		Threshold:          jsii.Number(threshold),
		ComparisonOperator: awscloudwatch.ComparisonOperator_LESS_THAN_THRESHOLD,
		EvaluationPeriods:  jsii.Number(2),
		DatapointsToAlarm:  jsii.Number(2),
		TreatMissingData:   awscloudwatch.TreatMissingData_BREACHING,
	})
}
