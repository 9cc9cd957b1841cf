package vendors

import (
	"fmt"
	"hash/fnv"
	"strconv"
	"time"
)

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

// MaxLanes is the most lanes a vendor's named connections may run in
// (EnvConnectionLanes): each lane reserves one unit of the account's
// concurrency, and Lambda keeps 100 of an account's units unreserved.
const MaxLanes = 50

// LaneOf is the lane, among lanes, of a connection: a hash of its name
// (FNV-1a), so a connection keeps its lane whatever other connections are
// added or removed. The default connection ("" too) hashes as its name,
// DefaultConnection. With fewer than two lanes every connection is in
// lane 0.
func LaneOf(connection string, lanes int) int {
	if lanes < 2 {
		return 0
	}
	if connection == "" {
		connection = DefaultConnection
	}
	h := fnv.New32a()
	h.Write([]byte(connection))
	return int(h.Sum32() % uint32(lanes))
}

// LaneFunctionName is the name of lane of the vendor function named
// function: <function>-lane-<lane>.
func LaneFunctionName(function string, lane int) string {
	return function + "-lane-" + strconv.Itoa(lane)
}

// RejectAlias is the alias of every refresher function that apps may
// invoke: its invocations report a rejected token and never force a
// refresh. Operators invoke the function itself.
const RejectAlias = "reject"

// ScheduleOffset is where, within a period of every, the schedule of a
// named connection fires when its vendor runs in lanes: a whole number of
// minutes from a hash of the name. The hash is salted so that it does not
// follow LaneOf: the connections of one lane spread over the whole
// period instead of sharing a few of its minutes.
func ScheduleOffset(connection string, every time.Duration) time.Duration {
	minutes := int64(every / time.Minute)
	if minutes < 2 {
		return 0
	}
	h := fnv.New64a()
	h.Write([]byte("schedule\x00" + connection))
	return time.Duration(h.Sum64()%uint64(minutes)) * time.Minute
}

// ScheduleCron is the EventBridge Scheduler cron expression that fires
// every period at offset (ScheduleOffset) past the start of the hour or
// of the day, in UTC: cron(7/15 * * * ? *) for 15 minutes at 7,
// cron(40 1/6 * * ? *) for 6 hours at 1 h 40 min, cron(40 9 * * ? *) for a
// day at 9 h 40 min. False for a period cron cannot repeat evenly (one
// that does not divide an hour or a day); such a schedule keeps its rate.
func ScheduleCron(every, offset time.Duration) (string, bool) {
	if every < time.Minute || every%time.Minute != 0 || offset < 0 || offset >= every || offset%time.Minute != 0 {
		return "", false
	}
	m := int64(offset / time.Minute)
	switch {
	case every < time.Hour && time.Hour%every == 0:
		return fmt.Sprintf("cron(%d/%d * * * ? *)", m, int64(every/time.Minute)), true
	case every == 24*time.Hour:
		return fmt.Sprintf("cron(%d %d * * ? *)", m%60, m/60), true
	case every%time.Hour == 0 && (24*time.Hour)%every == 0:
		return fmt.Sprintf("cron(%d %d/%d * * ? *)", m%60, m/60, int64(every/time.Hour)), true
	}
	return "", false
}
