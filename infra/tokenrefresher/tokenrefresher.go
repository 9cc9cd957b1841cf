package tokenrefresher

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/token-refresher/token-refresher/shared/vendors"
)

// DefaultNamePrefix starts the names of secrets, functions, schedules and
// alarms: token secrets are <prefix>/<vendor>/token.
const DefaultNamePrefix = vendors.DefaultPrefix

// namePrefixPattern keeps names valid for every service (a function name
// is at most 64 characters; "-admitad-callback" takes 17 of them).
var namePrefixPattern = regexp.MustCompile(`^[a-z][a-z0-9-]{0,29}$`)

// Props configures the refreshers of one deployment. Only Vendors is
// required.
type Props struct {
	// AssetDir, when set, holds prebuilt functions, the output of `make
	// build`: <AssetDir>/<fn>/bootstrap for every function of Vendors (a
	// refresher per vendor, a callback per authorization-code vendor). A
	// missing bootstrap, or one that is not a linux/arm64 ELF executable,
	// panics. Empty: the construct builds each function from this
	// module's source at synth time with the local Go toolchain (`go
	// build` for linux/arm64 with GoBuildFlags, as `make build` does; no
	// Docker).
	AssetDir string
	// SourceDir is the root folder of this module (holding functions/)
	// for builds at synth time; found by itself when empty (see
	// docs/deploying.md). Unused with AssetDir.
	SourceDir string
	// Vendors are the vendors to deploy, normally vendors.All(); a subset
	// deploys only those.
	Vendors []vendors.Spec
	// Connections lists, per vendor name, the named connections (accounts)
	// to deploy besides the default one, e.g. {"merchenta": {"acme",
	// "globex"}}. Names follow vendors.CheckConnection; "default" is always
	// deployed and is not listed.
	Connections map[string][]string
	// NamePrefix starts every physical name; DefaultNamePrefix if empty.
	// Two deployments in one account and region need two prefixes.
	NamePrefix string
	// AlarmEmail, when set, is subscribed to the alarm topic.
	AlarmEmail string
	// CredentialsSecretNames maps a vendor name to an existing credentials
	// secret to import instead of creating an empty one.
	CredentialsSecretNames map[string]string
	// LogRetention applies to every log group; DefaultLogRetention (one
	// year, what Control Tower's CT.CLOUDWATCH.PR.2 asks for) if empty.
	LogRetention awslogs.RetentionDays
	// EncryptLogs encrypts every log group with a customer managed KMS key
	// (Control Tower's CT.CLOUDWATCH.PR.3): LogKey, or else a key the
	// deployment creates ($1.00 a month). nil means true; false leaves the
	// log groups with CloudWatch Logs' own encryption.
	EncryptLogs *bool
	// LogKey, when set, is the key that encrypts the log groups instead of
	// one of the deployment's own. Its key policy must let CloudWatch Logs
	// of the region use it (docs/deploying.md, governed accounts).
	LogKey awskms.IKey
	// Vpc, when set, places every function in it (Control Tower's
	// CT.LAMBDA.PR.3), in VpcSubnets (CDK's default selection if nil:
	// the private subnets) with SecurityGroups (if empty, CDK creates one
	// per function that allows all outbound traffic). The subnets need a
	// NAT gateway or another egress path to the vendors' APIs, and the VPC
	// an interface endpoint for Secrets Manager (or the same egress path);
	// for the reject alias, apps reach Lambda as before. nil: the functions
	// run in Lambda's own network, and the stack records an explained
	// exception from CT.LAMBDA.PR.3.
	Vpc            awsec2.IVpc
	VpcSubnets     *awsec2.SubnetSelection
	SecurityGroups []awsec2.ISecurityGroup
	// Outputs adds the deployment's stack outputs (AddOutputs): secret
	// and function names, the Admitad URLs, the policy ARNs and the alarm
	// topic. Off by default, so that a host stack gets no outputs it did
	// not ask for; NewStack always adds them.
	Outputs bool
	// TokenReplicaRegions lists regions to which Secrets Manager
	// replicates every token secret (default and named connections), for
	// apps in those regions; the reader policy and GrantRead cover the
	// replicas. Only token secrets are replicated: never credentials,
	// refresh tokens or signing keys. Replicas are read-only copies under
	// the same name, each $0.40 a month (docs/apps.md: lag and caching).
	TokenReplicaRegions []string
	// Dashboard adds the CloudWatch dashboard ($3.00 a month); nil means
	// true. The alarms do not depend on it.
	Dashboard *bool
	// OperatorPrincipalArns are the IAM roles or users (ARNs, * and ?
	// allowed) of the operators who mint connect links with `tokenctl
	// connect`: besides the callback, only they may read a signing key.
	// Empty: nobody but the callback can, and connect needs break-glass.
	OperatorPrincipalArns []string
	// DeployPrincipalArns are further roles (ARNs, * and ? allowed) that
	// CloudFormation deploys this stack with, besides the execution role
	// of `cdk bootstrap` (cdk-*-cfn-exec-role-<account>-<region>, always
	// exempt) and deploys without an execution role (aws:CalledVia
	// cloudformation.amazonaws.com): they may update the refresh-token and
	// signing-key secrets, which deny writes to everyone else.
	DeployPrincipalArns []string
	// BreakGlassPrincipalArns may read every guarded secret (credentials,
	// refresh tokens, signing keys), for an emergency; see
	// docs/deploying.md. Empty: only the functions read them.
	BreakGlassPrincipalArns []string
	// ConnectionShards is how many nested stacks hold each vendor's named
	// connections (DefaultConnectionShards, 8, if zero; at most
	// MaxConnectionShards). A connection's stack is a hash of its name
	// modulo this number: choose it before connections are first
	// deployed, since changing it moves connections between stacks
	// (docs/deploying.md, "How connections scale").
	ConnectionShards int
	// ConnectionLanes, from 2 to vendors.MaxLanes, runs the connections
	// of every vendor that has named ones in that many lanes instead of
	// one function: lane i is a function <prefix>-<vendor>-lane-<i>
	// (vendors.LaneFunctionName) with a reserved concurrency of 1 that
	// runs the connections vendors.LaneOf puts in it (the default
	// connection as "default"), on schedules spread over the period; the
	// vendor's function, with a reserved concurrency of ConnectionLanes,
	// hands it every other run of them and runs nothing itself. The lanes
	// of a vendor are in one nested stack. About one lane per 50
	// connections: 20 for 1,000. 0 or 1: no lanes, each vendor runs its
	// connections one at a time (docs/deploying.md, "How connections
	// scale").
	ConnectionLanes int
}

// TokenRefresher is one deployment: a refresher per vendor, the connect
// flow of authorization-code vendors, the app and operator policies, the
// alarms and (unless turned off) the dashboard.
type TokenRefresher struct {
	constructs.Construct
	// Refreshers are in the order of Props.Vendors.
	Refreshers []*Refresher
	// Connects holds the connect flow of each authorization-code vendor,
	// by vendor name.
	Connects map[string]*AuthCodeConnect
	// Access holds the managed policies to attach: Reader and Rejecter
	// for apps, Operator for tokenctl.
	Access *TokenAccess
	Alarms *Alarms
	// LogKey encrypts every log group of the deployment; nil when
	// Props.EncryptLogs is false.
	LogKey awskms.IKey
	// Dashboard is nil when Props.Dashboard is false.
	Dashboard awscloudwatch.Dashboard

	prefix       string
	replicas     []string
	outputs      []output
	outputsAdded bool
}

// tokenSecret returns the token secret of one connection of vendor (""
// or "default" is the default connection), or panics, naming what is
// missing, on a vendor or connection the deployment does not have.
func (t *TokenRefresher) tokenSecret(what, vendor, connection string) awssecretsmanager.Secret {
	for _, r := range t.Refreshers {
		if r.Spec.Name != vendor {
			continue
		}
		if connection == "" || connection == vendors.DefaultConnection {
			return r.Token
		}
		for _, c := range r.Connections {
			if c.Name == connection {
				return c.Token
			}
		}
	}
	panic(fmt.Sprintf("tokenrefresher: %s: the deployment has no connection %q of vendor %q", what, connection, vendor))
}

// refresher returns vendor's refresher, or panics.
func (t *TokenRefresher) refresher(what, vendor string) *Refresher {
	for _, r := range t.Refreshers {
		if r.Spec.Name == vendor {
			return r
		}
	}
	panic(fmt.Sprintf("tokenrefresher: %s: the deployment has no vendor %q", what, vendor))
}

// tokenArns are the ARNs of a token secret: the secret's own, then its
// replicas' (Props.TokenReplicaRegions), which differ only in the region.
func (t *TokenRefresher) tokenArns(secret awssecretsmanager.ISecret) []*string {
	return append([]*string{secret.SecretArn()}, replicaArns(secret.SecretArn(), t.replicas)...)
}

// GrantRead lets grantee read one connection's token secret ("" or
// "default" is the default connection) and its replicas:
// secretsmanager:GetSecretValue and DescribeSecret on exactly that secret,
// as an identity policy of grantee. Nothing else of the deployment
// becomes readable. It panics on a vendor or connection the deployment
// does not have.
func (t *TokenRefresher) GrantRead(grantee awsiam.IGrantable, vendor, connection string) awsiam.Grant {
	secret := t.tokenSecret("GrantRead", vendor, connection)
	return awsiam.Grant_AddToPrincipal(&awsiam.GrantOnPrincipalOptions{
		Grantee:      grantee,
		Actions:      jsii.Strings("secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"),
		ResourceArns: ptrs(t.tokenArns(secret)),
	})
}

// GrantReject lets grantee report a token of vendor that the vendor
// refused: lambda:InvokeFunction on the refresher's "reject" alias only
// (reader.Reject). Through the alias the refresher refuses {"force":
// true}, so grantee cannot make it call the vendor at will; the alias
// serves every connection of the vendor. It panics on a vendor the
// deployment does not have.
func (t *TokenRefresher) GrantReject(grantee awsiam.IGrantable, vendor string) awsiam.Grant {
	r := t.refresher("GrantReject", vendor)
	return awsiam.Grant_AddToPrincipal(&awsiam.GrantOnPrincipalOptions{
		Grantee:      grantee,
		Actions:      jsii.Strings("lambda:InvokeFunction"),
		ResourceArns: jsii.Strings(*r.RejectAlias.FunctionArn()),
	})
}

func ptrs(s []*string) *[]*string { return &s }

// ReaderPolicyFor creates, in scope, a managed policy that reads exactly
// one connection's token secret ("" or "default" is the default
// connection), and its replicas: for an app that should see one account
// of one vendor. It panics on a vendor or connection that the deployment
// does not have.
func (t *TokenRefresher) ReaderPolicyFor(scope constructs.Construct, id, vendor, connection string) awsiam.ManagedPolicy {
	token := t.tokenSecret("ReaderPolicyFor", vendor, connection)
	target := vendor
	if connection != "" && connection != vendors.DefaultConnection {
		target += "/" + connection
	}
	return awsiam.NewManagedPolicy(scope, jsii.String(id), &awsiam.ManagedPolicyProps{
		Description: jsii.String("Read the " + t.prefix + " token secret of " + target + " (and nothing else)"),
		Statements: &[]awsiam.PolicyStatement{awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:       jsii.String("ReadOneToken"),
			Actions:   jsii.Strings("secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"),
			Resources: ptrs(t.tokenArns(token)),
		})},
	})
}

// New adds a deployment to scope, under a construct named id: this is how
// another CDK app adds the refreshers to a stack of its own. It panics on
// invalid props (CDK's convention for construction errors), naming what is
// wrong.
func New(scope constructs.Construct, id string, props *Props) *TokenRefresher {
	return build(constructs.NewConstruct(scope, jsii.String(id)), props)
}

// StackProps configures NewStack.
type StackProps struct {
	awscdk.StackProps
	Props
}

// Stack is a stack that holds one deployment and nothing else.
type Stack struct {
	awscdk.Stack
	*TokenRefresher
}

// NewStack creates a stack holding one deployment, with its constructs
// directly in the stack and its outputs (Props.Outputs is implied, the
// outputs docs/deploying.md cites): the logical ids are those of the stack that
// token-refresher's own app has always deployed, so updating it replaces
// nothing.
func NewStack(scope constructs.Construct, id string, props *StackProps) *Stack {
	stack := awscdk.NewStack(scope, jsii.String(id), &props.StackProps)
	p := props.Props
	p.Outputs = true
	return &Stack{Stack: stack, TokenRefresher: build(stack, &p)}
}

// build creates a deployment directly in scope.
func build(scope constructs.Construct, props *Props) *TokenRefresher {
	p := *props
	if p.NamePrefix == "" {
		p.NamePrefix = DefaultNamePrefix
	}
	if p.LogRetention == "" {
		p.LogRetention = DefaultLogRetention
	}
	switch {
	case p.Vpc == nil && (p.VpcSubnets != nil || len(p.SecurityGroups) > 0):
		panic("tokenrefresher: props: VpcSubnets or SecurityGroups given without Vpc")
	case len(p.Vendors) == 0:
		panic("tokenrefresher: props: no vendors")
	case !namePrefixPattern.MatchString(p.NamePrefix):
		panic(fmt.Sprintf("tokenrefresher: props: name prefix %q must match %s", p.NamePrefix, namePrefixPattern))
	case p.ConnectionShards != 0 && (p.ConnectionShards < 1 || p.ConnectionShards > MaxConnectionShards):
		panic(fmt.Sprintf("tokenrefresher: props: ConnectionShards %d must be between 1 and %d", p.ConnectionShards, MaxConnectionShards))
	case p.ConnectionLanes < 0 || p.ConnectionLanes > vendors.MaxLanes:
		panic(fmt.Sprintf("tokenrefresher: props: ConnectionLanes %d (context connectionLanes) must be 0 or 1 (no lanes) or between 2 and %d",
			p.ConnectionLanes, vendors.MaxLanes))
	}
	known := map[string]bool{}
	for _, v := range p.Vendors {
		if known[v.Name] {
			panic(fmt.Sprintf("tokenrefresher: props: vendor %q listed twice", v.Name))
		}
		known[v.Name] = true
	}
	checkPrincipalArns("OperatorPrincipalArns", p.OperatorPrincipalArns)
	checkPrincipalArns("BreakGlassPrincipalArns", p.BreakGlassPrincipalArns)
	checkPrincipalArns("DeployPrincipalArns", p.DeployPrincipalArns)
	checkConnections(known, p.Connections)
	for key := range p.CredentialsSecretNames {
		vendor, conn, named := strings.Cut(key, "/")
		switch {
		case !known[vendor]:
			panic(fmt.Sprintf("tokenrefresher: props: credentials secret given for unknown vendor %q", key))
		case named && !slices.Contains(p.Connections[vendor], conn):
			panic(fmt.Sprintf("tokenrefresher: props: credentials secret given for %q, but %s has no connection %q in Connections", key, vendor, conn))
		}
	}

	stack := scope
	s := &TokenRefresher{Construct: scope, Connects: map[string]*AuthCodeConnect{}, prefix: p.NamePrefix, replicas: p.TokenReplicaRegions}
	logs := logSettings{Retention: p.LogRetention}
	if p.EncryptLogs == nil || *p.EncryptLogs {
		logs.Key = p.LogKey
		if logs.Key == nil {
			logs.Key = newLogKey(stack, "LogKey", p.NamePrefix)
		}
	}
	s.LogKey = logs.Key
	network := networkSettings{Vpc: p.Vpc, Subnets: p.VpcSubnets, SecurityGroups: p.SecurityGroups}
	output := func(id, value, description string) {
		s.outputs = append(s.outputs, output{id, value, description})
	}
	checkReplicaRegions(stack, p.TokenReplicaRegions)

	var callbacks []NamedFunction
	breakGlass := p.BreakGlassPrincipalArns
	for _, spec := range p.Vendors {
		lanes := 0
		if len(p.Connections[spec.Name]) > 0 && p.ConnectionLanes >= 2 {
			lanes = p.ConnectionLanes
		}
		r := NewRefresher(stack, exportID(spec.Name), &RefresherProps{
			Spec:                  spec,
			AssetDir:              p.AssetDir,
			SourceDir:             p.SourceDir,
			NamePrefix:            p.NamePrefix,
			CredentialsSecretName: p.CredentialsSecretNames[spec.Name],
			TokenReplicaRegions:   p.TokenReplicaRegions,
			Logs:                  logs,
			Network:               network,
			Lanes:                 lanes,
		})
		s.Refreshers = append(s.Refreshers, r)
		output(exportID(spec.Name)+"TokenSecret", tokenSecretName(p.NamePrefix, spec.Name), spec.Title+" token secret (apps read it)")
		output(exportID(spec.Name)+"CredentialsSecret", r.CredentialsName, spec.Title+" credentials secret (fill it in)")
		output(exportID(spec.Name)+"Function", functionName(p.NamePrefix, spec.FunctionName()), spec.Title+" refresher function")

		// Only the functions that use a secret read it (and break-glass):
		// the refresher, the callback of an authorization-code vendor, and
		// with lanes the lane of the default connection (the lanes' roles
		// by their path; only that lane has a grant).
		readers := []awsiam.IRole{r.Function.Role()}
		guardedBy := func(roles []awsiam.IRole) []*string {
			arns := roleArns(roles, breakGlass...)
			if lanes > 0 {
				arns = append(arns, laneRolePattern(p.NamePrefix, spec.Name))
			}
			return arns
		}
		if !spec.AuthCode && !r.CredentialsImported {
			guardReads(r.Credentials, guardedBy(readers))
		}
		if spec.AuthCode {
			a := NewAuthCodeConnect(stack, exportID(spec.Name)+"Connect", &AuthCodeConnectProps{
				Refresher:  r,
				AssetDir:   p.AssetDir,
				SourceDir:  p.SourceDir,
				NamePrefix: p.NamePrefix,
				Logs:       logs,
				Network:    network,
			})
			s.Connects[spec.Name] = a
			readers = append(readers, a.Callback.Role())
			if !r.CredentialsImported {
				guardReads(r.Credentials, guardedBy(readers))
			}
			guardReads(a.RefreshToken, guardedBy(readers))
			guardReads(a.SigningKey, roleArns([]awsiam.IRole{a.Callback.Role()},
				append(slices.Clone(p.OperatorPrincipalArns), breakGlass...)...))
			// Writes: the refresh token by the two functions that rotate
			// and store it; the signing key by the operators who rotate it
			// (docs/operations.md). Break-glass may do both.
			guardWrites(a.RefreshToken, guardedBy(readers), p.DeployPrincipalArns)
			guardWrites(a.SigningKey, roleArns(nil, append(slices.Clone(p.OperatorPrincipalArns), breakGlass...)...), p.DeployPrincipalArns)
			callbacks = append(callbacks, NamedFunction{Name: spec.CallbackFunctionName(), Function: a.Callback})
			output(exportID(spec.Name)+"CallbackUrl", *a.CallbackURL, "Redirect URI to register at "+spec.Title)
			output(exportID(spec.Name)+"ConnectApiUrl", *a.ApiURL, spec.Title+" connect API")
			output(exportID(spec.Name)+"AuthorizeUrl", *a.AuthorizeURL, "Base of the signed links that start the "+spec.Title+" connect flow")
			output(exportID(spec.Name)+"SigningKeySecret", signingKeySecretName(p.NamePrefix, spec.Name), "Key that signs "+spec.Title+" connect links")
		}

		if names := p.Connections[spec.Name]; len(names) > 0 {
			imported := map[string]string{}
			for _, n := range names {
				if id := p.CredentialsSecretNames[spec.Name+"/"+n]; id != "" {
					imported[n] = id
				}
			}
			r.Connections = addConnections(stack, connectionsProps{
				Refresher:  r,
				Connect:    s.Connects[spec.Name],
				Names:      names,
				NamePrefix: p.NamePrefix,
				Imported:   imported,
				BreakGlass: breakGlass,
				Deployers:  p.DeployPrincipalArns,

				TokenReplicaRegions: p.TokenReplicaRegions,
				Shards:              p.ConnectionShards,
			})
			if lanes == 0 && len(r.Connections) > serialisedConnections {
				awscdk.Annotations_Of(r.Construct).AddWarningV2(jsii.String("tokenrefresher:connections-serialised"), jsii.String(fmt.Sprintf(
					"%s has %d named connections and no lanes: its one function runs them one at a time, which may not fit in its period of %s. "+
						"Set ConnectionLanes (context connectionLanes; about one lane per 50 connections) to run them in parallel: docs/deploying.md#how-connections-scale",
					spec.Title, len(r.Connections), human(spec.Every))), nil)
			}
			all := []string{vendors.DefaultConnection}
			for _, c := range r.Connections {
				all = append(all, c.Name)
			}
			list := strings.Join(all, ",")
			if len(list) > maxConnectionsEnv {
				// Too long for an output; the names are in the stack's context.
				list = fmt.Sprintf("default and %d named connections (tokenctl status lists them)", len(r.Connections))
			}
			output(exportID(spec.Name)+"Connections", list, spec.Title+" connections; secret names are "+
				p.NamePrefix+"/"+spec.Name+"/<connection>/<role> (the default connection's: "+p.NamePrefix+"/"+spec.Name+"/<role>)")
		}
	}

	var connects []*AuthCodeConnect
	for _, spec := range p.Vendors {
		if a, ok := s.Connects[spec.Name]; ok {
			connects = append(connects, a)
		}
	}
	s.Access = NewTokenAccess(stack, "TokenAccess", &TokenAccessProps{
		NamePrefix: p.NamePrefix, Refreshers: s.Refreshers, Connects: connects, TokenReplicaRegions: p.TokenReplicaRegions,
	})
	output("TokenReaderPolicyArn", *s.Access.Reader.ManagedPolicyArn(), "Attach to an app's role to read tokens")
	output("TokenRejecterPolicyArn", *s.Access.Rejecter.ManagedPolicyArn(), "Attach to an app's role to report refused tokens (reader Reject)")
	output("OperatorPolicyArn", *s.Access.Operator.ManagedPolicyArn(),
		"Attach to an operator's role for tokenctl (connect also needs the role in operatorPrincipalArns)")

	s.Alarms = NewAlarms(stack, "Alarms", &AlarmsProps{
		NamePrefix: p.NamePrefix,
		AlarmEmail: p.AlarmEmail,
		Refreshers: s.Refreshers,
		Functions:  callbacks,
	})
	for _, r := range s.Refreshers {
		addConnectionAlarms(p.NamePrefix, r.Spec, r.Connections, s.Alarms.notify)
		addLaneAlarms(p.NamePrefix, r, s.Alarms)
		checkLanes(r)
	}
	output("AlarmTopicArn", *s.Alarms.Topic.TopicArn(), "SNS topic of every alarm")

	if p.Dashboard == nil || *p.Dashboard {
		s.Dashboard = NewDashboard(stack, "Dashboard", &DashboardProps{NamePrefix: p.NamePrefix, Refreshers: s.Refreshers})
	}
	if p.Outputs {
		s.AddOutputs()
	}
	return s
}

// output is one stack output of AddOutputs.
type output struct{ id, value, description string }

// AddOutputs adds the deployment's stack outputs (CfnOutput) to its
// scope: per vendor its token and credentials secret names and function
// name; per authorization-code vendor the callback, API, authorize URLs
// and signing key; per vendor with named connections their list; and
// the policy ARNs and the alarm topic. Props.Outputs calls it; NewStack
// always does. Call it at most once.
func (t *TokenRefresher) AddOutputs() {
	if t.outputsAdded {
		panic("tokenrefresher: AddOutputs called twice")
	}
	t.outputsAdded = true
	for _, o := range t.outputs {
		awscdk.NewCfnOutput(t.Construct, jsii.String(o.id), &awscdk.CfnOutputProps{
			Value:       jsii.String(o.value),
			Description: jsii.String(o.description),
		})
	}
}

// exportID turns a vendor name into a construct and output id
// ("hasoffers" → "Hasoffers"; output ids must be alphanumeric).
func exportID(name string) string {
	out := make([]byte, 0, len(name))
	upper := true
	for i := 0; i < len(name); i++ {
		ch := name[i]
		switch {
		case ch >= 'a' && ch <= 'z':
			if upper {
				ch -= 'a' - 'A'
			}
			out = append(out, ch)
			upper = false
		case ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9':
			out = append(out, ch)
			upper = false
		default:
			upper = true
		}
	}
	return string(out)
}

// checkConnections panics unless every vendor of connections is deployed
// and every name is a valid, distinct, named connection.
func checkConnections(known map[string]bool, connections map[string][]string) {
	for vendor, names := range connections {
		if !known[vendor] {
			panic(fmt.Sprintf("tokenrefresher: props: connections given for unknown vendor %q", vendor))
		}
		seen := map[string]bool{}
		for _, name := range names {
			switch err := vendors.CheckConnection(name); {
			case err != nil:
				panic(fmt.Sprintf("tokenrefresher: props: connections of %s: %v", vendor, err))
			case name == "" || name == vendors.DefaultConnection:
				panic(fmt.Sprintf("tokenrefresher: props: connections of %s: %q is the default connection, which is always deployed; list only named ones", vendor, name))
			case seen[name]:
				panic(fmt.Sprintf("tokenrefresher: props: connections of %s: %q listed twice", vendor, name))
			}
			seen[name] = true
		}
	}
}
