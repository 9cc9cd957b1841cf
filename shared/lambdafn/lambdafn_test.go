package lambdafn

import (
	"strings"
	"testing"

	"github.com/token-refresher/token-refresher/shared/vendors"
)

func TestLoadConfig(t *testing.T) {
	base := map[string]string{
		"CREDENTIALS_SECRET_ID":    "token-refresher/fyber/credentials",
		"TOKEN_SECRET_ID":          "token-refresher/fyber/token",
		"AWS_LAMBDA_FUNCTION_NAME": "token-refresher-fyber",
	}
	tests := []struct {
		name     string
		vendor   string
		set      map[string]string
		want     string // error substring; "" = ok
		endpoint string
	}{
		{name: "defaults to the production URL", vendor: vendors.Fyber, endpoint: "https://reporting.fyber.com/auth/v1/token"},
		{name: "TOKEN_URL overrides", vendor: vendors.Fyber, set: map[string]string{"TOKEN_URL": "http://127.0.0.1:8080/auth/v1/token"}, endpoint: "http://127.0.0.1:8080/auth/v1/token"},
		{name: "plain HTTP to a remote host refused", vendor: vendors.Fyber, set: map[string]string{"TOKEN_URL": "http://reporting.fyber.com/auth/v1/token"}, want: "TOKEN_URL"},
		{name: "no credentials secret", vendor: vendors.Fyber, set: map[string]string{"CREDENTIALS_SECRET_ID": ""}, want: "CREDENTIALS_SECRET_ID is not set"},
		{name: "no token secret", vendor: vendors.Fyber, set: map[string]string{"TOKEN_SECRET_ID": ""}, want: "TOKEN_SECRET_ID is not set"},
		{name: "invoca reads VALIDATE_URL", vendor: vendors.Invoca, set: map[string]string{"TOKEN_URL": "https://ignored", "VALIDATE_URL": "https://acme.invoca.net/api/x"}, endpoint: "https://acme.invoca.net/api/x"},
		{name: "invoca without URL leaves it to the credentials", vendor: vendors.Invoca, endpoint: ""},
		{name: "admitad needs its refresh secret", vendor: vendors.Admitad, want: "REFRESH_SECRET_ID is not set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range base {
				env[k] = v
			}
			for k, v := range tt.set {
				env[k] = v
			}
			cfg, err := LoadConfig(vendors.MustLookup(tt.vendor), func(k string) string { return env[k] })
			if tt.want != "" {
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("err = %v, want %q", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Endpoint != tt.endpoint || cfg.Target.TokenSecretID != env["TOKEN_SECRET_ID"] || cfg.FunctionName != "token-refresher-fyber" {
				t.Errorf("config = %+v", cfg)
			}
		})
	}
}
