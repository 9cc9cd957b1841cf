package lambdafn

import (
	"errors"
	"strings"

	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/aws/smithy-go"

	"github.com/token-refresher/token-refresher/shared/refresh"
	"github.com/token-refresher/token-refresher/shared/secretstore"
	"github.com/token-refresher/token-refresher/shared/vendorhttp"
)

// The errorType a failed invocation of a refresher carries (Lambda's
// {"errorMessage","errorType"}; the AWS SDK's FunctionError is
// "Unhandled"). These names are a public contract: apps and alarms match
// on them, so they are only ever added to (docs/contract.md, "Errors").
// The runtime's own failures keep Lambda's names (Runtime.ExitError,
// Sandbox.Timedout).
const (
	// ErrorTypeInvalidEvent: the event is not one a refresher takes (not
	// a JSON object, a rejected_fingerprint that is not a fingerprint).
	ErrorTypeInvalidEvent = "InvalidEvent"
	// ErrorTypeForceRefused: {"force":true} through the reject alias.
	ErrorTypeForceRefused = "ForceRefused"
	// ErrorTypeUnknownConnection: the event names a connection the
	// function does not serve.
	ErrorTypeUnknownConnection = "UnknownConnection"
	// ErrorTypeCredentialsMissing: the credentials secret is not
	// configured, does not exist, is not filled in, or lacks a field.
	ErrorTypeCredentialsMissing = "CredentialsMissing"
	// ErrorTypeNotConnected: Admitad was never connected.
	ErrorTypeNotConnected = "NotConnected"
	// ErrorTypeReconnectRequired: Admitad no longer accepts the refresh
	// token; a person must connect again.
	ErrorTypeReconnectRequired = "ReconnectRequired"
	// ErrorTypeVendorRejected: the vendor refused the request for good
	// (a 4xx other than 429: wrong or revoked credentials).
	ErrorTypeVendorRejected = "VendorRejected"
	// ErrorTypeVendorUnavailable: the vendor did not answer, answered 429
	// or 5xx, or timed out; the next run tries again.
	ErrorTypeVendorUnavailable = "VendorUnavailable"
	// ErrorTypeSecretsManagerUnavailable: a Secrets Manager call failed
	// for a reason that may pass (a timeout, throttling, a 5xx, no
	// answer).
	ErrorTypeSecretsManagerUnavailable = "SecretsManagerUnavailable"
	// ErrorTypeSecretsManagerRefused: Secrets Manager refused a call
	// (access denied, a secret that does not exist, a bad request).
	ErrorTypeSecretsManagerRefused = "SecretsManagerRefused"
	// ErrorTypeLaneUnavailable: the vendor's function could not hand a
	// run to its connection's lane (the lane stayed busy
	// until the deadline, or could not be invoked); the run did not
	// happen. A run that the lane made and that failed keeps the lane's
	// own errorType.
	ErrorTypeLaneUnavailable = "LaneUnavailable"
	// ErrorTypeRefreshFailed: any other failure of a run (a vendor reply
	// that fails validation, a token too large to store, ...).
	ErrorTypeRefreshFailed = "RefreshFailed"
)

// ErrorTypes lists every errorType a refresher returns, for docs and
// tests.
var ErrorTypes = []string{
	ErrorTypeInvalidEvent, ErrorTypeForceRefused, ErrorTypeUnknownConnection, ErrorTypeCredentialsMissing,
	ErrorTypeNotConnected, ErrorTypeReconnectRequired, ErrorTypeVendorRejected, ErrorTypeVendorUnavailable,
	ErrorTypeSecretsManagerUnavailable, ErrorTypeSecretsManagerRefused, ErrorTypeLaneUnavailable, ErrorTypeRefreshFailed,
}

// ErrorRule gives errors that match Err (errors.Is) the errorType Type. A
// vendor package passes its own to Main (Admitad: NotConnected,
// ReconnectRequired); they are checked before the common ones.
type ErrorRule struct {
	Err  error
	Type string
}

// typedError is an error whose errorType the handler knew where it
// happened (the event, the invoker, the connection).
type typedError struct {
	typ string
	err error
}

func (e *typedError) Error() string { return e.err.Error() }
func (e *typedError) Unwrap() error { return e.err }

func typed(typ string, err error) error { return &typedError{typ: typ, err: err} }

// ErrorType returns the errorType of a refresher's failed invocation: see
// the ErrorType constants. rules come first; an error nothing names is
// ErrorTypeRefreshFailed.
func ErrorType(err error, rules ...ErrorRule) string {
	var te *typedError
	if errors.As(err, &te) {
		return te.typ
	}
	var re *relayedError
	if errors.As(err, &re) {
		return re.typ
	}
	for _, r := range rules {
		if errors.Is(err, r.Err) {
			return r.Type
		}
	}
	switch {
	case errors.Is(err, refresh.ErrForceRefused):
		return ErrorTypeForceRefused
	case errors.Is(err, refresh.ErrCredentialsMissing):
		return ErrorTypeCredentialsMissing
	}
	var ve *vendorhttp.Error
	if errors.As(err, &ve) {
		if ve.Retryable || ve.Status == 0 || ve.Status == 429 || ve.Status >= 500 {
			return ErrorTypeVendorUnavailable
		}
		return ErrorTypeVendorRejected
	}
	var op *smithy.OperationError
	if errors.As(err, &op) || errors.Is(err, secretstore.ErrCallTimeout) {
		var api smithy.APIError
		if errors.As(err, &api) && api.ErrorFault() == smithy.FaultClient && !strings.Contains(api.ErrorCode(), "Throttl") {
			return ErrorTypeSecretsManagerRefused
		}
		return ErrorTypeSecretsManagerUnavailable
	}
	return ErrorTypeRefreshFailed
}

// LambdaError returns err as aws-lambda-go sends it to Lambda: its
// message, and its errorType from ErrorType (not a Go type name). nil
// stays nil.
func LambdaError(err error, rules ...ErrorRule) error {
	if err == nil {
		return nil
	}
	return messages.InvokeResponse_Error{Message: err.Error(), Type: ErrorType(err, rules...)}
}
