package reader

import (
	"context"
	"encoding/json"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/token-refresher/token-refresher/internal/localaws"
	"github.com/token-refresher/token-refresher/shared/fyber/fybertest"
	"github.com/token-refresher/token-refresher/shared/vendortest"
)

// emulatorLambda returns a Lambda client whose endpoint is the emulator
// serving f: the SDK's Invoke path is /2015-03-31/functions/<name>/invocations
// and the emulator answers only for the name "function".
func emulatorLambda(t *testing.T, f *localaws.Function) *lambda.Client {
	t.Helper()
	u, err := url.Parse(f.URL)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.LoadDefaultConfig(context.Background(),
		config.WithRegion(localaws.Region),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("localaws", "localaws", "")),
		config.WithSharedConfigFiles([]string{}),
		config.WithSharedCredentialsFiles([]string{}),
		config.WithEC2IMDSClientEnableState(imds.ClientDisabled),
	)
	if err != nil {
		t.Fatal(err)
	}
	return lambda.NewFromConfig(cfg, func(o *lambda.Options) {
		o.BaseEndpoint = aws.String(u.Scheme + "://" + u.Host)
	})
}

// oneAtATime plays a function with reserved concurrency 1, as the stack
// deploys every refresher: an invoke while another runs is throttled with
// TooManyRequestsException, as Lambda does. (It also keeps concurrent
// invokes away from the emulator, which serves one at a time.)
type oneAtATime struct {
	api       LambdaAPI
	busy      atomic.Bool
	invokes   atomic.Int64
	throttled atomic.Int64
}

func (o *oneAtATime) Invoke(ctx context.Context, in *lambda.InvokeInput, optFns ...func(*lambda.Options)) (*lambda.InvokeOutput, error) {
	if !o.busy.CompareAndSwap(false, true) {
		o.throttled.Add(1)
		return nil, &ltypes.TooManyRequestsException{Message: aws.String("Rate Exceeded."), Reason: ltypes.ThrottleReasonReservedFunctionConcurrentInvocationLimitExceeded}
	}
	defer o.busy.Store(false)
	o.invokes.Add(1)
	return o.api.Invoke(ctx, in, optFns...)
}

// TestRejectCoalescesAgainstRefresher: 50 goroutines in 5 app instances
// report the same token at once; the real fyber refresher under
// aws-lambda-rie, on moto_server, against a fake Fyber, asks the vendor
// once, and every caller gets the new token. A second wave with the old
// token causes no vendor request and no invocation.
func TestRejectCoalescesAgainstRefresher(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the fyber refresher")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	moto := localaws.MotoForTest(t)
	sm := motoSecrets(t)
	vendor := fybertest.NewServer(vendortest.Options{})
	t.Cleanup(vendor.Close)

	tokenID, credsID := secretName(t), secretName(t)+"-credentials"
	creds, _ := json.Marshal(vendortest.Credentials("fyber"))
	createSecret(t, sm, credsID, string(creds))
	createSecret(t, sm, tokenID, "")
	env := append(moto.Env(),
		"CREDENTIALS_SECRET_ID="+credsID,
		"TOKEN_SECRET_ID="+tokenID,
		"TOKEN_URL="+vendor.TokenURL(),
		"AWS_LAMBDA_FUNCTION_NAME=token-refresher-fyber",
	)
	fn := localaws.FunctionForTest(t, "fyber", env)
	res, err := fn.Invoke(ctx, []byte(`{}`))
	if err != nil || res.Failed() {
		t.Fatalf("first refresh: %v %s %s\n%s", err, res.ErrorType, res.ErrorMessage, fn.Output())
	}
	if n := vendor.TokenRequests(); n != 1 {
		t.Fatalf("vendor token requests after the first refresh = %d, want 1", n)
	}

	lam := &oneAtATime{api: emulatorLambda(t, fn)}
	const instances, perInstance = 5, 10
	readers := make([]*Reader, instances)
	var old Token
	for i := range readers {
		readers[i] = New(sm, WithLambda(lam), WithFunctionName(func(string) string { return "function" }))
		tok, err := readers[i].Get(ctx, tokenID)
		if err != nil {
			t.Fatal(err)
		}
		old = tok
	}
	if old.Refresher != "token-refresher-fyber" {
		t.Fatalf("token secret names refresher %q, want token-refresher-fyber", old.Refresher)
	}

	wave := func() []Token {
		var wg sync.WaitGroup
		start := make(chan struct{})
		got := make([]Token, instances*perInstance)
		errs := make([]error, instances*perInstance)
		for i := range instances {
			for j := range perInstance {
				k := i*perInstance + j
				wg.Go(func() {
					<-start
					got[k], errs[k] = readers[i].Reject(ctx, tokenID, old.AccessToken)
				})
			}
		}
		close(start)
		wg.Wait()
		for k, err := range errs {
			if err != nil {
				t.Fatalf("caller %d: Reject: %v\n%s", k, err, fn.Output())
			}
		}
		return got
	}

	first := wave()
	if n := vendor.TokenRequests(); n != 2 {
		t.Errorf("vendor token requests after 50 concurrent Rejects = %d, want 2 (1 initial + 1)", n)
	}
	stored, err := New(sm).Get(ctx, tokenID)
	if err != nil {
		t.Fatal(err)
	}
	if stored.Fingerprint == old.Fingerprint {
		t.Fatal("the token secret still holds the rejected token")
	}
	for k, tok := range first {
		if tok.Fingerprint != stored.Fingerprint {
			t.Errorf("caller %d got %s, want the new token %s", k, tok.Fingerprint, stored.Fingerprint)
		}
	}
	if !vendor.Valid(stored.AccessToken) {
		t.Error("the vendor does not know the new token")
	}
	t.Logf("first wave: %d invocations, %d throttled, vendor token requests %d", lam.invokes.Load(), lam.throttled.Load(), vendor.TokenRequests()-1)

	invokes := lam.invokes.Load() + lam.throttled.Load()
	for _, r := range readers {
		r.Forget(tokenID) // as fresh instances that never saw the new token
	}
	second := wave()
	if n := vendor.TokenRequests(); n != 2 {
		t.Errorf("vendor token requests after a second wave = %d, want still 2", n)
	}
	if n := lam.invokes.Load() + lam.throttled.Load(); n != invokes {
		t.Errorf("the second wave invoked the refresher %d times, want 0", n-invokes)
	}
	for k, tok := range second {
		if tok.Fingerprint != stored.Fingerprint {
			t.Errorf("second wave caller %d got %s, want %s", k, tok.Fingerprint, stored.Fingerprint)
		}
	}
}
