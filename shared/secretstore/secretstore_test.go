package secretstore_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/token-refresher/token-refresher/internal/localaws"
	"github.com/token-refresher/token-refresher/internal/smfault"
	"github.com/token-refresher/token-refresher/shared/secretstore"
)

func TestMain(m *testing.M) { os.Exit(localaws.RunTests(m)) }

// newSecret creates a secret in moto_server and returns a store on the real
// SDK client.
func newSecret(t *testing.T, value string) (*secretstore.Store, *secretsmanager.Client, string) {
	t.Helper()
	moto := localaws.MotoForTest(t)
	sm, err := moto.SecretsManager(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	id := fmt.Sprintf("secretstore/%s-%d", strings.ReplaceAll(t.Name(), "/", "-"), time.Now().UnixNano())
	in := &secretsmanager.CreateSecretInput{Name: aws.String(id)}
	if value != "" {
		in.SecretString = aws.String(value)
	}
	if _, err := sm.CreateSecret(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	return &secretstore.Store{API: sm}, sm, id
}

func TestGetNotFound(t *testing.T) {
	s, _, id := newSecret(t, "")
	ctx := context.Background()
	if _, err := s.Get(ctx, id); !errors.Is(err, secretstore.ErrNotFound) {
		t.Errorf("secret without value: %v, want ErrNotFound", err)
	}
	if _, err := s.Get(ctx, id+"-missing"); !errors.Is(err, secretstore.ErrNotFound) {
		t.Errorf("missing secret: %v, want ErrNotFound", err)
	}
}

func TestPutIsIdempotentAndKeepsPrevious(t *testing.T) {
	s, sm, id := newSecret(t, `{"v":0}`)
	ctx := context.Background()
	v1, err := s.Put(ctx, id, `{"v":1}`)
	if err != nil {
		t.Fatal(err)
	}
	again, err := s.Put(ctx, id, `{"v":1}`)
	if err != nil || again != v1 {
		t.Fatalf("retried write = %q, %v; want the same version %q", again, err, v1)
	}
	got, err := s.Get(ctx, id)
	if err != nil || got.String != `{"v":1}` || got.VersionID != v1 {
		t.Fatalf("Get = %+v, %v", got, err)
	}
	prev, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(id), VersionStage: aws.String("AWSPREVIOUS")})
	if err != nil || aws.ToString(prev.SecretString) != `{"v":0}` {
		t.Errorf("AWSPREVIOUS = %v, %v", aws.ToString(prev.SecretString), err)
	}
	versions, err := sm.ListSecretVersionIds(ctx, &secretsmanager.ListSecretVersionIdsInput{SecretId: aws.String(id)})
	if err != nil || len(versions.Versions) != 2 {
		t.Errorf("versions = %d, %v; want 2", len(versions.Versions), err)
	}
}

func TestSwapIsCompareAndSwap(t *testing.T) {
	s, sm, id := newSecret(t, "rt-0")
	ctx := context.Background()
	read, err := s.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	// Our writer stages its value without making it current.
	pending, err := s.PutPending(ctx, id, "rt-ours", "PENDING")
	if err != nil {
		t.Fatal(err)
	}
	if cur, _ := s.Get(ctx, id); cur.String != "rt-0" {
		t.Fatalf("PutPending changed the current value to %q", cur.String)
	}
	// Another writer wins meanwhile.
	if _, err := s.Put(ctx, id, "rt-theirs"); err != nil {
		t.Fatal(err)
	}
	if err := s.Swap(ctx, id, read.VersionID, pending); !errors.Is(err, secretstore.ErrChanged) {
		t.Fatalf("Swap after a concurrent write = %v, want ErrChanged", err)
	}
	if cur, _ := s.Get(ctx, id); cur.String != "rt-theirs" {
		t.Errorf("current = %q, want the other writer's value kept", cur.String)
	}
	// Without interference the swap succeeds.
	read, _ = s.Get(ctx, id)
	pending, err = s.PutPending(ctx, id, "rt-next", "PENDING")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Swap(ctx, id, read.VersionID, pending); err != nil {
		t.Fatalf("Swap: %v", err)
	}
	if cur, _ := s.Get(ctx, id); cur.String != "rt-next" {
		versions, _ := sm.ListSecretVersionIds(ctx, &secretsmanager.ListSecretVersionIdsInput{SecretId: aws.String(id)})
		for _, v := range versions.Versions {
			t.Logf("version %s %v", aws.ToString(v.VersionId), v.VersionStages)
		}
		t.Errorf("current = %q (%s), want rt-next (%s) moved from %s", cur.String, cur.VersionID, pending, read.VersionID)
	}
}

func TestRequestToken(t *testing.T) {
	a, b := secretstore.RequestToken("x"), secretstore.RequestToken("y")
	if len(a) < 32 || len(a) > 64 || a == b || a != secretstore.RequestToken("x") {
		t.Errorf("RequestToken: %q %q", a, b)
	}
}

// behindProxy returns a store that reaches moto through a fault proxy, with
// a short per-call timeout.
func behindProxy(t *testing.T) (*secretstore.Store, *smfault.Proxy, *secretsmanager.Client, string) {
	t.Helper()
	_, sm, id := newSecret(t, `{"v":0}`)
	moto := localaws.MotoForTest(t)
	p, err := smfault.New(moto.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	cfg := sm.Options()
	cfg.BaseEndpoint = aws.String(p.URL)
	return &secretstore.Store{API: secretsmanager.New(cfg), CallTimeout: 300 * time.Millisecond}, p, sm, id
}

func TestHungCallsAreAbandonedAndRetried(t *testing.T) {
	for _, op := range []string{"GetSecretValue", "PutSecretValue", "UpdateSecretVersionStage"} {
		t.Run(op, func(t *testing.T) {
			s, p, _, id := behindProxy(t)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			cur, err := s.Get(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			newID, err := s.PutPending(ctx, id, `{"v":1}`, "PENDING")
			if err != nil {
				t.Fatal(err)
			}
			p.Add(smfault.Rule{Op: op, Action: smfault.Hang})
			start := time.Now()
			switch op {
			case "GetSecretValue":
				_, err = s.Get(ctx, id)
			case "PutSecretValue":
				err = secretstore.Retry(ctx, func(ctx context.Context) error { _, err := s.Put(ctx, id, `{"v":2}`); return err })
			default:
				err = secretstore.Retry(ctx, func(ctx context.Context) error { return s.Swap(ctx, id, cur.VersionID, newID) })
			}
			if err != nil {
				t.Fatalf("%s after one hung call: %v", op, err)
			}
			if took := time.Since(start); took > 3*s.CallTimeout+time.Second {
				t.Errorf("took %s: the hung call was not abandoned at its timeout", took)
			}
			if p.Pending() {
				t.Fatal("the hang was never served")
			}
		})
	}
}

func TestSwapJudgesByTheHolder(t *testing.T) {
	t.Run("applied, answer lost", func(t *testing.T) {
		s, p, _, id := behindProxy(t)
		ctx := context.Background()
		cur, _ := s.Get(ctx, id)
		newID, err := s.PutPending(ctx, id, `{"v":1}`, "PENDING")
		if err != nil {
			t.Fatal(err)
		}
		p.Add(smfault.Rule{Op: "UpdateSecretVersionStage", Action: smfault.ApplyDrop})
		if err := s.Swap(ctx, id, cur.VersionID, newID); err != nil {
			t.Fatalf("swap whose answer was lost: %v, want nil (the label moved)", err)
		}
	})
	t.Run("failed with a 5xx, label unmoved", func(t *testing.T) {
		s, p, _, id := behindProxy(t)
		ctx := context.Background()
		cur, _ := s.Get(ctx, id)
		newID, _ := s.PutPending(ctx, id, `{"v":1}`, "PENDING")
		p.Add(smfault.Rule{Op: "UpdateSecretVersionStage", Action: smfault.Fail, Count: 5})
		err := s.Swap(ctx, id, cur.VersionID, newID)
		if err == nil || errors.Is(err, secretstore.ErrChanged) || !secretstore.Retryable(err) {
			t.Fatalf("swap failing with 5xx: %v; want a retryable error that is not ErrChanged", err)
		}
	})
	t.Run("another writer", func(t *testing.T) {
		s, _, sm, id := behindProxy(t)
		ctx := context.Background()
		cur, _ := s.Get(ctx, id)
		newID, _ := s.PutPending(ctx, id, `{"v":1}`, "PENDING")
		if _, err := sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(id), SecretString: aws.String(`{"v":"other"}`)}); err != nil {
			t.Fatal(err)
		}
		err := s.Swap(ctx, id, cur.VersionID, newID)
		var ce *secretstore.ChangedError
		if !errors.As(err, &ce) || !errors.Is(err, secretstore.ErrChanged) || ce.Holder.String != `{"v":"other"}` {
			t.Fatalf("swap after another write: %v; want a ChangedError naming the other writer's version", err)
		}
	})
}

// staleBatch answers BatchGetSecretValue as moto_server without its label
// fix does: with a version that no longer holds AWSCURRENT.
type staleBatch struct{ *secretsmanager.Client }

func (s staleBatch) BatchGetSecretValue(ctx context.Context, in *secretsmanager.BatchGetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.BatchGetSecretValueOutput, error) {
	out, err := s.Client.BatchGetSecretValue(ctx, in, optFns...)
	if err == nil {
		for i := range out.SecretValues {
			out.SecretValues[i].SecretString = aws.String("stale")
			out.SecretValues[i].VersionStages = []string{"AWSPREVIOUS"}
		}
	}
	return out, err
}

// getOnly is an API without the batch call.
type getOnly struct{ secretstore.API }

func TestGetMany(t *testing.T) {
	ctx := context.Background()
	setup := func(t *testing.T) (*secretstore.Store, *smfault.Proxy, *secretsmanager.Client, []string) {
		s, p, sm, a := behindProxy(t)
		_, _, b := newSecret(t, `{"b":1}`)
		return s, p, sm, []string{a, b, b + "-missing"}
	}
	check := func(t *testing.T, got []secretstore.Result, ids []string) {
		t.Helper()
		if len(got) != len(ids) {
			t.Fatalf("%d results for %d ids", len(got), len(ids))
		}
		if got[0].Err != nil || got[0].Value.String != `{"v":0}` || !got[0].Value.HasStage("AWSCURRENT") || got[0].Value.VersionID == "" {
			t.Errorf("first = %+v, %v", got[0].Value, got[0].Err)
		}
		if got[1].Err != nil || got[1].Value.String != `{"b":1}` {
			t.Errorf("second = %+v, %v", got[1].Value, got[1].Err)
		}
		for i := 2; i < len(ids); i++ {
			if !errors.Is(got[i].Err, secretstore.ErrNotFound) || !strings.Contains(got[i].Err.Error(), ids[i]) {
				t.Errorf("%s = %v, want ErrNotFound naming it", ids[i], got[i].Err)
			}
		}
	}
	t.Run("one call", func(t *testing.T) {
		s, p, _, ids := setup(t)
		check(t, s.GetMany(ctx, ids...), ids)
		if n := len(p.Calls()); n != 1 || p.Count("BatchGetSecretValue") != 1 {
			t.Errorf("calls = %+v, want one BatchGetSecretValue", p.Calls())
		}
	})
	t.Run("after a label move, the new current", func(t *testing.T) {
		s, p, _, ids := setup(t)
		cur, _ := s.Get(ctx, ids[0])
		newID, _ := s.PutPending(ctx, ids[0], `{"v":1}`, "PENDING")
		if err := s.Swap(ctx, ids[0], cur.VersionID, newID); err != nil {
			t.Fatal(err)
		}
		p.ResetCalls()
		got := s.GetMany(ctx, ids[0], ids[1])
		if got[0].Err != nil || got[0].Value.String != `{"v":1}` || got[0].Value.VersionID != newID {
			t.Errorf("after the move = %+v, %v; want the moved-to version", got[0].Value, got[0].Err)
		}
		if n := len(p.Calls()); n != 1 {
			t.Errorf("%d calls, want 1", n)
		}
	})
	t.Run("a secret without a value", func(t *testing.T) {
		s, _, _, ids := setup(t)
		_, _, empty := newSecret(t, "")
		ids = append(ids, empty)
		check(t, s.GetMany(ctx, ids...), ids)
	})
	t.Run("a stale batch entry is read again", func(t *testing.T) {
		_, _, sm, ids := setup(t)
		s := &secretstore.Store{API: staleBatch{sm}}
		check(t, s.GetMany(ctx, ids...), ids)
	})
	t.Run("no batch call in the API", func(t *testing.T) {
		_, _, sm, ids := setup(t)
		s := &secretstore.Store{API: getOnly{sm}}
		check(t, s.GetMany(ctx, ids...), ids)
	})
	t.Run("refused batch falls back and is not asked again", func(t *testing.T) {
		s, p, _, ids := setup(t)
		p.Add(smfault.Rule{Op: "BatchGetSecretValue", Action: smfault.Fail, Status: 400, Code: "AccessDeniedException"})
		check(t, s.GetMany(ctx, ids...), ids)
		p.ResetCalls()
		check(t, s.GetMany(ctx, ids...), ids)
		if n := p.Count("BatchGetSecretValue"); n != 0 {
			t.Errorf("%d batch calls after a refusal, want 0", n)
		}
	})
	t.Run("a failing batch is retried", func(t *testing.T) {
		s, p, _, ids := setup(t)
		p.Add(smfault.Rule{Op: "BatchGetSecretValue", Action: smfault.Fail, Count: 1})
		p.Add(smfault.Rule{Op: "BatchGetSecretValue", Action: smfault.Hang, Count: 1})
		check(t, s.GetMany(ctx, ids...), ids)
		if n := p.Count("BatchGetSecretValue"); n != 3 {
			t.Errorf("%d batch calls, want 3 (a 5xx, a hang, then the answer)", n)
		}
	})
	t.Run("a batch that keeps failing fails every result", func(t *testing.T) {
		s, p, _, ids := setup(t)
		p.Add(smfault.Rule{Op: "BatchGetSecretValue", Action: smfault.Fail, Count: -1})
		for i, r := range s.GetMany(ctx, ids...) {
			if r.Err == nil || errors.Is(r.Err, secretstore.ErrNotFound) || !strings.Contains(r.Err.Error(), ids[i]) {
				t.Errorf("%s = %v, want the batch's error naming the secret", ids[i], r.Err)
			}
		}
		if n := p.Count("BatchGetSecretValue"); n < secretstore.ReadAttempts {
			t.Errorf("%d batch calls, want at least %d", n, secretstore.ReadAttempts)
		}
		if n := p.Count("GetSecretValue"); n != 0 {
			t.Errorf("%d single reads after an outage, want 0", n)
		}
	})
}

// TestVersionsSince counts the versions of a secret against moto_server,
// which ends the listing with an empty NextToken where AWS leaves it out:
// each version counts once, whatever the server's way of saying "no more
// pages".
func TestVersionsSince(t *testing.T) {
	s, _, id := newSecret(t, `{"v":0}`)
	ctx := context.Background()
	for i := 1; i <= 5; i++ {
		if _, err := s.Put(ctx, id, fmt.Sprintf(`{"v":%d}`, i)); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name  string
		since time.Time
		want  int
	}{
		{"the last day", time.Now().Add(-24 * time.Hour), 6},
		{"from tomorrow", time.Now().Add(24 * time.Hour), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, err := s.VersionsSince(ctx, id, tc.since)
			if err != nil || n != tc.want {
				t.Errorf("VersionsSince = %d, %v; want %d", n, err, tc.want)
			}
		})
	}
}
