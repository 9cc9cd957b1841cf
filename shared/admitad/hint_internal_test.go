package admitad

import (
	"errors"
	"strings"
	"testing"
)

func TestConnectInstructionsNameTheConnection(t *testing.T) {
	base := &reconnectError{step: "refresh", cause: errors.New("HTTP 400 invalid_grant")}
	for _, tc := range []struct{ conn, want, not string }{
		{"", "`make connect-admitad` (or `tokenctl connect admitad`)", "admitad/"},
		{"default", "`make connect-admitad` (or `tokenctl connect admitad`)", "admitad/"},
		{"eu", "run `tokenctl connect admitad/eu`", "make connect-admitad"},
	} {
		err := forConnection(base, tc.conn)
		if !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), tc.not) {
			t.Errorf("connection %q: %q, want it to say %q and not %q", tc.conn, err, tc.want, tc.not)
		}
		if !errors.Is(err, ErrReconnect) {
			t.Errorf("connection %q: the error no longer wraps ErrReconnect", tc.conn)
		}
	}
}
