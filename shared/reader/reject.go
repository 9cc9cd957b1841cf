package reader

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/token-refresher/token-refresher/shared/token"
	"github.com/token-refresher/token-refresher/shared/vendors"
)

// rejectEvent is the refresher's input for a rejected token.
type rejectEvent struct {
	RejectedFingerprint string `json:"rejected_fingerprint"`
	Connection          string `json:"connection,omitempty"`
}

// summary is the part of the refresher's reply Reject reads.
type summary struct {
	Vendor      string `json:"vendor"`
	Action      string `json:"action"`
	Fingerprint string `json:"fingerprint"`
	Reason      string `json:"reason"`
	Refusal     string `json:"refusal"`
}

// Reject reports that the vendor refused accessToken (an HTTP 401: Merchenta
// documents that its tokens may expire early) and returns the token to
// retry with.
//
// If the secret already holds another, unexpired token, Reject returns it
// without invoking anything: another instance has already had the token
// replaced. Otherwise it invokes the refresher named in the secret with
// {"rejected_fingerprint": <fingerprint of accessToken>}; the refresher asks
// the vendor only if the stored token is still the rejected one. Reject then
// reads the secret until it holds the refresher's new token. When Lambda
// throttles the invocation (the refresher runs one at a time and another
// instance's refresh is in progress), Reject waits for that refresh instead.
// A refresher that validated the token (Invoca) returns the same token.
//
// Concurrent calls with the same secret and token share one read and one
// invocation. The whole call, waiting included, is bounded by the reject
// timeout (WithRejectTimeout); ctx bounds the caller's wait.
//
// Errors: those of Get, plus ErrNoRefresher, ErrRefreshFailed (a
// *RefreshError carrying the function's message), ErrNotRefreshed, and,
// when the refresher declined to ask the vendor, ErrRecentlyRefreshed or
// ErrVersionBudget.
// accessToken itself never appears in an error.
func (r *Reader) Reject(ctx context.Context, secretID, accessToken string) (Token, error) {
	fp := token.Fingerprint(accessToken)
	now := r.now()
	if e := r.cached(secretID); e != nil && e.err == nil && now.Before(e.next) &&
		e.tok.Fingerprint != fp && !expired(e.tok, now) {
		return e.tok, nil
	}
	e, err := r.sharedFor(ctx, r.rejectTimeout, "reject\x00"+secretID+"\x00"+fp, func(ctx context.Context) (*entry, error) {
		return r.reject(ctx, secretID, fp)
	})
	if err != nil {
		var re *Error
		if errors.As(err, &re) {
			return Token{}, err
		}
		return Token{}, &Error{Op: "reject", SecretID: secretID, Err: err}
	}
	return e.tok, nil
}

// reject is the shared part of Reject.
func (r *Reader) reject(ctx context.Context, secretID, fp string) (*entry, error) {
	fail := func(fn string, err error) (*entry, error) {
		return nil, &Error{Op: "reject", SecretID: secretID, Function: fn, Err: err}
	}
	tok, err := r.read(ctx, secretID)
	if err != nil {
		return fail("", err)
	}
	now := r.now()
	if tok.Fingerprint != fp && !expired(tok, now) {
		e := r.entryFor(tok, now)
		r.store(secretID, e)
		return e, nil
	}
	// The stored token is the rejected one, or a different one that has
	// expired: either way that stored token is what must be replaced.
	fp = tok.Fingerprint
	if r.lambda == nil {
		return fail("", fmt.Errorf("%w: the reader has no Lambda client (WithLambda)", ErrNoRefresher))
	}
	if tok.Refresher == "" {
		return fail("", fmt.Errorf("%w: the token secret names no refresher", ErrNoRefresher))
	}
	fn := r.functionName(tok.Refresher)
	ev := rejectEvent{RejectedFingerprint: fp}
	if tok.Connection != "" && tok.Connection != vendors.DefaultConnection {
		ev.Connection = tok.Connection
	}
	payload, _ := json.Marshal(ev)
	// Apps invoke the refresher's reject alias: it takes rejected tokens
	// and never a forced refresh.
	// invoke asks the refresher; it reports whether the function was
	// throttled, and otherwise the fingerprint it answered with.
	invoke := func() (want string, throttled bool, _ error) {
		out, err := r.lambda.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(fn), Qualifier: aws.String(vendors.RejectAlias), Payload: payload})
		var tm *ltypes.TooManyRequestsException
		switch {
		case errors.As(err, &tm):
			// The function's only slot is taken: by another instance's
			// refresh of this token, or by a run of another connection.
			return "", true, nil
		case err != nil:
			return "", false, fmt.Errorf("invoke: %w", err)
		}
		if rerr := functionError(fn, out); rerr != nil {
			return "", false, rerr
		}
		var s summary
		if err := json.Unmarshal(out.Payload, &s); err != nil {
			return "", false, fmt.Errorf("invoke: reply is not a refresher summary: %v", err)
		}
		if s.Action == "skipped" && s.Reason != "" && s.Fingerprint == fp {
			if s.Refusal == "version_budget" {
				return "", false, fmt.Errorf("%w: %s", ErrVersionBudget, s.Reason)
			}
			return "", false, fmt.Errorf("%w: %s", ErrRecentlyRefreshed, s.Reason)
		}
		return s.Fingerprint, false, nil
	}
	want, throttled, err := invoke()
	if err != nil {
		return fail(fn, err)
	}
	// Read until the secret holds the refresher's token (or any token other
	// than the rejected one, when the refresher's answer is unknown).
	wait := 100 * time.Millisecond
	polls := 0
	for {
		tok, err := r.read(ctx, secretID)
		if err != nil {
			return fail(fn, err)
		}
		now := r.now()
		if (want != "" && tok.Fingerprint == want) || (want == "" && tok.Fingerprint != fp) {
			if expired(tok, now) {
				return fail(fn, &ExpiredError{Fingerprint: tok.Fingerprint, ExpiresAt: tok.ExpiresAt})
			}
			e := r.entryFor(tok, now)
			r.store(secretID, e)
			return e, nil
		}
		if polls++; throttled && tok.Fingerprint == fp && polls%4 == 0 {
			// Still the rejected token well after a throttled invoke:
			// the slot may have been another connection's run. Ask
			// again.
			if want, throttled, err = invoke(); err != nil {
				return fail(fn, err)
			}
			if !throttled {
				continue
			}
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			return fail(fn, ErrNotRefreshed)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fail(fn, ErrNotRefreshed)
		case <-t.C:
		}
		if wait *= 2; wait > 2*time.Second {
			wait = 2 * time.Second
		}
	}
}

// functionError returns a *RefreshError when the invocation's reply is a
// function error: Lambda marks it with X-Amz-Function-Error; the Runtime
// Interface Emulator only sends the error document.
func functionError(fn string, out *lambda.InvokeOutput) error {
	var doc struct {
		ErrorMessage *string `json:"errorMessage"`
		ErrorType    string  `json:"errorType"`
	}
	_ = json.Unmarshal(out.Payload, &doc)
	if out.FunctionError == nil && doc.ErrorMessage == nil {
		return nil
	}
	e := &RefreshError{Function: fn, Type: doc.ErrorType, Message: aws.ToString(doc.ErrorMessage)}
	if e.Message == "" {
		e.Message = aws.ToString(out.FunctionError)
	}
	return e
}
