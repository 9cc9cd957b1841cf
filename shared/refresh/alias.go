package refresh

import (
	"errors"
	"fmt"
	"strings"

	"github.com/token-refresher/token-refresher/shared/vendors"
)

// ErrForceRefused is wrapped by the error of a run that asked for a forced
// refresh through the reject alias (vendors.RejectAlias): apps may report a
// rejected token, only operators may force a refresh.
var ErrForceRefused = errors.New("force is refused on the reject alias")

// Qualifier returns the alias or version an invocation was made through,
// from its invoked function ARN (arn:aws:lambda:region:account:function:name[:qualifier]);
// "" for an unqualified invocation.
func Qualifier(invokedARN string) string {
	parts := strings.Split(invokedARN, ":")
	if len(parts) == 8 && parts[5] == "function" {
		return parts[7]
	}
	return ""
}

// CheckInvoker refuses what an invocation through qualifier may not ask
// for: on the reject alias, only {} and {"rejected_fingerprint": ...}
// (with a connection, once named) are allowed, never force.
func CheckInvoker(qualifier string, ev Event) error {
	if qualifier == vendors.RejectAlias && ev.Force {
		return fmt.Errorf("refresh: %w: invoke the function itself (not :%s) to force a refresh, as an operator", ErrForceRefused, vendors.RejectAlias)
	}
	return nil
}
