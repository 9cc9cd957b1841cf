package tokenrefresher

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"github.com/token-refresher/token-refresher/shared/refresh"
	"github.com/token-refresher/token-refresher/shared/vendors"
)

// TestConnectionsBeyondTheEnvironment: more connections than CONNECTIONS
// can hold in Lambda's 4 KB of environment reach the refresher and the
// connect callback in a layer (CONNECTIONS_FILE) that refresh.LoadTargets
// reads, and ConnectionShards spreads them over more nested stacks.
func TestConnectionsBeyondTheEnvironment(t *testing.T) {
	if testing.Short() {
		t.Skip("synthesizes about 4,500 resources")
	}
	if EnvConnectionsFile != refresh.EnvConnectionsFile {
		t.Fatalf("the stack sets %s, the functions read %s", EnvConnectionsFile, refresh.EnvConnectionsFile)
	}
	spec := vendors.MustLookup(vendors.Admitad)
	var names []string
	for i := range 650 {
		names = append(names, fmt.Sprintf("c%d", i))
	}
	if n := len(strings.Join(names, ",")); n <= maxConnectionsEnv {
		t.Fatalf("%d bytes of names fit the environment; the test needs more", n)
	}
	out := t.TempDir()
	ctx := map[string]any{}
	for k, v := range cdkFlags {
		ctx[k] = v
	}
	app := awscdk.NewApp(&awscdk.AppProps{Context: &ctx, Outdir: jsii.String(out)})
	const shards = 16
	s := NewStack(app, "TokenRefresher", &StackProps{Props: Props{
		AssetDir: testAssetDir, Vendors: []vendors.Spec{spec}, AlarmEmail: "ops@example.com",
		Connections: map[string][]string{spec.Name: names}, ConnectionShards: shards,
	}})
	doc := parseTemplate(assertions.Template_FromStack(s.Stack, nil))

	path := "/opt/token-refresher/admitad-connections"
	layers := doc.ofType("AWS::Lambda::LayerVersion")
	if len(layers) != 1 {
		t.Fatalf("%d layers, want one with admitad's connections", len(layers))
	}
	for _, fn := range []string{spec.FunctionName(), spec.CallbackFunctionName()} {
		id := doc.find(t, "AWS::Lambda::Function", "FunctionName", functionName(DefaultNamePrefix, fn))
		env := doc.env(id)
		if env[EnvConnectionsFile] != path || env[EnvConnections] != nil {
			t.Errorf("%s: %s = %v, %s = %v; want the file and no list", fn, EnvConnectionsFile, env[EnvConnectionsFile], EnvConnections, env[EnvConnections])
		}
		if got := doc.Resources[id].Properties["Layers"]; !refs(got)[layers[0]] {
			t.Errorf("%s: layers %v, want %s", fn, got, layers[0])
		}
	}

	nested := map[string]bool{}
	for _, r := range s.Refreshers {
		for _, c := range r.Connections {
			ns := awscdk.Stack_Of(c.Construct)
			nested[*ns.Node().Path()] = true
			if got, want := *ns.Node().Id(), exportID(spec.Name)+"Connections"+fmt.Sprint(shardIn(c.Name, shards)); got != want {
				t.Fatalf("%s is in %s, want %s", c.Name, got, want)
			}
		}
	}
	if len(nested) != shards {
		t.Errorf("%d nested stacks, want %d", len(nested), shards)
	}

	// The layer's file, as staged for deployment, is what the functions
	// read: every connection, and nothing else.
	app.Synth(nil)
	files, _ := filepath.Glob(filepath.Join(out, "asset.*", "token-refresher", "admitad-connections"))
	if len(files) != 1 {
		t.Fatalf("staged connections files: %v", files)
	}
	env := map[string]string{
		"CREDENTIALS_SECRET_ID": "token-refresher/admitad/credentials", "TOKEN_SECRET_ID": "token-refresher/admitad/token",
		"REFRESH_SECRET_ID": "token-refresher/admitad/refresh-token", "NAME_PREFIX": DefaultNamePrefix, EnvConnectionsFile: files[0],
	}
	targets, err := refresh.LoadTargets(spec, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if got := len(targets.Names()); got != len(names)+1 {
		t.Errorf("the functions would serve %d connections, want %d", got, len(names)+1)
	}
	if _, err := targets.Lookup(spec.Name, "c649"); err != nil {
		t.Error(err)
	}
	raw, _ := os.ReadFile(files[0])
	if strings.Count(string(raw), "\n") != len(names) {
		t.Errorf("the file has %d lines, want %d", strings.Count(string(raw), "\n"), len(names))
	}
}
