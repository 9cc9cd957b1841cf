package tokenrefresher

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/token-refresher/token-refresher/shared/vendors"
)

// tagsOf returns a resource's Tags as a map.
func (d template) tagsOf(id string) map[string]string {
	out := map[string]string{}
	list, _ := d.Resources[id].Properties["Tags"].([]any)
	for _, raw := range list {
		m, _ := raw.(map[string]any)
		out[fmt.Sprint(m["Key"])] = fmt.Sprint(m["Value"])
	}
	return out
}

// TestEverySecretIsTaggedWithItsRoleAndOwner: every secret of the stack
// carries exactly vendors.SecretTags of its vendor, connection and role.
func TestEverySecretIsTaggedWithItsRoleAndOwner(t *testing.T) {
	seen := map[string]bool{}
	for _, spec := range vendors.All() {
		roles := []string{vendors.RoleCredentials, vendors.RoleToken}
		if spec.AuthCode {
			roles = append(roles, vendors.RoleRefreshToken, vendors.RoleSigningKey)
		}
		for _, role := range roles {
			name := vendors.SecretName(DefaultNamePrefix, spec.Name, vendors.DefaultConnection, role)
			t.Run(spec.Name+"/"+role, func(t *testing.T) {
				id := testDoc.secret(t, name)
				seen[id] = true
				want := vendors.SecretTags(spec.Name, vendors.DefaultConnection, role)
				if got := testDoc.tagsOf(id); !reflect.DeepEqual(got, want) {
					t.Errorf("tags of %s:\n got %v\nwant %v", name, got, want)
				}
			})
		}
	}
	for _, id := range testDoc.ofType("AWS::SecretsManager::Secret") {
		if !seen[id] {
			t.Errorf("secret %s (%v) is not one of the tagged secrets", id, testDoc.Resources[id].Properties["Name"])
		}
	}
}

// TestDefaultConnectionTag: the default connection's secrets say so, and
// the signing key, shared by a vendor's connections, names none.
func TestDefaultConnectionTag(t *testing.T) {
	creds := testDoc.tagsOf(testDoc.secret(t, credentialsSecretName(DefaultNamePrefix, vendors.Fyber)))
	if creds[vendors.TagConnection] != vendors.DefaultConnection {
		t.Errorf("fyber credentials: %s = %q, want %q", vendors.TagConnection, creds[vendors.TagConnection], vendors.DefaultConnection)
	}
	key := testDoc.tagsOf(testDoc.secret(t, signingKeySecretName(DefaultNamePrefix, vendors.Admitad)))
	if v, ok := key[vendors.TagConnection]; ok {
		t.Errorf("admitad signing key has %s = %q", vendors.TagConnection, v)
	}
}
