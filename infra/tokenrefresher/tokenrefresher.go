package tokenrefresher

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
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

// Props configures the refreshers of one deployment. Only AssetDir and
// Vendors are required.
type Props struct {
	// AssetDir holds the output of `make build`: <AssetDir>/<fn>/bootstrap
	// for every function of Vendors (a refresher per vendor, a callback per
	// authorization-code vendor). A missing bootstrap panics.
	AssetDir string
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
	// LogRetention applies to every log group; three months if empty.
	LogRetention awslogs.RetentionDays
	// Dashboard adds the CloudWatch dashboard ($3.00 a month); nil means
	// true. The alarms do not depend on it.
	Dashboard *bool
	// OperatorPrincipalArns are the IAM roles or users (ARNs, * and ?
	// allowed) of the operators who mint connect links with `tokenctl
	// connect`: besides the callback, only they may read a signing key.
	// Empty: nobody but the callback can, and connect needs break-glass.
	OperatorPrincipalArns []string
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
	// Dashboard is nil when Props.Dashboard is false.
	Dashboard awscloudwatch.Dashboard

	prefix string
}

// ReaderPolicyFor creates, in scope, a managed policy that reads exactly
// one connection's token secret ("" or "default" is the default
// connection): for an app that should see one account of one vendor. It
// panics on a vendor or connection that the deployment does not have.
func (t *TokenRefresher) ReaderPolicyFor(scope constructs.Construct, id, vendor, connection string) awsiam.ManagedPolicy {
	var token *string
	for _, r := range t.Refreshers {
		if r.Spec.Name != vendor {
			continue
		}
		if connection == "" || connection == vendors.DefaultConnection {
			token = r.Token.SecretArn()
		}
		for _, c := range r.Connections {
			if c.Name == connection {
				token = c.Token.SecretArn()
			}
		}
	}
	if token == nil {
		panic(fmt.Sprintf("tokenrefresher: ReaderPolicyFor: the deployment has no connection %q of vendor %q", connection, vendor))
	}
	target := vendor
	if connection != "" && connection != vendors.DefaultConnection {
		target += "/" + connection
	}
	return awsiam.NewManagedPolicy(scope, jsii.String(id), &awsiam.ManagedPolicyProps{
		Description: jsii.String("Read the " + t.prefix + " token secret of " + target + " (and nothing else)"),
		Statements: &[]awsiam.PolicyStatement{awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:       jsii.String("ReadOneToken"),
			Actions:   jsii.Strings("secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"),
			Resources: &[]*string{token},
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
// directly in the stack: the logical ids are those of the stack that
// token-refresher's own app has always deployed, so updating it replaces
// nothing.
func NewStack(scope constructs.Construct, id string, props *StackProps) *Stack {
	stack := awscdk.NewStack(scope, jsii.String(id), &props.StackProps)
	return &Stack{Stack: stack, TokenRefresher: build(stack, &props.Props)}
}

// build creates a deployment directly in scope.
func build(scope constructs.Construct, props *Props) *TokenRefresher {
	p := *props
	if p.NamePrefix == "" {
		p.NamePrefix = DefaultNamePrefix
	}
	if p.LogRetention == "" {
		p.LogRetention = awslogs.RetentionDays_THREE_MONTHS
	}
	switch {
	case p.AssetDir == "":
		panic("tokenrefresher: props: AssetDir is empty")
	case len(p.Vendors) == 0:
		panic("tokenrefresher: props: no vendors")
	case !namePrefixPattern.MatchString(p.NamePrefix):
		panic(fmt.Sprintf("tokenrefresher: props: name prefix %q must match %s", p.NamePrefix, namePrefixPattern))
	case p.ConnectionShards != 0 && (p.ConnectionShards < 1 || p.ConnectionShards > MaxConnectionShards):
		panic(fmt.Sprintf("tokenrefresher: props: ConnectionShards %d must be between 1 and %d", p.ConnectionShards, MaxConnectionShards))
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
	s := &TokenRefresher{Construct: scope, Connects: map[string]*AuthCodeConnect{}, prefix: p.NamePrefix}
	output := func(id, value, description string) {
		awscdk.NewCfnOutput(stack, jsii.String(id), &awscdk.CfnOutputProps{
			Value:       jsii.String(value),
			Description: jsii.String(description),
		})
	}

	var callbacks []NamedFunction
	breakGlass := p.BreakGlassPrincipalArns
	for _, spec := range p.Vendors {
		r := NewRefresher(stack, exportID(spec.Name), &RefresherProps{
			Spec:                  spec,
			AssetDir:              p.AssetDir,
			NamePrefix:            p.NamePrefix,
			CredentialsSecretName: p.CredentialsSecretNames[spec.Name],
			LogRetention:          p.LogRetention,
		})
		s.Refreshers = append(s.Refreshers, r)
		output(exportID(spec.Name)+"TokenSecret", tokenSecretName(p.NamePrefix, spec.Name), spec.Title+" token secret (apps read it)")
		output(exportID(spec.Name)+"CredentialsSecret", r.CredentialsName, spec.Title+" credentials secret (fill it in)")
		output(exportID(spec.Name)+"Function", functionName(p.NamePrefix, spec.FunctionName()), spec.Title+" refresher function")

		// Only the functions that use a secret read it (and break-glass):
		// the refresher, and the callback of an authorization-code vendor.
		readers := []awsiam.IRole{r.Function.Role()}
		if !spec.AuthCode && !r.CredentialsImported {
			guardReads(r.Credentials, roleArns(readers, breakGlass...))
		}
		if spec.AuthCode {
			a := NewAuthCodeConnect(stack, exportID(spec.Name)+"Connect", &AuthCodeConnectProps{
				Refresher:    r,
				AssetDir:     p.AssetDir,
				NamePrefix:   p.NamePrefix,
				LogRetention: p.LogRetention,
			})
			s.Connects[spec.Name] = a
			readers = append(readers, a.Callback.Role())
			if !r.CredentialsImported {
				guardReads(r.Credentials, roleArns(readers, breakGlass...))
			}
			guardReads(a.RefreshToken, roleArns(readers, breakGlass...))
			guardReads(a.SigningKey, roleArns([]awsiam.IRole{a.Callback.Role()},
				append(slices.Clone(p.OperatorPrincipalArns), breakGlass...)...))
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
				Shards:     p.ConnectionShards,
			})
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
	s.Access = NewTokenAccess(stack, "TokenAccess", &TokenAccessProps{NamePrefix: p.NamePrefix, Refreshers: s.Refreshers, Connects: connects})
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
	}
	output("AlarmTopicArn", *s.Alarms.Topic.TopicArn(), "SNS topic of every alarm")

	if p.Dashboard == nil || *p.Dashboard {
		s.Dashboard = NewDashboard(stack, "Dashboard", &DashboardProps{NamePrefix: p.NamePrefix, Refreshers: s.Refreshers})
	}

	return s
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
