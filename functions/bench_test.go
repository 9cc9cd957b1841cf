package functions_test

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/token-refresher/token-refresher/internal/localaws"
	"github.com/token-refresher/token-refresher/shared/fyber"
	"github.com/token-refresher/token-refresher/shared/lambdafn"
	"github.com/token-refresher/token-refresher/shared/refresh"
	"github.com/token-refresher/token-refresher/shared/secretstore"
	"github.com/token-refresher/token-refresher/shared/vendors"
	"github.com/token-refresher/token-refresher/shared/vendortest"
)

// BenchmarkRefreshFyber is one forced refresh along the whole path the
// function takes, in process: the handler lambdafn builds at cold start,
// the real Secrets Manager client against moto_server, and the Fyber client
// against the fake Fyber. Most of its time is waiting on moto and the fake;
// BenchmarkRun in shared/refresh is the refresh core's own work.
func BenchmarkRefreshFyber(b *testing.B) {
	moto := localaws.MotoForTest(b)
	srv := vendortest.NewFyber(vendortest.Options{})
	b.Cleanup(srv.Close)
	ctx := context.Background()
	sm, err := moto.SecretsManager(ctx)
	if err != nil {
		b.Fatal(err)
	}
	credsID, tokenID := "bench/fyber/credentials", "bench/fyber/token"
	body, _ := json.Marshal(vendortest.Credentials(vendors.Fyber))
	for id, v := range map[string]string{credsID: string(body), tokenID: "Q7#generated-by-secrets-manager"} {
		if _, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(id), SecretString: aws.String(v)}); err != nil {
			b.Fatal(err)
		}
	}
	for _, kv := range moto.Env() {
		k, v, _ := strings.Cut(kv, "=")
		b.Setenv(k, v)
	}
	env := map[string]string{
		"CREDENTIALS_SECRET_ID":    credsID,
		"TOKEN_SECRET_ID":          tokenID,
		"TOKEN_URL":                srv.TokenURL(),
		"AWS_LAMBDA_FUNCTION_NAME": "token-refresher-fyber",
	}
	getenv := func(k string) string {
		if v, ok := env[k]; ok {
			return v
		}
		return os.Getenv(k)
	}
	h, err := lambdafn.NewHandler(ctx, vendors.MustLookup(vendors.Fyber), getenv,
		func(lambdafn.Config, *secretstore.Store) (refresh.Vendor, error) { return &fyber.Client{}, nil }, io.Discard)
	if err != nil {
		b.Fatal(err)
	}
	force := json.RawMessage(`{"force":true}`)
	before := srv.TokenRequests()
	b.ReportAllocs()
	for b.Loop() {
		s, err := h.Invoke(ctx, force)
		if err != nil {
			b.Fatal(err)
		}
		if s.Action != refresh.ActionRefreshed {
			b.Fatalf("action = %q, want refreshed", s.Action)
		}
	}
	if srv.TokenRequests() == before {
		b.Fatal("the fake Fyber was never called")
	}
}
