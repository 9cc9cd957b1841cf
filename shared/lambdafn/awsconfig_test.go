package lambdafn

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/token-refresher/token-refresher/shared/refresh"
	"github.com/token-refresher/token-refresher/shared/secretstore"
	"github.com/token-refresher/token-refresher/shared/vendors"
)

// Every secret value below contains "VALUE-": no error may.
const secretMark = "VALUE-"

// lambdaEnv is what Lambda sets for a function with an execution role.
func lambdaEnv(set map[string]string) func(string) string {
	env := map[string]string{
		"AWS_REGION":            "eu-west-1",
		"AWS_DEFAULT_REGION":    "eu-west-1",
		"AWS_ACCESS_KEY_ID":     "ASIAEXAMPLE",
		"AWS_SECRET_ACCESS_KEY": "secret-VALUE-1",
		"AWS_SESSION_TOKEN":     "session-VALUE-2",
	}
	for k, v := range set {
		env[k] = v
	}
	return func(k string) string { return env[k] }
}

var errCaptured = errors.New("captured")

// sentRequest builds the Secrets Manager client as the functions do and
// returns the request its first call would send: resolved, signed, and
// not sent.
func sentRequest(t *testing.T, cfg aws.Config) *smithyhttp.Request {
	t.Helper()
	var got *smithyhttp.Request
	sm := secretsmanager.NewFromConfig(cfg, func(o *secretsmanager.Options) {
		o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
			return s.Finalize.Add(middleware.FinalizeMiddlewareFunc("capture",
				func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
					got = in.Request.(*smithyhttp.Request)
					return middleware.FinalizeOutput{}, middleware.Metadata{}, errCaptured
				}), middleware.After)
		})
	})
	_, err := sm.GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: aws.String("token-refresher/fyber/token")})
	if !errors.Is(err, errCaptured) {
		t.Fatalf("GetSecretValue: %v, want the captured request", err)
	}
	return got
}

func TestAWSConfig(t *testing.T) {
	tests := []struct {
		name string
		set  map[string]string
		// want
		region    string
		url       string // where the first Secrets Manager call goes
		keyID     string
		session   string
		attempts  int // Retryer.MaxAttempts
		retryMode aws.RetryMode
	}{
		{name: "Lambda's environment", region: "eu-west-1", url: "https://secretsmanager.eu-west-1.amazonaws.com/",
			keyID: "ASIAEXAMPLE", session: "session-VALUE-2", attempts: 3, retryMode: ""},
		{name: "AWS_DEFAULT_REGION when AWS_REGION is unset", set: map[string]string{"AWS_REGION": "", "AWS_DEFAULT_REGION": "us-east-2"},
			region: "us-east-2", url: "https://secretsmanager.us-east-2.amazonaws.com/", keyID: "ASIAEXAMPLE", session: "session-VALUE-2", attempts: 3},
		{name: "AWS_REGION wins over AWS_DEFAULT_REGION", set: map[string]string{"AWS_REGION": "ap-south-1", "AWS_DEFAULT_REGION": "us-east-2"},
			region: "ap-south-1", url: "https://secretsmanager.ap-south-1.amazonaws.com/", keyID: "ASIAEXAMPLE", session: "session-VALUE-2", attempts: 3},
		{name: "long-lived keys without a session token", set: map[string]string{"AWS_ACCESS_KEY_ID": "AKIALOCAL", "AWS_SESSION_TOKEN": ""},
			region: "eu-west-1", url: "https://secretsmanager.eu-west-1.amazonaws.com/", keyID: "AKIALOCAL", attempts: 3},
		{name: "the Secrets Manager endpoint variable", set: map[string]string{"AWS_ENDPOINT_URL_SECRETS_MANAGER": "http://127.0.0.1:7701"},
			region: "eu-west-1", url: "http://127.0.0.1:7701/", keyID: "ASIAEXAMPLE", session: "session-VALUE-2", attempts: 3},
		{name: "the Secrets Manager endpoint wins over AWS_ENDPOINT_URL",
			set:    map[string]string{"AWS_ENDPOINT_URL_SECRETS_MANAGER": "http://127.0.0.1:7701", "AWS_ENDPOINT_URL": "http://127.0.0.1:4566"},
			region: "eu-west-1", url: "http://127.0.0.1:7701/", keyID: "ASIAEXAMPLE", session: "session-VALUE-2", attempts: 3},
		{name: "AWS_ENDPOINT_URL alone", set: map[string]string{"AWS_ENDPOINT_URL": "http://127.0.0.1:4566"},
			region: "eu-west-1", url: "http://127.0.0.1:4566/", keyID: "ASIAEXAMPLE", session: "session-VALUE-2", attempts: 3},
		{name: "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true ignores both",
			set:    map[string]string{"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true", "AWS_ENDPOINT_URL_SECRETS_MANAGER": "http://127.0.0.1:7701", "AWS_ENDPOINT_URL": "http://127.0.0.1:4566"},
			region: "eu-west-1", url: "https://secretsmanager.eu-west-1.amazonaws.com/", keyID: "ASIAEXAMPLE", session: "session-VALUE-2", attempts: 3},
		{name: "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=FALSE keeps them",
			set:    map[string]string{"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "FALSE", "AWS_ENDPOINT_URL_SECRETS_MANAGER": "http://127.0.0.1:7701"},
			region: "eu-west-1", url: "http://127.0.0.1:7701/", keyID: "ASIAEXAMPLE", session: "session-VALUE-2", attempts: 3},
		{name: "FIPS", set: map[string]string{"AWS_USE_FIPS_ENDPOINT": "true", "AWS_REGION": "us-east-1"},
			region: "us-east-1", url: "https://secretsmanager-fips.us-east-1.amazonaws.com/", keyID: "ASIAEXAMPLE", session: "session-VALUE-2", attempts: 3},
		{name: "FIPS off", set: map[string]string{"AWS_USE_FIPS_ENDPOINT": "false", "AWS_REGION": "us-east-1"},
			region: "us-east-1", url: "https://secretsmanager.us-east-1.amazonaws.com/", keyID: "ASIAEXAMPLE", session: "session-VALUE-2", attempts: 3},
		// In the aws partition Secrets Manager's dual-stack names are its
		// usual ones; in others they differ.
		{name: "dual-stack", set: map[string]string{"AWS_USE_DUALSTACK_ENDPOINT": "True", "AWS_REGION": "us-iso-east-1"},
			region: "us-iso-east-1", url: "https://secretsmanager.us-iso-east-1.api.aws.ic.gov/", keyID: "ASIAEXAMPLE", session: "session-VALUE-2", attempts: 3},
		{name: "dual-stack off", set: map[string]string{"AWS_USE_DUALSTACK_ENDPOINT": "false", "AWS_REGION": "us-iso-east-1"},
			region: "us-iso-east-1", url: "https://secretsmanager.us-iso-east-1.c2s.ic.gov/", keyID: "ASIAEXAMPLE", session: "session-VALUE-2", attempts: 3},
		{name: "FIPS and dual-stack", set: map[string]string{"AWS_USE_FIPS_ENDPOINT": "true", "AWS_USE_DUALSTACK_ENDPOINT": "true", "AWS_REGION": "us-iso-east-1"},
			region: "us-iso-east-1", url: "https://secretsmanager-fips.us-iso-east-1.api.aws.ic.gov/", keyID: "ASIAEXAMPLE", session: "session-VALUE-2", attempts: 3},
		{name: "FIPS with endpoint variables ignored",
			set:    map[string]string{"AWS_USE_FIPS_ENDPOINT": "true", "AWS_REGION": "us-east-1", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true", "AWS_ENDPOINT_URL_SECRETS_MANAGER": "http://127.0.0.1:7701"},
			region: "us-east-1", url: "https://secretsmanager-fips.us-east-1.amazonaws.com/", keyID: "ASIAEXAMPLE", session: "session-VALUE-2", attempts: 3},
		{name: "FIPS false with an endpoint variable", set: map[string]string{"AWS_USE_FIPS_ENDPOINT": "false", "AWS_ENDPOINT_URL_SECRETS_MANAGER": "http://127.0.0.1:7701"},
			region: "eu-west-1", url: "http://127.0.0.1:7701/", keyID: "ASIAEXAMPLE", session: "session-VALUE-2", attempts: 3},
		{name: "AWS_MAX_ATTEMPTS", set: map[string]string{"AWS_MAX_ATTEMPTS": "5"},
			region: "eu-west-1", url: "https://secretsmanager.eu-west-1.amazonaws.com/", keyID: "ASIAEXAMPLE", session: "session-VALUE-2", attempts: 5},
		{name: "AWS_RETRY_MODE adaptive", set: map[string]string{"AWS_RETRY_MODE": "adaptive", "AWS_MAX_ATTEMPTS": "2"},
			region: "eu-west-1", url: "https://secretsmanager.eu-west-1.amazonaws.com/", keyID: "ASIAEXAMPLE", session: "session-VALUE-2", attempts: 2, retryMode: aws.RetryModeAdaptive},
		{name: "AWS_RETRY_MODE Standard", set: map[string]string{"AWS_RETRY_MODE": "Standard"},
			region: "eu-west-1", url: "https://secretsmanager.eu-west-1.amazonaws.com/", keyID: "ASIAEXAMPLE", session: "session-VALUE-2", attempts: 3, retryMode: aws.RetryModeStandard},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := AWSConfig(lambdaEnv(tt.set))
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Region != tt.region {
				t.Errorf("region = %q, want %q", cfg.Region, tt.region)
			}
			creds, err := cfg.Credentials.Retrieve(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if creds.AccessKeyID != tt.keyID || creds.SessionToken != tt.session || creds.SecretAccessKey == "" {
				t.Errorf("credentials: key id %q, session token set %v; want %q, %v", creds.AccessKeyID, creds.SessionToken != "", tt.keyID, tt.session != "")
			}
			if cfg.RetryMode != tt.retryMode {
				t.Errorf("retry mode = %q, want %q", cfg.RetryMode, tt.retryMode)
			}
			sm := secretsmanager.NewFromConfig(cfg)
			if got := sm.Options().Retryer.MaxAttempts(); got != tt.attempts {
				t.Errorf("max attempts = %d, want %d", got, tt.attempts)
			}
			req := sentRequest(t, cfg)
			if got := req.URL.String(); got != tt.url {
				t.Errorf("Secrets Manager call goes to %s, want %s", got, tt.url)
			}
			// Signed with these credentials for this region.
			scope := "Credential=" + tt.keyID + "/"
			auth := req.Header.Get("Authorization")
			if !strings.Contains(auth, scope) || !strings.Contains(auth, "/"+tt.region+"/secretsmanager/aws4_request") {
				t.Errorf("Authorization = %q, want a SigV4 signature by %s for %s", auth, tt.keyID, tt.region)
			}
			if got := req.Header.Get("X-Amz-Security-Token"); got != tt.session {
				t.Errorf("session token header set = %v, want %v", got != "", tt.session != "")
			}
		})
	}
}

// The endpoint variable takes a real call to the server it names.
func TestAWSConfigReachesEndpoint(t *testing.T) {
	calls := make(chan string, 2)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls <- r.Header.Get("X-Amz-Target")
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		io.WriteString(w, `{"Name":"token-refresher/fyber/token","SecretString":"{}","VersionId":"v1"}`)
	}))
	defer srv.Close()
	wrong := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("AWS_ENDPOINT_URL was called though AWS_ENDPOINT_URL_SECRETS_MANAGER is set")
		w.WriteHeader(http.StatusTeapot)
	}))
	defer wrong.Close()

	cfg, err := AWSConfig(lambdaEnv(map[string]string{"AWS_ENDPOINT_URL_SECRETS_MANAGER": srv.URL, "AWS_ENDPOINT_URL": wrong.URL}))
	if err != nil {
		t.Fatal(err)
	}
	out, err := secretsmanager.NewFromConfig(cfg).GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: aws.String("token-refresher/fyber/token")})
	if err != nil {
		t.Fatal(err)
	}
	if got := <-calls; got != "secretsmanager.GetSecretValue" || aws.ToString(out.VersionId) != "v1" {
		t.Errorf("call %q, version %q", got, aws.ToString(out.VersionId))
	}
}

// containerCreds serves credentials as Lambda's and ECS's credentials
// endpoints do, to a caller presenting want as Authorization.
func containerCreds(t *testing.T, want string) (*httptest.Server, *int) {
	t.Helper()
	var n int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n++
		if r.URL.Path != "/credentials" || r.Header.Get("Authorization") != want {
			w.WriteHeader(http.StatusForbidden)
			io.WriteString(w, `{"code":"AccessDenied","message":"bad token"}`)
			return
		}
		exp := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
		io.WriteString(w, `{"AccessKeyId":"ASIACONTAINER","SecretAccessKey":"secret-VALUE-3","Token":"session-VALUE-4","Expiration":"`+exp+`"}`)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func TestAWSConfigContainerCredentials(t *testing.T) {
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("file-VALUE-5"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		serve   string // the token the endpoint wants
		set     map[string]string
		wantErr string
	}{
		{name: "AWS_CONTAINER_AUTHORIZATION_TOKEN", serve: "auth-VALUE-6", set: map[string]string{"AWS_CONTAINER_AUTHORIZATION_TOKEN": "auth-VALUE-6"}},
		{name: "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE wins over the token", serve: "file-VALUE-5",
			set: map[string]string{"AWS_CONTAINER_AUTHORIZATION_TOKEN": "auth-VALUE-6", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": tokenFile}},
		{name: "no token", serve: ""},
		{name: "refused token", serve: "auth-VALUE-7", set: map[string]string{"AWS_CONTAINER_AUTHORIZATION_TOKEN": "auth-VALUE-6"}, wantErr: "AccessDenied"},
		{name: "unreadable token file", serve: "file-VALUE-5",
			set: map[string]string{"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": filepath.Join(t.TempDir(), "missing")}, wantErr: "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, calls := containerCreds(t, tt.serve)
			set := map[string]string{
				"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_SESSION_TOKEN": "",
				"AWS_CONTAINER_CREDENTIALS_FULL_URI": srv.URL + "/credentials",
			}
			for k, v := range tt.set {
				set[k] = v
			}
			cfg, err := AWSConfig(lambdaEnv(set))
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := cfg.Credentials.(*aws.CredentialsCache); !ok {
				t.Errorf("credentials provider is %T, want a cache", cfg.Credentials)
			}
			creds, err := cfg.Credentials.Retrieve(context.Background())
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), secretMark) {
					t.Fatalf("error shows a secret: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if creds.AccessKeyID != "ASIACONTAINER" || creds.SessionToken != "session-VALUE-4" || !creds.CanExpire {
				t.Errorf("credentials: key id %q, expiring %v", creds.AccessKeyID, creds.CanExpire)
			}
			req := sentRequest(t, cfg)
			if !strings.Contains(req.Header.Get("Authorization"), "Credential=ASIACONTAINER/") {
				t.Errorf("call not signed with the container's credentials: %q", req.Header.Get("Authorization"))
			}
			// Cached: the second call does not fetch them again.
			sentRequest(t, cfg)
			if *calls != 1 {
				t.Errorf("credentials endpoint called %d times, want 1", *calls)
			}
		})
	}
}

func TestAWSConfigErrors(t *testing.T) {
	noKeys := map[string]string{"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_SESSION_TOKEN": ""}
	with := func(base map[string]string, kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		name string
		set  map[string]string
		want []string // every one is in the error
	}{
		{name: "no region", set: map[string]string{"AWS_REGION": "", "AWS_DEFAULT_REGION": ""}, want: []string{"AWS_REGION", "AWS_DEFAULT_REGION"}},
		{name: "no credentials", set: noKeys,
			want: []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_CONTAINER_CREDENTIALS_FULL_URI"}},
		{name: "a profile instead of credentials", set: with(noKeys, "AWS_PROFILE", "prod"),
			want: []string{"AWS_ACCESS_KEY_ID", "AWS_PROFILE", "export-credentials"}},
		{name: "key id without secret", set: with(noKeys, "AWS_ACCESS_KEY_ID", "AKIA-VALUE-8", "AWS_SESSION_TOKEN", "session-VALUE-2"),
			want: []string{"AWS_SECRET_ACCESS_KEY is not"}},
		{name: "secret without key id", set: with(noKeys, "AWS_SECRET_ACCESS_KEY", "secret-VALUE-1"),
			want: []string{"AWS_ACCESS_KEY_ID is not"}},
		{name: "container endpoint over plain HTTP to a remote host",
			set:  with(noKeys, "AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://credentials.example.com/creds", "AWS_CONTAINER_AUTHORIZATION_TOKEN", "auth-VALUE-6"),
			want: []string{"AWS_CONTAINER_CREDENTIALS_FULL_URI", "credentials.example.com"}},
		{name: "container endpoint at the instance metadata address",
			set:  with(noKeys, "AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://169.254.169.254/latest/meta-data/", "AWS_CONTAINER_AUTHORIZATION_TOKEN", "auth-VALUE-6"),
			want: []string{"AWS_CONTAINER_CREDENTIALS_FULL_URI"}},
		{name: "container endpoint not a URL",
			set:  with(noKeys, "AWS_CONTAINER_CREDENTIALS_FULL_URI", "127.0.0.1:9001/creds"),
			want: []string{"AWS_CONTAINER_CREDENTIALS_FULL_URI is not an http or https URL"}},
		{name: "AWS_MAX_ATTEMPTS not a number", set: map[string]string{"AWS_MAX_ATTEMPTS": "three"}, want: []string{"AWS_MAX_ATTEMPTS", `"three"`}},
		{name: "AWS_MAX_ATTEMPTS zero", set: map[string]string{"AWS_MAX_ATTEMPTS": "0"}, want: []string{"AWS_MAX_ATTEMPTS"}},
		{name: "AWS_MAX_ATTEMPTS negative", set: map[string]string{"AWS_MAX_ATTEMPTS": "-2"}, want: []string{"AWS_MAX_ATTEMPTS"}},
		{name: "AWS_RETRY_MODE unknown", set: map[string]string{"AWS_RETRY_MODE": "legacy"}, want: []string{"AWS_RETRY_MODE", "standard", "adaptive"}},
		{name: "AWS_USE_FIPS_ENDPOINT not a boolean", set: map[string]string{"AWS_USE_FIPS_ENDPOINT": "yes"}, want: []string{"AWS_USE_FIPS_ENDPOINT", "true", "false"}},
		{name: "AWS_USE_DUALSTACK_ENDPOINT not a boolean", set: map[string]string{"AWS_USE_DUALSTACK_ENDPOINT": "1"}, want: []string{"AWS_USE_DUALSTACK_ENDPOINT"}},
		{name: "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS not a boolean", set: map[string]string{"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "on"}, want: []string{"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"}},
		{name: "FIPS with a custom endpoint", set: map[string]string{"AWS_USE_FIPS_ENDPOINT": "true", "AWS_ENDPOINT_URL_SECRETS_MANAGER": "http://127.0.0.1:7701"},
			want: []string{"AWS_USE_FIPS_ENDPOINT", "AWS_ENDPOINT_URL_SECRETS_MANAGER"}},
		{name: "dual-stack with AWS_ENDPOINT_URL", set: map[string]string{"AWS_USE_DUALSTACK_ENDPOINT": "TRUE", "AWS_ENDPOINT_URL": "http://127.0.0.1:4566"},
			want: []string{"AWS_USE_DUALSTACK_ENDPOINT", "AWS_ENDPOINT_URL"}},
		{name: "Secrets Manager endpoint without a scheme", set: map[string]string{"AWS_ENDPOINT_URL_SECRETS_MANAGER": "127.0.0.1:7701"}, want: []string{"AWS_ENDPOINT_URL_SECRETS_MANAGER"}},
		{name: "Secrets Manager endpoint without a host, with a password",
			set: map[string]string{"AWS_ENDPOINT_URL_SECRETS_MANAGER": "http://user:pass-VALUE-9@"}, want: []string{"AWS_ENDPOINT_URL_SECRETS_MANAGER"}},
		{name: "AWS_ENDPOINT_URL of another scheme", set: map[string]string{"AWS_ENDPOINT_URL": "ftp://127.0.0.1"}, want: []string{"AWS_ENDPOINT_URL"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := AWSConfig(lambdaEnv(tt.set))
			if err == nil {
				t.Fatalf("no error, want one naming %v", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("err = %q, want it to name %q", err, w)
				}
			}
			if strings.Contains(err.Error(), secretMark) {
				t.Errorf("error shows a secret: %q", err)
			}
		})
	}
}

// A missing AWS variable ends the cold start with the function's name and
// the variable, before any call.
func TestNewHandlerAWSConfigError(t *testing.T) {
	env := map[string]string{
		"CREDENTIALS_SECRET_ID": "token-refresher/fyber/credentials",
		"TOKEN_SECRET_ID":       "token-refresher/fyber/token",
		"AWS_ACCESS_KEY_ID":     "AKIALOCAL",
		"AWS_SECRET_ACCESS_KEY": "secret-VALUE-1",
	}
	_, err := NewHandler(context.Background(), vendors.MustLookup(vendors.Fyber), func(k string) string { return env[k] },
		func(Config, *secretstore.Store) (refresh.Vendor, error) {
			t.Fatal("vendor built despite the error")
			return nil, nil
		}, io.Discard)
	if err == nil || !strings.HasPrefix(err.Error(), "fyber: ") || !strings.Contains(err.Error(), "AWS_REGION") {
		t.Fatalf("err = %v, want fyber: ... AWS_REGION ...", err)
	}
}

// The static provider is what Lambda's own credentials become.
func TestAWSConfigStaticProvider(t *testing.T) {
	cfg, err := AWSConfig(lambdaEnv(nil))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := cfg.Credentials.(credentials.StaticCredentialsProvider); !ok {
		t.Errorf("credentials provider is %T, want the static one", cfg.Credentials)
	}
}

// The bootstraps must not link the SDK's shared-config loader or the
// clients of credential providers a Lambda function never uses: they cost
// every cold start about 4,400 allocations in package init.
func TestBootstrapsLinkNoUnusedSDKClients(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go tool is not on PATH: cannot list the bootstraps' dependencies")
	}
	forbidden := []string{
		"github.com/aws/aws-sdk-go-v2/config",
		"github.com/aws/aws-sdk-go-v2/service/sts",
		"github.com/aws/aws-sdk-go-v2/service/sso",
		"github.com/aws/aws-sdk-go-v2/service/ssooidc",
		"github.com/aws/aws-sdk-go-v2/service/signin",
		"github.com/aws/aws-sdk-go-v2/feature/ec2/imds",
		// The lanes' Invoke is written out (lanes.go): the Lambda
		// client's initialisation would cost every cold start.
		"github.com/aws/aws-sdk-go-v2/service/lambda",
	}
	// As the bootstraps are built (docs: STYLE, Lambda build).
	cmd := exec.Command(goTool, "list", "-tags", "lambda.norpc",
		"-f", `{{if eq .Name "main"}}{{.ImportPath}}{{range .Deps}} {{.}}{{end}}{{end}}`, "../../functions/...")
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0")
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("go list: %v\n%s", err, ee.Stderr)
		}
		t.Fatalf("go list: %v", err)
	}
	mains := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		mains++
		deps := map[string]bool{}
		for _, d := range fields[1:] {
			deps[d] = true
		}
		for _, f := range forbidden {
			if deps[f] {
				t.Errorf("%s links %s", fields[0], f)
			}
		}
	}
	if mains < 6 {
		t.Errorf("go list found %d bootstraps under functions/, want every one (6 or more):\n%s", mains, out)
	}
}
