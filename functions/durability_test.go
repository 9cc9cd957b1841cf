package functions_test

// Durability of Admitad's rotating refresh token under the faults that do
// happen: the real admitad bootstrap runs under aws-lambda-rie; Secrets
// Manager is moto_server behind a fault proxy (internal/smfault) that hangs,
// fails, drops answers and kills the bootstrap at chosen calls; the Admitad
// test server accepts each refresh token exactly once. In every case the
// next run must succeed without a reconnect, or, for the faults no client
// can survive, say so.

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/token-refresher/token-refresher/internal/localaws"
	"github.com/token-refresher/token-refresher/internal/smfault"
	"github.com/token-refresher/token-refresher/shared/admitad"
	"github.com/token-refresher/token-refresher/shared/admitad/admitadtest"
	"github.com/token-refresher/token-refresher/shared/refresh"
	"github.com/token-refresher/token-refresher/shared/secretstore"
	"github.com/token-refresher/token-refresher/shared/token"
	"github.com/token-refresher/token-refresher/shared/vendors"
	"github.com/token-refresher/token-refresher/shared/vendortest"
)

type admEnv struct {
	t                     *testing.T
	sm                    *secretsmanager.Client
	srv                   *admitadtest.Server
	proxy                 *smfault.Proxy
	fn                    *localaws.Function
	credsID, tokID, refID string
	conn                  admitad.Connection
	fnEnv                 []string
	errors                []string
}

// newAdmitadEnv deploys the admitad refresher, connected (as after a
// person's connect), behind the fault proxy.
func newAdmitadEnv(t *testing.T, timeoutSeconds int) *admEnv {
	t.Helper()
	moto := localaws.MotoForTest(t)
	ctx := context.Background()
	sm, err := moto.SecretsManager(ctx)
	if err != nil {
		t.Fatal(err)
	}
	srv := admitadtest.NewServer(vendortest.Options{})
	t.Cleanup(srv.Close)
	proxy, err := smfault.New(moto.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proxy.Close)
	e := &admEnv{t: t, sm: sm, srv: srv, proxy: proxy}
	name := "durability/" + strings.NewReplacer("/", "-", " ", "-").Replace(t.Name())
	e.credsID, e.tokID, e.refID = name+"/credentials", name+"/token", name+"/refresh-token"
	creds, _ := json.Marshal(vendortest.Credentials(vendors.Admitad))
	now := time.Now().UTC()
	e.conn = admitad.Connection{RefreshToken: srv.IssueRefreshToken(), Username: admitadtest.Username, Scope: vendortest.Credentials(vendors.Admitad)["scope"], ConnectedAt: now, RotatedAt: now, ConnectState: "0123456789abcdef"}
	for id, v := range map[string]string{e.credsID: string(creds), e.tokID: "Q7#generated-by-secrets-manager", e.refID: e.conn.Encode()} {
		if _, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(id), SecretString: aws.String(v)}); err != nil {
			t.Fatal(err)
		}
	}
	env := viaProxy(moto.Env(), proxy)
	env = append(env,
		"CREDENTIALS_SECRET_ID="+e.credsID,
		"TOKEN_SECRET_ID="+e.tokID,
		"REFRESH_SECRET_ID="+e.refID,
		"TOKEN_URL="+srv.TokenURL(),
		"AWS_LAMBDA_FUNCTION_NAME=token-refresher-admitad",
		"AWS_LAMBDA_FUNCTION_TIMEOUT="+strconv.Itoa(timeoutSeconds),
	)
	e.fnEnv = env
	e.fn = localaws.FunctionForTest(t, vendors.Admitad, env)
	t.Cleanup(e.scan)
	return e
}

// viaProxy is a function's moto environment with Secrets Manager reached
// through the fault proxy instead.
func viaProxy(env []string, proxy *smfault.Proxy) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		if strings.HasPrefix(kv, "AWS_ENDPOINT_URL_SECRETS_MANAGER=") {
			kv = "AWS_ENDPOINT_URL_SECRETS_MANAGER=" + proxy.URL
		}
		out = append(out, kv)
	}
	return out
}

// run invokes the function once with payload; it returns the summary or the
// error message ("" when it succeeded). A killed bootstrap is an error too.
func (e *admEnv) run(payload string) (refresh.Summary, string) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	res, err := e.fn.Invoke(ctx, []byte(payload))
	if err != nil {
		e.t.Fatalf("invoke: %v", err)
	}
	if res.Failed() {
		msg := res.ErrorType + ": " + res.ErrorMessage
		e.errors = append(e.errors, msg)
		return refresh.Summary{}, msg
	}
	var s refresh.Summary
	if err := json.Unmarshal(res.Payload, &s); err != nil {
		e.t.Fatalf("reply %s: %v", res.Payload, err)
	}
	return s, ""
}

// kill SIGKILLs the bootstrap: the function dies mid-run.
func (e *admEnv) kill() {
	pid, err := e.fn.BootstrapPID()
	if err != nil {
		e.t.Errorf("bootstrap pid: %v", err)
		return
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
}

// stored returns the current connection in the refresh-token secret.
func (e *admEnv) stored() admitad.Connection {
	e.t.Helper()
	out, err := e.sm.GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: aws.String(e.refID), VersionStage: aws.String("AWSCURRENT")})
	if err != nil {
		e.t.Fatal(err)
	}
	c, err := admitad.ParseConnection(aws.ToString(out.SecretString))
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// recovers asserts that, with every fault gone, the next run refreshes
// without a reconnect and leaves a valid refresh token stored and the new
// access token published.
func (e *admEnv) recovers() {
	e.t.Helper()
	e.proxy.Clear()
	e.srv.ClearFaults()
	s, msg := e.run(`{"force":true}`)
	if msg != "" || s.Action != refresh.ActionRefreshed {
		e.t.Fatalf("the next run = %+v, error %q; want refreshed without a reconnect", s, msg)
	}
	if c := e.stored(); !e.srv.RefreshTokenValid(c.RefreshToken) {
		e.t.Fatal("the stored refresh token is not valid at Admitad after the next run")
	}
	tok, err := publishedToken(e.t, e.sm, e.tokID)
	if err != nil || tok.Fingerprint != s.Fingerprint || !e.srv.Valid(tok.AccessToken) {
		e.t.Fatalf("published token %v, %v; want the one the run reported", tok.Fingerprint, err)
	}
}

// scan fails the test if a secret, or any 8-byte piece of one, appears in
// the function's output or errors.
func (e *admEnv) scan() {
	out := e.fn.Output() + strings.Join(e.errors, "\n")
	secrets := append(e.srv.IssuedRefreshTokens(), e.srv.Issued()...)
	secrets = append(secrets, vendortest.Credentials(vendors.Admitad)["client_secret"])
	for _, s := range secrets {
		for i := 0; i+8 <= len(s); i++ {
			if strings.Contains(out, s[i:i+8]) {
				e.t.Errorf("function output or error contains part of a secret (fingerprint %s)", token.Fingerprint(s))
				break
			}
		}
	}
}

// TestAdmitadSurvivesSecretsManagerFaults: cases that used to lose the
// rotated refresh token. Each first run may succeed or fail; the next run
// must succeed without a reconnect.
func TestAdmitadSurvivesSecretsManagerFaults(t *testing.T) {
	pending := func(e *admEnv, op string) smfault.Rule {
		r := smfault.Rule{Op: op, SecretID: e.refID}
		if op == "PutSecretValue" {
			r.Stage = admitad.PendingStage
		}
		return r
	}
	for _, tc := range []struct {
		name string
		// setup installs the faults of the first run.
		setup func(e *admEnv)
		// firstOK: the first run itself must succeed.
		firstOK bool
	}{
		{"hung pending write", func(e *admEnv) {
			r := pending(e, "PutSecretValue")
			r.Action = smfault.Hang
			e.proxy.Add(r)
		}, true},
		{"hung label move", func(e *admEnv) {
			r := pending(e, "UpdateSecretVersionStage")
			r.Action = smfault.Hang
			e.proxy.Add(r)
		}, true},
		{"label move applied, answer dropped", func(e *admEnv) {
			r := pending(e, "UpdateSecretVersionStage")
			r.Action = smfault.ApplyDrop
			e.proxy.Add(r)
		}, true},
		{"label move applied, then hung", func(e *admEnv) {
			r := pending(e, "UpdateSecretVersionStage")
			r.Action = smfault.ApplyHang
			e.proxy.Add(r)
		}, true},
		{"label move fails with a 5xx", func(e *admEnv) {
			r := pending(e, "UpdateSecretVersionStage")
			r.Action, r.Count = smfault.Fail, 2
			e.proxy.Add(r)
		}, true},
		{"label move throttled", func(e *admEnv) {
			r := pending(e, "UpdateSecretVersionStage")
			r.Action, r.Count = smfault.Throttle, 2
			e.proxy.Add(r)
		}, true},
		{"label move hangs every time", func(e *admEnv) {
			r := pending(e, "UpdateSecretVersionStage")
			r.Action, r.Count = smfault.Hang, -1
			e.proxy.Add(r)
		}, false},
		{"crash before the label move", func(e *admEnv) {
			r := pending(e, "UpdateSecretVersionStage")
			r.Action, r.Before = smfault.Hang, e.kill
			e.proxy.Add(r)
		}, false},
		{"crash after the pending write", func(e *admEnv) {
			r := pending(e, "PutSecretValue")
			r.Action, r.After = smfault.ApplyHang, e.kill
			e.proxy.Add(r)
		}, false},
		{"another writer moves the label (not a reconnect)", func(e *admEnv) {
			r := pending(e, "UpdateSecretVersionStage")
			r.Action = smfault.Pass
			r.Before = func() {
				// An operator restores the connection as it was.
				restored := e.conn
				restored.RotatedAt = restored.RotatedAt.Add(time.Millisecond)
				if _, err := e.sm.PutSecretValue(context.Background(), &secretsmanager.PutSecretValueInput{SecretId: aws.String(e.refID), SecretString: aws.String(restored.Encode())}); err != nil {
					e.t.Error(err)
				}
			}
			e.proxy.Add(r)
		}, true},
		{"publishing the access token hangs", func(e *admEnv) {
			e.proxy.Add(smfault.Rule{Op: "PutSecretValue", SecretID: e.tokID, Action: smfault.Hang})
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newAdmitadEnv(t, 30)
			tc.setup(e)
			start := time.Now()
			s, msg := e.run(`{"force":true}`)
			took := time.Since(start)
			if tc.firstOK && (msg != "" || s.Action != refresh.ActionRefreshed) {
				t.Fatalf("first run = %+v, error %q after %s; want refreshed", s, msg, took)
			}
			if msg != "" && strings.Contains(msg, "Task timed out") {
				t.Fatalf("first run used up the whole deadline (%s): %s", took, msg)
			}
			if e.srv.RefreshTokenValid(e.conn.RefreshToken) {
				t.Fatal("Admitad never rotated: the fault came too early to test anything")
			}
			e.recovers()
		})
	}
}

// TestAdmitadNoSecretsManagerCallOutlivesItsTimeout: a call that hangs is
// abandoned after secretstore.DefaultCallTimeout and tried again.
func TestAdmitadNoSecretsManagerCallOutlivesItsTimeout(t *testing.T) {
	e := newAdmitadEnv(t, 30)
	for _, op := range []string{"GetSecretValue", "PutSecretValue", "UpdateSecretVersionStage"} {
		e.proxy.Add(smfault.Rule{Op: op, Action: smfault.Hang})
	}
	start := time.Now()
	s, msg := e.run(`{"force":true}`)
	took := time.Since(start)
	if msg != "" || s.Action != refresh.ActionRefreshed {
		t.Fatalf("run = %+v, %q; want refreshed after three hung calls", s, msg)
	}
	// Three hung calls, each abandoned at the per-call timeout, plus the
	// retries' waits: far less than four per-call timeouts.
	if limit := 4*secretstore.DefaultCallTimeout + 2*time.Second; took > limit {
		t.Errorf("run took %s with three hung calls; each should cost at most %s", took, secretstore.DefaultCallTimeout)
	}
	e.recovers()
}

// TestAdmitadHungBatchReadIsAbandoned: a cold run reads the refresh-token
// secret and the credentials in one BatchGetSecretValue; when that call
// hangs it is abandoned at the per-call timeout and tried again.
func TestAdmitadHungBatchReadIsAbandoned(t *testing.T) {
	e := newAdmitadEnv(t, 30)
	e.proxy.Add(smfault.Rule{Op: "BatchGetSecretValue", Action: smfault.Hang})
	start := time.Now()
	s, msg := e.run(`{"force":true}`)
	took := time.Since(start)
	if msg != "" || s.Action != refresh.ActionRefreshed {
		t.Fatalf("run = %+v, %q; want refreshed after a hung batch read", s, msg)
	}
	if e.proxy.Pending() {
		t.Fatal("the run never made the batch read the hang was for")
	}
	if limit := 2*secretstore.DefaultCallTimeout + 2*time.Second; took > limit {
		t.Errorf("run took %s with one hung read; it should cost at most %s", took, secretstore.DefaultCallTimeout)
	}
	e.recovers()
}

// TestAdmitadLateReplyLeavesTimeToSave: Admitad answers slowly after a 429
// and Secrets Manager is slow too. The token request stops early enough
// that the rotated refresh token is always saved.
func TestAdmitadLateReplyLeavesTimeToSave(t *testing.T) {
	e := newAdmitadEnv(t, 20)
	e.srv.Inject(vendortest.Fault{Status: 429, RetryAfter: "8", Count: 1})
	e.srv.Inject(vendortest.Fault{Delay: 9 * time.Second, Count: 1})
	for _, op := range []string{"PutSecretValue", "UpdateSecretVersionStage"} {
		e.proxy.Add(smfault.Rule{Op: op, SecretID: e.refID, Action: smfault.Delay, Delay: 1500 * time.Millisecond, Count: -1})
	}
	s, msg := e.run(`{"force":true}`)
	t.Logf("first run: %+v %q", s, msg)
	if strings.Contains(msg, "refresh token is lost") {
		t.Fatalf("the refresh token was lost to a late reply: %s", msg)
	}
	e.recovers()
}

// TestAdmitadSavesRefreshTokenOfUnusableReply: a 200 that rotates the
// refresh token but carries no access_token. The run fails (nothing to
// publish) but the new refresh token is saved.
func TestAdmitadSavesRefreshTokenOfUnusableReply(t *testing.T) {
	for _, omit := range [][]string{{"access_token"}, {"access_token", "expires_in", "token_type"}} {
		t.Run(strings.Join(omit, ","), func(t *testing.T) {
			e := newAdmitadEnv(t, 30)
			e.srv.Inject(vendortest.Fault{OmitFields: omit})
			s, msg := e.run(`{"force":true}`)
			if msg == "" {
				t.Fatalf("a reply without access_token was published: %+v", s)
			}
			if !strings.Contains(msg, "no access_token") || !strings.Contains(msg, "new refresh token it carried was saved") {
				t.Errorf("error %q does not say what happened", msg)
			}
			if c := e.stored(); !e.srv.RefreshTokenValid(c.RefreshToken) {
				t.Fatal("the refresh token of the unusable reply was not saved")
			}
			e.recovers()
		})
	}
}

// TestAdmitadNamesUnsavableFaults: faults that lose the rotated refresh
// token where no client could keep it. The error says what most likely
// happened and that a person must reconnect.
func TestAdmitadNamesUnsavableFaults(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(e *admEnv)
		// runs before the one whose error is checked.
		before int
		want   []string
	}{
		// A reply lost after the rotation is never followed by a resend
		// in the same run (TestAdmitadNeverResendsAUsedRefreshToken): the
		// next run is the one refused.
		{"reply reset after the rotation", func(e *admEnv) {
			e.srv.Inject(vendortest.Fault{AfterReply: true, Drop: true})
		}, 1, []string{"invalid_grant", "a previous run's reply was lost"}},
		{"reply later than the run's whole vendor budget", func(e *admEnv) {
			e.srv.Inject(vendortest.Fault{AfterReply: true, Delay: 40 * time.Second})
		}, 1, []string{"invalid_grant", "a previous run's reply was lost"}},
		{"500 after the rotation", func(e *admEnv) {
			e.srv.Inject(vendortest.Fault{AfterReply: true, Status: 500})
		}, 0, []string{"invalid_grant", "an earlier attempt of this run got no usable answer", "5xx"}},
		{"crash between the reply and the first write", func(e *admEnv) {
			e.proxy.Add(smfault.Rule{Op: "PutSecretValue", SecretID: e.refID, Action: smfault.Hang, Before: e.kill})
		}, 1, []string{"invalid_grant", "the function stopped between Admitad's reply and the first write"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newAdmitadEnv(t, 30)
			tc.setup(e)
			for range tc.before {
				e.run(`{"force":true}`)
				e.proxy.Clear()
			}
			_, msg := e.run(`{"force":true}`)
			for _, w := range append(tc.want, "reconnect Admitad", "make connect-admitad") {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not say %q", msg, w)
				}
			}
		})
	}
}
