package tokenrefresher

import (
	"fmt"
	"reflect"
	"slices"
	"sort"
	"testing"

	"github.com/token-refresher/token-refresher/shared/vendors"
)

// policyStatements returns the statements of the managed policy with the
// given description, by Sid.
func policyStatements(t *testing.T, description string) map[string]statementWithSid {
	t.Helper()
	id := testDoc.find(t, "AWS::IAM::ManagedPolicy", "Description", description)
	doc, _ := testDoc.Resources[id].Properties["PolicyDocument"].(map[string]any)
	list, _ := doc["Statement"].([]any)
	out := map[string]statementWithSid{}
	for i, raw := range list {
		m, _ := raw.(map[string]any)
		sid := fmt.Sprint(m["Sid"])
		if _, dup := out[sid]; dup || m["Sid"] == nil {
			t.Fatalf("statement %d of %q has Sid %v (missing or repeated)", i, description, m["Sid"])
		}
		st := statements(map[string]any{"Statement": []any{raw}})[0]
		slices.Sort(st.Actions)
		out[sid] = statementWithSid{statement: st, Condition: m["Condition"]}
	}
	return out
}

type statementWithSid struct {
	statement
	Condition any
}

// rejectAliases maps each refresher function's logical id to the logical
// id of its alias.
func rejectAliases(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, id := range testDoc.ofType("AWS::Lambda::Alias") {
		p := testDoc.Resources[id].Properties
		for fn := range refs(p["FunctionName"]) {
			if _, dup := out[fn]; dup {
				t.Errorf("function %s has more than one alias", fn)
			}
			out[fn] = id
		}
	}
	return out
}

// TestEveryRefresherHasARejectAlias: one alias named vendors.RejectAlias
// per refresher, on $LATEST (it always runs the deployed code), none on
// the callbacks. Reserved concurrency stays on the function, which the
// alias shares.
func TestEveryRefresherHasARejectAlias(t *testing.T) {
	fns := functionIDs(t)
	aliases := rejectAliases(t)
	if got, want := len(aliases), len(vendors.All()); got != want {
		t.Errorf("aliases: %d, want one per refresher (%d)", got, want)
	}
	for _, spec := range vendors.All() {
		t.Run(spec.Name, func(t *testing.T) {
			fn := fns[spec.FunctionName()]
			id, ok := aliases[fn]
			if !ok {
				t.Fatalf("refresher %s has no alias", spec.Name)
			}
			p := testDoc.Resources[id].Properties
			if p["Name"] != vendors.RejectAlias || p["FunctionVersion"] != "$LATEST" {
				t.Errorf("alias %s: Name %v, FunctionVersion %v; want %s on $LATEST", id, p["Name"], p["FunctionVersion"], vendors.RejectAlias)
			}
			if _, has := p["ProvisionedConcurrencyConfig"]; has {
				t.Errorf("alias %s has provisioned concurrency", id)
			}
			if got := testDoc.Resources[fn].Properties["ReservedConcurrentExecutions"]; got != float64(1) {
				t.Errorf("refresher %s reserved concurrency %v, want 1", spec.Name, got)
			}
			if cb := spec.CallbackFunctionName(); cb != "" {
				if _, ok := aliases[fns[cb]]; ok {
					t.Errorf("callback %s has an alias", cb)
				}
			}
		})
	}
}

// TestRejecterPolicyInvokesRejectAliasesOnly: apps may invoke the reject
// aliases, and not the functions themselves (which would let them force a
// refresh).
func TestRejecterPolicyInvokesRejectAliasesOnly(t *testing.T) {
	sts := policyStatements(t, "Ask the token-refresher refreshers for a new token after a vendor refused one")
	st, ok := sts["InvokeRejectAliases"]
	if len(sts) != 1 || !ok {
		t.Fatalf("rejecter statements: %v, want only InvokeRejectAliases", sts)
	}
	if st.Effect != "Allow" || !reflect.DeepEqual(st.Actions, []string{"lambda:InvokeFunction"}) || st.Condition != nil {
		t.Errorf("rejecter statement: %+v", st)
	}
	fns := functionIDs(t)
	aliases := rejectAliases(t)
	var want []any
	for _, spec := range vendors.All() {
		want = append(want, ref(aliases[fns[spec.FunctionName()]]))
	}
	if !sameElements(st.Resources, want) {
		t.Errorf("rejecter may invoke\n got %v\nwant the reject aliases %v", st.Resources, want)
	}
	for _, r := range st.Resources {
		for id := range refs(r) {
			if testDoc.Resources[id].Type != "AWS::Lambda::Alias" {
				t.Errorf("rejecter resource %v is a %s, not an alias", r, testDoc.Resources[id].Type)
			}
		}
	}
}

// TestOperatorPolicyIsWhatTokenctlNeeds pins the operator policy to
// tokenctl's calls, statement by statement.
func TestOperatorPolicyIsWhatTokenctlNeeds(t *testing.T) {
	fns := functionIDs(t)
	var tokens, creds, functions, keys []any
	for _, spec := range vendors.All() {
		tokens = append(tokens, ref(testDoc.secret(t, tokenSecretName(DefaultNamePrefix, spec.Name))))
		creds = append(creds, ref(testDoc.secret(t, credentialsSecretName(DefaultNamePrefix, spec.Name))))
		functions = append(functions, getAttArn(fns[spec.FunctionName()]))
		if spec.AuthCode {
			keys = append(keys, ref(testDoc.secret(t, signingKeySecretName(DefaultNamePrefix, spec.Name))))
		}
	}
	want := map[string]struct {
		actions   []string
		resources []any
	}{
		"StatusReadTokens":        {[]string{"secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"}, tokens},
		"SetCredentialsWriteOnly": {[]string{"secretsmanager:DescribeSecret", "secretsmanager:PutSecretValue"}, creds},
		"RefreshInvokeFunctions":  {[]string{"lambda:InvokeFunction"}, functions},
		"ConnectReadSigningKeys":  {[]string{"secretsmanager:GetSecretValue"}, keys},
		"RotateSigningKeys":       {[]string{"secretsmanager:PutSecretValue"}, keys},
		// tokenctl status lists named connections (issue 19, item 10).
		"StatusListSecrets": {[]string{"secretsmanager:ListSecrets"}, []any{"*"}},
	}
	got := policyStatements(t, "Run tokenctl against token-refresher: status, set-credentials, refresh, connect")
	var gotSids, wantSids []string
	for sid := range got {
		gotSids = append(gotSids, sid)
	}
	for sid := range want {
		wantSids = append(wantSids, sid)
	}
	sort.Strings(gotSids)
	sort.Strings(wantSids)
	if !reflect.DeepEqual(gotSids, wantSids) {
		t.Fatalf("operator statements %v, want %v", gotSids, wantSids)
	}
	for sid, w := range want {
		t.Run(sid, func(t *testing.T) {
			st := got[sid]
			if st.Effect != "Allow" || st.Condition != nil {
				t.Errorf("effect %s, condition %v", st.Effect, st.Condition)
			}
			if !reflect.DeepEqual(st.Actions, w.actions) {
				t.Errorf("actions %v, want %v", st.Actions, w.actions)
			}
			if !sameElements(st.Resources, w.resources) {
				t.Errorf("resources\n got %v\nwant %v", st.Resources, w.resources)
			}
		})
	}
	if _, ok := testDoc.Outputs["OperatorPolicyArn"]; !ok {
		t.Error("no OperatorPolicyArn output")
	}
}
