package main

import (
	"bytes"
	"context"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/token-refresher/token-refresher/internal/localaws"
	"github.com/token-refresher/token-refresher/shared/admitad"
)

func TestMain(m *testing.M) { os.Exit(localaws.RunTests(m)) }

func TestMintsAVerifiableLink(t *testing.T) {
	moto := localaws.MotoForTest(t)
	for _, kv := range moto.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	t.Setenv("AWS_CONFIG_FILE", os.DevNull)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
	sm, err := moto.SecretsManager(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	key := strings.Repeat("0123456789abcdef", 4)
	id := "admitad-link-test-" + time.Now().Format("150405.000000000")
	if _, err := sm.CreateSecret(context.Background(), &secretsmanager.CreateSecretInput{Name: aws.String(id), SecretString: aws.String(key)}); err != nil {
		t.Fatal(err)
	}
	const base = "https://abc.execute-api.eu-west-1.amazonaws.com/admitad/authorize"

	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"-url", base, "-key-secret-id", id, "-ttl", "5m"}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	link, err := url.Parse(strings.TrimSpace(out.String()))
	if err != nil || !strings.HasPrefix(link.String(), base+"?") {
		t.Fatalf("link %q: %v", out.String(), err)
	}
	if err := admitad.VerifyLink([]byte(key), link.Query(), time.Now().Add(4*time.Minute)); err != nil {
		t.Fatalf("the link does not verify: %v", err)
	}
	if err := admitad.VerifyLink([]byte(key), link.Query(), time.Now().Add(6*time.Minute)); err == nil {
		t.Fatal("the link outlives its -ttl")
	}
	if strings.Contains(out.String()+errOut.String(), key) {
		t.Fatal("the key was printed")
	}

	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no url", []string{"-key-secret-id", id}, "no -url"},
		{"wrong path", []string{"-url", "https://abc/other", "-key-secret-id", id}, "does not end in /admitad/authorize"},
		{"plain http", []string{"-url", "http://example.com/admitad/authorize", "-key-secret-id", id}, "not HTTPS"},
		{"no key secret", []string{"-url", base}, "no -key-secret-id"},
		{"ttl too long", []string{"-url", base, "-key-secret-id", id, "-ttl", "2h"}, "-ttl"},
		{"missing secret", []string{"-url", base, "-key-secret-id", id + "-missing"}, "not found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("ADMITAD_CONNECT_URL", "")
			t.Setenv("SIGNING_KEY_SECRET_ID", "")
			var out, errOut bytes.Buffer
			err := run(context.Background(), tc.args, &out, &errOut)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
			if out.Len() != 0 {
				t.Fatal("printed a link")
			}
		})
	}
}
