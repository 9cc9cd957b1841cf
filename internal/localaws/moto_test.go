package localaws

import (
	"context"
	"errors"
	"net"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
)

func TestMotoSecretsManagerCRUDAndReset(t *testing.T) {
	ctx := t.Context()
	m, err := StartMoto(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Stop() })
	sm, err := m.SecretsManager(ctx)
	if err != nil {
		t.Fatal(err)
	}
	const name = "localaws/test/crud"
	if _, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String(`{"v":1}`)}); err != nil {
		t.Fatalf("create: %v", err)
	}
	if _, err := sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(name), SecretString: aws.String(`{"v":2}`)}); err != nil {
		t.Fatalf("put: %v", err)
	}
	got, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(name)})
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	if aws.ToString(got.SecretString) != `{"v":2}` {
		t.Fatalf("current value = %q, want the second put", aws.ToString(got.SecretString))
	}
	prev, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(name), VersionStage: aws.String("AWSPREVIOUS")})
	if err != nil || aws.ToString(prev.SecretString) != `{"v":1}` {
		t.Fatalf("AWSPREVIOUS = %q, %v; want the first value", aws.ToString(prev.SecretString), err)
	}

	if err := m.Reset(ctx); err != nil {
		t.Fatal(err)
	}
	_, err = sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(name)})
	var nf *types.ResourceNotFoundException
	if !errors.As(err, &nf) {
		t.Fatalf("after reset: get = %v, want ResourceNotFoundException", err)
	}
}

func TestMotoEnv(t *testing.T) {
	m := &Moto{URL: "http://127.0.0.1:4566"}
	want := map[string]string{
		"AWS_ENDPOINT_URL_SECRETS_MANAGER": "http://127.0.0.1:4566",
		"AWS_REGION":                       "us-east-1",
		"AWS_EC2_METADATA_DISABLED":        "true",
	}
	got := map[string]string{}
	for _, kv := range m.Env() {
		k, v, _ := strings.Cut(kv, "=")
		got[k] = v
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if got["AWS_ACCESS_KEY_ID"] == "" || got["AWS_SECRET_ACCESS_KEY"] == "" {
		t.Errorf("dummy credentials missing: %v", m.Env())
	}
}

func TestMotoStopLeavesNoProcess(t *testing.T) {
	m, err := StartMoto(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	pid := m.PID()
	if processGone(pid) {
		t.Fatalf("moto pid %d not running after start", pid)
	}
	if err := m.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := m.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	if !eventually(func() bool { return processGone(pid) && groupGone(pid) }) {
		t.Fatalf("moto pid %d or its group still running after Stop", pid)
	}
	if _, err := net.DialTimeout("tcp", strings.TrimPrefix(m.URL, "http://"), time.Second); err == nil {
		t.Fatalf("%s still accepts connections after Stop", m.URL)
	}
}

func TestStartMotoAtPortInUse(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	addr := l.Addr().String()
	_, port, _ := net.SplitHostPort(addr)
	_, err = StartMotoAt(t.Context(), addr, nil)
	if err == nil {
		t.Fatal("StartMotoAt on a taken port succeeded")
	}
	if !errors.Is(err, syscall.EADDRINUSE) || !strings.Contains(err.Error(), "port "+port) {
		t.Fatalf("error = %v; want EADDRINUSE naming port %s", err, port)
	}
}

func TestStartMotoAtRefusesNonLoopback(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:5000", "10.0.0.1:5000", "nohost", "127.0.0.1:9001"} {
		t.Run(addr, func(t *testing.T) {
			if m, err := StartMotoAt(t.Context(), addr, nil); err == nil {
				_ = m.Stop()
				t.Fatalf("StartMotoAt(%q) succeeded", addr)
			}
		})
	}
}

func TestStartMotoAtFixedPort(t *testing.T) {
	port, err := freeLoopbackPort()
	if err != nil {
		t.Fatal(err)
	}
	m, err := StartMotoAt(t.Context(), loopbackAddr(port), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Stop()
	if m.URL != "http://"+loopbackAddr(port) {
		t.Fatalf("URL = %s, want port %d", m.URL, port)
	}
	if err := m.Reset(t.Context()); err != nil {
		t.Fatal(err)
	}
}

func TestStartMotoMissingBinary(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := StartMoto(context.Background(), nil)
	if err == nil || !strings.Contains(err.Error(), `pip install "moto[server]"`) {
		t.Fatalf("error = %v; want the pip install hint", err)
	}
}

func TestMotoForTestIsShared(t *testing.T) {
	a := MotoForTest(t)
	b := MotoForTest(t)
	if a != b {
		t.Fatal("MotoForTest started a second moto")
	}
	sm, err := a.SecretsManager(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sm.ListSecrets(t.Context(), &secretsmanager.ListSecretsInput{}); err != nil {
		t.Fatal(err)
	}
}

// After UpdateSecretVersionStage moves AWSCURRENT, every read that does not
// name a version serves the version that holds the label, as in AWS; the
// next plain PutSecretValue makes that version AWSPREVIOUS.
func TestMotoLabelMoveServesTheNewCurrent(t *testing.T) {
	ctx := t.Context()
	m, err := StartMoto(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Stop() })
	sm, err := m.SecretsManager(ctx)
	if err != nil {
		t.Fatal(err)
	}
	const name = "localaws/test/labels"
	created, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String("v0")})
	if err != nil {
		t.Fatal(err)
	}
	pending, err := sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(name), SecretString: aws.String("v1"), VersionStages: []string{"PENDING"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sm.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{SecretId: aws.String(name), VersionStage: aws.String("AWSCURRENT"), MoveToVersionId: pending.VersionId, RemoveFromVersionId: created.VersionId}); err != nil {
		t.Fatal(err)
	}
	got, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(name)})
	if err != nil || aws.ToString(got.SecretString) != "v1" {
		t.Fatalf("GetSecretValue without a stage = %q, %v; want v1, the version holding AWSCURRENT", aws.ToString(got.SecretString), err)
	}
	batch, err := sm.BatchGetSecretValue(ctx, &secretsmanager.BatchGetSecretValueInput{SecretIdList: []string{name}})
	if err != nil || len(batch.SecretValues) != 1 {
		t.Fatalf("BatchGetSecretValue = %v, %v", batch, err)
	}
	if e := batch.SecretValues[0]; aws.ToString(e.SecretString) != "v1" || !slices.Contains(e.VersionStages, "AWSCURRENT") {
		t.Fatalf("BatchGetSecretValue = %q with stages %v; want v1 with AWSCURRENT", aws.ToString(e.SecretString), e.VersionStages)
	}
	if _, err := sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(name), SecretString: aws.String("v2")}); err != nil {
		t.Fatal(err)
	}
	list, err := sm.ListSecretVersionIds(ctx, &secretsmanager.ListSecretVersionIdsInput{SecretId: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	current := 0
	for _, v := range list.Versions {
		if slices.Contains(v.VersionStages, "AWSCURRENT") {
			current++
		}
		if aws.ToString(v.VersionId) == aws.ToString(pending.VersionId) && !slices.Contains(v.VersionStages, "AWSPREVIOUS") {
			t.Errorf("the version that was current before the plain put has stages %v, want AWSPREVIOUS", v.VersionStages)
		}
	}
	if current != 1 {
		t.Errorf("%d versions hold AWSCURRENT after a plain put, want 1", current)
	}
}
