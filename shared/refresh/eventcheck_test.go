package refresh

import (
	"strings"
	"testing"
)

// TestParseEventFingerprint: a rejected_fingerprint that is not 16
// lowercase hex digits is refused, saying so, and never quoted.
func TestParseEventFingerprint(t *testing.T) {
	cases := []struct {
		name, in string
		wantErr  bool
	}{
		{"fingerprint", `{"rejected_fingerprint":"0123456789abcdef"}`, false},
		{"in detail", `{"detail":{"rejected_fingerprint":"0123456789abcdef"}}`, false},
		{"none", `{"rejected_fingerprint":""}`, false},
		{"too short", `{"rejected_fingerprint":"zz"}`, true},
		{"not hex", `{"rejected_fingerprint":"0123456789abcdeg"}`, true},
		{"upper case", `{"rejected_fingerprint":"0123456789ABCDEF"}`, true},
		{"too long", `{"rejected_fingerprint":"0123456789abcdef0"}`, true},
		{"a token sent by mistake", `{"rejected_fingerprint":"eyJhbGciOiJIUzI1NiJ9.secret-part"}`, true},
		{"bad in detail", `{"detail":{"rejected_fingerprint":"zz"}}`, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseEvent([]byte(tc.in))
			if (err != nil) != tc.wantErr {
				t.Fatalf("ParseEvent(%s) error = %v, want error %v", tc.in, err, tc.wantErr)
			}
			if err == nil {
				return
			}
			if !strings.Contains(err.Error(), "rejected_fingerprint is not a token fingerprint") || !strings.Contains(err.Error(), "16 lowercase hex digits") {
				t.Errorf("error %q does not say what a fingerprint is", err)
			}
			if strings.Contains(err.Error(), "secret-part") || strings.Contains(err.Error(), `"zz"`) {
				t.Errorf("error %q quotes the value", err)
			}
		})
	}
}
