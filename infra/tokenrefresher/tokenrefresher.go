package main

import (
	"fmt"
	"regexp"
	"slices"

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

// TokenRefresherStackProps configures a deployment.
type TokenRefresherStackProps struct {
	awscdk.StackProps
	// AssetDir holds the output of `make build`: <AssetDir>/<fn>/bootstrap.
	AssetDir string
	// Vendors are the vendors to deploy, normally vendors.All().
	Vendors []vendors.Spec
	// NamePrefix starts every physical name; DefaultNamePrefix if empty.
	NamePrefix string
	// AlarmEmail, when set, receives the alarms.
	AlarmEmail string
	// CredentialsSecretNames maps a vendor name to an existing credentials
	// secret to import instead of creating an empty one.
	CredentialsSecretNames map[string]string
	// LogRetention applies to every log group; three months if zero.
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
}

// TokenRefresherStack is one deployment: a refresher per vendor, the
// connect flow of authorization-code vendors, the app policies, the alarms
// and the dashboard.
type TokenRefresherStack struct {
	awscdk.Stack
	Refreshers []*Refresher
	Connects   map[string]*AuthCodeConnect
	Access     *TokenAccess
	Alarms     *Alarms
	// Dashboard is nil when props.Dashboard is false.
	Dashboard awscloudwatch.Dashboard
}

// NewTokenRefresherStack builds the stack from the vendor table. It panics
// on invalid props (CDK's convention for construction errors).
func NewTokenRefresherStack(scope constructs.Construct, id string, props *TokenRefresherStackProps) *TokenRefresherStack {
	p := *props
	if p.NamePrefix == "" {
		p.NamePrefix = DefaultNamePrefix
	}
	if p.LogRetention == "" {
		p.LogRetention = awslogs.RetentionDays_THREE_MONTHS
	}
	switch {
	case p.AssetDir == "":
		panic("infra: stack props: AssetDir is empty")
	case len(p.Vendors) == 0:
		panic("infra: stack props: no vendors")
	case !namePrefixPattern.MatchString(p.NamePrefix):
		panic(fmt.Sprintf("infra: stack props: name prefix %q must match %s", p.NamePrefix, namePrefixPattern))
	}
	known := map[string]bool{}
	for _, v := range p.Vendors {
		if known[v.Name] {
			panic(fmt.Sprintf("infra: stack props: vendor %q listed twice", v.Name))
		}
		known[v.Name] = true
	}
	checkPrincipalArns("OperatorPrincipalArns", p.OperatorPrincipalArns)
	checkPrincipalArns("BreakGlassPrincipalArns", p.BreakGlassPrincipalArns)
	for name := range p.CredentialsSecretNames {
		if !known[name] {
			panic(fmt.Sprintf("infra: stack props: credentials secret given for unknown vendor %q", name))
		}
	}

	stack := awscdk.NewStack(scope, jsii.String(id), &p.StackProps)
	s := &TokenRefresherStack{Stack: stack, Connects: map[string]*AuthCodeConnect{}}
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
