package scalesim

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/token-refresher/token-refresher/shared/secretstore"
)

// memSecrets is an in-memory Secrets Manager with the calls a refresher
// makes. Every call takes latency of simulated time, so a run's Secrets
// Manager round trips count in its duration. Safe for concurrent use.
type memSecrets struct {
	latency time.Duration

	mu      sync.Mutex
	secrets map[string]*memSecret
	calls   int
	nextID  int
	// perSecond counts calls by the second they were made in.
	perSecond map[int64]int
}

type memSecret struct {
	versions map[string]*memVersion // version id -> version
	current  string                 // version id labelled AWSCURRENT; "" without a value
	byToken  map[string]string      // client request token -> version id
}

type memVersion struct {
	value   string
	created time.Time
}

var (
	_ secretstore.API           = (*memSecrets)(nil)
	_ secretstore.BatchGetter   = (*memSecrets)(nil)
	_ secretstore.VersionLister = (*memSecrets)(nil)
)

func newMemSecrets(latency time.Duration) *memSecrets {
	return &memSecrets{latency: latency, secrets: map[string]*memSecret{}, perSecond: map[int64]int{}}
}

// create makes a secret; value "" creates it without a value, as the stack
// does.
func (m *memSecrets) create(id, value string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := &memSecret{versions: map[string]*memVersion{}, byToken: map[string]string{}}
	m.secrets[id] = s
	if value != "" {
		m.nextID++
		vid := fmt.Sprintf("v%d", m.nextID)
		s.versions[vid] = &memVersion{value: value, created: time.Now()}
		s.current = vid
	}
}

// wait is one round trip: the call's latency, or the caller's context.
func (m *memSecrets) wait(ctx context.Context) error {
	m.mu.Lock()
	m.calls++
	m.perSecond[time.Now().Unix()]++
	m.mu.Unlock()
	t := time.NewTimer(m.latency)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func notFound(id string) error {
	return &types.ResourceNotFoundException{Message: aws.String("secret " + id + " has no current value")}
}

func (m *memSecrets) GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	if err := m.wait(ctx); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	id := aws.ToString(in.SecretId)
	s, ok := m.secrets[id]
	if !ok || s.current == "" {
		return nil, notFound(id)
	}
	if st := aws.ToString(in.VersionStage); st != "" && st != "AWSCURRENT" {
		return nil, notFound(id)
	}
	v := s.versions[s.current]
	return &secretsmanager.GetSecretValueOutput{Name: aws.String(id), SecretString: aws.String(v.value), VersionId: aws.String(s.current), VersionStages: []string{"AWSCURRENT"}}, nil
}

func (m *memSecrets) BatchGetSecretValue(ctx context.Context, in *secretsmanager.BatchGetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.BatchGetSecretValueOutput, error) {
	if err := m.wait(ctx); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	out := &secretsmanager.BatchGetSecretValueOutput{}
	for _, id := range in.SecretIdList {
		s, ok := m.secrets[id]
		if !ok || s.current == "" {
			out.Errors = append(out.Errors, types.APIErrorType{SecretId: aws.String(id), ErrorCode: aws.String("ResourceNotFoundException")})
			continue
		}
		v := s.versions[s.current]
		out.SecretValues = append(out.SecretValues, types.SecretValueEntry{Name: aws.String(id), SecretString: aws.String(v.value), VersionId: aws.String(s.current), VersionStages: []string{"AWSCURRENT"}})
	}
	return out, nil
}

func (m *memSecrets) PutSecretValue(ctx context.Context, in *secretsmanager.PutSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error) {
	if err := m.wait(ctx); err != nil {
		return nil, err
	}
	if len(in.VersionStages) > 0 {
		return nil, fmt.Errorf("scalesim: PutSecretValue with stages %s is not modelled", strings.Join(in.VersionStages, ","))
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	id := aws.ToString(in.SecretId)
	s, ok := m.secrets[id]
	if !ok {
		return nil, notFound(id)
	}
	tok := aws.ToString(in.ClientRequestToken)
	if vid, ok := s.byToken[tok]; ok && tok != "" {
		if s.versions[vid].value != aws.ToString(in.SecretString) {
			return nil, &types.ResourceExistsException{Message: aws.String("client request token reused with another value")}
		}
		return &secretsmanager.PutSecretValueOutput{VersionId: aws.String(vid)}, nil
	}
	m.nextID++
	vid := fmt.Sprintf("v%d", m.nextID)
	s.versions[vid] = &memVersion{value: aws.ToString(in.SecretString), created: time.Now()}
	s.byToken[tok] = vid
	s.current = vid
	return &secretsmanager.PutSecretValueOutput{VersionId: aws.String(vid)}, nil
}

func (m *memSecrets) UpdateSecretVersionStage(context.Context, *secretsmanager.UpdateSecretVersionStageInput, ...func(*secretsmanager.Options)) (*secretsmanager.UpdateSecretVersionStageOutput, error) {
	return nil, fmt.Errorf("scalesim: UpdateSecretVersionStage is not modelled (Fyber never moves labels)")
}

func (m *memSecrets) ListSecretVersionIds(ctx context.Context, in *secretsmanager.ListSecretVersionIdsInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.ListSecretVersionIdsOutput, error) {
	if err := m.wait(ctx); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	id := aws.ToString(in.SecretId)
	s, ok := m.secrets[id]
	if !ok {
		return nil, notFound(id)
	}
	out := &secretsmanager.ListSecretVersionIdsOutput{}
	for vid, v := range s.versions {
		out.Versions = append(out.Versions, types.SecretVersionsListEntry{VersionId: aws.String(vid), CreatedDate: aws.Time(v.created)})
	}
	return out, nil
}

// Calls is how many Secrets Manager calls were made.
func (m *memSecrets) Calls() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.calls
}

// PeakPerSecond is the most calls made within one second.
func (m *memSecrets) PeakPerSecond() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	peak := 0
	for _, n := range m.perSecond {
		peak = max(peak, n)
	}
	return peak
}
