package tokenrefresher

import (
	"reflect"
	"slices"
	"sort"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"

	"github.com/token-refresher/token-refresher/shared/vendors"
)

// templateFlags are the feature flags of cdk.json that change this
// stack's template, each with a test of what it changes. Every other flag
// leaves the template as it is without flags
// (TestOnlyTheListedFlagsChangeTheTemplate).
var templateFlags = map[string]func(t *testing.T, on, off template){
	// Merges statements that differ only in their actions or resources,
	// and sorts actions and resources: fewer, shorter policies. Grants
	// stay exactly the same (TestFunctionsTouchOnlyTheirOwnSecrets and the
	// policy tests run on the flagged template).
	"@aws-cdk/aws-iam:minimizePolicies": func(t *testing.T, on, off template) {
		fnID := on.find(t, "AWS::Lambda::Function", "FunctionName", functionName(DefaultNamePrefix, vendors.Fyber))
		creds := ref(on.secret(t, credentialsSecretName(DefaultNamePrefix, vendors.Fyber)))
		token := ref(on.secret(t, tokenSecretName(DefaultNamePrefix, vendors.Fyber)))
		read := []string{"secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"}
		countReads := func(d template) (merged, separate int) {
			for _, st := range roleStatements(d, fnID) {
				a := slices.Clone(st.Actions)
				sort.Strings(a)
				if !reflect.DeepEqual(a, read) {
					continue
				}
				switch {
				case sameElements(st.Resources, []any{creds, token}):
					merged++
				case sameElements(st.Resources, []any{creds}) || sameElements(st.Resources, []any{token}):
					separate++
				}
			}
			return merged, separate
		}
		if m, s := countReads(on); m != 1 || s != 0 {
			t.Errorf("with the flag: %d merged and %d separate read statements on fyber's secrets, want 1 and 0", m, s)
		}
		if m, s := countReads(off); m != 0 || s != 2 {
			t.Errorf("without the flag: %d merged and %d separate read statements, want 0 and 2 (is the flag still needed?)", m, s)
		}
	},
}

// roleStatements returns the statements of the policies attached to the
// role of the function fnID.
func roleStatements(d template, fnID string) []statement {
	var out []statement
	role := refs(d.Resources[fnID].Properties["Role"])
	for _, pid := range d.ofType("AWS::IAM::Policy") {
		p := d.Resources[pid].Properties
		for r := range refs(p["Roles"]) {
			if role[r] {
				out = append(out, statements(p["PolicyDocument"])...)
			}
		}
	}
	return out
}

// synthWith synthesizes the default stack with the given feature flags.
func synthWith(flags map[string]any) template {
	s := NewStack(newTestAppWith(flags), "TokenRefresher", &StackProps{Props: Props{
		AssetDir:   testAssetDir,
		Vendors:    vendors.All(),
		AlarmEmail: "ops@example.com",
	}})
	return parseTemplate(assertions.Template_FromStack(s.Stack, nil))
}

// TestFeatureFlagsOfCDKJSON: cdk.json sets the flags, and each flag that
// changes the template does what its test says.
func TestFeatureFlagsOfCDKJSON(t *testing.T) {
	if len(cdkFlags) < 80 {
		t.Fatalf("cdk.json sets %d feature flags; the recommended set of CDK v2 has more than 80", len(cdkFlags))
	}
	off := synthWith(nil)
	for flag, check := range templateFlags {
		t.Run(flag, func(t *testing.T) {
			if v, ok := cdkFlags[flag]; !ok || v != true {
				t.Fatalf("cdk.json: %s = %v, want true", flag, v)
			}
			check(t, testDoc, off)
		})
	}
}

// TestOnlyTheListedFlagsChangeTheTemplate synthesizes with every flag of
// cdk.json except templateFlags, and without any flag: the two templates
// are the same, so a flag that starts to change the template (after a CDK
// upgrade, or a new construct) fails here until it is listed and tested.
func TestOnlyTheListedFlagsChangeTheTemplate(t *testing.T) {
	rest := map[string]any{}
	for k, v := range cdkFlags {
		if _, listed := templateFlags[k]; !listed {
			rest[k] = v
		}
	}
	with, without := synthWith(rest), synthWith(nil)
	for id, r := range without.Resources {
		if !reflect.DeepEqual(with.Resources[id], r) {
			t.Errorf("resource %s (%s) differs with the unlisted flags:\n with    %v\n without %v", id, r.Type, with.Resources[id], r)
		}
	}
	for id := range with.Resources {
		if _, ok := without.Resources[id]; !ok {
			t.Errorf("resource %s exists only with the unlisted flags", id)
		}
	}
	if !reflect.DeepEqual(with.Outputs, without.Outputs) {
		t.Errorf("outputs differ with the unlisted flags")
	}
}
