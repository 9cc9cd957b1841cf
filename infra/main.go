// Command infra is the CDK app of token-refresher: one stack made by
// infra/tokenrefresher (a scheduled refresher per vendor of shared/vendors,
// the Admitad connect API, the app and operator policies, alarms and a
// dashboard), configured from the CDK context.
//
// Context (cdk.json or -c key=value):
//
//	assetDir                      output of `make build` (default "build")
//	namePrefix                    prefix of physical names (default "token-refresher")
//	stackName                     CloudFormation stack name (default "TokenRefresher")
//	alarmEmail                    address subscribed to the alarm topic
//	credentialsSecretName.<name>  import this existing credentials secret for vendor <name>
//	                              (or <name>/<connection>, for a named connection)
//	operatorPrincipalArns         roles that run tokenctl connect (may read signing keys); comma-separated or a list
//	breakGlassPrincipalArns       roles that may read every guarded secret; comma-separated or a list
//	dashboard                     false leaves out the CloudWatch dashboard (default true)
//	connections                   named connections per vendor: {"merchenta": ["acme", "globex"]} in cdk.json, or -c connections='{"merchenta":["acme"]}'
//	connectionShards              nested stacks per vendor for its named connections (default 8; set before the first deploy of connections)
//	connectionLanes               lanes that run each vendor's named connections in parallel (2 to 50; default 0, none)
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/token-refresher/token-refresher/infra/tokenrefresher"
	"github.com/token-refresher/token-refresher/shared/vendors"
)

func main() {
	defer jsii.Close()

	app := awscdk.NewApp(nil)
	tokenrefresher.NewStack(app, contextString(app, "stackName", "TokenRefresher"), stackProps(app))
	awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
	app.Synth(nil)
}

// stackProps reads the deployment's settings from the app's context.
func stackProps(app awscdk.App) *tokenrefresher.StackProps {
	specs := vendors.All()
	props := &tokenrefresher.StackProps{
		StackProps: awscdk.StackProps{
			Description: jsii.String("token-refresher: scheduled vendor token refreshers writing to Secrets Manager"),
		},
		Props: tokenrefresher.Props{
			AssetDir:                contextString(app, "assetDir", "build"),
			Vendors:                 specs,
			Connections:             contextConnections(app, "connections"),
			NamePrefix:              contextString(app, "namePrefix", tokenrefresher.DefaultNamePrefix),
			AlarmEmail:              contextString(app, "alarmEmail", ""),
			CredentialsSecretNames:  map[string]string{},
			OperatorPrincipalArns:   contextList(app, "operatorPrincipalArns"),
			BreakGlassPrincipalArns: contextList(app, "breakGlassPrincipalArns"),
			Dashboard:               jsii.Bool(contextBool(app, "dashboard", true)),
			ConnectionShards:        contextInt(app, "connectionShards", 0),
			ConnectionLanes:         contextInt(app, "connectionLanes", 0),
		},
	}
	for _, spec := range specs {
		targets := []string{spec.Name}
		for _, conn := range props.Connections[spec.Name] {
			targets = append(targets, spec.Name+"/"+conn)
		}
		for _, target := range targets {
			if name := contextString(app, "credentialsSecretName."+target, ""); name != "" {
				props.CredentialsSecretNames[target] = name
			}
		}
	}
	// The CLI sets these from the current credentials; without them the
	// stack is environment-agnostic and still synthesizes.
	if account, region := os.Getenv("CDK_DEFAULT_ACCOUNT"), os.Getenv("CDK_DEFAULT_REGION"); account != "" && region != "" {
		props.Env = &awscdk.Environment{Account: jsii.String(account), Region: jsii.String(region)}
	}
	return props
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

// contextInt reads a context value that is a whole number (a JSON number
// or the string of one), or def when unset. Anything else panics with the
// key.
func contextInt(app awscdk.App, key string, def int) int {
	v := app.Node().TryGetContext(jsii.String(key))
	if v == nil {
		return def
	}
	var n int
	if f, ok := v.(float64); ok && f == float64(int(f)) {
		return int(f)
	}
	if _, err := fmt.Sscanf(strings.TrimSpace(fmt.Sprint(v)), "%d", &n); err != nil || fmt.Sprint(n) != strings.TrimSpace(fmt.Sprint(v)) {
		panic(fmt.Sprintf("infra: context %s = %v: want a whole number", key, v))
	}
	return n
}

// contextConnections reads the named connections per vendor: a JSON object
// of lists in cdk.json, or the same object as a string (-c key='{...}').
// The construct validates the names; a value of another shape panics here.
func contextConnections(app awscdk.App, key string) map[string][]string {
	raw := app.Node().TryGetContext(jsii.String(key))
	if raw == nil {
		return nil
	}
	if s, ok := raw.(string); ok {
		var v any
		if err := json.Unmarshal([]byte(s), &v); err != nil {
			panic(fmt.Sprintf("infra: context %s: not a JSON object of lists: %v", key, err))
		}
		raw = v
	}
	obj, ok := raw.(map[string]any)
	if !ok {
		panic(fmt.Sprintf("infra: context %s: want an object {\"<vendor>\": [\"<connection>\", ...]}, got %T", key, raw))
	}
	out := make(map[string][]string, len(obj))
	for vendor, v := range obj {
		list, ok := v.([]any)
		if !ok {
			panic(fmt.Sprintf("infra: context %s.%s: want a list of connection names, got %T", key, vendor, v))
		}
		for _, e := range list {
			name, ok := e.(string)
			if !ok {
				panic(fmt.Sprintf("infra: context %s.%s: connection name %v is not a string", key, vendor, e))
			}
			out[vendor] = append(out[vendor], name)
		}
	}
	return out
}
