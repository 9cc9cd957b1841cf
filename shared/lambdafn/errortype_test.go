package lambdafn

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/aws/smithy-go"

	"github.com/token-refresher/token-refresher/shared/refresh"
	"github.com/token-refresher/token-refresher/shared/secretstore"
	"github.com/token-refresher/token-refresher/shared/vendorhttp"
	"github.com/token-refresher/token-refresher/shared/vendors"
)

var errVendorOwn = errors.New("vendor's own failure")

// TestErrorType: every kind of failure has its stable errorType, whatever
// Go type carries it, and the vendor's own rules come first.
func TestErrorType(t *testing.T) {
	runErr := func(cause error) error { return fmt.Errorf("fyber: run: %w", cause) }
	apiErr := func(code string, fault smithy.ErrorFault) error {
		return &smithy.OperationError{ServiceID: "Secrets Manager", OperationName: "PutSecretValue",
			Err: &smithy.GenericAPIError{Code: code, Message: "m", Fault: fault}}
	}
	cases := []struct {
		name string
		err  error
		want string
	}{
		{"force on the alias", refresh.CheckInvoker(vendors.RejectAlias, refresh.Event{Force: true}), ErrorTypeForceRefused},
		{"credentials missing", runErr(fmt.Errorf("x: %w", refresh.ErrCredentialsMissing)), ErrorTypeCredentialsMissing},
		{"vendor refuses credentials", runErr(&vendorhttp.Error{Vendor: "fyber", Status: 401, Code: "invalid_client"}), ErrorTypeVendorRejected},
		{"vendor 500", runErr(&vendorhttp.Error{Vendor: "fyber", Status: 500, Retryable: true}), ErrorTypeVendorUnavailable},
		{"vendor 429", runErr(&vendorhttp.Error{Vendor: "fyber", Status: 429}), ErrorTypeVendorUnavailable},
		{"vendor silent", runErr(&vendorhttp.Error{Vendor: "fyber", Err: errors.New("connection refused")}), ErrorTypeVendorUnavailable},
		{"secrets manager down", runErr(apiErr("InternalServiceError", smithy.FaultServer)), ErrorTypeSecretsManagerUnavailable},
		{"secrets manager throttles", runErr(apiErr("ThrottlingException", smithy.FaultClient)), ErrorTypeSecretsManagerUnavailable},
		{"secrets manager timeout", runErr(secretstore.ErrCallTimeout), ErrorTypeSecretsManagerUnavailable},
		{"secrets manager no answer", runErr(&smithy.OperationError{ServiceID: "Secrets Manager", Err: errors.New("dial tcp: refused")}), ErrorTypeSecretsManagerUnavailable},
		{"access denied", runErr(apiErr("AccessDeniedException", smithy.FaultClient)), ErrorTypeSecretsManagerRefused},
		{"vendor's own rule first", runErr(fmt.Errorf("%w: %w", errVendorOwn, &vendorhttp.Error{Status: 400})), ErrorTypeReconnectRequired},
		{"anything else", errors.New("fyber: vendor reply: token is already expired: old token kept"), ErrorTypeRefreshFailed},
	}
	rules := []ErrorRule{{Err: errVendorOwn, Type: ErrorTypeReconnectRequired}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := ErrorType(tc.err, rules...); got != tc.want {
				t.Errorf("ErrorType(%v) = %q, want %q", tc.err, got, tc.want)
			}
			var ie messages.InvokeResponse_Error
			if !errors.As(LambdaError(tc.err, rules...), &ie) || ie.Type != tc.want || ie.Message != tc.err.Error() {
				t.Errorf("LambdaError = %#v, want type %q and the message", ie, tc.want)
			}
		})
	}
	if LambdaError(nil) != nil {
		t.Error("LambdaError(nil) is not nil")
	}
	seen := map[string]bool{}
	for _, typ := range ErrorTypes {
		if typ == "" || seen[typ] || typ[0] < 'A' || typ[0] > 'Z' {
			t.Errorf("errorType %q is empty, repeated or not CamelCase", typ)
		}
		seen[typ] = true
	}
}

// TestHandlerErrorTypes: the handler names a bad event and an unknown
// connection before any AWS call.
func TestHandlerErrorTypes(t *testing.T) {
	env := map[string]string{
		"CREDENTIALS_SECRET_ID": "token-refresher/fyber/credentials", "TOKEN_SECRET_ID": "token-refresher/fyber/token",
		"AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x",
		"AWS_ENDPOINT_URL_SECRETS_MANAGER": "http://127.0.0.1:1",
	}
	h, err := NewHandler(context.Background(), vendors.MustLookup(vendors.Fyber), func(k string) string { return env[k] },
		func(Config, *secretstore.Store) (refresh.Vendor, error) { return nil, nil }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct{ name, event, want string }{
		{"not an object", `[1]`, ErrorTypeInvalidEvent},
		{"not a fingerprint", `{"rejected_fingerprint":"zz"}`, ErrorTypeInvalidEvent},
		{"unknown connection", `{"connection":"initech"}`, ErrorTypeUnknownConnection},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := h.Invoke(context.Background(), json.RawMessage(tc.event))
			if err == nil {
				t.Fatal("no error")
			}
			if got := ErrorType(err); got != tc.want {
				t.Errorf("errorType %q (%v), want %q", got, err, tc.want)
			}
		})
	}
}
