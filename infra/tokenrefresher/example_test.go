package tokenrefresher_test

import (
	"fmt"
	"sort"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/jsii-runtime-go"

	"github.com/token-refresher/token-refresher/infra/tokenrefresher"
	"github.com/token-refresher/token-refresher/shared/vendors"
)

// A billing service adds the refreshers of the two vendors it uses to its
// own stack, under its own name prefix, and lets its task role read the
// tokens and report refused ones.
func Example() {
	app := awscdk.NewApp(nil)
	stack := awscdk.NewStack(app, jsii.String("Billing"), nil)
	taskRole := awsiam.NewRole(stack, jsii.String("TaskRole"), &awsiam.RoleProps{
		AssumedBy: awsiam.NewServicePrincipal(jsii.String("ecs-tasks.amazonaws.com"), nil),
	})

	tokens := tokenrefresher.New(stack, "VendorTokens", &tokenrefresher.Props{
		AssetDir:     "build", // make build
		Vendors:      []vendors.Spec{vendors.MustLookup(vendors.Fyber), vendors.MustLookup(vendors.Merchenta)},
		NamePrefix:   "billing-tokens",
		AlarmEmail:   "billing-oncall@example.com",
		LogRetention: awslogs.RetentionDays_ONE_MONTH,
		Dashboard:    jsii.Bool(false),
	})
	taskRole.AddManagedPolicy(tokens.Access.Reader)
	taskRole.AddManagedPolicy(tokens.Access.Rejecter)

	// What the stack now deploys besides the app's own resources:
	template := assertions.Template_FromStack(stack, nil)
	var names []string
	for typ, key := range map[string]string{"AWS::Lambda::Function": "FunctionName", "AWS::SecretsManager::Secret": "Name"} {
		for _, r := range *template.FindResources(jsii.String(typ), nil) {
			names = append(names, fmt.Sprint((*r)["Properties"].(map[string]any)[key]))
		}
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Println(n)
	}
	// Output:
	// billing-tokens-fyber
	// billing-tokens-merchenta
	// billing-tokens/fyber/credentials
	// billing-tokens/fyber/token
	// billing-tokens/merchenta/credentials
	// billing-tokens/merchenta/token
}
