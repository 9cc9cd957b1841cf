package functions_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/token-refresher/token-refresher/internal/localaws"
	"github.com/token-refresher/token-refresher/shared/lambdafn"
	"github.com/token-refresher/token-refresher/shared/vendors"
	"github.com/token-refresher/token-refresher/shared/vendortest"
)

// TestErrorTypes: a real bootstrap under aws-lambda-rie answers each kind
// of failure with its documented errorType, never a Go type name such as
// wrapError.
func TestErrorTypes(t *testing.T) {
	ctx := context.Background()
	f := newFyberFixture(t, "errtypes/fyber")
	moto, srv, credsID, tokID := f.moto, f.srv, f.credsID, f.tokID
	env := append(moto.Env(), "TOKEN_SECRET_ID="+tokID, "TOKEN_URL="+srv.TokenURL(), "AWS_LAMBDA_FUNCTION_TIMEOUT=20", "AWS_LAMBDA_FUNCTION_NAME=token-refresher-fyber")
	fn := localaws.FunctionForTest(t, vendors.Fyber, append(env, "CREDENTIALS_SECRET_ID="+credsID))
	noCreds := localaws.FunctionForTest(t, vendors.Fyber, append(env, "CREDENTIALS_SECRET_ID=errtypes/fyber/absent"))
	cases := []struct {
		name  string
		fn    *localaws.Function
		fault string
		event string
		want  string
	}{
		{"not a fingerprint", fn, "", `{"rejected_fingerprint":"zz"}`, lambdafn.ErrorTypeInvalidEvent},
		{"unknown connection", fn, "", `{"connection":"initech"}`, lambdafn.ErrorTypeUnknownConnection},
		{"no credentials", noCreds, "", `{"force":true}`, lambdafn.ErrorTypeCredentialsMissing},
		{"vendor refuses", fn, `{"status":400,"body":"{\"error\":\"invalid_client\"}"}`, `{"force":true}`, lambdafn.ErrorTypeVendorRejected},
		{"vendor down", fn, `{"status":503,"count":10}`, `{"force":true}`, lambdafn.ErrorTypeVendorUnavailable},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv.ClearFaults()
			if tc.fault != "" {
				var f vendortest.Fault
				if err := json.Unmarshal([]byte(tc.fault), &f); err != nil {
					t.Fatal(err)
				}
				srv.Inject(f)
			}
			ictx, cancel := context.WithTimeout(ctx, 60*time.Second)
			defer cancel()
			res, err := tc.fn.Invoke(ictx, []byte(tc.event))
			if err != nil {
				t.Fatal(err)
			}
			if !res.Failed() || res.ErrorType != tc.want {
				t.Fatalf("errorType %q (%s), want %q", res.ErrorType, res.ErrorMessage, tc.want)
			}
			if strings.Contains(res.ErrorMessage, vendortest.Credentials(vendors.Fyber)["client_secret"]) {
				t.Errorf("the error message holds the client secret")
			}
		})
	}
}
