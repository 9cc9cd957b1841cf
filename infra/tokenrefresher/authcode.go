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
	// AssetDir holds <AssetDir>/<Spec.CallbackFunctionName()>/bootstrap.
	AssetDir     string
	NamePrefix   string
	LogRetention awslogs.RetentionDays
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
		Folder:       spec.CallbackFunctionName(),
		PhysicalName: functionName(props.NamePrefix, spec.CallbackFunctionName()),
		Description:  "Connects " + spec.Title + ": signed authorize link and OAuth2 callback",
		Environment:  env,
		// HTTP API gives up on an integration after 30 s; the callback's
		// deadline must end first so that it can still answer the browser.
		Timeout:      callbackTimeout,
		LogRetention: props.LogRetention,
	})
	a.Callback, a.LogGroup = gf.Function, gf.LogGroup
	r.Credentials.GrantRead(a.Callback, nil)
	grantReadWrite(r.Token, a.Callback)
	grantCompareAndSwap(a.RefreshToken, a.Callback)
	a.SigningKey.GrantRead(a.Callback, nil)

	a.AccessLogs = awslogs.NewLogGroup(c, jsii.String("AccessLogs"), &awslogs.LogGroupProps{
		Retention:     props.LogRetention,
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})
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

	integration := awsapigatewayv2integrations.NewHttpLambdaIntegration(jsii.String("CallbackIntegration"), a.Callback,
		&awsapigatewayv2integrations.HttpLambdaIntegrationProps{
			PayloadFormatVersion: awsapigatewayv2.PayloadFormatVersion_VERSION_2_0(),
		})
	for _, path := range []string{authorizePath, callbackPath} {
		routes := a.Api.AddRoutes(&awsapigatewayv2.AddRoutesOptions{
			Path:        jsii.String(path),
			Methods:     &[]awsapigatewayv2.HttpMethod{awsapigatewayv2.HttpMethod_GET},
			Integration: integration,
		})
		for _, route := range *routes {
			cdknag.NagSuppressions_AddResourceSuppressions(route, &[]*cdknag.NagPackSuppression{{
				Id: jsii.String("AwsSolutions-APIG4"),
				Reason: jsii.String("The vendor's browser redirect cannot carry AWS credentials or a bearer token. " +
					"The function authorizes every request itself: /authorize needs a short-lived link signed " +
					"with the signing-key secret, /callback a signed, unexpired state bound to a cookie."),
			}}, jsii.Bool(true))
		}
	}
	return a
}

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
