package functions_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/token-refresher/token-refresher/internal/localaws"
	"github.com/token-refresher/token-refresher/shared/clientcreds"
	"github.com/token-refresher/token-refresher/shared/fyber/fybertest"
	"github.com/token-refresher/token-refresher/shared/lambdafn"
	"github.com/token-refresher/token-refresher/shared/refresh"
	"github.com/token-refresher/token-refresher/shared/secretstore"
	"github.com/token-refresher/token-refresher/shared/vendors"
	"github.com/token-refresher/token-refresher/shared/vendortest"
)

// BenchmarkRefreshFyber is one forced refresh along the whole path the
// function takes, in process: the handler lambdafn builds at cold start,
// the real Secrets Manager client and the Fyber client against the fake
// Fyber.
//
//   - moto: Secrets Manager is moto_server; most of the time is waiting on
//     it.
//   - local-secrets-manager: Secrets Manager is a canned in-process server
//     that answers at once, so the time is the function's own work (SDK,
//     signing, HTTP, JSON, the refresh core) plus the two fake servers'.
//
// BenchmarkRun in shared/refresh is the refresh core alone.
func BenchmarkRefreshFyber(b *testing.B) {
	const credsID, tokenID = "bench/fyber/credentials", "bench/fyber/token"
	creds, _ := json.Marshal(vendortest.Credentials(vendors.Fyber))
	seed := map[string]string{credsID: string(creds), tokenID: "Q7#generated-by-secrets-manager"}

	b.Run("moto", func(b *testing.B) {
		moto := localaws.MotoForTest(b)
		ctx := context.Background()
		sm, err := moto.SecretsManager(ctx)
		if err != nil {
			b.Fatal(err)
		}
		// Unique per run: -count runs this again against the same moto.
		suffix := fmt.Sprintf("/%d", time.Now().UnixNano())
		for id, v := range seed {
			id := id + suffix
			if _, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(id), SecretString: aws.String(v)}); err != nil {
				b.Fatal(err)
			}
		}
		for _, kv := range moto.Env() {
			k, v, _ := strings.Cut(kv, "=")
			b.Setenv(k, v)
		}
		benchFyber(b, credsID+suffix, tokenID+suffix)
	})
	b.Run("local-secrets-manager", func(b *testing.B) {
		sm := &cannedSecrets{values: map[string]string{}}
		for id, v := range seed {
			sm.values[id] = v
		}
		srv := httptest.NewServer(sm)
		b.Cleanup(srv.Close)
		for k, v := range map[string]string{
			"AWS_ENDPOINT_URL_SECRETS_MANAGER": srv.URL, "AWS_REGION": localaws.Region,
			"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_EC2_METADATA_DISABLED": "true",
		} {
			b.Setenv(k, v)
		}
		benchFyber(b, credsID, tokenID)
		if sm.puts == 0 {
			b.Fatal("no token was written")
		}
	})
}

// benchFyber builds the Fyber function's handler as its cold start does
// and times forced refreshes.
func benchFyber(b *testing.B, credsID, tokenID string) {
	srv := fybertest.NewServer(vendortest.Options{})
	b.Cleanup(srv.Close)
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
	ctx := context.Background()
	h, err := lambdafn.NewHandler(ctx, vendors.MustLookup(vendors.Fyber), getenv,
		func(c lambdafn.Config, _ *secretstore.Store) (refresh.Vendor, error) { return clientcreds.New(c.Spec) }, io.Discard)
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

// cannedSecrets answers the two Secrets Manager calls a refresh makes
// (awsJson1.1 over HTTP) from a map, at once.
type cannedSecrets struct {
	mu     sync.Mutex
	values map[string]string
	puts   int
}

func (c *cannedSecrets) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var in struct {
		SecretID     string `json:"SecretId"`
		SecretString string `json:"SecretString"`
		Token        string `json:"ClientRequestToken"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	arn := "arn:aws:secretsmanager:us-east-1:123456789012:secret:" + in.SecretID
	switch r.Header.Get("X-Amz-Target") {
	case "secretsmanager.GetSecretValue":
		v, ok := c.values[in.SecretID]
		if !ok {
			w.WriteHeader(http.StatusBadRequest)
			_ = json.NewEncoder(w).Encode(map[string]string{"__type": "ResourceNotFoundException", "message": "not found"})
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"ARN": arn, "Name": in.SecretID, "SecretString": v, "VersionId": "v1", "VersionStages": []string{"AWSCURRENT"}})
	case "secretsmanager.PutSecretValue":
		c.values[in.SecretID] = in.SecretString
		c.puts++
		_ = json.NewEncoder(w).Encode(map[string]any{"ARN": arn, "Name": in.SecretID, "VersionId": in.Token, "VersionStages": []string{"AWSCURRENT"}})
	default:
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(map[string]string{"__type": "InvalidRequestException", "message": "not served by this fake"})
	}
}
