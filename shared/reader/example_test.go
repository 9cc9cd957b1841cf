package reader_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net/http"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/token-refresher/token-refresher/shared/reader"
	"github.com/token-refresher/token-refresher/shared/token"
)

// An app builds one Reader per process from its AWS configuration and
// reads the token secret before each vendor call. On a 401 it reports the
// refused token and retries once with the token Reject returns.
//
// The app's role needs the stack output TokenReaderPolicyArn, and
// TokenRejecterPolicyArn for Reject. Against make dev, set
// AWS_ENDPOINT_URL_SECRETS_MANAGER and AWS_ENDPOINT_URL_LAMBDA to the
// endpoints it prints.
func ExampleNewFromConfig() {
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		log.Fatal(err)
	}
	tokens := reader.NewFromConfig(cfg) // one per process; safe for concurrent use

	const secretID = "token-refresher/fyber/token"
	call := func(tok reader.Token) (*http.Response, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://reporting.fyber.com/api/v1/example", nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", tok.Authorization)
		return http.DefaultClient.Do(req)
	}

	tok, err := tokens.Get(ctx, secretID)
	if err != nil {
		log.Fatal(err) // errors.Is: reader.ErrNotFound, ErrMalformed, ErrExpired
	}
	resp, err := call(tok)
	if err == nil && resp.StatusCode == http.StatusUnauthorized {
		resp.Body.Close()
		// One Reject per refused token, however many goroutines or
		// instances report it.
		if tok, err = tokens.Reject(ctx, secretID, tok.AccessToken); err != nil {
			log.Fatal(err)
		}
		resp, err = call(tok)
	}
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
}

// now is the fixed clock of the examples below.
var now = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// fyberToken is a token secret as the fyber refresher writes it, obtained
// at the given time and living an hour.
func fyberToken(accessToken string, refreshedAt time.Time) string {
	b, err := json.Marshal(token.Token{
		Vendor:        "fyber",
		AccessToken:   accessToken,
		TokenType:     "Bearer",
		Authorization: "Bearer " + accessToken,
		ExpiresAt:     refreshedAt.Add(time.Hour),
		RefreshedAt:   refreshedAt,
		Fingerprint:   token.Fingerprint(accessToken),
		Refresher:     "token-refresher-fyber",
		Connection:    "default",
		Trigger:       "schedule",
	})
	if err != nil {
		panic(err)
	}
	return string(b)
}

// secrets stands in for Secrets Manager in the examples: the current value
// of each secret, and a count of the reads.
type secrets struct {
	mu     sync.Mutex
	values map[string]string
	reads  int
}

func (s *secrets) GetSecretValue(_ context.Context, in *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reads++
	v, ok := s.values[aws.ToString(in.SecretId)]
	if !ok {
		return nil, &smtypes.ResourceNotFoundException{Message: aws.String("Secrets Manager can't find the specified secret.")}
	}
	return &secretsmanager.GetSecretValueOutput{SecretString: aws.String(v)}, nil
}

func (s *secrets) set(id, value string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.values[id] = value
}

// Get reads a secret once and serves it from memory until the earlier of
// expires_at minus the margin and the maximum age (15 minutes by default).
func ExampleReader_Get() {
	sm := &secrets{values: map[string]string{
		"token-refresher/fyber/token": fyberToken("example-access-token-1", now.Add(-10*time.Minute)),
	}}
	clock := now
	tokens := reader.New(sm, reader.WithClock(func() time.Time { return clock }))
	ctx := context.Background()

	tok, err := tokens.Get(ctx, "token-refresher/fyber/token")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(tok.Vendor, tok.TokenType, tok.Fingerprint, "expires", tok.ExpiresAt.Format(time.RFC3339))
	fmt.Println("Authorization header carries the token:", tok.Authorization == "Bearer "+tok.AccessToken)

	clock = now.Add(14 * time.Minute)
	tokens.Get(ctx, "token-refresher/fyber/token")
	fmt.Println("reads after 14 minutes:", sm.reads)

	clock = now.Add(15 * time.Minute)
	tokens.Get(ctx, "token-refresher/fyber/token")
	fmt.Println("reads after 15 minutes:", sm.reads)

	// Output:
	// fyber Bearer b537ed2440e2a64a expires 2026-11-25T12:50:00Z
	// Authorization header carries the token: true
	// reads after 14 minutes: 1
	// reads after 15 minutes: 2
}

// Every error is a *reader.Error naming the operation and the secret; match
// its cause with errors.Is. No error carries a token, only its fingerprint.
func ExampleReader_Get_errors() {
	sm := &secrets{values: map[string]string{
		// What the stack stores in a token secret until its refresher first runs.
		"token-refresher/merchenta/token": "Qm9vdHN0cmFwcGVkIHJhbmRvbSB2YWx1ZQ",
		// A token an hour past its refresh: the refresher has stopped.
		"token-refresher/fyber/token": fyberToken("example-access-token-1", now.Add(-2*time.Hour)),
	}}
	tokens := reader.New(sm, reader.WithClock(func() time.Time { return now }))
	ctx := context.Background()

	for _, id := range []string{"token-refresher/hasoffers/token", "token-refresher/merchenta/token", "token-refresher/fyber/token"} {
		_, err := tokens.Get(ctx, id)
		switch {
		case errors.Is(err, reader.ErrNotFound):
			fmt.Println("not found:", err)
		case errors.Is(err, reader.ErrMalformed):
			fmt.Println("malformed:", err)
		case errors.Is(err, reader.ErrExpired):
			var exp *reader.ExpiredError
			errors.As(err, &exp)
			fmt.Println("expired", exp.Fingerprint+":", err)
		}
	}

	// Output:
	// not found: reader: get token-refresher/hasoffers/token: token secret not found: token-refresher/hasoffers/token has no current value or does not exist
	// malformed: reader: get token-refresher/merchenta/token: token: malformed token secret: the value is not JSON (a new token secret holds a random string until its refresher first runs)
	// expired b537ed2440e2a64a: reader: get token-refresher/fyber/token: token b537ed2440e2a64a expired at 2026-11-25T11:00:00Z and no fresher one is stored
}

// refresher stands in for the Lambda service in the Reject example: it
// records the invocation and, as the fyber refresher does, stores a new
// token and replies with its summary.
type refresher struct {
	sm       *secrets
	secretID string
}

func (f *refresher) Invoke(_ context.Context, in *lambda.InvokeInput, _ ...func(*lambda.Options)) (*lambda.InvokeOutput, error) {
	fmt.Printf("invoke %s:%s %s\n", aws.ToString(in.FunctionName), aws.ToString(in.Qualifier), in.Payload)
	f.sm.set(f.secretID, fyberToken("example-access-token-2", now))
	reply := fmt.Sprintf(`{"vendor":"fyber","action":"refreshed","fingerprint":%q}`, token.Fingerprint("example-access-token-2"))
	return &lambda.InvokeOutput{StatusCode: 200, Payload: []byte(reply)}, nil
}

// Reject reports a token the vendor refused. It invokes the refresher's
// reject alias with the token's fingerprint (never the token), waits until
// the secret holds the new token and returns it. Had another instance
// already had the token replaced, Reject would return the stored one
// without invoking anything.
func ExampleReader_Reject() {
	const secretID = "token-refresher/fyber/token"
	sm := &secrets{values: map[string]string{secretID: fyberToken("example-access-token-1", now.Add(-10*time.Minute))}}
	tokens := reader.New(sm,
		reader.WithClock(func() time.Time { return now }),
		reader.WithLambda(&refresher{sm: sm, secretID: secretID}))
	ctx := context.Background()

	old, err := tokens.Get(ctx, secretID)
	if err != nil {
		log.Fatal(err)
	}
	// ... the vendor answers 401 to old.Authorization ...
	tok, err := tokens.Reject(ctx, secretID, old.AccessToken)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("refused", old.Fingerprint, "now", tok.Fingerprint, "expires", tok.ExpiresAt.Format(time.RFC3339))

	// A second report of the same refused token is answered from memory.
	again, _ := tokens.Reject(ctx, secretID, old.AccessToken)
	fmt.Println("again", again.Fingerprint)

	// Output:
	// invoke token-refresher-fyber:reject {"rejected_fingerprint":"b537ed2440e2a64a"}
	// refused b537ed2440e2a64a now 9e3b81e5e39e82df expires 2026-11-25T13:00:00Z
	// again 9e3b81e5e39e82df
}
