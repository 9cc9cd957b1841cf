package tokenrefresher

import (
	"debug/elf"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/token-refresher/token-refresher/shared/vendors"
)

// The stack under test is synthesized once: synthesis through jsii takes
// seconds, and every test reads the same template.
var (
	testAssetDir string
	// testRepoRoot is the repository's root folder (the tests run in a
	// temporary folder).
	testRepoRoot string
	testStack    *Stack
	testTemplate assertions.Template
	testDoc      template
)

func TestMain(m *testing.M) {
	code := func() int {
		defer jsii.Close()
		dir, err := os.MkdirTemp("", "infra-assets-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "tokenrefresher test: create asset dir:", err)
			return 1
		}
		defer os.RemoveAll(dir)
		if testRepoRoot, err = filepath.Abs(filepath.Join("..", "..")); err != nil {
			fmt.Fprintln(os.Stderr, "tokenrefresher test:", err)
			return 1
		}
		flags, err := readFeatureFlags(filepath.Join("..", "..", "cdk.json"))
		if err != nil {
			fmt.Fprintln(os.Stderr, "tokenrefresher test:", err)
			return 1
		}
		cdkFlags = flags
		// The examples build from "build", as after `make build` in the
		// repository root: run in a folder that has one.
		build := filepath.Join(dir, "build")
		if err := writeDummyAssets(build, vendors.All()); err != nil {
			fmt.Fprintln(os.Stderr, "tokenrefresher test:", err)
			return 1
		}
		if err := os.Chdir(dir); err != nil {
			fmt.Fprintln(os.Stderr, "tokenrefresher test:", err)
			return 1
		}
		testAssetDir = build
		testStack = newTestStack(build, nil)
		testTemplate = assertions.Template_FromStack(testStack.Stack, nil)
		testDoc = parseTemplate(testTemplate)
		return m.Run()
	}()
	os.Exit(code)
}

// writeDummyAssets creates <dir>/<fn>/bootstrap for every function of specs.
func writeDummyAssets(dir string, specs []vendors.Spec) error {
	for _, s := range specs {
		for _, fn := range []string{s.FunctionName(), s.CallbackFunctionName()} {
			if fn == "" {
				continue
			}
			if err := os.MkdirAll(filepath.Join(dir, fn), 0o755); err != nil {
				return fmt.Errorf("create asset folder %s: %w", fn, err)
			}
			if err := os.WriteFile(filepath.Join(dir, fn, "bootstrap"), elfHeader(elf.EM_AARCH64, fn), 0o755); err != nil {
				return fmt.Errorf("write bootstrap of %s: %w", fn, err)
			}
		}
	}
	return nil
}

// elfHeader is the 64-byte header of a 64-bit little-endian ELF
// executable for machine, followed by name: what the construct checks of
// a prebuilt bootstrap, without building one.
func elfHeader(machine elf.Machine, name string) []byte {
	h := make([]byte, 64, 64+len(name))
	copy(h, elf.ELFMAG)
	h[elf.EI_CLASS], h[elf.EI_DATA], h[elf.EI_VERSION] = byte(elf.ELFCLASS64), byte(elf.ELFDATA2LSB), byte(elf.EV_CURRENT)
	binary.LittleEndian.PutUint16(h[16:], uint16(elf.ET_EXEC))
	binary.LittleEndian.PutUint16(h[18:], uint16(machine))
	binary.LittleEndian.PutUint32(h[20:], uint32(elf.EV_CURRENT))
	return append(h, name...)
}

// newTestStack builds the stack of every vendor in its own app, with the
// AwsSolutions checks applied as main does.
func newTestStack(assetDir string, credentials map[string]string) *Stack {
	return newTestStackOf(assetDir, vendors.All(), credentials)
}

// newTestStackOf is newTestStack with another vendor table.
func newTestStackOf(assetDir string, specs []vendors.Spec, credentials map[string]string) *Stack {
	return NewStack(newTestApp(), "TokenRefresher", &StackProps{Props: Props{
		AssetDir:               assetDir,
		Vendors:                specs,
		AlarmEmail:             "ops@example.com",
		CredentialsSecretNames: credentials,
	}})
}

// newTestApp is an app with the feature flags of cdk.json and the
// AwsSolutions checks applied, as `cdk synth` of main has.
func newTestApp() awscdk.App { return newTestAppWith(cdkFlags) }

// newTestAppWith is newTestApp with other feature flags.
func newTestAppWith(flags map[string]any) awscdk.App {
	ctx := make(map[string]any, len(flags))
	for k, v := range flags {
		ctx[k] = v
	}
	app := awscdk.NewApp(&awscdk.AppProps{Context: &ctx})
	awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Reports: jsii.Bool(false)}), nil)
	return app
}

// cdkFlags are the feature flags that the repository's cdk.json sets.
var cdkFlags map[string]any

// readFeatureFlags returns the feature flags (context keys starting with
// "@") of a cdk.json.
func readFeatureFlags(path string) (map[string]any, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	var doc struct {
		Context map[string]any `json:"context"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	flags := map[string]any{}
	for k, v := range doc.Context {
		if strings.HasPrefix(k, "@") {
			flags[k] = v
		}
	}
	return flags, nil
}

// template is the synthesized CloudFormation template, read with plain Go
// so that a mismatch fails one test instead of panicking.
type template struct {
	Resources map[string]resource `json:"Resources"`
	Outputs   map[string]struct {
		Value any `json:"Value"`
	} `json:"Outputs"`
}

type resource struct {
	Type       string         `json:"Type"`
	Properties map[string]any `json:"Properties"`
	Metadata   map[string]any `json:"Metadata"`
	DependsOn  any            `json:"DependsOn"`
}

func parseTemplate(t assertions.Template) template {
	raw, err := json.Marshal(t.ToJSON())
	if err != nil {
		panic(fmt.Sprintf("tokenrefresher test: marshal template: %v", err))
	}
	var doc template
	if err := json.Unmarshal(raw, &doc); err != nil {
		panic(fmt.Sprintf("tokenrefresher test: parse template: %v", err))
	}
	return doc
}

// ofType returns the logical ids of resources of type typ, sorted.
func (d template) ofType(typ string) []string {
	var ids []string
	for id, r := range d.Resources {
		if r.Type == typ {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

// find returns the logical id of the one resource of type typ whose
// property key equals value.
func (d template) find(t *testing.T, typ, key string, value any) string {
	t.Helper()
	var found []string
	for _, id := range d.ofType(typ) {
		if reflect.DeepEqual(d.Resources[id].Properties[key], value) {
			found = append(found, id)
		}
	}
	if len(found) != 1 {
		t.Fatalf("want one %s with %s=%v, found %v", typ, key, value, found)
	}
	return found[0]
}

func ref(id string) map[string]any       { return map[string]any{"Ref": id} }
func getAttArn(id string) map[string]any { return map[string]any{"Fn::GetAtt": []any{id, "Arn"}} }

// refs collects the logical ids referenced (Ref or Fn::GetAtt) anywhere in v.
func refs(v any) map[string]bool {
	out := map[string]bool{}
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if id, ok := x["Ref"].(string); ok && len(x) == 1 {
				out[id] = true
			}
			if ga, ok := x["Fn::GetAtt"].([]any); ok && len(x) == 1 && len(ga) > 0 {
				if id, ok := ga[0].(string); ok {
					out[id] = true
				}
			}
			for _, e := range x {
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(v)
	return out
}

// statement is one IAM policy statement, normalised to lists.
type statement struct {
	Effect    string
	Actions   []string
	Resources []any
}

func statements(doc any) []statement {
	var out []statement
	m, _ := doc.(map[string]any)
	list, _ := m["Statement"].([]any)
	for _, raw := range list {
		s, _ := raw.(map[string]any)
		st := statement{Effect: fmt.Sprint(s["Effect"])}
		switch a := s["Action"].(type) {
		case string:
			st.Actions = []string{a}
		case []any:
			for _, e := range a {
				st.Actions = append(st.Actions, fmt.Sprint(e))
			}
		}
		switch r := s["Resource"].(type) {
		case []any:
			st.Resources = r
		default:
			st.Resources = []any{r}
		}
		out = append(out, st)
	}
	return out
}

// functionIDs maps each function name under test to its logical id.
func functionIDs(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, s := range vendors.All() {
		for _, fn := range []string{s.FunctionName(), s.CallbackFunctionName()} {
			if fn != "" {
				out[fn] = testDoc.find(t, "AWS::Lambda::Function", "FunctionName", functionName(DefaultNamePrefix, fn))
			}
		}
	}
	return out
}

// secret returns the logical id of the secret named name.
func (d template) secret(t *testing.T, name string) string {
	t.Helper()
	return d.find(t, "AWS::SecretsManager::Secret", "Name", name)
}

// env returns a function's environment variables.
func (d template) env(id string) map[string]any {
	e, _ := d.Resources[id].Properties["Environment"].(map[string]any)
	v, _ := e["Variables"].(map[string]any)
	return v
}
