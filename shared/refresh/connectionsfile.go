package refresh

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/token-refresher/token-refresher/shared/vendors"
)

// EnvConnectionsFile names a file that lists a function's named
// connections, for a vendor with more than fit in Lambda's 4 KB of
// environment (CONNECTIONS). The stack sets one or the other, never both;
// it ships the file in a Lambda layer (docs/deploying.md, "How connections
// scale"). The names are separated by commas or white space (one a line).
const EnvConnectionsFile = vendors.EnvConnectionsFile

// maxConnectionsFile bounds what is read: 32 KB is 1,000 names of the
// longest length a connection may have, with separators.
const maxConnectionsFile = 1000 * (32 + 1)

// connectionList returns the named connections of getenv, comma-separated:
// CONNECTIONS, or the contents of CONNECTIONS_FILE. The file is read once,
// at cold start, before any AWS call.
func connectionList(spec vendors.Spec, getenv func(string) string) (string, error) {
	list := strings.TrimSpace(getenv("CONNECTIONS"))
	path := strings.TrimSpace(getenv(EnvConnectionsFile))
	if path == "" {
		return list, nil
	}
	if list != "" {
		return "", fmt.Errorf("%s: CONNECTIONS and %s are both set; the stack sets one of them", spec.Name, EnvConnectionsFile)
	}
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("%s: %s: %w", spec.Name, EnvConnectionsFile, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 4*maxConnectionsFile+1))
	if err != nil {
		return "", fmt.Errorf("%s: %s: %w", spec.Name, EnvConnectionsFile, err)
	}
	if len(b) > 4*maxConnectionsFile {
		return "", fmt.Errorf("%s: %s: %s is larger than %d bytes", spec.Name, EnvConnectionsFile, path, 4*maxConnectionsFile)
	}
	names := strings.FieldsFunc(string(b), func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r' })
	if len(names) == 0 {
		return "", fmt.Errorf("%s: %s: %w", spec.Name, EnvConnectionsFile, errors.New(path+" lists no connection"))
	}
	return strings.Join(names, ","), nil
}
