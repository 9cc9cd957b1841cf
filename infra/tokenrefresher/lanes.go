package tokenrefresher

import (
	"fmt"
	"maps"
	"strconv"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/token-refresher/token-refresher/shared/vendors"
)

// laneFrontTimeout is the deadline of a vendor function whose named
// connections run in lanes: it hands a run to the connection's lane and
// waits for the reply, and the lane (reserved concurrency 1) may first
// finish a scheduled run of another connection (functionTimeout) before it
// takes this one (functionTimeout), with room for throttled retries.
const laneFrontTimeout = 3 * functionTimeout

// serialisedConnections is how many named connections a vendor may have
// before the synth warns that, without lanes, their runs queue behind each
// other in the vendor's one function.
const serialisedConnections = 100

// Lane is one lane of a vendor's named connections: a function with a
// reserved concurrency of 1 that runs the connections vendors.LaneOf gives
// it, on their schedules and when the vendor's function hands it a run.
type Lane struct {
	// Index is the lane's number, 0 to lanes-1 (CONNECTION_LANE).
	Index    int
	Function awslambda.Function
	LogGroup awslogs.LogGroup
	// Connections are the names of the connections in the lane, sorted.
	Connections []string
	// Default is true for the lane of the default connection
	// (vendors.LaneOf of its name): it runs that connection too.
	Default bool
}

// lanesProps is what addLanes needs.
type lanesProps struct {
	Refresher *Refresher
	// Names are the vendor's named connections, sorted.
	Names      []string
	NamePrefix string
	// Env holds the named-connection variables of the vendor's function
	// (NAME_PREFIX, CONNECTIONS or CONNECTIONS_FILE,
	// CREDENTIALS_SECRET_IDS); Layer, when set, ships CONNECTIONS_FILE.
	Env   map[string]string
	Layer awslambda.ILayerVersion
	// Connect is the vendor's connect flow (authorization-code vendors):
	// its refresh-token secret is the default connection's.
	Connect *AuthCodeConnect
}

// laneRolePath is the IAM path of the roles of a vendor's lanes:
// /<prefix>/lanes/<vendor>/<region>/. The read and write guards of the
// vendor's named connections' secrets let the roles under it through by
// pattern (laneRolePattern), so that a guard stays one entry long however
// many lanes there are.
func laneRolePath(prefix, vendor string) string {
	return "/" + prefix + "/lanes/" + vendor + "/" + *awscdk.Aws_REGION() + "/"
}

// laneRolePattern matches the ARN of every role under laneRolePath, as
// aws:PrincipalArn gives it (a role's ARN includes its path).
func laneRolePattern(prefix, vendor string) *string {
	return awscdk.Fn_Join(jsii.String(""), &[]*string{
		jsii.String("arn:"), awscdk.Aws_PARTITION(), jsii.String(":iam::"), awscdk.Aws_ACCOUNT_ID(),
		jsii.String(":role"), jsii.String(laneRolePath(prefix, vendor)), jsii.String("*"),
	})
}

// addLanes creates, in one nested stack <Vendor>Lanes, a lane function for
// every lane that one of the vendor's connections hashes to
// (vendors.LaneOf; the default connection as "default"), and lets the
// vendor's function and its schedules' role invoke exactly them. The
// vendor's function then runs nothing itself: it hands every run to a
// lane.
//
// A lane is the vendor function's bootstrap with its memory, architecture,
// logging, VPC placement and retries, reserved concurrency 1, and the
// vendor function's environment plus CONNECTION_LANES and
// CONNECTION_LANE. Its role may write its own log group and use the named
// connections' secrets as the vendor function may (the pattern grants,
// and imported credentials of its own connections, granted by
// addConnections); the default connection's lane may also use the default
// connection's secrets as the vendor function may. Nothing else. The other
// lanes get the default connection's CREDENTIALS_SECRET_ID and
// TOKEN_SECRET_ID (and REFRESH_SECRET_ID), which the function's
// configuration requires at cold start (refresh.LoadTargets), but no grant
// on those secrets.
//
// It panics when a lane's function name would be longer than Lambda's 64
// characters (checkLanes, once the lanes' alarms are in, bounds the
// stack's resources).
func addLanes(scope constructs.Construct, p lanesProps) (awscdk.NestedStack, []*Lane) {
	r := p.Refresher
	spec, n := r.Spec, r.props.Lanes
	front := functionName(p.NamePrefix, spec.FunctionName())
	byLane := make([][]string, n)
	for _, name := range p.Names {
		i := vendors.LaneOf(name, n)
		byLane[i] = append(byLane[i], name)
	}
	defaultLane := vendors.LaneOf(vendors.DefaultConnection, n)
	used := func(i int) bool { return len(byLane[i]) > 0 || i == defaultLane }
	for i := range byLane {
		if name := vendors.LaneFunctionName(front, i); used(i) && len(name) > 64 {
			panic(fmt.Sprintf("tokenrefresher: props: ConnectionLanes: lane function name %q of %s is longer than Lambda's 64 characters; use a shorter name prefix",
				name, spec.Name))
		}
	}

	ns := awscdk.NewNestedStack(scope, jsii.String(exportID(spec.Name)+"Lanes"), &awscdk.NestedStackProps{
		Description: jsii.String(fmt.Sprintf("token-refresher: the %d lanes of %s's named connections", n, spec.Title)),
	})
	// One copy of the vendor's bootstrap serves every lane of the stack.
	code := functionCode(r.props.AssetDir, r.props.SourceDir, spec.FunctionName())
	var lanes []*Lane
	for i, names := range byLane {
		if !used(i) {
			continue
		}
		env := maps.Clone(r.env)
		maps.Copy(env, p.Env)
		env[vendors.EnvConnectionLanes] = strconv.Itoa(n)
		env[vendors.EnvConnectionLane] = strconv.Itoa(i)
		name := vendors.LaneFunctionName(front, i)
		gf := newGoFunction(ns, "Lane"+strconv.Itoa(i), goFunctionProps{
			Code:         code,
			PhysicalName: name,
			Description: fmt.Sprintf("Refreshes the %s tokens of the named connections in lane %d of %d, every %s each",
				spec.Title, i, n, human(spec.Every)),
			Environment:         env,
			ReservedConcurrency: 1, // two runs of one connection never race
			RolePath:            laneRolePath(p.NamePrefix, spec.Name),
			Logs:                r.props.Logs,
			Network:             r.props.Network,
		})
		fn := gf.Function
		fn.ConfigureAsyncInvoke(&awslambda.EventInvokeConfigOptions{
			RetryAttempts: jsii.Number(2),
			MaxEventAge:   awscdk.Duration_Seconds(jsii.Number(clampSeconds(spec.Every, 60, 6*3600))),
		})
		if p.Layer != nil {
			fn.AddLayers(p.Layer)
		}
		grantConnectionSecrets(ns, fn, p.NamePrefix, spec)
		grantBatchRead(fn)
		suppressConnectionPatterns(fn.Role(), p.NamePrefix, spec)
		if i == defaultLane {
			r.Credentials.GrantRead(fn, nil)
			grantReadWrite(r.Token, fn)
			if p.Connect != nil {
				grantCompareAndSwap(p.Connect.RefreshToken, fn)
			}
		}
		lanes = append(lanes, &Lane{Index: i, Function: fn, LogGroup: gf.LogGroup, Connections: names, Default: i == defaultLane})
	}

	// The vendor's function hands each run of a named connection to its
	// lane, and the schedules invoke the lanes: both roles may invoke
	// exactly the lanes, unqualified, by a policy of the lanes' own stack
	// (the parent's policies stay as they are, and one ARN per lane keeps
	// the roles far below IAM's 10,240 characters of inline policy at 50
	// lanes). The function changes to lanes once they exist.
	arns := make([]*string, len(lanes))
	for i, l := range lanes {
		arns[i] = l.Function.FunctionArn()
	}
	awsiam.NewPolicy(ns, jsii.String("InvokeLanes"), &awsiam.PolicyProps{
		Roles: &[]awsiam.IRole{r.Function.Role(), r.SchedulerRole},
		Statements: &[]awsiam.PolicyStatement{awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions:   jsii.Strings("lambda:InvokeFunction"),
			Resources: &arns,
		})},
	})
	r.Function.Node().AddDependency(ns)

	// The default connection's schedule invokes its lane, by a name that
	// this stack sets (a reference into the nested stack would add an
	// output and a parameter for nothing).
	laneArn := awscdk.Stack_Of(r.Function).FormatArn(&awscdk.ArnComponents{
		Service:      jsii.String("lambda"),
		Resource:     jsii.String("function"),
		ResourceName: jsii.String(vendors.LaneFunctionName(front, defaultLane)),
		ArnFormat:    awscdk.ArnFormat_COLON_RESOURCE_NAME,
	})
	cfn := r.Schedule.Node().DefaultChild().(awscdk.CfnResource)
	cfn.AddPropertyOverride(jsii.String("Target.Arn"), laneArn)
	cfn.AddPropertyOverride(jsii.String("Description"), jsii.String(fmt.Sprintf("Runs the %s refresher every %s in lane %d",
		spec.Title, human(spec.Every), defaultLane)))
	r.Schedule.Node().AddDependency(ns)
	return ns, lanes
}

// checkLanes panics when a vendor's lanes stack holds more resources than
// CloudFormation comfortably takes (maxResourcesPerShard). Call it once
// the stack is complete (alarms included).
func checkLanes(r *Refresher) {
	if r.LanesStack == nil {
		return
	}
	if k := countResources(r.LanesStack); k > maxResourcesPerShard {
		panic(fmt.Sprintf("tokenrefresher: props: ConnectionLanes %d: the lanes stack of %s would hold %d resources (at most %d); use fewer lanes",
			r.props.Lanes, r.Spec.Name, k, maxResourcesPerShard))
	}
}

// addLaneAlarms gives each lane its errors alarm, like the vendor
// function's, in the lanes' nested stack.
func addLaneAlarms(prefix string, r *Refresher, a *Alarms) {
	for _, l := range r.Lanes {
		name := vendors.LaneFunctionName(r.Spec.FunctionName(), l.Index)
		a.Errors[name] = a.notify(newErrorsAlarm(r.LanesStack, "Lane"+strconv.Itoa(l.Index)+"Errors", prefix, name, l.Function))
	}
}
