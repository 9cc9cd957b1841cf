package tokenrefresher

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"

	"github.com/token-refresher/token-refresher/shared/vendors"
)

// resourcePolicyOf returns the policy document of the one resource policy
// attached to the secret with logical id secretID, or nil.
func (d template) resourcePolicyOf(t *testing.T, secretID string) map[string]any {
	t.Helper()
	var found []map[string]any
	for _, id := range d.ofType("AWS::SecretsManager::ResourcePolicy") {
		p := d.Resources[id].Properties
		if reflect.DeepEqual(p["SecretId"], ref(secretID)) {
			doc, _ := p["ResourcePolicy"].(map[string]any)
			found = append(found, doc)
		}
	}
	switch len(found) {
	case 0:
		return nil
	case 1:
		return found[0]
	}
	t.Fatalf("secret %s has %d resource policies", secretID, len(found))
	return nil
}

// roleOf returns the role reference (Fn::GetAtt <role> Arn) of a function.
func (d template) roleOf(fnID string) any { return d.Resources[fnID].Properties["Role"] }

// policyStatement returns the statement with sid of a resource policy
// whose statements' Sids are exactly sids.
func policyStatement(t *testing.T, doc map[string]any, sid string, sids ...string) map[string]any {
	t.Helper()
	if doc == nil {
		t.Fatal("no resource policy")
	}
	list, _ := doc["Statement"].([]any)
	var got []string
	var found map[string]any
	for _, raw := range list {
		st, _ := raw.(map[string]any)
		got = append(got, fmt.Sprint(st["Sid"]))
		if st["Sid"] == sid {
			found = st
		}
	}
	sort.Strings(got)
	sort.Strings(sids)
	if !reflect.DeepEqual(got, sids) || found == nil {
		t.Fatalf("resource policy statements %v, want %v: %v", got, sids, doc)
	}
	return found
}

// checkReadGuard asserts that doc holds the statement ReadGuardSid: deny
// GetSecretValue to anyone whose aws:PrincipalArn is not one of readers;
// and, besides it, only WriteGuardSid when writeGuarded.
func checkReadGuard(t *testing.T, doc map[string]any, readers []any, writeGuarded bool) {
	t.Helper()
	sids := []string{ReadGuardSid}
	if writeGuarded {
		sids = append(sids, WriteGuardSid)
	}
	st := policyStatement(t, doc, ReadGuardSid, sids...)
	want := map[string]any{
		"Sid":       ReadGuardSid,
		"Effect":    "Deny",
		"Principal": map[string]any{"AWS": "*"},
		"Action":    "secretsmanager:GetSecretValue",
		"Resource":  "*",
	}
	for k, v := range want {
		if !reflect.DeepEqual(st[k], v) {
			t.Errorf("statement %s = %v, want %v", k, st[k], v)
		}
	}
	cond, _ := st["Condition"].(map[string]any)
	if len(cond) != 1 {
		t.Fatalf("condition %v, want only ArnNotLike", cond)
	}
	arnNotLike, _ := cond["ArnNotLike"].(map[string]any)
	var got []any
	switch v := arnNotLike["aws:PrincipalArn"].(type) {
	case []any:
		got = v
	case nil:
	default:
		got = []any{v} // one reader renders as a single value
	}
	if len(arnNotLike) != 1 || !sameElements(got, readers) {
		t.Errorf("principals exempt from the deny:\n got %v\nwant %v", arnNotLike, readers)
	}
}

// sameElements compares two lists as sets of their JSON encodings.
func sameElements(a, b []any) bool {
	enc := func(l []any) []string {
		out := make([]string, 0, len(l))
		for _, v := range l {
			j, _ := json.Marshal(v)
			out = append(out, string(j))
		}
		sort.Strings(out)
		return out
	}
	return reflect.DeepEqual(enc(a), enc(b))
}

// TestGuardedSecretsDenyReadsToEveryoneElse: the credentials, refresh-token
// and signing-key secrets deny GetSecretValue to every principal but the
// roles of the functions that read them.
func TestGuardedSecretsDenyReadsToEveryoneElse(t *testing.T) {
	fns := functionIDs(t)
	for _, spec := range vendors.All() {
		t.Run(spec.Name, func(t *testing.T) {
			refresher := testDoc.roleOf(fns[spec.FunctionName()])
			readers := []any{refresher}
			var callback any
			if spec.AuthCode {
				callback = testDoc.roleOf(fns[spec.CallbackFunctionName()])
				readers = append(readers, callback)
			}
			t.Run("credentials", func(t *testing.T) {
				checkReadGuard(t, testDoc.resourcePolicyOf(t, testDoc.secret(t, credentialsSecretName(DefaultNamePrefix, spec.Name))), readers, false)
			})
			if !spec.AuthCode {
				return
			}
			t.Run("refresh-token", func(t *testing.T) {
				checkReadGuard(t, testDoc.resourcePolicyOf(t, testDoc.secret(t, refreshSecretName(DefaultNamePrefix, spec.Name))), readers, true)
			})
			t.Run("signing-key", func(t *testing.T) {
				checkReadGuard(t, testDoc.resourcePolicyOf(t, testDoc.secret(t, signingKeySecretName(DefaultNamePrefix, spec.Name))), []any{callback}, true)
			})
		})
	}
}

// TestTokenSecretsHaveNoResourcePolicy: apps read token secrets through
// the reader policy; a resource policy there would only get in the way.
func TestTokenSecretsHaveNoResourcePolicy(t *testing.T) {
	for _, spec := range vendors.All() {
		if doc := testDoc.resourcePolicyOf(t, testDoc.secret(t, tokenSecretName(DefaultNamePrefix, spec.Name))); doc != nil {
			t.Errorf("%s token secret has a resource policy: %v", spec.Name, doc)
		}
	}
	if got, want := len(testDoc.ofType("AWS::SecretsManager::ResourcePolicy")), len(vendors.All())+2*countAuthCode(); got != want {
		t.Errorf("resource policies: %d, want %d (credentials, and per authorization-code vendor its refresh token and signing key)", got, want)
	}
}

func countAuthCode() int {
	n := 0
	for _, s := range vendors.All() {
		if s.AuthCode {
			n++
		}
	}
	return n
}

// TestOperatorAndBreakGlassPrincipals: operators may read signing keys
// (tokenctl connect signs links with it) and nothing else; break-glass
// principals may read every guarded secret.
func TestOperatorAndBreakGlassPrincipals(t *testing.T) {
	const (
		ops   = "arn:aws:iam::123456789012:role/token-operators"
		glass = "arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/*AWSReservedSSO_BreakGlass_*"
	)
	s := NewStack(newTestApp(), "TokenRefresher", &StackProps{Props: Props{
		AssetDir:                testAssetDir,
		Vendors:                 vendors.All(),
		OperatorPrincipalArns:   []string{ops},
		BreakGlassPrincipalArns: []string{glass},
	}})
	doc := parseTemplate(assertions.Template_FromStack(s.Stack, nil))
	fnID := func(folder string) string {
		return doc.find(t, "AWS::Lambda::Function", "FunctionName", functionName(DefaultNamePrefix, folder))
	}
	for _, spec := range vendors.All() {
		t.Run(spec.Name, func(t *testing.T) {
			readers := []any{doc.roleOf(fnID(spec.FunctionName())), glass}
			if spec.AuthCode {
				readers = append(readers, doc.roleOf(fnID(spec.CallbackFunctionName())))
			}
			checkReadGuard(t, doc.resourcePolicyOf(t, doc.secret(t, credentialsSecretName(DefaultNamePrefix, spec.Name))), readers, false)
			if !spec.AuthCode {
				return
			}
			checkReadGuard(t, doc.resourcePolicyOf(t, doc.secret(t, refreshSecretName(DefaultNamePrefix, spec.Name))), readers, true)
			checkReadGuard(t, doc.resourcePolicyOf(t, doc.secret(t, signingKeySecretName(DefaultNamePrefix, spec.Name))),
				[]any{doc.roleOf(fnID(spec.CallbackFunctionName())), ops, glass}, true)
		})
	}
	for _, f := range nagFindings(s.Stack, true) {
		t.Errorf("cdk-nag error at %s", f)
	}
}

// TestImportedCredentialsKeepTheirOwnPolicy: the stack does not attach a
// resource policy to a secret it did not create.
func TestImportedCredentialsKeepTheirOwnPolicy(t *testing.T) {
	s := newTestStack(testAssetDir, map[string]string{vendors.Fyber: "ops/fyber"})
	doc := parseTemplate(assertions.Template_FromStack(s.Stack, nil))
	for _, id := range doc.ofType("AWS::SecretsManager::ResourcePolicy") {
		if sid := fmt.Sprint(doc.Resources[id].Properties["SecretId"]); sid == "ops/fyber" {
			t.Errorf("resource policy %s on the imported secret", id)
		}
	}
	if got, want := len(doc.ofType("AWS::SecretsManager::ResourcePolicy")), len(vendors.All())-1+2*countAuthCode(); got != want {
		t.Errorf("resource policies: %d, want %d", got, want)
	}
}
