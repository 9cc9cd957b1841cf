package tokenrefresher

import (
	"fmt"
	"maps"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsscheduler"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsschedulertargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/token-refresher/token-refresher/shared/vendors"
)

// RefresherProps configures the refresher of one vendor.
type RefresherProps struct {
	Spec vendors.Spec
	// AssetDir holds <AssetDir>/<Spec.FunctionName()>/bootstrap; empty
	// builds it from SourceDir (Props.AssetDir).
	AssetDir  string
	SourceDir string
	// NamePrefix starts the names of the secrets and the function.
	NamePrefix string
	// CredentialsSecretName, when set, imports an existing credentials
	// secret by name instead of creating an empty one.
	CredentialsSecretName string
	// TokenReplicaRegions replicate the token secret (only it).
	TokenReplicaRegions []string
	Logs                logSettings
	Network             networkSettings
	// Lanes, from 2 to vendors.MaxLanes, runs the vendor's named
	// connections in that many lanes (Props.ConnectionLanes): the function
	// gets CONNECTION_LANES and laneFrontTimeout, and hands every run of a
	// named connection to its lane; addConnections creates the lanes. 0
	// or 1: no lanes.
	Lanes int
}

// Refresher is one vendor's scheduled refresher: the function, its
// credentials secret (read only), its token secret (written), and the
// schedule that invokes it with a dead-letter queue for undeliverable runs.
type Refresher struct {
	constructs.Construct
	Spec        vendors.Spec
	Function    awslambda.Function
	LogGroup    awslogs.LogGroup
	Credentials awssecretsmanager.ISecret
	// CredentialsID is the SecretId of Credentials the functions get, and
	// CredentialsName its name; CredentialsImported is true when the
	// secret exists outside the stack.
	CredentialsID       string
	CredentialsName     string
	CredentialsImported bool
	Token               awssecretsmanager.Secret
	// RejectAlias is the alias vendors.RejectAlias of Function, on
	// $LATEST: apps invoke it to report a token the vendor refused, and
	// the function refuses {"force":true} through it. It shares the
	// function's reserved concurrency (an alias is not a copy).
	RejectAlias awslambda.Alias
	Schedule    awsscheduler.Schedule
	// SchedulerRole is the role the vendor's schedules (one per
	// connection) invoke the function with; DeadLetterQueue receives the
	// runs they could not deliver.
	SchedulerRole   awsiam.Role
	DeadLetterQueue awssqs.Queue
	// Connections are the vendor's named connections (the default
	// connection is the fields above), sorted by name.
	Connections []*Connection
	// Lanes run the named connections when RefresherProps.Lanes is 2 or
	// more, in order of their index; only lanes that some connection
	// hashes to exist. LanesStack is the nested stack that holds them.
	Lanes      []*Lane
	LanesStack awscdk.NestedStack

	// props and env are what the lanes copy of the function: its
	// settings and its default connection's environment.
	props RefresherProps
	env   map[string]string
}

// NewRefresher creates the refresher of props.Spec. It panics on a spec
// the scheduler cannot express (a period that is not whole minutes).
func NewRefresher(scope constructs.Construct, id string, props *RefresherProps) *Refresher {
	spec := props.Spec
	rate := scheduleRate(spec.Every)
	c := constructs.NewConstruct(scope, jsii.String(id))
	r := &Refresher{Construct: c, Spec: spec, props: *props}

	if props.CredentialsSecretName != "" {
		r.Credentials = awssecretsmanager.Secret_FromSecretNameV2(c, jsii.String("Credentials"), jsii.String(props.CredentialsSecretName))
	} else {
		creds := awssecretsmanager.NewSecret(c, jsii.String("Credentials"), &awssecretsmanager.SecretProps{
			SecretName:  jsii.String(credentialsSecretName(props.NamePrefix, spec.Name)),
			Description: jsii.String(credentialsDescription(spec, "")),
			// Credentials are typed in by a person: keep them when the
			// stack is deleted (a redeploy then imports them by name).
			RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
		})
		withoutValue(creds)
		tagSecret(creds, spec.Name, vendors.DefaultConnection, vendors.RoleCredentials)
		r.Credentials = creds
		suppressRotation(creds, credentialsRotationReason)
	}

	r.CredentialsImported = props.CredentialsSecretName != ""
	r.CredentialsID = secretID(r.Credentials, r.CredentialsImported)
	r.CredentialsName = credentialsSecretName(props.NamePrefix, spec.Name)
	if props.CredentialsSecretName != "" {
		r.CredentialsName = props.CredentialsSecretName
	}

	r.Token = awssecretsmanager.NewSecret(c, jsii.String("Token"), &awssecretsmanager.SecretProps{
		SecretName: jsii.String(tokenSecretName(props.NamePrefix, spec.Name)),
		Description: jsii.String(fmt.Sprintf("%s access token, written by %s (JSON contract of shared/token). "+
			"Apps read it; nobody else writes it.", spec.Title, functionName(props.NamePrefix, spec.FunctionName()))),
		RemovalPolicy:  awscdk.RemovalPolicy_DESTROY,
		ReplicaRegions: replicaRegions(props.TokenReplicaRegions),
	})
	tagSecret(r.Token, spec.Name, vendors.DefaultConnection, vendors.RoleToken)
	suppressRotation(r.Token, tokenRotationReason)

	env := map[string]string{
		vendors.EnvCredentialsSecretID: r.CredentialsID,
		vendors.EnvTokenSecretID:       *r.Token.SecretArn(),
	}
	if spec.DefaultURL != "" {
		env[spec.URLEnv] = spec.DefaultURL
	}
	r.env = maps.Clone(env)
	// Two runs of one connection never race: the function runs one at a
	// time. With lanes it runs none itself: it hands each to the lane of
	// its connection (reserved concurrency 1 each), and may wait for every
	// lane at once.
	timeout, reserved := 0, 1
	if props.Lanes >= 2 {
		env[vendors.EnvConnectionLanes] = strconv.Itoa(props.Lanes)
		timeout, reserved = laneFrontTimeout, props.Lanes
	}
	gf := newGoFunction(c, "Function", goFunctionProps{
		AssetDir:            props.AssetDir,
		SourceDir:           props.SourceDir,
		Folder:              spec.FunctionName(),
		PhysicalName:        functionName(props.NamePrefix, spec.FunctionName()),
		Description:         fmt.Sprintf("Refreshes the %s token every %s", spec.Title, human(spec.Every)),
		Environment:         env,
		Timeout:             timeout,
		ReservedConcurrency: reserved,
		Logs:                props.Logs,
		Network:             props.Network,
	})
	r.Function, r.LogGroup = gf.Function, gf.LogGroup
	// Scheduler invokes asynchronously: Lambda retries a failed run twice,
	// but never after the next scheduled run is due.
	r.Function.ConfigureAsyncInvoke(&awslambda.EventInvokeConfigOptions{
		RetryAttempts: jsii.Number(2),
		MaxEventAge:   awscdk.Duration_Seconds(jsii.Number(clampSeconds(spec.Every, 60, 6*3600))),
	})

	r.RejectAlias = awslambda.NewAlias(c, jsii.String("RejectAlias"), &awslambda.AliasProps{
		AliasName: jsii.String(vendors.RejectAlias),
		Version:   r.Function.LatestVersion(),
		Description: jsii.String("Apps invoke this alias to report a token " + spec.Title +
			" refused; invocations through it never force a refresh"),
	})

	r.Credentials.GrantRead(r.Function, nil)
	grantReadWrite(r.Token, r.Function)
	grantBatchRead(r.Function)

	r.DeadLetterQueue = awssqs.NewQueue(c, jsii.String("DeadLetterQueue"), &awssqs.QueueProps{
		Encryption:      awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL:      jsii.Bool(true),
		RetentionPeriod: awscdk.Duration_Days(jsii.Number(14)),
		// Declares the queue a dead-letter queue (SQS's default, any queue
		// of the account may redrive into it): Control Tower's CT.SQS.PR.1
		// asks every other queue for a dead-letter queue of its own.
		RedriveAllowPolicy: &awssqs.RedriveAllowPolicy{RedrivePermission: awssqs.RedrivePermission_ALLOW_ALL},
	})
	cdknag.NagSuppressions_AddResourceSuppressions(r.DeadLetterQueue, &[]*cdknag.NagPackSuppression{{
		Id:     jsii.String("AwsSolutions-SQS3"),
		Reason: jsii.String("This queue is itself the dead-letter queue of the refresher's schedule."),
	}}, jsii.Bool(false))

	// The schedule's own role may invoke this refresher and send to its
	// dead-letter queue, nothing else.
	schedulerRole := awsiam.NewRole(c, jsii.String("SchedulerRole"), &awsiam.RoleProps{
		AssumedBy: awsiam.NewServicePrincipal(jsii.String("scheduler.amazonaws.com"), &awsiam.ServicePrincipalOpts{
			Conditions: &map[string]any{
				"StringEquals": map[string]any{"aws:SourceAccount": awscdk.Aws_ACCOUNT_ID()},
			},
		}),
		Description: jsii.String("EventBridge Scheduler invokes " + functionName(props.NamePrefix, spec.FunctionName())),
	})

	r.SchedulerRole = schedulerRole
	r.Schedule = awsscheduler.NewSchedule(c, jsii.String("Schedule"), &awsscheduler.ScheduleProps{
		ScheduleName: jsii.String(functionName(props.NamePrefix, spec.Name)),
		Description:  jsii.String(fmt.Sprintf("Runs the %s refresher every %s", spec.Title, human(spec.Every))),
		Schedule:     awsscheduler.ScheduleExpression_Rate(rate),
		TimeWindow:   awsscheduler.TimeWindow_Off(),
		Target: awsschedulertargets.NewLambdaInvoke(r.Function, &awsschedulertargets.ScheduleTargetBaseProps{
			Role:            schedulerRole,
			Input:           awsscheduler.ScheduleTargetInput_FromObject(map[string]any{}),
			DeadLetterQueue: r.DeadLetterQueue,
			RetryAttempts:   jsii.Number(5),
			// A delivery older than one period is superseded by the next run.
			MaxEventAge: awscdk.Duration_Seconds(jsii.Number(clampSeconds(spec.Every, 60, 86400))),
		}),
	})
	// After NewSchedule: the target adds the role's policy on binding.
	cdknag.NagSuppressions_AddResourceSuppressions(schedulerRole, &[]*cdknag.NagPackSuppression{{
		Id: jsii.String("AwsSolutions-IAM5"),
		Reason: jsii.String("The Scheduler Lambda target grants lambda:InvokeFunction on this one refresher and " +
			"its versions (<function ARN>:*); no other function is reachable."),
		AppliesTo: &[]any{&cdknag.RegexAppliesTo{Regex: jsii.String(`/^Resource::<.*Function[0-9A-F]{8}\.Arn>:\*$/`)}},
	}}, jsii.Bool(true))
	return r
}

// secretID is the SecretId a function uses: the full ARN of a secret of
// this stack, or the name of an imported one (whose ARN suffix is unknown).
func secretID(secret awssecretsmanager.ISecret, imported bool) string {
	if imported {
		return *secret.SecretName()
	}
	return *secret.SecretArn()
}

// grantReadWrite lets fn read a secret's current value, write new versions
// and count them (a reject is refused once the token secret nears Secrets
// Manager's quota of versions a day), and nothing else (no UpdateSecret,
// no DeleteSecret).
func grantReadWrite(secret awssecretsmanager.ISecret, grantee awsiam.IGrantable) {
	secret.GrantRead(grantee, nil)
	awsiam.Grant_AddToPrincipal(&awsiam.GrantOnPrincipalOptions{
		Grantee:      grantee,
		Actions:      jsii.Strings("secretsmanager:PutSecretValue", "secretsmanager:ListSecretVersionIds"),
		ResourceArns: jsii.Strings(*secret.SecretArn()),
	})
}

// grantBatchRead lets fn read the secret that decides a run and the
// credentials in one BatchGetSecretValue call. The action has no resource
// type, so IAM takes it only on "*"; it reads nothing by itself: Secrets
// Manager also checks secretsmanager:GetSecretValue on each secret named,
// which fn has on its own secrets only (and the read guards deny everyone
// else).
func grantBatchRead(fn awslambda.IFunction) {
	awsiam.Grant_AddToPrincipal(&awsiam.GrantOnPrincipalOptions{
		Grantee:      fn,
		Actions:      jsii.Strings("secretsmanager:BatchGetSecretValue"),
		ResourceArns: jsii.Strings("*"),
	})
	cdknag.NagSuppressions_AddResourceSuppressions(fn.Role(), &[]*cdknag.NagPackSuppression{{
		Id: jsii.String("AwsSolutions-IAM5"),
		Reason: jsii.String("secretsmanager:BatchGetSecretValue has no resource type and is granted on *; it returns only " +
			"secrets the role may also GetSecretValue, which it may for this vendor's own secrets only."),
		AppliesTo: &[]any{"Resource::*"},
	}}, jsii.Bool(true))
}

// withoutValue makes secret an empty secret: CloudFormation creates it with
// no version and never writes a value to it. The L2 Secret would otherwise
// carry GenerateSecretString (or a SecretString): a template value, which
// CloudFormation writes again whenever it changes, over whatever a person
// stored since. Without one, no stack update can overwrite the credentials;
// until they are filled in, reading the secret finds no value.
func withoutValue(secret awssecretsmanager.Secret) {
	cfn := secret.Node().DefaultChild().(awssecretsmanager.CfnSecret)
	cfn.AddPropertyDeletionOverride(jsii.String("GenerateSecretString"))
	cfn.AddPropertyDeletionOverride(jsii.String("SecretString"))
}

// credentialsDescription describes a connection's credentials secret
// ("" is the default connection).
func credentialsDescription(spec vendors.Spec, connection string) string {
	target, of := spec.Name, ""
	if connection != "" {
		target, of = spec.Name+"/"+connection, " of connection "+connection
	}
	d := fmt.Sprintf("%s credentials%s (JSON), empty until an operator fills them in: tokenctl set-credentials %s. Required: %s.",
		spec.Title, of, target, strings.Join(spec.CredentialFields, ", "))
	if len(spec.OptionalFields) > 0 {
		d += " Optional: " + strings.Join(spec.OptionalFields, ", ") + "."
	}
	return d
}

// scheduleRate turns a period into a Duration in its largest whole unit,
// so the schedule reads rate(6 hours) rather than rate(360 minutes).
func scheduleRate(every time.Duration) awscdk.Duration {
	switch {
	case every < time.Minute || every%time.Minute != 0:
		panic(fmt.Sprintf("tokenrefresher: schedule period %s is not a whole number of minutes", every))
	case every%(24*time.Hour) == 0:
		return awscdk.Duration_Days(jsii.Number(float64(every / (24 * time.Hour))))
	case every%time.Hour == 0:
		return awscdk.Duration_Hours(jsii.Number(float64(every / time.Hour)))
	default:
		return awscdk.Duration_Minutes(jsii.Number(float64(every / time.Minute)))
	}
}

// human writes a period the way the schedule does: "15 minutes", "6 hours".
func human(d time.Duration) string {
	n, unit := int64(d/time.Minute), "minute"
	switch {
	case d%(24*time.Hour) == 0:
		n, unit = int64(d/(24*time.Hour)), "day"
	case d%time.Hour == 0:
		n, unit = int64(d/time.Hour), "hour"
	}
	if n != 1 {
		unit += "s"
	}
	return fmt.Sprintf("%d %s", n, unit)
}

// clampSeconds returns d in seconds, limited to [lo, hi].
func clampSeconds(d time.Duration, lo, hi float64) float64 {
	s := d.Seconds()
	if s < lo {
		return lo
	}
	if s > hi {
		return hi
	}
	return s
}

// Why Secrets Manager rotation is off for each kind of secret (cdk-nag's
// AwsSolutions-SMG4).
const (
	credentialsRotationReason = "Vendor client credentials are issued and revoked in the vendor's portal; " +
		"Secrets Manager cannot rotate them. The operator replaces the value when the vendor rotates."
	tokenRotationReason = "The token secret is rotated by its own refresher on an EventBridge Scheduler " +
		"schedule derived from the token lifetime; Secrets Manager rotation would be a second writer."
	refreshTokenRotationReason = "The vendor rotates the refresh token on every use and the refresher stores each new one; " +
		"a Secrets Manager rotation function would race the refresher and lose the token."
)

// suppressRotation records why a secret has no rotation schedule.
func suppressRotation(secret awssecretsmanager.ISecret, reason string) {
	cdknag.NagSuppressions_AddResourceSuppressions(secret, &[]*cdknag.NagPackSuppression{{
		Id:     jsii.String("AwsSolutions-SMG4"),
		Reason: jsii.String(reason),
	}}, jsii.Bool(false))
}
