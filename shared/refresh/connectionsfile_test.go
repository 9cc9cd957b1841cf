package refresh

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/token-refresher/token-refresher/shared/vendors"
)

// TestConnectionsFile: a thousand connections, more than CONNECTIONS can
// hold in Lambda's 4 KB of environment, are read from CONNECTIONS_FILE,
// served under the same secret names, and an unknown one is still refused
// by Lookup (before any Secrets Manager call).
func TestConnectionsFile(t *testing.T) {
	spec := vendors.MustLookup(vendors.Fyber)
	names := make([]string, 1000)
	for i := range names {
		names[i] = fmt.Sprintf("c%d", i)
	}
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	lines := write("lines", strings.Join(names, "\n")+"\n")
	commas := write("commas", strings.Join(names, ","))
	empty := write("empty", "\n")
	base := map[string]string{
		"CREDENTIALS_SECRET_ID": "token-refresher/fyber/credentials",
		"TOKEN_SECRET_ID":       "token-refresher/fyber/token",
		"NAME_PREFIX":           "token-refresher",
	}
	load := func(set map[string]string) (Targets, error) {
		env := map[string]string{}
		for k, v := range base {
			env[k] = v
		}
		for k, v := range set {
			env[k] = v
		}
		return LoadTargets(spec, func(k string) string { return env[k] })
	}
	for _, path := range []string{lines, commas} {
		t.Run(filepath.Base(path), func(t *testing.T) {
			tg, err := load(map[string]string{EnvConnectionsFile: path})
			if err != nil {
				t.Fatal(err)
			}
			if got := len(tg.Names()); got != 1001 {
				t.Fatalf("%d connections served, want 1,001 (the default and 1,000)", got)
			}
			c, err := tg.Lookup(spec.Name, "c999")
			if err != nil || c.TokenSecretID != "token-refresher/fyber/c999/token" || c.CredentialsSecretID != "token-refresher/fyber/c999/credentials" {
				t.Errorf("c999: %+v, %v", c, err)
			}
			_, err = tg.Lookup(spec.Name, "initech")
			if err == nil || !strings.Contains(err.Error(), `unknown connection "initech"`) || !strings.Contains(err.Error(), "(1001 connections)") || len(err.Error()) > 400 {
				t.Errorf("unknown connection: %v", err)
			}
		})
	}
	for name, tc := range map[string]struct {
		set  map[string]string
		want string
	}{
		"both set":          {map[string]string{"CONNECTIONS": "acme", EnvConnectionsFile: lines}, "both set"},
		"missing file":      {map[string]string{EnvConnectionsFile: filepath.Join(dir, "absent")}, "CONNECTIONS_FILE"},
		"empty file":        {map[string]string{EnvConnectionsFile: empty}, "lists no connection"},
		"bad name in file":  {map[string]string{EnvConnectionsFile: write("bad", "acme\nBad Name\n")}, "CONNECTIONS"},
		"default in a file": {map[string]string{EnvConnectionsFile: write("default", "default\n")}, "default connection"},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := load(tc.set); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
	t.Run("CONNECTIONS alone as before", func(t *testing.T) {
		tg, err := load(map[string]string{"CONNECTIONS": "acme,globex"})
		if err != nil || strings.Join(tg.Names(), ",") != "default,acme,globex" {
			t.Errorf("names %v, %v", tg.Names(), err)
		}
	})
}
