package reader

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/token-refresher/token-refresher/shared/refresh"
	"github.com/token-refresher/token-refresher/shared/token"
)

// lambdaFunc answers Invoke with a fixed refresher summary.
type lambdaFunc func(in *lambda.InvokeInput) (*lambda.InvokeOutput, error)

func (f lambdaFunc) Invoke(_ context.Context, in *lambda.InvokeInput, _ ...func(*lambda.Options)) (*lambda.InvokeOutput, error) {
	return f(in)
}

// TestRejectNamesTheRefusal: when the refresher declines to ask the vendor
// for a rejected token, Reject says why: the one-minute interval, or the
// token secret's budget of versions a day.
func TestRejectNamesTheRefusal(t *testing.T) {
	const access = "rejected-access-token-0123456789"
	now := time.Now().UTC().Truncate(time.Second)
	tok := token.Token{Vendor: "fyber", AccessToken: access, TokenType: "Bearer", Authorization: "Bearer " + access,
		ExpiresAt: now.Add(time.Hour), RefreshedAt: now, Fingerprint: token.Fingerprint(access),
		Refresher: "token-refresher-fyber", Connection: "default", Trigger: token.TriggerReject}
	body, _ := json.Marshal(tok)
	for _, tc := range []struct {
		name    string
		refusal string
		want    error
		not     error
	}{
		{"version budget", refresh.RefusalVersionBudget, ErrVersionBudget, ErrRecentlyRefreshed},
		{"reject interval", refresh.RefusalRejectInterval, ErrRecentlyRefreshed, ErrVersionBudget},
		{"a refresher that names no refusal", "", ErrRecentlyRefreshed, ErrVersionBudget},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sm := newMemSecrets()
			sm.create("token-refresher/fyber/token", string(body))
			fn := lambdaFunc(func(*lambda.InvokeInput) (*lambda.InvokeOutput, error) {
				reply, _ := json.Marshal(refresh.Summary{Vendor: "fyber", Connection: "default", Action: refresh.ActionSkipped,
					Fingerprint: tok.Fingerprint, Reason: "declined for a reason", Refusal: tc.refusal})
				return &lambda.InvokeOutput{StatusCode: 200, Payload: reply}, nil
			})
			r := New(sm, WithLambda(fn), WithRejectTimeout(2*time.Second))
			_, err := r.Reject(context.Background(), "token-refresher/fyber/token", access)
			if !errors.Is(err, tc.want) || errors.Is(err, tc.not) {
				t.Fatalf("Reject: %v; want %v and not %v", err, tc.want, tc.not)
			}
			if strings.Contains(err.Error(), access) {
				t.Error("the error holds the rejected token")
			}
		})
	}
}
