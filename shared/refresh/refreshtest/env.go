package refreshtest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/token-refresher/token-refresher/shared/vendors"
)

// contractValues are values for every variable of the contract that the
// configuration accepts.
func contractValues(spec vendors.Spec, env []vendors.EnvVar) map[string]string {
	out := map[string]string{}
	for _, v := range env {
		switch v.Name {
		case vendors.EnvConnections:
			out[v.Name] = "acme"
		case vendors.EnvConnectionsFile:
			// Set instead of CONNECTIONS, never with it: EnvContract
			// loads it on its own.
		case vendors.EnvNamePrefix:
			out[v.Name] = vendors.DefaultPrefix
		case vendors.EnvCredentialsSecretIDs:
			out[v.Name] = `{"acme":"ops/acme"}`
		case vendors.EnvConnectionLanes:
			out[v.Name] = "4"
		case vendors.EnvConnectionLane:
			out[v.Name] = "1"
		case spec.URLEnv, vendors.EnvAuthorizeURL, vendors.EnvCallbackURL:
			out[v.Name] = "https://vendor.example/" + strings.ToLower(v.Name)
		case vendors.EnvCredentialsSecretID:
			out[v.Name] = vendors.SecretName(vendors.DefaultPrefix, spec.Name, "", vendors.RoleCredentials)
		case vendors.EnvTokenSecretID:
			out[v.Name] = vendors.SecretName(vendors.DefaultPrefix, spec.Name, "", vendors.RoleToken)
		case vendors.EnvRefreshSecretID:
			out[v.Name] = vendors.SecretName(vendors.DefaultPrefix, spec.Name, "", vendors.RoleRefreshToken)
		default:
			out[v.Name] = vendors.SecretName(vendors.DefaultPrefix, spec.Name, "", vendors.RoleSigningKey)
		}
	}
	// Lambda sets it in every function.
	out["AWS_LAMBDA_FUNCTION_NAME"] = vendors.FunctionName(vendors.DefaultPrefix, spec.Name)
	return out
}

// EnvContract checks a function's configuration loader against the
// environment the stack sets (env, from package vendors): load reads no
// variable outside env but the AWS runtime's own, fails naming each
// required one when it is missing, and runs without each optional one.
// The stack's side is checked by infra/tokenrefresher's tests.
func EnvContract(t *testing.T, spec vendors.Spec, env []vendors.EnvVar, load func(getenv func(string) string) error) {
	t.Helper()
	values := contractValues(spec, env)
	read := map[string]bool{}
	getenv := func(k string) string { read[k] = true; return values[k] }
	if err := load(getenv); err != nil {
		t.Fatalf("with every variable of the contract set: %v", err)
	}
	for k := range read {
		declared := strings.HasPrefix(k, "AWS_")
		for _, v := range env {
			declared = declared || v.Name == k
		}
		if _, ok := vendors.FunctionEnvironment[k]; ok {
			declared = true
		}
		if !declared {
			t.Errorf("reads %s, which is not in the contract (package vendors): the stack never sets it", k)
		}
	}
	for _, v := range env {
		if v.Name != vendors.EnvConnectionsFile {
			continue
		}
		// The long form of the connection list: a file in place of
		// CONNECTIONS.
		file := filepath.Join(t.TempDir(), "connections")
		if err := os.WriteFile(file, []byte("acme\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		withFile := func(k string) string {
			switch k {
			case vendors.EnvConnections:
				return ""
			case vendors.EnvConnectionsFile:
				return file
			}
			return values[k]
		}
		if err := load(withFile); err != nil {
			t.Errorf("with %s in place of %s: %v", vendors.EnvConnectionsFile, vendors.EnvConnections, err)
		}
	}
	for _, v := range env {
		without := func(k string) string {
			// A lane's number means nothing without the number of lanes:
			// the stack sets both or neither.
			if k == v.Name || (v.Name == vendors.EnvConnectionLanes && k == vendors.EnvConnectionLane) {
				return ""
			}
			return values[k]
		}
		err := load(without)
		switch {
		case v.Required && (err == nil || !strings.Contains(err.Error(), v.Name)):
			t.Errorf("without %s, a required variable: %v, want an error naming it", v.Name, err)
		case !v.Required && err != nil:
			t.Errorf("without %s, an optional variable: %v", v.Name, err)
		}
	}
}
