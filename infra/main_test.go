package main

import (
	"debug/elf"
	"encoding/binary"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/token-refresher/token-refresher/shared/vendors"
)

// testAssetDir holds a dummy bootstrap per function, for the CLI synth.
var testAssetDir string

func TestMain(m *testing.M) {
	code := func() int {
		defer jsii.Close()
		dir, err := os.MkdirTemp("", "infra-assets-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "infra test: create asset dir:", err)
			return 1
		}
		defer os.RemoveAll(dir)
		if err := writeDummyAssets(dir, vendors.All()); err != nil {
			fmt.Fprintln(os.Stderr, "infra test:", err)
			return 1
		}
		testAssetDir = dir
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
			if err := os.MkdirAll(dir+"/"+fn, 0o755); err != nil {
				return fmt.Errorf("create asset folder %s: %w", fn, err)
			}
			if err := os.WriteFile(dir+"/"+fn+"/bootstrap", arm64Header(fn), 0o755); err != nil {
				return fmt.Errorf("write bootstrap of %s: %w", fn, err)
			}
		}
	}
	return nil
}

// arm64Header is the 64-byte header of a linux/arm64 ELF executable
// followed by name: what the construct checks of a prebuilt bootstrap.
func arm64Header(name string) []byte {
	h := make([]byte, 64, 64+len(name))
	copy(h, elf.ELFMAG)
	h[elf.EI_CLASS], h[elf.EI_DATA], h[elf.EI_VERSION] = byte(elf.ELFCLASS64), byte(elf.ELFDATA2LSB), byte(elf.EV_CURRENT)
	binary.LittleEndian.PutUint16(h[16:], uint16(elf.ET_EXEC))
	binary.LittleEndian.PutUint16(h[18:], uint16(elf.EM_AARCH64))
	binary.LittleEndian.PutUint32(h[20:], uint32(elf.EV_CURRENT))
	return append(h, name...)
}

// TestContextBool reads the dashboard flag as cdk.json and -c give it.
func TestContextBool(t *testing.T) {
	for _, tc := range []struct {
		value any
		want  bool
		bad   bool
	}{
		{value: nil, want: true},
		{value: false, want: false},
		{value: true, want: true},
		{value: "false", want: false},
		{value: "FALSE", want: false},
		{value: "true", want: true},
		{value: "no", bad: true},
		{value: "", bad: true},
		{value: float64(0), bad: true},
	} {
		t.Run(fmt.Sprint(tc.value), func(t *testing.T) {
			ctx := map[string]any{}
			if tc.value != nil {
				ctx["dashboard"] = tc.value
			}
			app := awscdk.NewApp(&awscdk.AppProps{Context: &ctx})
			defer func() {
				r := recover()
				if tc.bad != (r != nil) || (r != nil && !strings.Contains(fmt.Sprint(r), "context dashboard")) {
					t.Errorf("panic = %v, want one: %v", r, tc.bad)
				}
			}()
			if got := contextBool(app, "dashboard", true); got != tc.want {
				t.Errorf("contextBool = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestContextList reads principal lists as cdk.json and -c give them.
func TestContextList(t *testing.T) {
	for _, tc := range []struct {
		value any
		want  []string
	}{
		{nil, nil},
		{"arn:a", []string{"arn:a"}},
		{"arn:a, arn:b,", []string{"arn:a", "arn:b"}},
		{[]any{"arn:a", "arn:b"}, []string{"arn:a", "arn:b"}},
	} {
		t.Run(fmt.Sprint(tc.value), func(t *testing.T) {
			ctx := map[string]any{}
			if tc.value != nil {
				ctx["k"] = tc.value
			}
			if got := contextList(awscdk.NewApp(&awscdk.AppProps{Context: &ctx}), "k"); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("contextList = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestContextConnections reads connections as cdk.json (an object) and -c
// (a JSON string) give them, and refuses other shapes.
func TestContextConnections(t *testing.T) {
	for _, tc := range []struct {
		name  string
		value any
		want  map[string][]string
		bad   string
	}{
		{name: "unset"},
		{name: "cdk.json", value: map[string]any{"merchenta": []any{"acme", "globex"}}, want: map[string][]string{"merchenta": {"acme", "globex"}}},
		{name: "-c", value: `{"fyber":["staging"]}`, want: map[string][]string{"fyber": {"staging"}}},
		{name: "not JSON", value: "merchenta=acme", bad: "not a JSON object"},
		{name: "a list", value: []any{"acme"}, bad: "want an object"},
		{name: "a name, not a list", value: map[string]any{"fyber": "staging"}, bad: "context connections.fyber"},
		{name: "a number", value: map[string]any{"fyber": []any{float64(1)}}, bad: "is not a string"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := map[string]any{}
			if tc.value != nil {
				ctx["connections"] = tc.value
			}
			defer func() {
				r := recover()
				if (r != nil) != (tc.bad != "") || (r != nil && !strings.Contains(fmt.Sprint(r), tc.bad)) {
					t.Errorf("panic = %v, want one containing %q", r, tc.bad)
				}
			}()
			if got := contextConnections(awscdk.NewApp(&awscdk.AppProps{Context: &ctx}), "connections"); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// TestStackPropsFromContext reads every setting of the deployment from the
// context, as cdk.json and -c give it.
func TestStackPropsFromContext(t *testing.T) {
	ctx := map[string]any{
		"assetDir":                             "out",
		"namePrefix":                           "tr-staging",
		"alarmEmail":                           "ops@example.com",
		"connections":                          `{"merchenta":["acme","globex"]}`,
		"credentialsSecretName.fyber":          "ops/fyber",
		"credentialsSecretName.merchenta/acme": "ops/merchenta-acme",
		"credentialsSecretName.merchenta/nope": "ignored: no such connection",
		"operatorPrincipalArns":                "arn:aws:iam::123456789012:role/ops",
		"breakGlassPrincipalArns":              []any{"arn:aws:iam::123456789012:role/glass"},
		"dashboard":                            "false",
		"connectionShards":                     16,
		"connectionLanes":                      "10",
	}
	p := stackProps(awscdk.NewApp(&awscdk.AppProps{Context: &ctx}))
	want := map[string]any{
		"AssetDir":                p.AssetDir == "out",
		"NamePrefix":              p.NamePrefix == "tr-staging",
		"AlarmEmail":              p.AlarmEmail == "ops@example.com",
		"Connections":             reflect.DeepEqual(p.Connections, map[string][]string{"merchenta": {"acme", "globex"}}),
		"CredentialsSecretNames":  reflect.DeepEqual(p.CredentialsSecretNames, map[string]string{"fyber": "ops/fyber", "merchenta/acme": "ops/merchenta-acme"}),
		"OperatorPrincipalArns":   reflect.DeepEqual(p.OperatorPrincipalArns, []string{"arn:aws:iam::123456789012:role/ops"}),
		"BreakGlassPrincipalArns": reflect.DeepEqual(p.BreakGlassPrincipalArns, []string{"arn:aws:iam::123456789012:role/glass"}),
		"Dashboard":               p.Dashboard != nil && !*p.Dashboard,
		"Vendors":                 len(p.Vendors) == len(vendors.All()),
		"ConnectionShards":        p.ConnectionShards == 16,
		"ConnectionLanes":         p.ConnectionLanes == 10,
	}
	for field, ok := range want {
		if ok != true {
			t.Errorf("%s not read from the context: %+v", field, p.Props)
		}
	}
}
