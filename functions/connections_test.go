package functions_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/token-refresher/token-refresher/internal/localaws"
	"github.com/token-refresher/token-refresher/internal/smfault"
	"github.com/token-refresher/token-refresher/shared/merchenta/merchentatest"
	"github.com/token-refresher/token-refresher/shared/refresh"
	"github.com/token-refresher/token-refresher/shared/token"
	"github.com/token-refresher/token-refresher/shared/vendors"
	"github.com/token-refresher/token-refresher/shared/vendortest"
)

// TestConnections: one merchenta function serves the default connection
// and two named ones (two advertisers), each with its own credentials and
// secrets, named as the stack names them.
func TestConnections(t *testing.T) {
	moto := localaws.MotoForTest(t)
	ctx := context.Background()
	sm, err := moto.SecretsManager(ctx)
	if err != nil {
		t.Fatal(err)
	}
	srv := merchentatest.NewServer(vendortest.Options{})
	t.Cleanup(srv.Close)
	proxy, err := smfault.New(moto.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proxy.Close)
	prefix := "conn-" + strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-"))
	accounts := map[string]map[string]string{
		vendors.DefaultConnection: vendortest.Credentials(vendors.Merchenta),
		"acme":                    {"username": "acme@agency.example", "password": "acme-sandbox-password-1", "advertiser": "ACME"},
		"globex":                  {"username": "globex@agency.example", "password": "globex-sandbox-password-2", "advertiser": "GLOBEX"},
	}
	for name, creds := range accounts {
		if name != vendors.DefaultConnection {
			srv.AddAccount(name, creds)
		}
		body, _ := json.Marshal(creds)
		for role, v := range map[string]string{vendors.RoleCredentials: string(body), vendors.RoleToken: "Q7#generated"} {
			if _, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(vendors.SecretName(prefix, vendors.Merchenta, name, role)), SecretString: aws.String(v)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	env := viaProxy(moto.Env(), proxy)
	env = append(env,
		"CREDENTIALS_SECRET_ID="+vendors.SecretName(prefix, vendors.Merchenta, "", vendors.RoleCredentials),
		"TOKEN_SECRET_ID="+vendors.SecretName(prefix, vendors.Merchenta, "", vendors.RoleToken),
		"CONNECTIONS=acme,globex",
		"TOKEN_URL="+srv.TokenURL(),
		"AWS_LAMBDA_FUNCTION_NAME=token-refresher-merchenta",
		"AWS_LAMBDA_FUNCTION_TIMEOUT=20",
	)
	fn := localaws.FunctionForTest(t, vendors.Merchenta, env)
	invoke := func(payload string) (refresh.Summary, string, []smfault.Call) {
		t.Helper()
		proxy.ResetCalls()
		ictx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		res, err := fn.Invoke(ictx, []byte(payload))
		if err != nil {
			t.Fatal(err)
		}
		calls := proxy.Calls()
		if res.Failed() {
			return refresh.Summary{}, res.ErrorMessage, calls
		}
		var s refresh.Summary
		if err := json.Unmarshal(res.Payload, &s); err != nil {
			t.Fatalf("reply %s: %v", res.Payload, err)
		}
		return s, "", calls
	}
	stored := func(conn string) token.Token {
		t.Helper()
		out, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(vendors.SecretName(prefix, vendors.Merchenta, conn, vendors.RoleToken)), VersionStage: aws.String("AWSCURRENT")})
		if err != nil {
			t.Fatal(err)
		}
		tok, err := token.Parse(aws.ToString(out.SecretString))
		if err != nil {
			t.Fatalf("%s: %v", conn, err)
		}
		return tok
	}

	for _, conn := range []string{"acme", "globex", vendors.DefaultConnection} {
		t.Run(conn, func(t *testing.T) {
			payload := `{"connection":"` + conn + `"}`
			if conn == vendors.DefaultConnection {
				payload = `{}`
			}
			s, msg, calls := invoke(payload)
			if msg != "" || s.Action != refresh.ActionRefreshed || s.Connection != conn {
				t.Fatalf("run: %+v %q", s, msg)
			}
			tok := stored(conn)
			if tok.Fingerprint != s.Fingerprint || tok.Connection != conn {
				t.Errorf("stored token %s (connection %q), reply %s", tok.Fingerprint, tok.Connection, s.Fingerprint)
			}
			want := conn
			if conn == vendors.DefaultConnection {
				want = vendortest.SandboxAccount
			}
			if got := srv.IssuedTo(tok.AccessToken); got != want {
				t.Errorf("token of %s was issued for account %q", conn, got)
			}
			if tok.Extras["advertiser"] != accounts[conn]["advertiser"] {
				t.Errorf("advertiser %q, want %q", tok.Extras["advertiser"], accounts[conn]["advertiser"])
			}
			own := map[string]bool{
				vendors.SecretName(prefix, vendors.Merchenta, conn, vendors.RoleCredentials): true,
				vendors.SecretName(prefix, vendors.Merchenta, conn, vendors.RoleToken):       true,
			}
			for _, c := range calls {
				for _, id := range c.SecretIDs {
					if !own[id] {
						t.Errorf("the run for %s touched %s (%s)", conn, id, c.Op)
					}
				}
			}
			// Rejecting this connection's token refreshes this one only.
			ev := map[string]string{"rejected_fingerprint": tok.Fingerprint}
			if conn != vendors.DefaultConnection {
				ev["connection"] = conn
			}
			rb, _ := json.Marshal(ev)
			s2, msg, calls := invoke(string(rb))
			if msg != "" || s2.Action != refresh.ActionRefreshed || s2.Connection != conn {
				t.Fatalf("reject: %+v %q", s2, msg)
			}
			for _, c := range calls {
				for _, id := range c.SecretIDs {
					if !own[id] {
						t.Errorf("the reject for %s touched %s (%s)", conn, id, c.Op)
					}
				}
			}
		})
	}
	t.Run("no connection ever holds another's token", func(t *testing.T) {
		for _, conn := range []string{"acme", "globex", vendors.DefaultConnection} {
			want := conn
			if conn == vendors.DefaultConnection {
				want = vendortest.SandboxAccount
			}
			if got := srv.IssuedTo(stored(conn).AccessToken); got != want {
				t.Errorf("%s holds a token issued for %q", conn, got)
			}
		}
	})
	t.Run("unknown connection", func(t *testing.T) {
		for _, payload := range []string{`{"connection":"initech"}`, `{"connection":"Bad Name"}`, `{"connection":"default2","force":true}`} {
			_, msg, calls := invoke(payload)
			if !strings.Contains(msg, "connection") || len(calls) != 0 {
				t.Errorf("%s: error %q after %d Secrets Manager calls; want a clear error and none", payload, msg, len(calls))
			}
		}
		if _, msg, _ := invoke(`{"connection":"initech"}`); !strings.Contains(msg, "acme, globex") {
			t.Errorf("error %q does not list the connections served", msg)
		}
	})
}
