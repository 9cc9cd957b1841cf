// Command infra is the CDK app of token-refresher: one stack with a
// scheduled refresher per vendor of shared/vendors, the Admitad connect
// API, the app policies, alarms and a dashboard.
//
// Context (cdk.json or -c key=value):
//
//	assetDir                      output of `make build` (default "build")
//	namePrefix                    prefix of physical names (default "token-refresher")
//	stackName                     CloudFormation stack name (default "TokenRefresher")
//	alarmEmail                    address subscribed to the alarm topic
//	credentialsSecretName.<name>  import this existing credentials secret for vendor <name>
//	operatorPrincipalArns         roles that run tokenctl connect (may read signing keys); comma-separated or a list
//	breakGlassPrincipalArns       roles that may read every guarded secret; comma-separated or a list
//	dashboard                     false leaves out the CloudWatch dashboard (default true)
package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/token-refresher/token-refresher/shared/vendors"
)

func main() {
	defer jsii.Close()

	app := awscdk.NewApp(nil)
	specs := vendors.All()
	props := &TokenRefresherStackProps{
		StackProps: awscdk.StackProps{
			Description: jsii.String("token-refresher: scheduled vendor token refreshers writing to Secrets Manager"),
		},
		AssetDir:                contextString(app, "assetDir", "build"),
		Vendors:                 specs,
		NamePrefix:              contextString(app, "namePrefix", DefaultNamePrefix),
		AlarmEmail:              contextString(app, "alarmEmail", ""),
		CredentialsSecretNames:  map[string]string{},
		OperatorPrincipalArns:   contextList(app, "operatorPrincipalArns"),
		BreakGlassPrincipalArns: contextList(app, "breakGlassPrincipalArns"),
		Dashboard:               jsii.Bool(contextBool(app, "dashboard", true)),
	}
	for _, spec := range specs {
		if name := contextString(app, "credentialsSecretName."+spec.Name, ""); name != "" {
			props.CredentialsSecretNames[spec.Name] = name
		}
	}
	// The CLI sets these from the current credentials; without them the
	// stack is environment-agnostic and still synthesizes.
	if account, region := os.Getenv("CDK_DEFAULT_ACCOUNT"), os.Getenv("CDK_DEFAULT_REGION"); account != "" && region != "" {
		props.Env = &awscdk.Environment{Account: jsii.String(account), Region: jsii.String(region)}
	}

	NewTokenRefresherStack(app, contextString(app, "stackName", "TokenRefresher"), props)
	awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
	app.Synth(nil)
}

// contextString reads a context value as a string, or def when unset.
func contextString(app awscdk.App, key, def string) string {
	v := app.Node().TryGetContext(jsii.String(key))
	if v == nil {
		return def
	}
	if s := fmt.Sprint(v); s != "" {
		return s
	}
	return def
}

// contextList reads a context value as a list of strings: a JSON list
// (cdk.json) or one comma-separated string (-c key=a,b). Empty entries are
// dropped.
func contextList(app awscdk.App, key string) []string {
	var items []string
	switch v := app.Node().TryGetContext(jsii.String(key)).(type) {
	case nil:
	case []any:
		for _, e := range v {
			items = append(items, fmt.Sprint(e))
		}
	default:
		items = strings.Split(fmt.Sprint(v), ",")
	}
	var out []string
	for _, s := range items {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// contextBool reads a context value that is true or false (a JSON boolean
// or the string of one), or def when unset. Anything else panics with the
// key, so that a typo never flips a setting silently.
func contextBool(app awscdk.App, key string, def bool) bool {
	switch v := app.Node().TryGetContext(jsii.String(key)).(type) {
	case nil:
		return def
	case bool:
		return v
	case string:
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "true":
			return true
		case "false":
			return false
		}
	}
	panic(fmt.Sprintf("infra: context %s = %v: want true or false", key, app.Node().TryGetContext(jsii.String(key))))
}
