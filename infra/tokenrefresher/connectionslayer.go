package tokenrefresher

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/token-refresher/token-refresher/shared/vendors"
)

// EnvConnectionsFile names, instead of CONNECTIONS, the file that lists a
// vendor's named connections when they do not fit in the function's
// environment (refresh.EnvConnectionsFile).
const EnvConnectionsFile = vendors.EnvConnectionsFile

// DefaultConnectionShards is how many nested stacks hold a vendor's named
// connections unless Props.ConnectionShards says otherwise.
const DefaultConnectionShards = connectionShards

// MaxConnectionShards bounds Props.ConnectionShards: 5 vendors × 64
// shards and the parent stay far below CloudFormation's 500 resources in
// the parent stack (a nested stack is one resource there).
const MaxConnectionShards = 64

// connectionsLayerDir is where a connections layer puts its file: a layer
// is unpacked under /opt.
const connectionsLayerDir = "token-refresher"

// addConnectionsLayer ships the names of a vendor's connections as a
// Lambda layer, one name a line, for functions whose CONNECTIONS would not
// fit in Lambda's 4 KB of environment, adds it to fns, and returns the path
// the functions read them from (CONNECTIONS_FILE) and the layer. The
// layer's content, and so its version, changes only when the connections
// do; reading it costs a file read at cold start and no AWS call.
func addConnectionsLayer(scope constructs.Construct, spec vendors.Spec, names []string, fns ...awslambda.Function) (string, awslambda.LayerVersion) {
	file := spec.Name + "-connections"
	dir, err := os.MkdirTemp("", "token-refresher-connections-")
	if err != nil {
		panic("tokenrefresher: connections layer of " + spec.Name + ": " + err.Error())
	}
	if err := os.MkdirAll(filepath.Join(dir, connectionsLayerDir), 0o755); err != nil {
		panic("tokenrefresher: connections layer of " + spec.Name + ": " + err.Error())
	}
	if err := os.WriteFile(filepath.Join(dir, connectionsLayerDir, file), []byte(strings.Join(names, "\n")+"\n"), 0o644); err != nil {
		panic("tokenrefresher: connections layer of " + spec.Name + ": " + err.Error())
	}
	layer := awslambda.NewLayerVersion(scope, jsii.String(exportID(spec.Name)+"ConnectionsLayer"), &awslambda.LayerVersionProps{
		Code:                    awslambda.Code_FromAsset(jsii.String(dir), nil),
		CompatibleArchitectures: &[]awslambda.Architecture{awslambda.Architecture_ARM_64()},
		Description:             jsii.String("token-refresher: the named connections of " + spec.Title + ", read by its functions at cold start"),
	})
	for _, fn := range fns {
		fn.AddLayers(layer)
	}
	return "/opt/" + connectionsLayerDir + "/" + file, layer
}
