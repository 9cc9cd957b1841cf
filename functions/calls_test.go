package functions_test

// Secrets Manager calls per run are behaviour: each is a signed HTTPS round
// trip in Lambda. These tests count what moto_server receives (through the
// counting proxy) per kind of run, with the real bootstraps under
// aws-lambda-rie.

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/token-refresher/token-refresher/internal/localaws"
	"github.com/token-refresher/token-refresher/internal/smfault"
	"github.com/token-refresher/token-refresher/shared/admitad"
	"github.com/token-refresher/token-refresher/shared/refresh"
	"github.com/token-refresher/token-refresher/shared/secretstore"
	"github.com/token-refresher/token-refresher/shared/vendors"
	"github.com/token-refresher/token-refresher/shared/vendortest"
)

// countEnv is one refresher behind a counting proxy.
type countEnv struct {
	t              *testing.T
	sm             *secretsmanager.Client
	srv            *vendortest.Server
	proxy          *smfault.Proxy
	env            []string
	vendor         string
	credsID, tokID string
	fn             *localaws.Function
}

func newCountEnv(t *testing.T, vendor string) *countEnv {
	t.Helper()
	moto := localaws.MotoForTest(t)
	ctx := context.Background()
	sm, err := moto.SecretsManager(ctx)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := vendortest.New(vendor, vendortest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	proxy, err := smfault.New(moto.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proxy.Close)
	e := &countEnv{t: t, sm: sm, srv: srv, proxy: proxy, vendor: vendor}
	name := "calls/" + strings.NewReplacer("/", "-", " ", "-").Replace(t.Name())
	e.credsID, e.tokID = name+"/credentials", name+"/token"
	e.putCreds(vendortest.Credentials(vendor), true)
	if _, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(e.tokID), SecretString: aws.String("Q7#generated-by-secrets-manager")}); err != nil {
		t.Fatal(err)
	}
	e.env = viaProxy(moto.Env(), proxy)
	e.env = append(e.env,
		"CREDENTIALS_SECRET_ID="+e.credsID,
		"TOKEN_SECRET_ID="+e.tokID,
		vendors.MustLookup(vendor).URLEnv+"="+srv.TokenURL(),
		"AWS_LAMBDA_FUNCTION_NAME=token-refresher-"+vendor,
		"AWS_LAMBDA_FUNCTION_TIMEOUT=20",
	)
	e.fn = localaws.FunctionForTest(t, vendor, e.env)
	return e
}

func (e *countEnv) putCreds(creds map[string]string, create bool) {
	e.t.Helper()
	body, _ := json.Marshal(creds)
	ctx := context.Background()
	var err error
	if create {
		_, err = e.sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(e.credsID), SecretString: aws.String(string(body))})
	} else {
		_, err = e.sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(e.credsID), SecretString: aws.String(string(body))})
	}
	if err != nil {
		e.t.Fatal(err)
	}
}

// cold replaces the function with a new process: the next run is a cold
// start.
func (e *countEnv) cold() {
	e.t.Helper()
	if err := e.fn.Stop(); err != nil {
		e.t.Fatal(err)
	}
	e.fn = localaws.FunctionForTest(e.t, e.vendor, e.env)
}

// run invokes payload and returns the reply and the Secrets Manager calls
// it made.
func (e *countEnv) run(payload string) (refresh.Summary, string, []smfault.Call) {
	e.t.Helper()
	e.proxy.ResetCalls()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := e.fn.Invoke(ctx, []byte(payload))
	if err != nil {
		e.t.Fatal(err)
	}
	calls := e.proxy.Calls()
	if res.Failed() {
		return refresh.Summary{}, res.ErrorMessage, calls
	}
	var s refresh.Summary
	if err := json.Unmarshal(res.Payload, &s); err != nil {
		e.t.Fatalf("reply %s: %v", res.Payload, err)
	}
	return s, "", calls
}

// age rewrites the stored token as if it had been obtained long ago, so
// the next scheduled run finds it due.
func (e *countEnv) age() {
	e.t.Helper()
	ageToken(e.t, e.sm, e.tokID)
}

// ageToken rewrites the token in secret tokID as if it had been obtained
// long ago.
func ageToken(t *testing.T, sm *secretsmanager.Client, tokID string) {
	t.Helper()
	ctx := context.Background()
	tok, err := publishedToken(t, sm, tokID)
	if err != nil {
		t.Fatal(err)
	}
	life := tok.ExpiresAt.Sub(tok.RefreshedAt)
	tok.RefreshedAt = tok.RefreshedAt.Add(-life + time.Minute)
	tok.ExpiresAt = tok.ExpiresAt.Add(-life + 2*time.Minute)
	b, _ := json.Marshal(tok)
	if _, err := sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(tokID), SecretString: aws.String(string(b))}); err != nil {
		t.Fatal(err)
	}
}

func describe(calls []smfault.Call) string {
	var b strings.Builder
	for _, c := range calls {
		var names []string
		for _, id := range c.SecretIDs {
			names = append(names, id[strings.LastIndex(id, "/")+1:])
		}
		fmt.Fprintf(&b, "%s %s; ", c.Op, strings.Join(names, "+"))
	}
	return b.String()
}

func TestSecretsManagerCallsPerRun(t *testing.T) {
	for _, vendor := range []string{vendors.HasOffers, vendors.Fyber, vendors.Merchenta} {
		t.Run(vendor, func(t *testing.T) {
			e := newCountEnv(t, vendor)
			step := func(name, payload, action string, max int) {
				t.Helper()
				s, msg, calls := e.run(payload)
				if msg != "" || s.Action != action {
					t.Fatalf("%s: %+v %q, want %s", name, s, msg, action)
				}
				t.Logf("%s: %s", name, describe(calls))
				if len(calls) > max {
					t.Errorf("%s made %d Secrets Manager calls (%s), want at most %d", name, len(calls), describe(calls), max)
				}
				reportsPublished(t, e.sm, e.tokID, name, s)
			}
			// A process without fresh credentials reads them together with
			// the token, in one call.
			step("cold scheduled refresh", `{}`, refresh.ActionRefreshed, 2)
			step("warm scheduled skip", `{}`, refresh.ActionSkipped, 1)
			// A forced run is an operator's proof: it reads the
			// credentials fresh, then writes the token.
			step("warm forced refresh", `{"force":true}`, refresh.ActionRefreshed, 2)
			e.age()
			step("warm scheduled refresh", `{}`, refresh.ActionRefreshed, 2)
			e.cold()
			step("cold scheduled skip", `{}`, refresh.ActionSkipped, 1)
			e.cold()
			step("cold forced refresh", `{"force":true}`, refresh.ActionRefreshed, 2)
			e.cold()
			e.age()
			step("cold scheduled refresh, token due", `{}`, refresh.ActionRefreshed, 2)
		})
	}
	t.Run(vendors.Admitad, func(t *testing.T) {
		e := newAdmitadEnv(t, 30)
		e.connect()
		count := func(name, payload, action string, max int) {
			t.Helper()
			e.proxy.ResetCalls()
			s, msg := e.run(payload)
			calls := e.proxy.Calls()
			if msg != "" || s.Action != action {
				t.Fatalf("%s: %+v %q, want %s", name, s, msg, action)
			}
			t.Logf("%s: %s", name, describe(calls))
			if len(calls) > max {
				t.Errorf("%s made %d Secrets Manager calls (%s), want at most %d", name, len(calls), describe(calls), max)
			}
			reportsPublished(t, e.sm, e.tokID, name, s)
		}
		// Cold: the refresh-token secret and the credentials in one
		// read, the pending write, the label move, the token.
		count("first refresh after a connect (cold)", `{}`, refresh.ActionRefreshed, 4)
		count("scheduled skip", `{}`, refresh.ActionSkipped, 1)
		count("warm forced refresh", `{"force":true}`, refresh.ActionRefreshed, 4)
		e.due()
		count("warm scheduled refresh, token due", `{}`, refresh.ActionRefreshed, 4)
		cold := func() {
			t.Helper()
			if err := e.fn.Stop(); err != nil {
				t.Fatal(err)
			}
			e.fn = localaws.FunctionForTest(t, vendors.Admitad, e.fnEnv)
		}
		cold()
		count("cold scheduled skip", `{}`, refresh.ActionSkipped, 1)
		cold()
		count("cold forced refresh", `{"force":true}`, refresh.ActionRefreshed, 4)
		cold()
		e.due()
		count("cold scheduled refresh, token due", `{}`, refresh.ActionRefreshed, 4)
	})
}

// connect stores e.conn as the callback does when a person connects.
func (e *admEnv) connect() {
	e.t.Helper()
	e.conn.ConnectedAt = time.Now().UTC()
	e.conn.RotatedAt = e.conn.ConnectedAt
	if err := admitad.SaveConnection(context.Background(), &secretstore.Store{API: e.sm}, e.refID, e.conn); err != nil {
		e.t.Fatal(err)
	}
}

// reportsPublished fails the test unless a run's reply describes the
// token apps read: the one in the token secret.
func reportsPublished(t *testing.T, sm *secretsmanager.Client, tokID, name string, s refresh.Summary) {
	t.Helper()
	tok, err := publishedToken(t, sm, tokID)
	if err != nil {
		t.Fatalf("%s: the token secret holds no token: %v", name, err)
	}
	expires := ""
	if !tok.ExpiresAt.IsZero() {
		expires = tok.ExpiresAt.UTC().Format(time.RFC3339)
	}
	if s.Fingerprint != tok.Fingerprint || s.ExpiresAt != expires {
		t.Errorf("%s reported %s expiring %s; apps read %s expiring %s", name, s.Fingerprint, s.ExpiresAt, tok.Fingerprint, expires)
	}
}

// due rewrites the access token's record in the refresh-token secret, as
// a refresh writes it, and the published token with it, as if the token
// had been obtained long ago: the next scheduled run finds it due.
func (e *admEnv) due() {
	e.t.Helper()
	ageToken(e.t, e.sm, e.tokID)
	ctx := context.Background()
	store := &secretstore.Store{API: e.sm}
	cur, err := store.Get(ctx, e.refID)
	if err != nil {
		e.t.Fatal(err)
	}
	c, err := admitad.ParseConnection(cur.String)
	if err != nil || c.Access.Fingerprint == "" {
		e.t.Fatalf("refresh-token secret records no access token (%v)", err)
	}
	life := c.Access.ExpiresAt.Sub(c.Access.RefreshedAt)
	c.Access.RefreshedAt = c.Access.RefreshedAt.Add(-life + time.Minute)
	c.Access.ExpiresAt = c.Access.ExpiresAt.Add(-life + 2*time.Minute)
	c.RotatedAt = c.RotatedAt.Add(time.Millisecond)
	id, err := store.PutPending(ctx, e.refID, c.Encode(), admitad.PendingStage)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := store.Swap(ctx, e.refID, cur.VersionID, id); err != nil {
		e.t.Fatal(err)
	}
}

// TestRotatedCredentialsCostNoFailedRun: a warm process keeps credentials;
// an operator rotates them at the vendor and in the secret. The next run
// is refused with the kept ones, reads the secret again at once and
// succeeds: no failed run.
func TestRotatedCredentialsCostNoFailedRun(t *testing.T) {
	for _, vendor := range []string{vendors.HasOffers, vendors.Fyber, vendors.Merchenta} {
		t.Run(vendor, func(t *testing.T) {
			e := newCountEnv(t, vendor)
			if s, msg, _ := e.run(`{"force":true}`); msg != "" || s.Action != refresh.ActionRefreshed {
				t.Fatalf("first run: %+v %q", s, msg)
			}
			rotated := vendortest.Credentials(vendor)
			for _, f := range []string{"client_secret", "password"} {
				if _, ok := rotated[f]; ok {
					rotated[f] = "rotated-" + rotated[f]
				}
			}
			e.srv.Rotate(vendortest.SandboxAccount, rotated)
			e.putCreds(rotated, false)
			s, msg, calls := e.run(`{"force":true}`)
			if msg != "" || s.Action != refresh.ActionRefreshed {
				t.Fatalf("run after the rotation: %+v %q; want refreshed with the new credentials", s, msg)
			}
			reads := 0
			for _, c := range calls {
				if c.Op == "GetSecretValue" && c.SecretID == e.credsID {
					reads++
				}
			}
			if reads != 1 {
				t.Errorf("credentials read %d times in the run after the rotation, want 1 (after the refusal)", reads)
			}
		})
	}
}
