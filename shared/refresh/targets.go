package refresh

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/token-refresher/token-refresher/shared/vendors"
)

// Targets are the connections a function serves: the default one and the
// named ones the stack configured, each with its own secrets.
type Targets struct {
	byName map[string]Target
	names  []string
}

// LoadTargets reads a function's connections from its environment (a
// public contract, set by the stack):
//
//	CREDENTIALS_SECRET_ID, TOKEN_SECRET_ID, REFRESH_SECRET_ID
//	    the default connection's secrets (REFRESH_SECRET_ID for
//	    authorization-code vendors only, and read for no other);
//	CONNECTIONS
//	    the named connections, comma-separated: "acme,globex". Empty: the
//	    default connection only;
//	CONNECTIONS_FILE
//	    instead of CONNECTIONS, a file that lists them (EnvConnectionsFile),
//	    for more names than fit in Lambda's 4 KB of environment;
//	NAME_PREFIX
//	    the deployment's name prefix, from which a named connection's
//	    secrets are named (vendors.SecretName); defaults to what precedes
//	    "/<vendor>/token" in TOKEN_SECRET_ID;
//	CREDENTIALS_SECRET_IDS
//	    a JSON object mapping a named connection to an imported
//	    credentials secret that replaces its own: {"acme": "ops/acme"}.
//
// Errors name the variable that is wrong.
func LoadTargets(spec vendors.Spec, getenv func(string) string) (Targets, error) {
	def := Target{
		CredentialsSecretID: getenv(vendors.EnvCredentialsSecretID),
		TokenSecretID:       getenv(vendors.EnvTokenSecretID),
	}
	if spec.AuthCode {
		def.RefreshSecretID = getenv(vendors.EnvRefreshSecretID)
	}
	switch {
	case def.CredentialsSecretID == "":
		return Targets{}, fmt.Errorf("%s: CREDENTIALS_SECRET_ID is not set", spec.Name)
	case def.TokenSecretID == "":
		return Targets{}, fmt.Errorf("%s: TOKEN_SECRET_ID is not set", spec.Name)
	case spec.AuthCode && def.RefreshSecretID == "":
		return Targets{}, fmt.Errorf("%s: REFRESH_SECRET_ID is not set", spec.Name)
	}
	t := Targets{byName: map[string]Target{vendors.DefaultConnection: def}, names: []string{vendors.DefaultConnection}}
	list, err := connectionList(spec, getenv)
	if err != nil {
		return Targets{}, err
	}
	if list == "" {
		return t, nil
	}
	prefix := getenv(vendors.EnvNamePrefix)
	if prefix == "" {
		suffix := "/" + spec.Name + "/" + vendors.RoleToken
		if !strings.HasSuffix(def.TokenSecretID, suffix) {
			return Targets{}, fmt.Errorf("%s: CONNECTIONS is set but NAME_PREFIX is not, and TOKEN_SECRET_ID does not end in %q to take the prefix from", spec.Name, suffix)
		}
		prefix = strings.TrimSuffix(def.TokenSecretID, suffix)
	}
	imported := map[string]string{}
	if raw := strings.TrimSpace(getenv(vendors.EnvCredentialsSecretIDs)); raw != "" {
		if err := json.Unmarshal([]byte(raw), &imported); err != nil {
			return Targets{}, fmt.Errorf("%s: CREDENTIALS_SECRET_IDS is not a JSON object of connection names to secret ids", spec.Name)
		}
	}
	for _, entry := range strings.Split(list, ",") {
		name := strings.TrimSpace(entry)
		if name == "" {
			continue
		}
		creds := imported[name]
		if name == vendors.DefaultConnection {
			return Targets{}, fmt.Errorf("%s: CONNECTIONS: %q is the default connection's name and cannot be declared", spec.Name, name)
		}
		if err := vendors.CheckConnection(name); err != nil {
			return Targets{}, fmt.Errorf("%s: CONNECTIONS: %w", spec.Name, err)
		}
		if _, dup := t.byName[name]; dup {
			return Targets{}, fmt.Errorf("%s: CONNECTIONS names %q twice", spec.Name, name)
		}
		if creds == "" {
			creds = vendors.SecretName(prefix, spec.Name, name, vendors.RoleCredentials)
		}
		tg := Target{
			Connection:          name,
			CredentialsSecretID: creds,
			TokenSecretID:       vendors.SecretName(prefix, spec.Name, name, vendors.RoleToken),
		}
		if spec.AuthCode {
			tg.RefreshSecretID = vendors.SecretName(prefix, spec.Name, name, vendors.RoleRefreshToken)
		}
		t.byName[name] = tg
		t.names = append(t.names, name)
	}
	for name := range imported {
		if _, ok := t.byName[name]; !ok || name == vendors.DefaultConnection {
			return Targets{}, fmt.Errorf("%s: CREDENTIALS_SECRET_IDS names %q, which is not in CONNECTIONS", spec.Name, name)
		}
	}
	sort.Strings(t.names[1:])
	return t, nil
}

// SingleTarget serves only target, as the default connection.
func SingleTarget(target Target) Targets {
	target.Connection = ""
	return Targets{byName: map[string]Target{vendors.DefaultConnection: target}, names: []string{vendors.DefaultConnection}}
}

// Lookup returns the target of connection name ("" or "default" for the
// default connection). An unknown name is an error that lists the
// connections served; nothing has been read or written.
func (t Targets) Lookup(vendor, name string) (Target, error) {
	if name == "" {
		name = vendors.DefaultConnection
	}
	if tg, ok := t.byName[name]; ok {
		return tg, nil
	}
	if err := vendors.CheckConnection(name); err != nil {
		return Target{}, fmt.Errorf("%s: %w", vendor, err)
	}
	served := strings.Join(t.names, ", ")
	if len(t.names) > maxNamesListed {
		served = fmt.Sprintf("%s, ... (%d connections)", strings.Join(t.names[:maxNamesListed], ", "), len(t.names))
	}
	return Target{}, fmt.Errorf("%s: unknown connection %q: this function serves %s (declare connections in the stack's \"connections\" context)", vendor, name, served)
}

// maxNamesListed is how many connections an unknown connection's error
// lists; a function may serve a thousand.
const maxNamesListed = 20

// Names returns the connections served, the default first.
func (t Targets) Names() []string { return append([]string(nil), t.names...) }

// Named reports whether any named connection is served.
func (t Targets) Named() bool { return len(t.names) > 1 }
