package refresh

import "fmt"

// FingerprintLen is the length of a token's fingerprint (token.Fingerprint):
// 16 lowercase hex digits.
const FingerprintLen = 16

// checkEvent refuses an event whose fields cannot mean anything: a
// rejected_fingerprint that is not a fingerprint would never match the
// stored token and would be a silent skip. The value is not quoted in the
// error: a caller that sends the token itself by mistake must not find it
// in a log.
func checkEvent(ev Event) error {
	if fp := ev.RejectedFingerprint; fp != "" && !isFingerprint(fp) {
		return fmt.Errorf("refresh: rejected_fingerprint is not a token fingerprint (%d characters): send the token secret's \"fingerprint\", %d lowercase hex digits", len(fp), FingerprintLen)
	}
	return nil
}

// isFingerprint reports whether s has the form of token.Fingerprint.
func isFingerprint(s string) bool {
	if len(s) != FingerprintLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
