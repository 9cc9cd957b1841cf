package tokenrefresher

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigateway"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2integrations"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/token-refresher/token-refresher/shared/vendors"
)

// authorizeURLs are the authorization endpoints of the vendors connected
// through the OAuth2 authorization-code flow (vendors.Spec.AuthCode).
var authorizeURLs = map[string]string{
	"admitad": "https://store.admitad.com/api/authorize/",
}

// callbackTimeout is below API Gateway's 30 s integration limit.
const callbackTimeout = 29

// Throttling of the connect API: a person uses it a few times a year, so
// anything beyond a handful of requests per second is abuse.
const (
	connectRateLimit  = 5
	connectBurstLimit = 10
)

// AuthCodeConnectProps configures the connect flow of one AuthCode vendor.
type AuthCodeConnectProps struct {
	// Refresher is the vendor's scheduled refresher; it gets access to the
	// refresh-token secret.
	Refresher *Refresher
	// AssetDir holds <AssetDir>/<Spec.CallbackFunctionName()>/bootstrap;
	// empty builds it from SourceDir (Props.AssetDir).
	AssetDir   string
	SourceDir  string
	NamePrefix string
	Logs       logSettings
	Network    networkSettings
}

// AuthCodeConnect is what a vendor connected by a person needs beyond its
// refresher: the refresh-token secret (never readable by apps), the
// signing key of connect links and state, the callback function and the
// HTTP API with GET /<vendor>/authorize and GET /<vendor>/callback.
type AuthCodeConnect struct {
	constructs.Construct
	RefreshToken awssecretsmanager.Secret
	SigningKey   awssecretsmanager.Secret
	Callback     awslambda.Function
	LogGroup     awslogs.LogGroup
	Api          awsapigatewayv2.HttpApi
	AccessLogs   awslogs.LogGroup
	// InvokeRole is the role the API's integration invokes Callback with.
	InvokeRole awsiam.Role
	// ApiURL is the API's base URL, CallbackURL the redirect URI to
	// register at the vendor and AuthorizeURL the base of connect links.
	ApiURL       *string
	CallbackURL  *string
	AuthorizeURL *string
}

// NewAuthCodeConnect creates the connect flow for props.Refresher's
// vendor. It panics when the vendor has no known authorize URL.
func NewAuthCodeConnect(scope constructs.Construct, id string, props *AuthCodeConnectProps) *AuthCodeConnect {
	r := props.Refresher
	spec := r.Spec
	authorizeURL, ok := authorizeURLs[spec.Name]
	if !spec.AuthCode || !ok {
		panic(fmt.Sprintf("tokenrefresher: vendor %q has no authorization-code flow configured in tokenrefresher (authorizeURLs)", spec.Name))
	}
	c := constructs.NewConstruct(scope, jsii.String(id))
	a := &AuthCodeConnect{Construct: c}

	a.RefreshToken = awssecretsmanager.NewSecret(c, jsii.String("RefreshToken"), &awssecretsmanager.SecretProps{
		SecretName: jsii.String(refreshSecretName(props.NamePrefix, spec.Name)),
		Description: jsii.String(spec.Title + " refresh token, written by the connect callback and the refresher. " +
			"Apps never read it."),
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})
	a.SigningKey = awssecretsmanager.NewSecret(c, jsii.String("SigningKey"), &awssecretsmanager.SecretProps{
		SecretName:  jsii.String(signingKeySecretName(props.NamePrefix, spec.Name)),
		Description: jsii.String("HMAC key that signs " + spec.Title + " connect links and OAuth2 state."),
		GenerateSecretString: &awssecretsmanager.SecretStringGenerator{
			PasswordLength:     jsii.Number(64),
			ExcludePunctuation: jsii.Bool(true),
		},
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})
	tagSecret(a.RefreshToken, spec.Name, vendors.DefaultConnection, vendors.RoleRefreshToken)
	tagSecret(a.SigningKey, spec.Name, "", vendors.RoleSigningKey)
	suppressRotation(a.RefreshToken, refreshTokenRotationReason)
	cdknag.NagSuppressions_AddResourceSuppressions(a.SigningKey, &[]*cdknag.NagPackSuppression{{
		Id: jsii.String("AwsSolutions-SMG4"),
		Reason: jsii.String("The key only signs connect links and state that expire within minutes; an operator " +
			"rotates it by writing a new random value, which needs no rotation function."),
	}}, jsii.Bool(false))

	// The refresher rotates the refresh token too.
	r.Function.AddEnvironment(jsii.String(vendors.EnvRefreshSecretID), a.RefreshToken.SecretArn(), nil)
	r.env[vendors.EnvRefreshSecretID] = *a.RefreshToken.SecretArn()
	grantCompareAndSwap(a.RefreshToken, r.Function)

	a.Api = awsapigatewayv2.NewHttpApi(c, jsii.String("Api"), &awsapigatewayv2.HttpApiProps{
		ApiName:            jsii.String(props.NamePrefix + "-" + spec.Name + "-connect"),
		Description:        jsii.String("Connects " + spec.Title + " through the OAuth2 authorization-code flow"),
		CreateDefaultStage: jsii.Bool(false),
	})
	callbackPath := "/" + spec.Name + "/callback"
	authorizePath := "/" + spec.Name + "/authorize"
	a.ApiURL = a.Api.ApiEndpoint()
	a.CallbackURL = awscdk.Fn_Join(jsii.String(""), &[]*string{a.Api.ApiEndpoint(), jsii.String(callbackPath)})
	a.AuthorizeURL = awscdk.Fn_Join(jsii.String(""), &[]*string{a.Api.ApiEndpoint(), jsii.String(authorizePath)})

	env := map[string]string{
		vendors.EnvCredentialsSecretID: r.CredentialsID,
		vendors.EnvTokenSecretID:       *r.Token.SecretArn(),
		vendors.EnvRefreshSecretID:     *a.RefreshToken.SecretArn(),
		vendors.EnvSigningKeySecretID:  *a.SigningKey.SecretArn(),
		vendors.EnvAuthorizeURL:        authorizeURL,
		// Published as the token's "refresher", so apps can Reject a
		// token the callback wrote.
		vendors.EnvRefresherFunctionName: functionName(props.NamePrefix, spec.FunctionName()),
		// The function references the API, not the other way round: only
		// the routes and the invoke permission depend on the function, so
		// there is no cycle.
		vendors.EnvCallbackURL: *a.CallbackURL,
	}
	if spec.DefaultURL != "" {
		env[spec.URLEnv] = spec.DefaultURL
	}
	gf := newGoFunction(c, "Callback", goFunctionProps{
		AssetDir:     props.AssetDir,
		SourceDir:    props.SourceDir,
		Folder:       spec.CallbackFunctionName(),
		PhysicalName: functionName(props.NamePrefix, spec.CallbackFunctionName()),
		Description:  "Connects " + spec.Title + ": signed authorize link and OAuth2 callback",
		Environment:  env,
		// HTTP API gives up on an integration after 30 s; the callback's
		// deadline must end first so that it can still answer the browser.
		Timeout: callbackTimeout,
		Logs:    props.Logs,
		Network: props.Network,
	})
	a.Callback, a.LogGroup = gf.Function, gf.LogGroup
	r.Credentials.GrantRead(a.Callback, nil)
	grantReadWrite(r.Token, a.Callback)
	grantCompareAndSwap(a.RefreshToken, a.Callback)
	a.SigningKey.GrantRead(a.Callback, nil)

	a.AccessLogs = newLogGroup(c, "AccessLogs", "", props.Logs)
	stage := a.Api.AddStage(jsii.String("DefaultStage"), &awsapigatewayv2.HttpStageOptions{
		StageName:  jsii.String("$default"),
		AutoDeploy: jsii.Bool(true),
		Throttle: &awsapigatewayv2.ThrottleSettings{
			RateLimit:  jsii.Number(connectRateLimit),
			BurstLimit: jsii.Number(connectBurstLimit),
		},
	})
	// Access logs name the route, never the path with its query string:
	// the callback's query carries the authorization code and the state.
	cfnStage := stage.Node().DefaultChild().(awsapigatewayv2.CfnStage)
	cfnStage.SetAccessLogSettings(&awsapigatewayv2.CfnStage_AccessLogSettingsProperty{
		DestinationArn: a.AccessLogs.LogGroupArn(),
		Format:         awsapigateway.AccessLogFormat_Custom(jsii.String(accessLogFormat)).ToString(),
	})

	integration := awsapigatewayv2integrations.NewHttpLambdaIntegration(jsii.String(callbackIntegrationID), a.Callback,
		&awsapigatewayv2integrations.HttpLambdaIntegrationProps{
			PayloadFormatVersion: awsapigatewayv2.PayloadFormatVersion_VERSION_2_0(),
		})
	var cfnIntegration awsapigatewayv2.CfnIntegration
	for _, path := range []string{authorizePath, callbackPath} {
		routes := a.Api.AddRoutes(&awsapigatewayv2.AddRoutesOptions{
			Path:        jsii.String(path),
			Methods:     &[]awsapigatewayv2.HttpMethod{awsapigatewayv2.HttpMethod_GET},
			Integration: integration,
		})
		for _, route := range *routes {
			// API Gateway invokes the callback with a role (below), not
			// through a resource policy on the function: drop the
			// permission that the Lambda integration adds to each route.
			if !*route.Node().TryRemoveChild(jsii.String(callbackIntegrationID + "-Permission")) {
				panic("tokenrefresher: the HTTP API's Lambda integration added no invoke permission to remove; CDK changed")
			}
			if child, ok := route.Node().TryFindChild(jsii.String(callbackIntegrationID)).(awsapigatewayv2.HttpIntegration); ok {
				cfnIntegration = child.Node().DefaultChild().(awsapigatewayv2.CfnIntegration)
			}
			addGuardException(route, guardConnectRouteAuth)
			cdknag.NagSuppressions_AddResourceSuppressions(route, &[]*cdknag.NagPackSuppression{{
				Id: jsii.String("AwsSolutions-APIG4"),
				Reason: jsii.String("The vendor's browser redirect cannot carry AWS credentials or a bearer token. " +
					"The function authorizes every request itself: /authorize needs a short-lived link signed " +
					"with the signing-key secret, /callback a signed, unexpired state bound to a cookie."),
			}}, jsii.Bool(true))
		}
	}
	if cfnIntegration == nil {
		panic("tokenrefresher: the HTTP API's Lambda integration was not found; CDK changed")
	}
	// The integration invokes the callback with a role of its own: the
	// function then needs no resource policy, so no principal outside the
	// account can ever be granted the invoke (Control Tower's
	// CT.LAMBDA.PR.2), and the stack stays free of account IDs. Only API
	// Gateway may assume the role, and only a principal allowed
	// iam:PassRole on it could attach it to an API.
	a.InvokeRole = awsiam.NewRole(c, jsii.String("InvokeRole"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("apigateway.amazonaws.com"), nil),
		Description: jsii.String("API Gateway invokes " + functionName(props.NamePrefix, spec.CallbackFunctionName()) + " from the connect API"),
	})
	awsiam.Grant_AddToPrincipal(&awsiam.GrantOnPrincipalOptions{
		Grantee:      a.InvokeRole,
		Actions:      jsii.Strings("lambda:InvokeFunction"),
		ResourceArns: jsii.Strings(*a.Callback.FunctionArn()),
	})
	cfnIntegration.SetCredentialsArn(a.InvokeRole.RoleArn())
	return a
}

// callbackIntegrationID is the id of the connect API's Lambda integration.
const callbackIntegrationID = "CallbackIntegration"

// accessLogFormat is one JSON line per request without query strings.
const accessLogFormat = `{"requestId":"$context.requestId","ip":"$context.identity.sourceIp",` +
	`"requestTime":"$context.requestTime","routeKey":"$context.routeKey","status":"$context.status",` +
	`"protocol":"$context.protocol","responseLength":"$context.responseLength",` +
	`"integrationError":"$context.integrationErrorMessage","userAgent":"$context.identity.userAgent"}`

// grantCompareAndSwap lets grantee read (GetSecretValue, DescribeSecret)
// and write a secret, list its versions and move its staging labels: the refresh token is written under a pending label and
// AWSCURRENT is then moved from the version that was read, which fails if
// another writer got there first.
func grantCompareAndSwap(secret awssecretsmanager.ISecret, grantee awsiam.IGrantable) {
	grantReadWrite(secret, grantee)
	awsiam.Grant_AddToPrincipal(&awsiam.GrantOnPrincipalOptions{
		Grantee: grantee,
		Actions: jsii.Strings(
			"secretsmanager:UpdateSecretVersionStage",
			"secretsmanager:ListSecretVersionIds",
		),
		ResourceArns: jsii.Strings(*secret.SecretArn()),
	})
}
