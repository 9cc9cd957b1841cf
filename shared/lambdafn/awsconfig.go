package lambdafn

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/endpointcreds"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/smithy-go/logging"
)

// AWSConfig builds the aws.Config of a function's Secrets Manager client
// from the environment Lambda gives it, read through getenv. It reads these
// variables of the AWS SDK, with the SDK's meaning, and no other:
//
//	AWS_REGION, else AWS_DEFAULT_REGION      the region (one is required)
//	AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
//	AWS_SESSION_TOKEN                        static credentials, as Lambda sets them
//	AWS_CONTAINER_CREDENTIALS_FULL_URI,
//	AWS_CONTAINER_AUTHORIZATION_TOKEN[_FILE] else credentials from that endpoint
//	                                         (plain HTTP only to loopback or the
//	                                         ECS/EKS container hosts), cached
//	AWS_ENDPOINT_URL_SECRETS_MANAGER, else
//	AWS_ENDPOINT_URL                         Secrets Manager's endpoint
//	AWS_IGNORE_CONFIGURED_ENDPOINT_URLS      true: both endpoint variables are ignored
//	AWS_USE_FIPS_ENDPOINT,
//	AWS_USE_DUALSTACK_ENDPOINT               true or false
//	AWS_MAX_ATTEMPTS, AWS_RETRY_MODE         attempts per call (≥ 1); standard or adaptive
//
// Shared config and credentials files (AWS_PROFILE...), SSO, assume-role,
// web identity and instance metadata are not used: none of them applies to
// a Lambda function, and leaving them out keeps their SDK clients out of the
// binary. Everything else keeps the defaults config.LoadDefaultConfig gives
// (the clients' own HTTP client and standard retryer).
//
// Errors name the variable that is missing or wrong and never contain a
// credential value; callers prefix them with the function's name. The
// returned config is for Secrets Manager clients (secretsmanager.NewFromConfig);
// a client of another service built from it gets only AWS_ENDPOINT_URL.
func AWSConfig(getenv func(string) string) (aws.Config, error) {
	cfg := aws.Config{
		// As config.LoadDefaultConfig: the SDK writes here only in the
		// rare cases it warns (ClientLogMode is unset).
		Logger:       logging.NewStandardLogger(os.Stderr),
		DefaultsMode: aws.DefaultsModeLegacy,
	}

	cfg.Region = getenv("AWS_REGION")
	if cfg.Region == "" {
		cfg.Region = getenv("AWS_DEFAULT_REGION")
	}
	if cfg.Region == "" {
		return aws.Config{}, fmt.Errorf("neither AWS_REGION nor AWS_DEFAULT_REGION is set")
	}

	creds, err := awsCredentials(getenv)
	if err != nil {
		return aws.Config{}, err
	}
	cfg.Credentials = creds

	if v := getenv("AWS_MAX_ATTEMPTS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return aws.Config{}, fmt.Errorf("AWS_MAX_ATTEMPTS=%q is not a whole number of attempts (1 or more)", v)
		}
		cfg.RetryMaxAttempts = n
	}
	if v := getenv("AWS_RETRY_MODE"); v != "" {
		mode, err := aws.ParseRetryMode(strings.ToLower(v))
		if err != nil {
			return aws.Config{}, fmt.Errorf("AWS_RETRY_MODE=%q is neither standard nor adaptive", v)
		}
		cfg.RetryMode = mode
	}

	ignore, err := envBool(getenv, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")
	if err != nil {
		return aws.Config{}, err
	}
	var smEndpoint string
	if ignore != "true" {
		for _, name := range []string{"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SECRETS_MANAGER"} {
			if err := checkEndpointURL(name, getenv(name)); err != nil {
				return aws.Config{}, err
			}
		}
		if v := getenv("AWS_ENDPOINT_URL"); v != "" {
			cfg.BaseEndpoint = aws.String(v)
		}
		smEndpoint = getenv("AWS_ENDPOINT_URL_SECRETS_MANAGER")
	}

	fips, err := envBool(getenv, "AWS_USE_FIPS_ENDPOINT")
	if err != nil {
		return aws.Config{}, err
	}
	dualStack, err := envBool(getenv, "AWS_USE_DUALSTACK_ENDPOINT")
	if err != nil {
		return aws.Config{}, err
	}

	// The SDK's endpoint rules refuse FIPS or dual-stack with a custom
	// endpoint at the first call; say so at cold start instead.
	if custom := endpointVar(getenv, ignore == "true"); custom != "" {
		for _, v := range []struct{ name, value string }{{"AWS_USE_FIPS_ENDPOINT", fips}, {"AWS_USE_DUALSTACK_ENDPOINT", dualStack}} {
			if v.value == "true" {
				return aws.Config{}, fmt.Errorf("%s=true cannot be used with %s: the SDK has no FIPS or dual-stack form of a custom endpoint", v.name, custom)
			}
		}
	}

	// config.LoadDefaultConfig hands the service-specific endpoint and the
	// FIPS and dual-stack settings to clients through ConfigSources; here
	// the Secrets Manager client gets them as options, applied last.
	if smEndpoint != "" || fips != "" || dualStack != "" {
		cfg.ServiceOptions = []func(string, any){func(_ string, o any) {
			so, ok := o.(*secretsmanager.Options)
			if !ok {
				return
			}
			if smEndpoint != "" {
				so.BaseEndpoint = aws.String(smEndpoint)
			}
			switch fips {
			case "true":
				so.EndpointOptions.UseFIPSEndpoint = aws.FIPSEndpointStateEnabled
			case "false":
				so.EndpointOptions.UseFIPSEndpoint = aws.FIPSEndpointStateDisabled
			}
			switch dualStack {
			case "true":
				so.EndpointOptions.UseDualStackEndpoint = aws.DualStackEndpointStateEnabled
			case "false":
				so.EndpointOptions.UseDualStackEndpoint = aws.DualStackEndpointStateDisabled
			}
		}}
	}
	return cfg, nil
}

// endpointVar names the variable that sets Secrets Manager's endpoint, or
// returns "" when none does.
func endpointVar(getenv func(string) string, ignore bool) string {
	switch {
	case ignore:
		return ""
	case getenv("AWS_ENDPOINT_URL_SECRETS_MANAGER") != "":
		return "AWS_ENDPOINT_URL_SECRETS_MANAGER"
	case getenv("AWS_ENDPOINT_URL") != "":
		return "AWS_ENDPOINT_URL"
	}
	return ""
}

// awsCredentials returns the credentials provider the environment names.
func awsCredentials(getenv func(string) string) (aws.CredentialsProvider, error) {
	id, secret := getenv("AWS_ACCESS_KEY_ID"), getenv("AWS_SECRET_ACCESS_KEY")
	switch {
	case id != "" && secret != "":
		return credentials.StaticCredentialsProvider{
			Value: aws.Credentials{
				AccessKeyID:     id,
				SecretAccessKey: secret,
				SessionToken:    getenv("AWS_SESSION_TOKEN"),
				Source:          "EnvConfigCredentials",
			},
			Source: []aws.CredentialSource{aws.CredentialSourceEnvVars},
		}, nil
	case id != "":
		return nil, fmt.Errorf("AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not")
	case secret != "":
		return nil, fmt.Errorf("AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not")
	}

	endpoint := getenv("AWS_CONTAINER_CREDENTIALS_FULL_URI")
	if endpoint == "" {
		const msg = "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN), or AWS_CONTAINER_CREDENTIALS_FULL_URI"
		if getenv("AWS_PROFILE") != "" {
			return nil, fmt.Errorf("%s; AWS_PROFILE is set, but no profile is read: export its credentials (aws configure export-credentials --format env)", msg)
		}
		return nil, fmt.Errorf("%s (profiles and instance metadata are not read)", msg)
	}
	if err := checkCredentialsURL(endpoint); err != nil {
		return nil, err
	}
	token := getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN")
	tokenFile := getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")
	provider := endpointcreds.New(endpoint, func(o *endpointcreds.Options) {
		o.AuthorizationToken = token
		if tokenFile != "" {
			// Read at every retrieval, as the SDK does: the file is rotated.
			o.AuthorizationTokenProvider = endpointcreds.TokenProviderFunc(func() (string, error) {
				b, err := os.ReadFile(tokenFile)
				if err != nil {
					return "", fmt.Errorf("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: %w", err)
				}
				return string(b), nil
			})
		}
		o.CredentialSources = []aws.CredentialSource{aws.CredentialSourceHTTP}
	})
	return aws.NewCredentialsCache(provider, func(o *aws.CredentialsCacheOptions) {
		o.ExpiryWindow = 5 * time.Minute
	}), nil
}

// checkCredentialsURL applies the SDK's rule to
// AWS_CONTAINER_CREDENTIALS_FULL_URI: HTTPS to any host; plain HTTP only to a
// loopback address or the ECS/EKS container hosts. Host names other than
// localhost are not resolved here, so plain HTTP needs an IP address.
func checkCredentialsURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return fmt.Errorf("AWS_CONTAINER_CREDENTIALS_FULL_URI is not an http or https URL")
	}
	if u.Scheme == "https" {
		return nil
	}
	host := u.Hostname()
	if host == "localhost" || isContainerHost(host) {
		return nil
	}
	return fmt.Errorf("AWS_CONTAINER_CREDENTIALS_FULL_URI: plain HTTP only to a loopback address, 169.254.170.2, 169.254.170.23 or fd00:ec2::23, not %q", host)
}

// isContainerHost reports whether host is a loopback IP address or one of
// the ECS/EKS credential hosts.
func isContainerHost(host string) bool {
	ip := net.ParseIP(host)
	return ip != nil && (ip.IsLoopback() || ip.Equal(net.IPv4(169, 254, 170, 2)) ||
		ip.Equal(net.IPv4(169, 254, 170, 23)) || ip.Equal(net.ParseIP("fd00:ec2::23")))
}

// checkEndpointURL reports whether an endpoint variable, if set, holds an
// absolute http or https URL. The value is not quoted in the error: a URL
// may carry a password.
func checkEndpointURL(name, raw string) error {
	if raw == "" {
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return fmt.Errorf("%s is not an http or https URL", name)
	}
	return nil
}

// envBool reads a true/false variable as the SDK does (case-insensitive):
// "true", "false", or "" when unset.
func envBool(getenv func(string) string, name string) (string, error) {
	switch v := getenv(name); {
	case v == "":
		return "", nil
	case strings.EqualFold(v, "true"):
		return "true", nil
	case strings.EqualFold(v, "false"):
		return "false", nil
	default:
		return "", fmt.Errorf("%s=%q is neither true nor false", name, v)
	}
}
