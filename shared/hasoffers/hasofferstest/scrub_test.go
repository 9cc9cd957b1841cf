package hasofferstest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/token-refresher/token-refresher/shared/clientcreds"
	"github.com/token-refresher/token-refresher/shared/hasoffers/hasofferstest"
	"github.com/token-refresher/token-refresher/shared/refresh"
	"github.com/token-refresher/token-refresher/shared/refresh/refreshtest"
	"github.com/token-refresher/token-refresher/shared/secretstore"
	"github.com/token-refresher/token-refresher/shared/vendorhttp"
	"github.com/token-refresher/token-refresher/shared/vendors"
	"github.com/token-refresher/token-refresher/shared/vendortest"
)

// memSecrets holds secret values in memory, for this unit test of what
// the refresher prints. Integration tests use moto_server.
type memSecrets struct {
	mu sync.Mutex
	m  map[string]string
}

func (s *memSecrets) GetSecretValue(_ context.Context, in *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[aws.ToString(in.SecretId)]
	if !ok {
		return nil, &types.ResourceNotFoundException{Message: aws.String("not found")}
	}
	return &secretsmanager.GetSecretValueOutput{SecretString: aws.String(v), VersionId: aws.String("v1")}, nil
}

func (s *memSecrets) PutSecretValue(_ context.Context, in *secretsmanager.PutSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[aws.ToString(in.SecretId)] = aws.ToString(in.SecretString)
	return &secretsmanager.PutSecretValueOutput{VersionId: in.ClientRequestToken}, nil
}

func (s *memSecrets) UpdateSecretVersionStage(context.Context, *secretsmanager.UpdateSecretVersionStageInput, ...func(*secretsmanager.Options)) (*secretsmanager.UpdateSecretVersionStageOutput, error) {
	return nil, errors.New("not used")
}

// TestEchoedClientSecretNeverPrinted: HasOffers answers with an error
// description that echoes the client secret at every offset around the
// point where descriptions are shortened; neither the run's error nor its
// log line holds any piece of the secret.
func TestEchoedClientSecretNeverPrinted(t *testing.T) {
	creds := vendortest.Credentials(vendors.HasOffers)
	// A secret sharing no piece with the vendor's name or other text (the
	// sandbox one contains "hasoffers"); the fault answers before the fake
	// checks it.
	sec := "Qm7Tz2Wk9Lp4Xv8Rj1Nc6Bh3Gd5Fs0Ya"
	creds["client_secret"] = sec
	for off := vendorhttp.MaxDescription - len(sec) - 4; off <= vendorhttp.MaxDescription+4; off++ {
		srv := hasofferstest.NewServer(vendortest.Options{})
		desc := strings.Repeat("x", off) + sec + " is not a valid client secret"
		body, _ := json.Marshal(map[string]string{"error": "invalid_client", "error_description": desc})
		srv.Inject(vendortest.Fault{Status: 401, Body: string(body)})
		credJSON, _ := json.Marshal(creds)
		var logs bytes.Buffer
		r := &refresh.Refresher{
			Spec:     vendors.MustLookup(vendors.HasOffers),
			Vendor:   &clientcreds.Client{Spec: vendors.MustLookup(vendors.HasOffers), HTTP: refreshtest.FastHTTP(nil)},
			Store:    &secretstore.Store{API: &memSecrets{m: map[string]string{"creds": string(credJSON)}}},
			Endpoint: srv.TokenURL(),
			Log:      slog.New(slog.NewJSONHandler(&logs, nil)),
		}
		_, err := r.Run(context.Background(), refresh.Target{CredentialsSecretID: "creds", TokenSecretID: "token"}, refresh.Event{})
		srv.Close()
		if err == nil || !strings.Contains(err.Error(), "invalid_client") {
			t.Fatalf("offset %d: err = %v, want the vendor's invalid_client", off, err)
		}
		for what, text := range map[string]string{"error": err.Error(), "log": logs.String()} {
			for n := 8; n <= len(sec); n++ {
				for at := 0; at+n <= len(sec); at++ {
					if strings.Contains(text, sec[at:at+n]) {
						t.Fatalf("offset %d: %s holds %d bytes of the client secret", off, what, n)
					}
				}
			}
		}
		if !strings.Contains(err.Error(), "HTTP 401") {
			t.Errorf("offset %d: err = %v", off, err)
		}
	}
}
