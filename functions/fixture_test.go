package functions_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/token-refresher/token-refresher/internal/localaws"
	"github.com/token-refresher/token-refresher/shared/fyber/fybertest"
	"github.com/token-refresher/token-refresher/shared/token"
	"github.com/token-refresher/token-refresher/shared/vendors"
	"github.com/token-refresher/token-refresher/shared/vendortest"
)

// fyberFixture is moto_server with a Fyber credentials secret and a token
// secret as CloudFormation creates it (a random string), under names that
// start with prefix, and the Fyber test server.
type fyberFixture struct {
	moto           *localaws.Moto
	sm             *secretsmanager.Client
	srv            *vendortest.Server
	credsID, tokID string
}

func newFyberFixture(t *testing.T, prefix string) *fyberFixture {
	t.Helper()
	moto := localaws.MotoForTest(t)
	ctx := context.Background()
	sm, err := moto.SecretsManager(ctx)
	if err != nil {
		t.Fatal(err)
	}
	srv := fybertest.NewServer(vendortest.Options{})
	t.Cleanup(srv.Close)
	f := &fyberFixture{moto: moto, sm: sm, srv: srv, credsID: prefix + "/credentials", tokID: prefix + "/token"}
	creds, _ := json.Marshal(vendortest.Credentials(vendors.Fyber))
	for id, v := range map[string]string{f.credsID: string(creds), f.tokID: "Q7#generated-by-secrets-manager"} {
		if _, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(id), SecretString: aws.String(v)}); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// publishedToken returns the token apps read from secret tokID (its
// AWSCURRENT version, named explicitly: see docs/contract.md on moto), or
// why the value is not a token.
func publishedToken(t *testing.T, sm *secretsmanager.Client, tokID string) (token.Token, error) {
	t.Helper()
	out, err := sm.GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: aws.String(tokID), VersionStage: aws.String("AWSCURRENT")})
	if err != nil {
		t.Fatal(err)
	}
	return token.Parse(aws.ToString(out.SecretString))
}
