package admitad_test

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/token-refresher/token-refresher/shared/admitad"
)

// TestCheckKeyRefusesPlainlyNonRandom: a key of the right length that is
// plainly not random is refused, saying why and never quoting it.
func TestCheckKeyRefusesPlainlyNonRandom(t *testing.T) {
	for _, tc := range []struct {
		name, key, want string
	}{
		{"short", "Kx7pQ2mZ9vR4tL8w", "shorter than the 32-byte minimum"},
		{"32 a's", strings.Repeat("a", 32), "only 1 distinct bytes"},
		{"two letters", strings.Repeat("ab", 20), "only 2 distinct bytes"},
		{"one long run", strings.Repeat("a", 31) + "b", "only 2 distinct bytes"},
		{"a word repeated", strings.Repeat("password", 4), "repeats one 8-byte pattern"},
		{"digits repeated", "01234567890123456789012345678901", "repeats one 10-byte pattern"},
		{"the alphabet", "abcdefghijklmnopqrstuvwxyz012345", "run of 26 equal or consecutive bytes"},
		{"pairs climbing", "aabbccddeeffgghhiijjkkllmmnnoopp", "run of 32 equal or consecutive bytes"},
		{"two bytes, mostly", "acacacaecacacacgacacacaeacacacca", "estimated entropy of 46 bits"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, secret := range []string{tc.key, `{"key":"` + tc.key + `"}`} {
				_, err := admitad.ParseSigningKey(secret)
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("ParseSigningKey = %v, want an error saying %q", err, tc.want)
				}
				if strings.Contains(err.Error(), tc.key[:8]) {
					t.Errorf("the error quotes the key: %v", err)
				}
			}
		})
	}
}

// TestCheckKeyAcceptsRandomKeys: random keys in every usual alphabet pass,
// including the stack's (64 letters and digits) and openssl rand -hex 32.
func TestCheckKeyAcceptsRandomKeys(t *testing.T) {
	const alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	gen := map[string]func(b []byte) string{
		"hex":    hex.EncodeToString,
		"base64": base64.RawURLEncoding.EncodeToString,
		"letters and digits": func(b []byte) string {
			out := make([]byte, len(b))
			for i, c := range b {
				out[i] = alnum[int(c)%len(alnum)]
			}
			return string(out)
		},
		"decimal digits": func(b []byte) string {
			out := make([]byte, len(b))
			for i, c := range b {
				out[i] = '0' + c%10
			}
			return string(out)
		},
		"raw bytes": func(b []byte) string { return string(b) },
	}
	for name, enc := range gen {
		t.Run(name, func(t *testing.T) {
			for range 2000 {
				b := make([]byte, 32)
				rand.Read(b)
				if key := enc(b); len(key) >= admitad.MinKeyLen {
					if err := admitad.CheckKey([]byte(key)); err != nil {
						t.Fatalf("a random %s key is refused: %v", name, err)
					}
				}
			}
		})
	}
	for _, key := range []string{
		"k3y-0123456789abcdef0123456789abcdef-signing", // tokenctl's tests
		"correct horse battery staple ok!",
	} {
		if err := admitad.CheckKey([]byte(key)); err != nil {
			t.Errorf("CheckKey(%.8q…) = %v", key, err)
		}
	}
}
