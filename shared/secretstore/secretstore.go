// Package secretstore reads and writes the secrets token-refresher keeps in
// AWS Secrets Manager: the credentials secret an operator fills, the token
// secret apps read, and Admitad's refresh-token secret.
//
// Writes are idempotent: every PutSecretValue carries a ClientRequestToken
// derived from the value, so a retried write cannot create a second
// version. Errors name the secret and the step, never the value.
//
// Contract: every Secrets Manager call is bounded by a per-call timeout
// (DefaultCallTimeout, the SDK's retries included; ErrCallTimeout when it
// passes). Match causes with errors.Is: ErrNotFound (no such secret or no
// current value), ErrChanged (a compare-and-swap found another version
// current; errors.As gives *ChangedError), ErrCallTimeout. The package logs
// nothing. A Store is safe for concurrent use.
package secretstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/smithy-go"
)

// API is the part of the Secrets Manager client the store calls.
type API interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
	PutSecretValue(ctx context.Context, in *secretsmanager.PutSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error)
	UpdateSecretVersionStage(ctx context.Context, in *secretsmanager.UpdateSecretVersionStageInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.UpdateSecretVersionStageOutput, error)
}

// VersionLister is the call VersionsSince needs; the SDK client has it.
type VersionLister interface {
	ListSecretVersionIds(ctx context.Context, in *secretsmanager.ListSecretVersionIdsInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.ListSecretVersionIdsOutput, error)
}

var _ VersionLister = (*secretsmanager.Client)(nil)

// BatchGetter is the call GetMany needs to read several secrets at once;
// the SDK client has it.
type BatchGetter interface {
	BatchGetSecretValue(ctx context.Context, in *secretsmanager.BatchGetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.BatchGetSecretValueOutput, error)
}

var _ BatchGetter = (*secretsmanager.Client)(nil)

// ErrUnsupported is returned by a call the store's API does not offer.
var ErrUnsupported = errors.New("not supported by this Secrets Manager API")

var _ API = (*secretsmanager.Client)(nil)

// ErrNotFound is returned when a secret, or its current value, does not
// exist.
var ErrNotFound = errors.New("secret not found")

// ErrChanged is returned by Swap when the secret's current version is no
// longer the one the caller read: someone else wrote it in between.
var ErrChanged = errors.New("secret changed since it was read")

// ErrCallTimeout is wrapped by the error of a single Secrets Manager call
// that took longer than the store's CallTimeout while the caller's own
// context was still alive. Unlike the caller's deadline it is retryable: a
// hung call is abandoned and tried again.
var ErrCallTimeout = errors.New("secrets manager call timed out")

// DefaultCallTimeout bounds one Secrets Manager call (with the SDK's own
// retries inside it) when Store.CallTimeout is zero. Secrets Manager
// answers in tens of milliseconds; a call that has not answered in 3 s is
// hung, and abandoning it leaves time to try again within a run.
const DefaultCallTimeout = 3 * time.Second

// Store reads and writes secrets. It is safe for concurrent use.
//
// No call blocks longer than CallTimeout: each one runs under its own
// deadline, and a call cut off by it returns an error wrapping
// ErrCallTimeout, which Retry tries again.
type Store struct {
	API API
	// CallTimeout bounds each call; DefaultCallTimeout if zero.
	CallTimeout time.Duration

	// noBatch is set once BatchGetSecretValue has been refused (a role
	// without secretsmanager:BatchGetSecretValue): GetMany then reads one
	// secret at a time without asking again.
	noBatch atomic.Bool
}

// Value is a secret's value and the version that holds it.
type Value struct {
	String    string
	VersionID string
	// Stages are the version's staging labels (AWSCURRENT, ...).
	Stages []string
}

// HasStage reports whether the version carries stage.
func (v Value) HasStage(stage string) bool {
	for _, s := range v.Stages {
		if s == stage {
			return true
		}
	}
	return false
}

// call runs fn under the per-call deadline. A call that ran out of its own
// time while ctx is alive gives an error wrapping ErrCallTimeout instead of
// the context's error, so Retry can tell a hung call from a run that is out
// of time.
func (s *Store) call(ctx context.Context, fn func(ctx context.Context) error) error {
	d := s.CallTimeout
	if d <= 0 {
		d = DefaultCallTimeout
	}
	cctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	err := fn(cctx)
	if err != nil && ctx.Err() == nil && errors.Is(cctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("%w after %s", ErrCallTimeout, d)
	}
	return err
}

// Get returns the current (AWSCURRENT) value of id. A secret that does not
// exist, or has no value yet, gives an error wrapping ErrNotFound.
func (s *Store) Get(ctx context.Context, id string) (Value, error) {
	// The stage is explicit: moto_server, unlike AWS, can answer an
	// unlabelled read with the version that held AWSCURRENT before an
	// UpdateSecretVersionStage.
	return s.GetStage(ctx, id, "AWSCURRENT")
}

// ReadAttempts bounds how often a read is tried: reads are idempotent, so
// the store itself tries a hung or failed read again.
const ReadAttempts = 3

// GetStage returns the version of id labelled stage. A secret that does not
// exist, or no version with that label, gives an error wrapping
// ErrNotFound. A read that hangs or fails with a retryable error is tried
// up to ReadAttempts times.
func (s *Store) GetStage(ctx context.Context, id, stage string) (Value, error) {
	var out *secretsmanager.GetSecretValueOutput
	err := s.read(ctx, func(ctx context.Context) (err error) {
		out, err = s.API.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(id), VersionStage: aws.String(stage)})
		return err
	})
	if err != nil {
		var nf *types.ResourceNotFoundException
		if errors.As(err, &nf) {
			return Value{}, fmt.Errorf("secretstore: read %s: %w", id, ErrNotFound)
		}
		return Value{}, fmt.Errorf("secretstore: read %s: %w", id, err)
	}
	if out.SecretString == nil {
		return Value{}, fmt.Errorf("secretstore: read %s: no string value (binary secrets are not supported): %w", id, ErrNotFound)
	}
	return Value{String: *out.SecretString, VersionID: aws.ToString(out.VersionId), Stages: out.VersionStages}, nil
}

// Result is one secret's outcome in GetMany: its current value, or an
// error as Get would give it.
type Result struct {
	Value Value
	Err   error
}

// maxBatch is how many secrets one BatchGetSecretValue may name.
const maxBatch = 20

// GetMany returns the current (AWSCURRENT) value of each of ids, in the
// order given, with one BatchGetSecretValue call for up to 20 of them: a
// run that needs two secrets pays one round trip. Each Result is what Get
// would return for that id (ErrNotFound for a missing secret or value).
//
// It falls back to one Get per secret when the API has no batch call or
// the batch call is refused (the role lacks
// secretsmanager:BatchGetSecretValue; the store then stops asking), and,
// for single secrets, when the batch answer has no entry for an id or
// serves a version that does not hold AWSCURRENT (moto_server can, after a
// label move). A batch that fails with a retryable error is tried up to
// ReadAttempts times, like a read; if it still fails every Result carries
// that error.
func (s *Store) GetMany(ctx context.Context, ids ...string) []Result {
	out := make([]Result, len(ids))
	b, ok := s.API.(BatchGetter)
	if !ok || s.noBatch.Load() || len(ids) < 2 {
		s.getEach(ctx, ids, out, nil)
		return out
	}
	for start := 0; start < len(ids); start += maxBatch {
		end := min(start+maxBatch, len(ids))
		s.batch(ctx, b, ids[start:end], out[start:end])
	}
	return out
}

// getEach fills out[i] with Get(ids[i]) for every i not marked done.
func (s *Store) getEach(ctx context.Context, ids []string, out []Result, done []bool) {
	for i, id := range ids {
		if done == nil || !done[i] {
			v, err := s.Get(ctx, id)
			out[i] = Result{Value: v, Err: err}
		}
	}
}

func (s *Store) batch(ctx context.Context, b BatchGetter, ids []string, out []Result) {
	uniq := slices.Compact(slices.Sorted(slices.Values(ids)))
	var resp *secretsmanager.BatchGetSecretValueOutput
	err := s.read(ctx, func(ctx context.Context) (err error) {
		resp, err = b.BatchGetSecretValue(ctx, &secretsmanager.BatchGetSecretValueInput{SecretIdList: uniq})
		return err
	})
	if err != nil {
		var nf *types.ResourceNotFoundException
		switch {
		case errors.As(err, &nf):
			// moto_server fails the whole batch when one secret has no
			// value yet; single reads tell which one.
			s.getEach(ctx, ids, out, nil)
		case refusedBatch(err):
			s.noBatch.Store(true)
			s.getEach(ctx, ids, out, nil)
		default:
			for i, id := range ids {
				out[i] = Result{Err: fmt.Errorf("secretstore: read %s: %w", id, err)}
			}
		}
		return
	}
	done := make([]bool, len(ids))
	for i, id := range ids {
		for _, e := range resp.SecretValues {
			if id != aws.ToString(e.Name) && id != aws.ToString(e.ARN) {
				continue
			}
			if !slices.Contains(e.VersionStages, "AWSCURRENT") {
				break
			}
			done[i] = true
			if e.SecretString == nil {
				out[i] = Result{Err: fmt.Errorf("secretstore: read %s: no string value (binary secrets are not supported): %w", id, ErrNotFound)}
			} else {
				out[i] = Result{Value: Value{String: *e.SecretString, VersionID: aws.ToString(e.VersionId), Stages: e.VersionStages}}
			}
			break
		}
		for _, e := range resp.Errors {
			if done[i] || id != aws.ToString(e.SecretId) {
				continue
			}
			done[i] = true
			if aws.ToString(e.ErrorCode) == "ResourceNotFoundException" {
				out[i] = Result{Err: fmt.Errorf("secretstore: read %s: %w", id, ErrNotFound)}
			} else {
				out[i] = Result{Err: fmt.Errorf("secretstore: read %s: %s", id, aws.ToString(e.ErrorCode))}
			}
		}
	}
	s.getEach(ctx, ids, out, done)
}

// refusedBatch reports an error that says the batch call itself is not
// allowed or not offered, as opposed to a failure of Secrets Manager.
func refusedBatch(err error) bool {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return false
	}
	switch ae.ErrorCode() {
	case "AccessDeniedException", "UnrecognizedClientException", "UnknownOperationException", "InvalidAction", "ValidationException", "InvalidRequestException", "InvalidParameterException":
		return true
	}
	return false
}

// read runs one read call under the per-call deadline, trying a read that
// hangs or fails with a retryable error up to ReadAttempts times.
func (s *Store) read(ctx context.Context, fn func(ctx context.Context) error) error {
	n := 0
	err := Retry(ctx, func(ctx context.Context) error {
		err := s.call(ctx, fn)
		if n++; n >= ReadAttempts && err != nil {
			return final{err}
		}
		return err
	})
	var f final
	if errors.As(err, &f) {
		err = f.err
	}
	return err
}

// VersionsSince counts the versions of id created at or after since,
// deprecated ones (without a staging label) included: what counts against
// Secrets Manager's quota of about 100 versions a day.
func (s *Store) VersionsSince(ctx context.Context, id string, since time.Time) (int, error) {
	lister, ok := s.API.(VersionLister)
	if !ok {
		return 0, fmt.Errorf("secretstore: list versions of %s: %w", id, ErrUnsupported)
	}
	in := &secretsmanager.ListSecretVersionIdsInput{SecretId: aws.String(id), IncludeDeprecated: aws.Bool(true), MaxResults: aws.Int32(100)}
	n := 0
	for page := 0; page < 10; page++ {
		var out *secretsmanager.ListSecretVersionIdsOutput
		err := s.call(ctx, func(ctx context.Context) (err error) {
			out, err = lister.ListSecretVersionIds(ctx, in)
			return err
		})
		if err != nil {
			return 0, fmt.Errorf("secretstore: list versions of %s: %w", id, err)
		}
		for _, v := range out.Versions {
			if v.CreatedDate != nil && !v.CreatedDate.Before(since) {
				n++
			}
		}
		if aws.ToString(out.NextToken) == "" {
			break
		}
		in.NextToken = out.NextToken
	}
	return n, nil
}

// RequestToken derives the ClientRequestToken for writing value: 64 hex
// digits of its SHA-256, inside the 32–64 characters Secrets Manager allows.
func RequestToken(value string) string {
	sum := sha256.Sum256([]byte(value))
	return hex.EncodeToString(sum[:])
}

// Put writes value as the new current version of id; the previous value
// becomes AWSPREVIOUS. Writing the same value again returns the same
// version instead of creating one. It returns the version id.
func (s *Store) Put(ctx context.Context, id, value string) (string, error) {
	return s.put(ctx, id, value, nil)
}

// PutPending writes value as a new version of id labelled with stages
// (at least one; each label moves from whichever version held it),
// without making it current; Swap makes it current.
func (s *Store) PutPending(ctx context.Context, id, value string, stages ...string) (string, error) {
	if len(stages) == 0 {
		return "", fmt.Errorf("secretstore: write %s: a pending version needs a staging label", id)
	}
	return s.put(ctx, id, value, stages)
}

func (s *Store) put(ctx context.Context, id, value string, stages []string) (string, error) {
	var out *secretsmanager.PutSecretValueOutput
	err := s.call(ctx, func(ctx context.Context) (err error) {
		out, err = s.API.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
			SecretId:           aws.String(id),
			SecretString:       aws.String(value),
			ClientRequestToken: aws.String(RequestToken(value)),
			VersionStages:      stages,
		})
		return err
	})
	if err != nil {
		var nf *types.ResourceNotFoundException
		if errors.As(err, &nf) {
			return "", fmt.Errorf("secretstore: write %s: %w", id, ErrNotFound)
		}
		return "", fmt.Errorf("secretstore: write %s: %w", id, err)
	}
	return aws.ToString(out.VersionId), nil
}

// Swap makes version newID current only if oldID is still current: a
// compare-and-swap on the AWSCURRENT staging label. An empty oldID (the
// secret had no value) moves the label unconditionally.
//
// The outcome of a failed or unanswered move is not judged from its error
// code: Swap then reads which version holds AWSCURRENT. It returns nil when
// that is newID (an earlier attempt moved the label and only its answer was
// lost), an error wrapping ErrChanged with the holder when another writer
// moved the label (see *ChangedError), and the call's error when the label
// is still on oldID.
func (s *Store) Swap(ctx context.Context, id, oldID, newID string) error {
	err := s.move(ctx, id, oldID, newID)
	if err == nil {
		return nil
	}
	cur, gerr := s.Get(ctx, id)
	switch {
	case gerr != nil:
		return fmt.Errorf("%w (and reading which version is current failed: %v)", err, gerr)
	case cur.VersionID == newID:
		return nil
	case oldID == "" || cur.VersionID == oldID:
		return err
	default:
		return &ChangedError{ID: id, Holder: cur}
	}
}

// ChangedError is Swap's error when another writer moved AWSCURRENT: Holder
// is the version that holds it now. It wraps ErrChanged.
type ChangedError struct {
	ID     string
	Holder Value
}

func (e *ChangedError) Error() string {
	return fmt.Sprintf("secretstore: swap %s: %v (now version %s)", e.ID, ErrChanged, e.Holder.VersionID)
}

func (e *ChangedError) Unwrap() error { return ErrChanged }

// move is one UpdateSecretVersionStage call.
func (s *Store) move(ctx context.Context, id, oldID, newID string) error {
	in := &secretsmanager.UpdateSecretVersionStageInput{
		SecretId:        aws.String(id),
		VersionStage:    aws.String("AWSCURRENT"),
		MoveToVersionId: aws.String(newID),
	}
	if oldID != "" {
		in.RemoveFromVersionId = aws.String(oldID)
	}
	err := s.call(ctx, func(ctx context.Context) error {
		_, err := s.API.UpdateSecretVersionStage(ctx, in)
		return err
	})
	if err == nil {
		return nil
	}
	return fmt.Errorf("secretstore: swap %s: %w", id, err)
}

// final marks an error Retry must not try again.
type final struct{ err error }

func (f final) Error() string { return f.err.Error() }

// Retryable reports whether a failed store call may succeed if tried again.
func Retryable(err error) bool {
	var f final
	if err == nil || errors.As(err, &f) || errors.Is(err, ErrNotFound) || errors.Is(err, ErrChanged) ||
		errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "AccessDeniedException", "InvalidParameterException", "InvalidRequestException", "ResourceNotFoundException",
			"ResourceExistsException", "EncryptionFailure", "DecryptionFailure", "LimitExceededException":
			return false
		}
	}
	return true
}

// Retry calls fn until it succeeds, fails with an error Retryable rejects,
// or the next wait would pass ctx's deadline. Waits grow from 100 ms to 2 s.
func Retry(ctx context.Context, fn func(context.Context) error) error {
	wait := 100 * time.Millisecond
	for {
		err := fn(ctx)
		if err == nil || !Retryable(err) {
			return err
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		if wait *= 2; wait > 2*time.Second {
			wait = 2 * time.Second
		}
	}
}
