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
	"github.com/token-refresher/token-refresher/shared/refresh"
	"github.com/token-refresher/token-refresher/shared/token"
	"github.com/token-refresher/token-refresher/shared/vendors"
)

// TestRejectAliasRefusesForce: invoked through the reject alias (the
// emulator's invoked ARN carries the alias when its function name does), a
// refresher takes rejected tokens and refuses force, before touching
// Secrets Manager or the vendor.
func TestRejectAliasRefusesForce(t *testing.T) {
	ctx := context.Background()
	f := newFyberFixture(t, "callers/"+t.Name())
	moto, sm, srv, credsID, tokID := f.moto, f.sm, f.srv, f.credsID, f.tokID
	env := append(moto.Env(), "CREDENTIALS_SECRET_ID="+credsID, "TOKEN_SECRET_ID="+tokID, "TOKEN_URL="+srv.TokenURL(), "AWS_LAMBDA_FUNCTION_TIMEOUT=20")
	direct := localaws.FunctionForTest(t, vendors.Fyber, append(env, "AWS_LAMBDA_FUNCTION_NAME=token-refresher-fyber"))
	alias := localaws.FunctionForTest(t, vendors.Fyber, append(env, "AWS_LAMBDA_FUNCTION_NAME=token-refresher-fyber:"+vendors.RejectAlias))
	invoke := func(fn *localaws.Function, payload string) (refresh.Summary, string) {
		t.Helper()
		ictx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		res, err := fn.Invoke(ictx, []byte(payload))
		if err != nil {
			t.Fatal(err)
		}
		if res.Failed() {
			return refresh.Summary{}, res.ErrorMessage
		}
		var s refresh.Summary
		if err := json.Unmarshal(res.Payload, &s); err != nil {
			t.Fatalf("reply %s: %v", res.Payload, err)
		}
		return s, ""
	}
	stored := func() token.Token {
		out, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(tokID), VersionStage: aws.String("AWSCURRENT")})
		if err != nil {
			t.Fatal(err)
		}
		tok, err := token.Parse(aws.ToString(out.SecretString))
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}

	first, msg := invoke(direct, `{}`)
	if msg != "" || first.Action != refresh.ActionRefreshed {
		t.Fatalf("scheduled run: %+v %q", first, msg)
	}
	if tok := stored(); tok.Trigger != token.TriggerSchedule || tok.Connection != vendors.DefaultConnection || tok.Refresher != "token-refresher-fyber" {
		t.Errorf("token trigger %q, connection %q, refresher %q", tok.Trigger, tok.Connection, tok.Refresher)
	}
	requests := srv.TokenRequests()

	t.Run("force through the alias is refused", func(t *testing.T) {
		for _, payload := range []string{`{"force":true}`, `{"detail":{"force":true}}`, `{"force":true,"rejected_fingerprint":"` + first.Fingerprint + `"}`} {
			if _, msg := invoke(alias, payload); !strings.Contains(msg, "force is refused on the reject alias") {
				t.Errorf("%s through the alias: error %q, want the refusal", payload, msg)
			}
		}
		if srv.TokenRequests() != requests || stored().Fingerprint != first.Fingerprint {
			t.Fatal("a refused force reached the vendor or changed the token")
		}
	})
	t.Run("force on the function itself works", func(t *testing.T) {
		s, msg := invoke(direct, `{"force":true}`)
		if msg != "" || s.Action != refresh.ActionRefreshed || stored().Trigger != token.TriggerForce {
			t.Fatalf("operator force: %+v %q", s, msg)
		}
		requests = srv.TokenRequests()
	})
	t.Run("rejects are bounded", func(t *testing.T) {
		cur := stored()
		s, msg := invoke(alias, `{"rejected_fingerprint":"`+cur.Fingerprint+`"}`)
		if msg != "" || s.Action != refresh.ActionRefreshed || s.Fingerprint == cur.Fingerprint {
			t.Fatalf("first reject: %+v %q; want a new token", s, msg)
		}
		if tok := stored(); tok.Trigger != token.TriggerReject {
			t.Errorf("trigger %q, want reject", tok.Trigger)
		}
		// The new token is rejected at once, again and again: the vendor
		// is not asked again within the interval.
		for range 5 {
			again, msg := invoke(alias, `{"rejected_fingerprint":"`+s.Fingerprint+`"}`)
			if msg != "" || again.Action != refresh.ActionSkipped || again.Reason == "" || again.Fingerprint != s.Fingerprint {
				t.Fatalf("reject within the interval: %+v %q; want skipped with a reason", again, msg)
			}
		}
		if n := srv.TokenRequests() - requests; n != 1 {
			t.Errorf("six rejects made %d vendor calls, want 1", n)
		}
	})
	t.Run("rejects stop before the daily version quota", func(t *testing.T) {
		cur := stored()
		cur.Trigger = token.TriggerSchedule
		for i := range refresh.RejectVersionBudget {
			cur.RefreshedAt = time.Now().Add(-time.Hour - time.Duration(i)*time.Second).UTC().Truncate(time.Second)
			b, _ := json.Marshal(cur)
			if _, err := sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(tokID), SecretString: aws.String(string(b))}); err != nil {
				t.Fatal(err)
			}
		}
		before := srv.TokenRequests()
		s, msg := invoke(alias, `{"rejected_fingerprint":"`+cur.Fingerprint+`"}`)
		if msg != "" || s.Action != refresh.ActionSkipped || !strings.Contains(s.Reason, "versions from the last 24 hours") {
			t.Fatalf("reject with %d versions today: %+v %q; want skipped, naming the quota", refresh.RejectVersionBudget, s, msg)
		}
		if srv.TokenRequests() != before {
			t.Fatal("the vendor was called")
		}
	})
}
