package vendors

// The contract between the stack and the functions: the environment the
// stack sets and the functions read, and the metrics the functions emit
// and the alarms and dashboard read. Both sides take the names from here;
// the stack's tests check that it sets every variable a function requires
// and none that no function reads, and the functions' tests that they read
// nothing else.

// Environment variables of a function (a public contract).
const (
	// EnvCredentialsSecretID names the default connection's credentials
	// secret (read only).
	EnvCredentialsSecretID = "CREDENTIALS_SECRET_ID"
	// EnvTokenSecretID names the default connection's token secret.
	EnvTokenSecretID = "TOKEN_SECRET_ID"
	// EnvRefreshSecretID names the default connection's refresh-token
	// secret, for an authorization-code vendor.
	EnvRefreshSecretID = "REFRESH_SECRET_ID"
	// EnvConnections lists the named connections a function may serve,
	// comma-separated; an event naming any other is refused.
	EnvConnections = "CONNECTIONS"
	// EnvConnectionsFile names a file that lists the named connections,
	// one per line, for a list longer than the environment holds (the
	// stack ships it in a layer); it and EnvConnections exclude each
	// other.
	EnvConnectionsFile = "CONNECTIONS_FILE"
	// EnvNamePrefix is the deployment's name prefix: a named connection's
	// secret is SecretName(prefix, vendor, connection, role).
	EnvNamePrefix = "NAME_PREFIX"
	// EnvCredentialsSecretIDs maps, as a JSON object, a named connection
	// to an imported credentials secret that replaces its own.
	EnvCredentialsSecretIDs = "CREDENTIALS_SECRET_IDS"
	// EnvSigningKeySecretID names the secret that signs connect links (a
	// callback function).
	EnvSigningKeySecretID = "SIGNING_KEY_SECRET_ID"
	// EnvAuthorizeURL is the vendor's authorization dialogue (a callback
	// function); empty means the vendor package's default.
	EnvAuthorizeURL = "AUTHORIZE_URL"
	// EnvCallbackURL is the callback's own public URL (a callback
	// function).
	EnvCallbackURL = "CALLBACK_URL"
	// EnvRefresherFunctionName is the refresher a callback function
	// invokes after a connect.
	EnvRefresherFunctionName = "REFRESHER_FUNCTION_NAME"
	// EnvConnectionLanes is the number of lanes (2 to MaxLanes) that run
	// a vendor's connections in parallel: one function each, with a
	// reserved concurrency of 1, serving the connections LaneOf gives it
	// (the default connection as "default"). Set on the vendor's function
	// and on every lane; unset, the function runs every connection itself,
	// one run at a time.
	EnvConnectionLanes = "CONNECTION_LANES"
	// EnvConnectionLane is a lane function's own lane, 0 to lanes-1. The
	// vendor's function (which has none) hands each run to its
	// connection's lane and waits for the reply.
	EnvConnectionLane = "CONNECTION_LANE"
)

// EnvVar is a variable of a function's environment.
type EnvVar struct {
	Name string
	// Required: the function refuses to start without it.
	Required bool
}

// RefresherEnv lists the variables spec's refresher function reads, apart
// from FunctionEnvironment and the AWS runtime's own (AWS_*): its
// secrets, its endpoint (the row's URLEnv, which defaults to DefaultURL),
// its named connections and their lanes.
func RefresherEnv(spec Spec) []EnvVar {
	return append(connectionEnv(spec), EnvVar{EnvConnectionLanes, false}, EnvVar{EnvConnectionLane, false})
}

// connectionEnv lists what every function of spec that serves its
// connections reads: the refresher and the callback.
func connectionEnv(spec Spec) []EnvVar {
	env := []EnvVar{
		{EnvCredentialsSecretID, true},
		{EnvTokenSecretID, true},
	}
	if spec.AuthCode {
		env = append(env, EnvVar{EnvRefreshSecretID, true})
	}
	if spec.URLEnv != "" {
		env = append(env, EnvVar{spec.URLEnv, false})
	}
	return append(env, EnvVar{EnvConnections, false}, EnvVar{EnvConnectionsFile, false}, EnvVar{EnvNamePrefix, false}, EnvVar{EnvCredentialsSecretIDs, false})
}

// CallbackEnv lists the variables the callback function of an
// authorization-code vendor reads: the refresher's but the lanes, and its signing key,
// the authorization dialogue, its own URL and the refresher to invoke.
// Nil for a vendor without a callback.
func CallbackEnv(spec Spec) []EnvVar {
	if !spec.AuthCode {
		return nil
	}
	return append(connectionEnv(spec),
		EnvVar{EnvSigningKeySecretID, true},
		EnvVar{EnvAuthorizeURL, false},
		EnvVar{EnvCallbackURL, false},
		EnvVar{EnvRefresherFunctionName, false},
	)
}

// Metrics the refresher functions emit in CloudWatch Embedded Metric
// Format (a public contract of the alarms and dashboard), in namespace
// MetricNamespace with the dimension DimensionVendor (the default
// connection) or DimensionVendor and DimensionConnection (a named
// connection).
const (
	MetricNamespace = "TokenRefresher"
	// MetricRefreshSuccess counts runs that succeeded (Count).
	MetricRefreshSuccess = "RefreshSuccess"
	// MetricRefreshFailure counts runs that failed (Count).
	MetricRefreshFailure = "RefreshFailure"
	// MetricSecondsUntilExpiry is the life the published token has left
	// (Seconds), every run of an expiring vendor.
	MetricSecondsUntilExpiry = "SecondsUntilExpiry"
	// MetricVendorLatency is the vendor call's duration (Milliseconds).
	MetricVendorLatency = "VendorLatency"

	DimensionVendor     = "Vendor"
	DimensionConnection = "Connection"
)
