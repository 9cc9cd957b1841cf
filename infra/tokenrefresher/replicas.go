package tokenrefresher

import (
	"fmt"
	"regexp"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// regionPattern is the shape of an AWS region name.
var regionPattern = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]$`)

// checkReplicaRegions panics unless every region is a region name, listed
// once, and not the deployment's own region (when that is known).
func checkReplicaRegions(scope constructs.Construct, regions []string) {
	own := awscdk.Stack_Of(scope).Region()
	seen := map[string]bool{}
	for _, r := range regions {
		switch {
		case !regionPattern.MatchString(r):
			panic(fmt.Sprintf("tokenrefresher: props: TokenReplicaRegions: %q is not a region name", r))
		case seen[r]:
			panic(fmt.Sprintf("tokenrefresher: props: TokenReplicaRegions: %q listed twice", r))
		case !*awscdk.Token_IsUnresolved(own) && *own == r:
			panic(fmt.Sprintf("tokenrefresher: props: TokenReplicaRegions: %q is the deployment's own region", r))
		}
		seen[r] = true
	}
}

// replicaRegions is the ReplicaRegions prop of a token secret.
func replicaRegions(regions []string) *[]*awssecretsmanager.ReplicaRegion {
	if len(regions) == 0 {
		return nil
	}
	out := make([]*awssecretsmanager.ReplicaRegion, len(regions))
	for i, r := range regions {
		out[i] = &awssecretsmanager.ReplicaRegion{Region: jsii.String(r)}
	}
	return &out
}

// replicaArns turns the ARN of a secret into the ARNs of its replicas: a
// replica has the same name and suffix in its own region
// (arn:<partition>:secretsmanager:<region>:<account>:secret:<name>-<suffix>).
func replicaArns(arn *string, regions []string) []*string {
	var out []*string
	for _, region := range regions {
		parts := awscdk.Fn_Split(jsii.String(":"), arn, jsii.Number(7))
		elems := make([]*string, 7)
		for i := range elems {
			elems[i] = awscdk.Fn_Select(jsii.Number(i), parts)
		}
		elems[3] = jsii.String(region)
		out = append(out, awscdk.Fn_Join(jsii.String(":"), &elems))
	}
	return out
}

// replicaPatternArns are the name patterns of secretPatternArn in each
// replica region.
func replicaPatternArns(scope constructs.Construct, prefix, vendor, role string, regions []string) []*string {
	var out []*string
	for _, region := range regions {
		out = append(out, awscdk.Stack_Of(scope).FormatArn(&awscdk.ArnComponents{
			Partition:    awscdk.Aws_PARTITION(),
			Region:       jsii.String(region),
			Account:      awscdk.Aws_ACCOUNT_ID(),
			Service:      jsii.String("secretsmanager"),
			Resource:     jsii.String("secret"),
			ResourceName: jsii.String(prefix + "/" + vendor + "/*/" + role + "-??????"),
			ArnFormat:    awscdk.ArnFormat_COLON_RESOURCE_NAME,
		}))
	}
	return out
}
