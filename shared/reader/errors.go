package reader

import (
	"errors"
	"fmt"
	"time"

	"github.com/token-refresher/token-refresher/shared/token"
)

// Causes an *Error may wrap; match them with errors.Is.
var (
	// ErrNotFound: the token secret, or its current value, does not exist.
	ErrNotFound = errors.New("token secret not found")
	// ErrMalformed: the secret's value is not a valid token secret. It is
	// token.ErrMalformed, so either matches.
	ErrMalformed = token.ErrMalformed
	// ErrExpired: the stored token has expired and there is no fresher one.
	// The error is an *ExpiredError.
	ErrExpired = errors.New("token expired")
	// ErrNoRefresher: Reject cannot invoke a refresher, because the reader
	// has no Lambda client or the token secret names no refresher.
	ErrNoRefresher = errors.New("no refresher to invoke")
	// ErrRefreshFailed: the refresher ran and failed. The error is a
	// *RefreshError.
	ErrRefreshFailed = errors.New("refresher failed")
	// ErrNotRefreshed: Reject waited, and the secret still holds the
	// rejected token.
	ErrNotRefreshed = errors.New("token secret still holds the rejected token")
	// ErrRecentlyRefreshed: the refresher declined to ask the vendor again
	// because the rejected token is younger than refresh.MinRejectInterval
	// (one minute). The vendor refused a token it issued moments ago:
	// retrying will not help before the interval has passed.
	ErrRecentlyRefreshed = errors.New("the rejected token was obtained too recently to be replaced")
	// ErrVersionBudget: the refresher declined to ask the vendor again
	// because the token secret already has refresh.RejectVersionBudget
	// versions from the last 24 hours; rejects resume as they age out,
	// and scheduled refreshes go on meanwhile.
	ErrVersionBudget = errors.New("the token secret has used its budget of versions for rejects")
)

// Error is every error a Reader returns.
type Error struct {
	// Op is "get" or "reject".
	Op string
	// SecretID is the secret the call was about.
	SecretID string
	// Function is the refresher Reject invoked, if it got that far.
	Function string
	// Err is the cause.
	Err error
}

func (e *Error) Error() string {
	if e.Function != "" {
		return fmt.Sprintf("reader: %s %s (refresher %s): %v", e.Op, e.SecretID, e.Function, e.Err)
	}
	return fmt.Sprintf("reader: %s %s: %v", e.Op, e.SecretID, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// ExpiredError reports a stored token past its expiry.
type ExpiredError struct {
	Fingerprint string
	ExpiresAt   time.Time
}

func (e *ExpiredError) Error() string {
	return fmt.Sprintf("token %s expired at %s and no fresher one is stored", e.Fingerprint, e.ExpiresAt.UTC().Format(time.RFC3339))
}

// Is makes errors.Is(err, ErrExpired) true.
func (e *ExpiredError) Is(target error) bool { return target == ErrExpired }

// RefreshError reports a refresher that failed. Message is the function's
// own error message, which the refresher guarantees holds no secret.
type RefreshError struct {
	Function string
	Type     string
	Message  string
}

func (e *RefreshError) Error() string {
	if e.Type != "" {
		return fmt.Sprintf("refresher %s failed (%s): %s", e.Function, e.Type, e.Message)
	}
	return fmt.Sprintf("refresher %s failed: %s", e.Function, e.Message)
}

// Is makes errors.Is(err, ErrRefreshFailed) true.
func (e *RefreshError) Is(target error) bool { return target == ErrRefreshFailed }
