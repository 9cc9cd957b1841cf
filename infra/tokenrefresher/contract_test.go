package tokenrefresher

import (
	"testing"

	"github.com/token-refresher/token-refresher/shared/vendors"
)

// checkEnvContract fails unless env, a function's environment in the
// template, sets every variable the function requires and none that it
// does not read (package vendors lists both; the functions' tests check
// that they read nothing else: shared/lambdafn, shared/admitad).
func checkEnvContract(t *testing.T, fn string, env map[string]any, contract []vendors.EnvVar) {
	t.Helper()
	reads := map[string]bool{}
	for _, v := range contract {
		reads[v.Name] = true
		if _, set := env[v.Name]; v.Required && !set {
			t.Errorf("%s requires %s; the stack does not set it", fn, v.Name)
		}
	}
	for k := range env {
		if _, common := vendors.FunctionEnvironment[k]; !reads[k] && !common {
			t.Errorf("the stack sets %s on %s, which does not read it", k, fn)
		}
	}
}

// TestEnvironmentIsTheContract: what the stack sets on each function is
// what the function reads, without connections and with them.
func TestEnvironmentIsTheContract(t *testing.T) {
	fns := functionIDs(t)
	for _, spec := range vendors.All() {
		t.Run(spec.Name, func(t *testing.T) {
			checkEnvContract(t, spec.FunctionName(), testDoc.env(fns[spec.FunctionName()]), vendors.RefresherEnv(spec))
			if cb := spec.CallbackFunctionName(); cb != "" {
				checkEnvContract(t, cb, testDoc.env(fns[cb]), vendors.CallbackEnv(spec))
			}
		})
	}
	t.Run("named connections", func(t *testing.T) {
		_, parent, _ := connectionsStack(t, Props{Connections: testConnections})
		for _, spec := range vendors.All() {
			for _, fn := range []string{spec.FunctionName(), spec.CallbackFunctionName()} {
				if fn == "" {
					continue
				}
				contract := vendors.RefresherEnv(spec)
				if fn == spec.CallbackFunctionName() {
					contract = vendors.CallbackEnv(spec)
				}
				id := parent.find(t, "AWS::Lambda::Function", "FunctionName", functionName(DefaultNamePrefix, fn))
				checkEnvContract(t, fn, parent.env(id), contract)
			}
		}
	})
	// With lanes: the vendor function (CONNECTION_LANES) and every lane
	// (CONNECTION_LANES, CONNECTION_LANE) read all they get.
	t.Run("lanes", func(t *testing.T) {
		s := lanesStack(t)
		for _, r := range s.stack.Refreshers {
			spec := r.Spec
			id := s.parent.find(t, "AWS::Lambda::Function", "FunctionName", functionName(DefaultNamePrefix, spec.FunctionName()))
			checkEnvContract(t, spec.FunctionName(), s.parent.env(id), vendors.RefresherEnv(spec))
			if _, named := testLaneConnections[spec.Name]; named && len(r.Lanes) == 0 {
				t.Errorf("%s has no lanes", spec.Name)
			}
			for _, l := range r.Lanes {
				_, doc := s.lanesOf(t, spec.Name)
				name := vendors.LaneFunctionName(functionName(DefaultNamePrefix, spec.FunctionName()), l.Index)
				checkEnvContract(t, name, doc.env(doc.find(t, "AWS::Lambda::Function", "FunctionName", name)), vendors.RefresherEnv(spec))
			}
		}
	})
}
