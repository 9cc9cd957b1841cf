package reader

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/token-refresher/token-refresher/shared/secretstore"
)

// countingSecrets counts GetSecretValue calls on the way to api.
type countingSecrets struct {
	api  SecretsAPI
	gets *int
	mu   sync.Mutex
}

func (c *countingSecrets) GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	c.mu.Lock()
	*c.gets++
	c.mu.Unlock()
	return c.api.GetSecretValue(ctx, in, optFns...)
}

// atomicCountingSecrets counts GetSecretValue calls made concurrently.
type atomicCountingSecrets struct {
	api  SecretsAPI
	gets atomic.Int64
}

func (c *atomicCountingSecrets) GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	c.gets.Add(1)
	return c.api.GetSecretValue(ctx, in, optFns...)
}

// memSecrets is an in-memory Secrets Manager for the simulation: versions
// with the AWSCURRENT label, PutSecretValue moving it, DescribeSecret
// listing it. It keeps the calls the simulation makes; moto serves every
// other test.
type memSecrets struct {
	mu      sync.Mutex
	secrets map[string]*memSecret
	nextID  int
}

type memSecret struct {
	values  map[string]string // version id -> value
	current string
	byToken map[string]string // client request token -> version id
}

var _ secretstore.API = (*memSecrets)(nil)

func newMemSecrets() *memSecrets { return &memSecrets{secrets: map[string]*memSecret{}} }

// create makes a secret; a non-empty value becomes its current version.
func (m *memSecrets) create(id, value string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := &memSecret{values: map[string]string{}, byToken: map[string]string{}}
	m.secrets[id] = s
	if value != "" {
		m.nextID++
		v := fmt.Sprintf("v%d", m.nextID)
		s.values[v] = value
		s.current = v
	}
}

func (m *memSecrets) currentVersion(id string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s := m.secrets[id]; s != nil {
		return s.current
	}
	return ""
}

func notFound(id string) error {
	return &types.ResourceNotFoundException{Message: aws.String("Secrets Manager can't find the specified secret value for " + id)}
}

func (m *memSecrets) GetSecretValue(_ context.Context, in *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	id := aws.ToString(in.SecretId)
	s := m.secrets[id]
	if s == nil {
		return nil, notFound(id)
	}
	v := aws.ToString(in.VersionId)
	if v == "" {
		v = s.current
	}
	val, ok := s.values[v]
	if !ok {
		return nil, notFound(id)
	}
	return &secretsmanager.GetSecretValueOutput{SecretString: aws.String(val), VersionId: aws.String(v), Name: aws.String(id)}, nil
}

func (m *memSecrets) PutSecretValue(_ context.Context, in *secretsmanager.PutSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	id := aws.ToString(in.SecretId)
	s := m.secrets[id]
	if s == nil {
		return nil, notFound(id)
	}
	tok := aws.ToString(in.ClientRequestToken)
	if v, ok := s.byToken[tok]; ok && tok != "" {
		return &secretsmanager.PutSecretValueOutput{VersionId: aws.String(v)}, nil
	}
	m.nextID++
	v := fmt.Sprintf("v%d", m.nextID)
	s.values[v] = aws.ToString(in.SecretString)
	if tok != "" {
		s.byToken[tok] = v
	}
	if len(in.VersionStages) == 0 {
		s.current = v
	}
	return &secretsmanager.PutSecretValueOutput{VersionId: aws.String(v)}, nil
}

func (m *memSecrets) UpdateSecretVersionStage(_ context.Context, in *secretsmanager.UpdateSecretVersionStageInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.UpdateSecretVersionStageOutput, error) {
	return nil, fmt.Errorf("memSecrets: UpdateSecretVersionStage is not used by the simulation")
}
