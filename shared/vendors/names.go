package vendors

import "fmt"

// DefaultPrefix is the name prefix of a deployment that sets none: secrets
// are token-refresher/<vendor>/..., functions token-refresher-<vendor>.
const DefaultPrefix = "token-refresher"

// DefaultConnection names a vendor's default account. Its secrets keep the
// names they had before connections existed (<prefix>/<vendor>/token); a
// named connection's secrets are <prefix>/<vendor>/<connection>/token.
const DefaultConnection = "default"

// CheckConnection reports whether name is a valid connection name:
// [a-z0-9][a-z0-9-]{0,31}. "" and DefaultConnection name the default
// connection and are valid.
func CheckConnection(name string) error {
	if name == "" || name == DefaultConnection {
		return nil
	}
	if !validConnection(name) {
		return fmt.Errorf("vendors: connection name %q is not [a-z0-9][a-z0-9-]{0,31}", name)
	}
	return nil
}

// validConnection reports whether name matches [a-z0-9][a-z0-9-]{0,31}.
// Written out rather than a regular expression: compiling that one (its
// {0,31} is 31 copies) cost every cold start about 0.15 ms in package init.
func validConnection(name string) bool {
	if len(name) == 0 || len(name) > 32 || name[0] == '-' {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			return false
		}
	}
	return true
}

// Secret kinds: the last element of a secret's name, and the value of its
// TagRole tag.
const (
	RoleCredentials  = "credentials"
	RoleToken        = "token"
	RoleRefreshToken = "refresh-token"
	RoleSigningKey   = "signing-key"
)

// Tags every secret of a deployment carries, so tools can tell a secret's
// role and owner before they write to it (tokenctl set-credentials does).
const (
	TagRole       = "token-refresher:role"
	TagVendor     = "token-refresher:vendor"
	TagConnection = "token-refresher:connection"
)

// SecretName is the name of a connection's secret of the given role
// (RoleCredentials, RoleToken, RoleRefreshToken). The default connection
// ("" or DefaultConnection) keeps <prefix>/<vendor>/<role>; a named one is
// <prefix>/<vendor>/<connection>/<role>. The signing key is per vendor:
// SecretName(prefix, vendor, "", RoleSigningKey).
func SecretName(prefix, vendor, connection, role string) string {
	if connection == "" || connection == DefaultConnection || role == RoleSigningKey {
		return prefix + "/" + vendor + "/" + role
	}
	return prefix + "/" + vendor + "/" + connection + "/" + role
}

// SecretTags returns the tags of a connection's secret of the given role.
// The default connection is tagged DefaultConnection; the signing key,
// shared by a vendor's connections, has no connection tag.
func SecretTags(vendor, connection, role string) map[string]string {
	t := map[string]string{TagRole: role, TagVendor: vendor}
	if role != RoleSigningKey {
		if connection == "" {
			connection = DefaultConnection
		}
		t[TagConnection] = connection
	}
	return t
}

// FunctionName is the deployed name of the function in functions/<folder>:
// <prefix>-<folder>.
func FunctionName(prefix, folder string) string { return prefix + "-" + folder }

// RejectAlias is the alias of every refresher function that apps may
// invoke: its invocations report a rejected token and never force a
// refresh. Operators invoke the function itself.
const RejectAlias = "reject"
