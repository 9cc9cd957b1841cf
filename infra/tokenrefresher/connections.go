package tokenrefresher

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsscheduler"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsschedulertargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/token-refresher/token-refresher/shared/vendors"
)

// The environment a function gets when its vendor has named connections
// (the default connection's variables stay as they are):
const (
	// EnvConnections lists the named connections the function may serve,
	// comma-separated; an event naming any other is refused.
	EnvConnections = vendors.EnvConnections
	// EnvNamePrefix is the deployment's name prefix: a named connection's
	// secret is vendors.SecretName(prefix, vendor, connection, role).
	EnvNamePrefix = vendors.EnvNamePrefix
	// EnvCredentialsSecretIDs maps, as a JSON object, a named connection to
	// an imported credentials secret that replaces its own.
	EnvCredentialsSecretIDs = vendors.EnvCredentialsSecretIDs
)

// connectionShards is how many nested stacks may hold a vendor's named
// connections. A connection's shard is a hash of its name, so adding or
// removing connections never moves another one to another stack (which
// would replace its secrets); eight shards keep 100 connections per
// vendor far below CloudFormation's 500 resources per stack.
const connectionShards = 8

// maxResourcesPerShard leaves room below CloudFormation's 500.
const maxResourcesPerShard = 450

// maxConnectionsEnv keeps CONNECTIONS within Lambda's 4 KB of environment,
// with room for the other variables; longer lists go to a layer
// (addConnectionsLayer).
const maxConnectionsEnv = 3000

// Connection is a named account of a vendor: its own secrets, schedule
// and dead man's switch, served by the vendor's one refresher function.
type Connection struct {
	constructs.Construct
	Name string
	// Credentials is the connection's credentials secret: created empty,
	// or imported (CredentialsImported) by CredentialsName.
	Credentials         awssecretsmanager.ISecret
	CredentialsName     string
	CredentialsImported bool
	Token               awssecretsmanager.Secret
	// RefreshToken is set for authorization-code vendors.
	RefreshToken awssecretsmanager.Secret
	// Schedule invokes the refresher with {"connection": Name}.
	Schedule awsscheduler.Schedule
	// Expiry is the connection's dead man's switch; nil when the vendor's
	// tokens do not expire.
	Expiry awscloudwatch.Alarm
}

// shardOf is the shard of a connection name among connectionShards,
// stable across deployments.
func shardOf(name string) int { return shardIn(name, connectionShards) }

// shardIn is the shard of a connection name among n.
func shardIn(name string, n int) int {
	h := fnv.New32a()
	h.Write([]byte(name))
	return int(h.Sum32() % uint32(n))
}

// secretPatternArn matches the secrets of role of every named connection
// of vendor: <prefix>/<vendor>/<connection>/<role>-<6 random characters>.
// It never matches the default connection's secrets (no connection
// element) nor another vendor's.
//
// The partition, region and account are always the deployment's
// pseudo-parameters, also in a stack with a concrete environment (as every
// `cdk deploy` gives it): the pattern is then the same in every template,
// and the cdk-nag reasons that name it match it wherever it is deployed.
func secretPatternArn(scope constructs.Construct, prefix, vendor, role string) *string {
	return awscdk.Stack_Of(scope).FormatArn(&awscdk.ArnComponents{
		Partition:    awscdk.Aws_PARTITION(),
		Region:       awscdk.Aws_REGION(),
		Account:      awscdk.Aws_ACCOUNT_ID(),
		Service:      jsii.String("secretsmanager"),
		Resource:     jsii.String("secret"),
		ResourceName: jsii.String(prefix + "/" + vendor + "/*/" + role + "-??????"),
		ArnFormat:    awscdk.ArnFormat_COLON_RESOURCE_NAME,
	})
}

// connectionPatternNagRegex matches, in cdk-nag's notation, the name
// patterns of secretPatternArn and replicaPatternArns.
const connectionPatternNagRegex = `/^Resource::arn:<AWS::Partition>:secretsmanager:(<AWS::Region>|[a-z]{2}(-[a-z]+)+-[0-9]):<AWS::AccountId>:secret:.*/\*/.*-\?\?\?\?\?\?$/`

// grantConnectionSecrets grants g, by name pattern, the named connections'
// secrets of spec with the actions of the default connection's grants:
// read the credentials and the token, write the token and (an
// authorization-code vendor) read, write and swap the refresh token. The
// policy stays the same size however many connections there are.
func grantConnectionSecrets(scope constructs.Construct, g awsiam.IGrantable, prefix string, spec vendors.Spec) {
	creds := secretPatternArn(scope, prefix, spec.Name, vendors.RoleCredentials)
	token := secretPatternArn(scope, prefix, spec.Name, vendors.RoleToken)
	refresh := secretPatternArn(scope, prefix, spec.Name, vendors.RoleRefreshToken)
	grant := func(actions []string, arns ...*string) {
		awsiam.Grant_AddToPrincipal(&awsiam.GrantOnPrincipalOptions{Grantee: g, Actions: jsii.Strings(actions...), ResourceArns: &arns})
	}
	read := []string{"secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"}
	grant(read, creds, token)
	grant([]string{"secretsmanager:PutSecretValue", "secretsmanager:ListSecretVersionIds"}, token)
	if spec.AuthCode {
		grant(append(slices.Clone(read), "secretsmanager:PutSecretValue",
			"secretsmanager:UpdateSecretVersionStage", "secretsmanager:ListSecretVersionIds"), refresh)
	}
}

// suppressConnectionPatterns explains to cdk-nag the pattern grants of
// grantConnectionSecrets on role.
func suppressConnectionPatterns(role awsiam.IRole, prefix string, spec vendors.Spec) {
	cdknag.NagSuppressions_AddResourceSuppressions(role, &[]*cdknag.NagPackSuppression{{
		Id: jsii.String("AwsSolutions-IAM5"),
		Reason: jsii.String("Named connections' secrets are granted by name pattern " + prefix + "/" + spec.Name +
			"/*/<role>-??????: only this vendor's connection secrets of that role match, and the policy stays one " +
			"statement per role however many connections there are."),
		AppliesTo: &[]any{&cdknag.RegexAppliesTo{Regex: jsii.String(connectionPatternNagRegex)}},
	}}, jsii.Bool(true))
}

// connectionsProps is what addConnections needs of the deployment.
type connectionsProps struct {
	Refresher  *Refresher
	Connect    *AuthCodeConnect // nil unless the vendor is AuthCode
	Names      []string
	NamePrefix string
	// Imported maps a connection name to an existing credentials secret.
	Imported   map[string]string
	BreakGlass []string
	Deployers  []string
	// TokenReplicaRegions replicate each connection's token secret.
	TokenReplicaRegions []string
	// Shards is the number of nested stacks the connections are spread
	// over; connectionShards if zero.
	Shards int
}

// addConnections creates the named connections of one vendor in shard
// stacks nested in scope, and gives the vendor's functions what they need
// to serve them: the environment and grants on the connections' secrets by
// name pattern (a policy that stays the same size however many connections
// there are).
func addConnections(scope constructs.Construct, props connectionsProps) []*Connection {
	r := props.Refresher
	spec := r.Spec
	names := append([]string(nil), props.Names...)
	sort.Strings(names)

	env := map[string]string{EnvNamePrefix: props.NamePrefix}
	// Names that fit in the environment go there, as they always have;
	// more go to a layer the functions read at cold start.
	var layer awslambda.LayerVersion
	if list := strings.Join(names, ","); len(list) <= maxConnectionsEnv {
		env[EnvConnections] = list
	} else {
		fns := []awslambda.Function{r.Function}
		if props.Connect != nil {
			fns = append(fns, props.Connect.Callback)
		}
		env[EnvConnectionsFile], layer = addConnectionsLayer(scope, spec, names, fns...)
	}
	imported := map[string]string{}
	for _, n := range names {
		if id, ok := props.Imported[n]; ok {
			imported[n] = id
		}
	}
	if len(imported) > 0 {
		b, _ := json.Marshal(imported)
		env[EnvCredentialsSecretIDs] = string(b)
	}
	functions := []awsiam.IGrantable{r.Function}
	if props.Connect != nil {
		functions = append(functions, props.Connect.Callback)
	}
	// In a stable order, so that the template's text is the same every
	// synth.
	for _, k := range slices.Sorted(maps.Keys(env)) {
		r.Function.AddEnvironment(jsii.String(k), jsii.String(env[k]), nil)
		if props.Connect != nil {
			props.Connect.Callback.AddEnvironment(jsii.String(k), jsii.String(env[k]), nil)
		}
	}

	for _, fn := range functions {
		grantConnectionSecrets(scope, fn, props.NamePrefix, spec)
	}
	roles := []awsiam.IRole{r.Function.Role()}
	if props.Connect != nil {
		roles = append(roles, props.Connect.Callback.Role())
	}
	for _, role := range roles {
		suppressConnectionPatterns(role, props.NamePrefix, spec)
	}

	// With lanes, the lanes run the connections: the secrets' guards let
	// their roles (by path) through as well, and the schedules invoke them.
	readers := roleArns(roles, props.BreakGlass...)
	lanes := map[int]*Lane{}
	if r.props.Lanes >= 2 {
		r.LanesStack, r.Lanes = addLanes(scope, lanesProps{
			Refresher: r, Names: names, NamePrefix: props.NamePrefix, Env: env, Layer: layer, Connect: props.Connect,
		})
		for _, l := range r.Lanes {
			lanes[l.Index] = l
		}
		readers = append(readers, laneRolePattern(props.NamePrefix, spec.Name))
	}

	nShards := props.Shards
	if nShards == 0 {
		nShards = connectionShards
	}
	shards := map[int]constructs.Construct{}
	shard := func(i int) constructs.Construct {
		if s, ok := shards[i]; ok {
			return s
		}
		s := awscdk.NewNestedStack(scope, jsii.String(exportID(spec.Name)+"Connections"+strconv.Itoa(i)), &awscdk.NestedStackProps{
			Description: jsii.String(fmt.Sprintf("token-refresher: named connections of %s (shard %d of %d)", spec.Title, i, nShards)),
		})
		shards[i] = s
		return s
	}

	var out []*Connection
	for _, name := range names {
		c := constructs.NewConstruct(shard(shardIn(name, nShards)), jsii.String("Connection-"+name))
		conn := &Connection{Construct: c, Name: name}
		if id, ok := props.Imported[name]; ok {
			conn.Credentials = awssecretsmanager.Secret_FromSecretNameV2(c, jsii.String("Credentials"), jsii.String(id))
			conn.CredentialsName, conn.CredentialsImported = id, true
			conn.Credentials.GrantRead(r.Function, nil)
			if props.Connect != nil {
				conn.Credentials.GrantRead(props.Connect.Callback, nil)
			}
			if lane := lanes[vendors.LaneOf(name, r.props.Lanes)]; lane != nil {
				conn.Credentials.GrantRead(lane.Function, nil)
			}
		} else {
			conn.CredentialsName = vendors.SecretName(props.NamePrefix, spec.Name, name, vendors.RoleCredentials)
			s := awssecretsmanager.NewSecret(c, jsii.String("Credentials"), &awssecretsmanager.SecretProps{
				SecretName:    jsii.String(conn.CredentialsName),
				Description:   jsii.String(credentialsDescription(spec, name)),
				RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
			})
			withoutValue(s)
			conn.Credentials = s
			guardReads(s, readers)
			suppressRotation(s, credentialsRotationReason)
		}
		tagIfOwned(conn.Credentials, !conn.CredentialsImported, spec.Name, name, vendors.RoleCredentials)

		conn.Token = awssecretsmanager.NewSecret(c, jsii.String("Token"), &awssecretsmanager.SecretProps{
			SecretName: jsii.String(vendors.SecretName(props.NamePrefix, spec.Name, name, vendors.RoleToken)),
			Description: jsii.String(fmt.Sprintf("%s access token of connection %s, written by %s (JSON contract of shared/token). "+
				"Apps read it; nobody else writes it.", spec.Title, name, functionName(props.NamePrefix, spec.FunctionName()))),
			RemovalPolicy:  awscdk.RemovalPolicy_DESTROY,
			ReplicaRegions: replicaRegions(props.TokenReplicaRegions),
		})
		tagSecret(conn.Token, spec.Name, name, vendors.RoleToken)
		suppressRotation(conn.Token, tokenRotationReason)

		if spec.AuthCode {
			conn.RefreshToken = awssecretsmanager.NewSecret(c, jsii.String("RefreshToken"), &awssecretsmanager.SecretProps{
				SecretName: jsii.String(vendors.SecretName(props.NamePrefix, spec.Name, name, vendors.RoleRefreshToken)),
				Description: jsii.String(spec.Title + " refresh token of connection " + name +
					", written by the connect callback and the refresher. Apps never read it."),
				RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
			})
			tagSecret(conn.RefreshToken, spec.Name, name, vendors.RoleRefreshToken)
			guardReads(conn.RefreshToken, readers)
			guardWrites(conn.RefreshToken, readers, props.Deployers)
			suppressRotation(conn.RefreshToken, refreshTokenRotationReason)
		}

		scheduleName := functionName(props.NamePrefix, spec.Name) + "-" + name
		if len(scheduleName) > 64 {
			panic(fmt.Sprintf("tokenrefresher: props: connection %s/%s: schedule name %q is longer than 64 characters; use a shorter name prefix or connection name",
				spec.Name, name, scheduleName))
		}
		// Without lanes every connection runs at the rate's own minute in
		// the vendor's one function. A lane's connections are spread over
		// the period instead (vendors.ScheduleOffset), so that runs of one
		// lane seldom queue behind each other.
		var target awslambda.IFunction = r.Function
		var role awsiam.IRole = r.SchedulerRole
		expression, window, in := awsscheduler.ScheduleExpression_Rate(scheduleRate(spec.Every)), awsscheduler.TimeWindow_Off(), ""
		if lane := lanes[vendors.LaneOf(name, r.props.Lanes)]; lane != nil {
			// addLanes grants the role the lanes, unqualified: the target
			// would add each lane twice (<lane> and <lane>:*) to the
			// role's policy in the parent, which outgrows IAM's 10,240
			// characters at 50 lanes.
			target, role, in = lane.Function, r.SchedulerRole.WithoutPolicyUpdates(nil), fmt.Sprintf(" in lane %d", lane.Index)
			window = awsscheduler.TimeWindow_Flexible(awscdk.Duration_Minutes(jsii.Number(1)))
			if cron, ok := vendors.ScheduleCron(spec.Every, vendors.ScheduleOffset(name, spec.Every)); ok {
				expression = awsscheduler.ScheduleExpression_Expression(jsii.String(cron), nil)
			}
		}
		conn.Schedule = awsscheduler.NewSchedule(c, jsii.String("Schedule"), &awsscheduler.ScheduleProps{
			ScheduleName: jsii.String(scheduleName),
			Description:  jsii.String(fmt.Sprintf("Runs the %s refresher for connection %s every %s%s", spec.Title, name, human(spec.Every), in)),
			Schedule:     expression,
			TimeWindow:   window,
			Target: awsschedulertargets.NewLambdaInvoke(target, &awsschedulertargets.ScheduleTargetBaseProps{
				Role:            role,
				Input:           awsscheduler.ScheduleTargetInput_FromObject(map[string]any{"connection": name}),
				DeadLetterQueue: r.DeadLetterQueue,
				RetryAttempts:   jsii.Number(5),
				MaxEventAge:     awscdk.Duration_Seconds(jsii.Number(clampSeconds(spec.Every, 60, 86400))),
			}),
		})
		out = append(out, conn)
	}
	for i, s := range shards {
		if n := countResources(s); n > maxResourcesPerShard {
			panic(fmt.Sprintf("tokenrefresher: props: connections of %s: shard %d would hold %d resources (at most %d); the connections hash unevenly, or there are too many for %d shards (set ConnectionShards, context connectionShards, before the connections are first deployed: docs/deploying.md)",
				spec.Name, i, n, maxResourcesPerShard, nShards))
		}
	}
	return out
}

// addConnectionAlarms gives each named connection of an expiring vendor
// its own dead man's switch, next to its other resources.
func addConnectionAlarms(prefix string, spec vendors.Spec, conns []*Connection, notify func(awscloudwatch.Alarm) awscloudwatch.Alarm) {
	if !spec.Expires() {
		return
	}
	for _, conn := range conns {
		conn.Expiry = notify(newExpiryAlarm(conn.Construct, "Expiry", prefix, spec, conn.Name))
	}
}

// countResources counts the CloudFormation resources under scope.
func countResources(scope constructs.Construct) int {
	n := 0
	for _, c := range *scope.Node().FindAll(constructs.ConstructOrder_PREORDER) {
		if *awscdk.CfnResource_IsCfnResource(c) {
			n++
		}
	}
	return n
}

// tagIfOwned tags a secret the stack created; an imported one keeps its
// own tags.
func tagIfOwned(secret awssecretsmanager.ISecret, owned bool, vendor, connection, role string) {
	if owned {
		tagSecret(secret, vendor, connection, role)
	}
}
