// Integration tests of the refresher functions: each real function binary
// runs under aws-lambda-rie, against moto_server's Secrets Manager and the
// vendor's test server, invoked with the payloads in events/.
package functions_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/token-refresher/token-refresher/internal/localaws"
	_ "github.com/token-refresher/token-refresher/internal/testservers"
	"github.com/token-refresher/token-refresher/shared/hasoffers/hasofferstest"
	"github.com/token-refresher/token-refresher/shared/refresh"
	"github.com/token-refresher/token-refresher/shared/token"
	"github.com/token-refresher/token-refresher/shared/vendors"
	"github.com/token-refresher/token-refresher/shared/vendortest"
)

func TestMain(m *testing.M) { os.Exit(localaws.RunTests(m)) }

func event(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "events", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// env is one refresher's deployment: its secrets in moto, its vendor fake
// and the function under the emulator.
type env struct {
	t       *testing.T
	spec    vendors.Spec
	sm      *secretsmanager.Client
	srv     *vendortest.Server
	fn      *localaws.Function
	creds   string
	tokenID string
	errors  []string
}

func newEnv(t *testing.T, vendor string, creds map[string]string, extraEnv ...string) *env {
	t.Helper()
	moto := localaws.MotoForTest(t)
	ctx := context.Background()
	sm, err := moto.SecretsManager(ctx)
	if err != nil {
		t.Fatal(err)
	}
	spec := vendors.MustLookup(vendor)
	srv, err := vendortest.New(vendor, vendortest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	if creds == nil {
		creds = vendortest.Credentials(vendor)
	}
	e := &env{t: t, spec: spec, sm: sm, srv: srv}
	name := strings.NewReplacer("/", "-", " ", "-").Replace(t.Name())
	e.creds = "test/" + name + "/credentials"
	e.tokenID = "test/" + name + "/token"
	body, _ := json.Marshal(creds)
	if _, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(e.creds), SecretString: aws.String(string(body))}); err != nil {
		t.Fatal(err)
	}
	// As the stack creates it: a secret with no value the refresher can use.
	if _, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(e.tokenID), SecretString: aws.String("Q7#generated-by-secrets-manager")}); err != nil {
		t.Fatal(err)
	}
	fnEnv := append(moto.Env(),
		"CREDENTIALS_SECRET_ID="+e.creds,
		"TOKEN_SECRET_ID="+e.tokenID,
		spec.URLEnv+"="+srv.TokenURL(),
		"AWS_LAMBDA_FUNCTION_NAME=token-refresher-"+vendor,
		"AWS_LAMBDA_FUNCTION_TIMEOUT=20",
	)
	fnEnv = append(fnEnv, extraEnv...)
	e.fn = localaws.FunctionForTest(t, vendor, fnEnv)
	t.Cleanup(e.scan)
	return e
}

// invoke runs the function with a payload from events/.
func (e *env) invoke(eventFile string) (refresh.Summary, string) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := e.fn.Invoke(ctx, event(e.t, eventFile))
	if err != nil {
		e.t.Fatalf("invoke: %v", err)
	}
	if res.Failed() {
		e.errors = append(e.errors, res.ErrorMessage)
		return refresh.Summary{}, res.ErrorMessage
	}
	var s refresh.Summary
	if err := json.Unmarshal(res.Payload, &s); err != nil {
		e.t.Fatalf("reply %s: %v", res.Payload, err)
	}
	return s, ""
}

// stored returns the token secret's current value.
func (e *env) stored() string {
	e.t.Helper()
	out, err := e.sm.GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: aws.String(e.tokenID)})
	if err != nil {
		e.t.Fatal(err)
	}
	return aws.ToString(out.SecretString)
}

// scan fails the test if any credential or issued token appears in the
// function's output or in a returned error.
func (e *env) scan() {
	out := e.fn.Output() + strings.Join(e.errors, "\n")
	secrets := []string{}
	for k, v := range vendortest.Credentials(e.spec.Name) {
		if k == "client_secret" || k == "password" || k == "api_token" {
			secrets = append(secrets, v)
		}
	}
	secrets = append(secrets, e.srv.Issued()...)
	for _, s := range secrets {
		if strings.Contains(out, s) {
			e.t.Errorf("function output or error contains a secret (fingerprint %s)", token.Fingerprint(s))
		}
	}
}

func TestRefresherLifecycle(t *testing.T) {
	for _, vendor := range clientVendors() {
		t.Run(vendor, func(t *testing.T) {
			e := newEnv(t, vendor, nil)
			first := vendors.MustLookup(vendor).Expires()

			// First scheduled run: the secret holds no token yet.
			s, errMsg := e.invoke("scheduled.json")
			wantAction := refresh.ActionRefreshed
			if !first {
				wantAction = refresh.ActionValidated
			}
			if errMsg != "" || s.Action != wantAction || s.Vendor != vendor {
				t.Fatalf("first run = %+v, error %q", s, errMsg)
			}
			tok, err := token.Parse(e.stored())
			if err != nil {
				t.Fatalf("stored token breaks the contract: %v", err)
			}
			checkContract(t, vendor, tok, e.stored())
			if tok.Fingerprint != s.Fingerprint || !e.srv.Valid(tok.AccessToken) {
				t.Errorf("stored token is not the one the vendor issued")
			}
			requests := e.srv.TokenRequests()

			// Second run: the token is fresh; expiring vendors skip.
			s, errMsg = e.invoke("scheduler.json")
			if first {
				if errMsg != "" || s.Action != refresh.ActionSkipped || e.srv.TokenRequests() != requests {
					t.Fatalf("second run = %+v, error %q, vendor requests %d→%d", s, errMsg, requests, e.srv.TokenRequests())
				}
			} else if errMsg != "" || s.Action != refresh.ActionValidated {
				t.Fatalf("second run = %+v, error %q", s, errMsg)
			}

			// force refreshes.
			if first {
				s, errMsg = e.invoke("force.json")
				if errMsg != "" || s.Action != refresh.ActionRefreshed || s.Fingerprint == tok.Fingerprint {
					t.Fatalf("forced run = %+v, error %q", s, errMsg)
				}
			}

			// A failing vendor leaves the previous token in place.
			good := e.stored()
			if first {
				e.srv.Inject(vendortest.Fault{Status: 500, Count: 20})
			} else {
				e.srv.RevokeAll()
			}
			s, errMsg = e.invoke("force.json")
			if errMsg == "" {
				t.Fatalf("run against a failing vendor succeeded: %+v", s)
			}
			if !strings.Contains(errMsg, vendor) {
				t.Errorf("error %q does not name the vendor", errMsg)
			}
			if !first && !strings.Contains(errMsg, "token revoked or lacks rights") {
				t.Errorf("error %q, want the revocation explained", errMsg)
			}
			if e.stored() != good {
				t.Error("a failed refresh replaced the stored token")
			}
			if !e.fn.WaitOutput(`"RefreshFailure":1`, 5*time.Second) {
				t.Error("no failure metric in the output")
			}
		})
	}
}

// checkContract checks the public fields apps rely on.
func checkContract(t *testing.T, vendor string, tok token.Token, raw string) {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal([]byte(raw), &doc); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"vendor", "access_token", "token_type", "authorization", "refreshed_at", "fingerprint", "refresher"} {
		if _, ok := doc[k]; !ok {
			t.Errorf("token secret lacks %q", k)
		}
	}
	switch vendor {
	case vendors.Invoca:
		if _, ok := doc["expires_at"]; ok {
			t.Error("invoca token has an expires_at")
		}
		if tok.Authorization != tok.AccessToken {
			t.Errorf("invoca header has a prefix")
		}
	default:
		exp, _ := doc["expires_at"].(string)
		if at, err := time.Parse(time.RFC3339, exp); err != nil || at.Location() != time.UTC || !strings.HasSuffix(exp, "Z") {
			t.Errorf("expires_at %q is not RFC 3339 UTC", exp)
		}
		life := tok.ExpiresAt.Sub(tok.RefreshedAt)
		spec := vendors.MustLookup(vendor)
		if life <= spec.Lifetime-time.Minute || life > spec.Lifetime {
			t.Errorf("token lives %v, want ~%v", life, spec.Lifetime)
		}
		if tok.Authorization != "Bearer "+tok.AccessToken {
			t.Errorf("authorization is not a Bearer header")
		}
	}
	if vendor == vendors.HasOffers && doc["integrator_id"] != hasofferstest.IntegratorID {
		t.Errorf("hasoffers token secret lacks integrator_id: %v", doc["integrator_id"])
	}
	for _, k := range []string{"client_secret", "password", "refresh_token"} {
		if _, ok := doc[k]; ok {
			t.Errorf("token secret carries %q", k)
		}
	}
}

func TestMalformedCredentials(t *testing.T) {
	tests := []struct {
		vendor, drop string
	}{
		{vendors.HasOffers, "integrator_id"},
		{vendors.Fyber, "client_secret"},
		{vendors.Merchenta, "password"},
		{vendors.Invoca, "api_token"},
	}
	for _, tt := range tests {
		t.Run(tt.vendor, func(t *testing.T) {
			creds := vendortest.Credentials(tt.vendor)
			delete(creds, tt.drop)
			e := newEnv(t, tt.vendor, creds)
			before := e.stored()
			_, errMsg := e.invoke("force.json")
			if !strings.Contains(errMsg, `missing field "`+tt.drop+`"`) || !strings.Contains(errMsg, e.creds) {
				t.Errorf("error %q, want it to name the missing field %q and the secret", errMsg, tt.drop)
			}
			if e.stored() != before {
				t.Error("a malformed credentials secret changed the token secret")
			}
			if e.srv.TokenRequests() != 0 {
				t.Errorf("vendor was called %d times", e.srv.TokenRequests())
			}
		})
	}
}

// A vendor slower than the function's deadline: the run gives up inside the
// deadline, returns its own error and logs it, instead of being killed by
// Lambda with nothing said.
func TestSlowVendorFailsInsideDeadline(t *testing.T) {
	e := newEnv(t, vendors.Fyber, nil, "AWS_LAMBDA_FUNCTION_TIMEOUT=4")
	e.srv.Inject(vendortest.Fault{Delay: time.Minute, Count: 100})
	start := time.Now()
	_, errMsg := e.invoke("force.json")
	if errMsg == "" || strings.Contains(errMsg, "Task timed out") {
		t.Fatalf("error %q, want the refresher's own error", errMsg)
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("invoke took %v, past the 4 s deadline", d)
	}
	if !e.fn.WaitOutput(`"action":"failed"`, 5*time.Second) {
		t.Errorf("no failure log line:\n%s", e.fn.Output())
	}
}

// clientVendors are the vendors of the table that refresh without a
// person's connect (every one but the authorization-code kind), so a new
// vendor's row is tested here without an edit.
func clientVendors() []string {
	var out []string
	for _, s := range vendors.All() {
		if !s.AuthCode {
			out = append(out, s.Name)
		}
	}
	return out
}
