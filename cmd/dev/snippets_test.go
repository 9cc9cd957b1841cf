//go:build linux

package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/token-refresher/token-refresher/shared/secretstore"
	"github.com/token-refresher/token-refresher/shared/token"
	"github.com/token-refresher/token-refresher/shared/vendors"
)

// snippet returns the first fenced code block of language lang under the
// heading that starts with heading, in README.md or docs/apps.md.
func snippet(t *testing.T, root, heading, lang string) string {
	t.Helper()
	for _, f := range []string{"README.md", filepath.Join("docs", "apps.md")} {
		b, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			continue
		}
		text := string(b)
		i := strings.Index(text, "\n"+heading)
		if i < 0 {
			continue
		}
		re := regexp.MustCompile("(?s)\n```" + lang + "\n(.*?)\n```")
		if m := re.FindStringSubmatch(text[i:]); m != nil {
			return m[1]
		}
	}
	t.Fatalf("no %s snippet under %q in README.md or docs/apps.md", lang, heading)
	return ""
}

// jsSDKDir is where the Node snippet's SDK is installed (never a
// node_modules in the module root).
func jsSDKDir(root string) string { return filepath.Join(root, ".tools", "aws-sdk-js") }

// storedToken returns the token secret id holds.
func storedToken(t *testing.T, store *secretstore.Store, id string) token.Token {
	t.Helper()
	v, err := store.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := token.Parse(v.String)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// checkSnippets runs the README's Python, Node and CLI snippets for
// reading a token against dev, with only the environment dev prints.
func checkSnippets(t *testing.T, root string, env []string, store *secretstore.Store) {
	id := secretName(vendors.Fyber, vendors.RoleToken)
	current := func(t *testing.T) map[string]bool {
		// The token may be refreshed while a snippet runs: accept the
		// ones stored around it.
		t.Helper()
		tok := storedToken(t, store, id)
		return map[string]bool{tok.Fingerprint: true, token.Fingerprint(tok.Authorization): true}
	}
	run := func(t *testing.T, dir, name string, args ...string) string {
		t.Helper()
		before := current(t)
		cmd := exec.Command(name, args...)
		cmd.Dir = dir
		cmd.Env = env
		out, err := cmd.Output()
		if err != nil {
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				t.Fatalf("%s: %v\n%s", name, err, ee.Stderr)
			}
			t.Fatal(err)
		}
		got := strings.TrimSpace(string(out))
		after := current(t)
		if !before[got] && !after[got] && !before[token.Fingerprint(got)] && !after[token.Fingerprint(got)] {
			t.Fatalf("%s printed something else than the stored token (fingerprint %s)", name, token.Fingerprint(got))
		}
		return got
	}

	t.Run("Python", func(t *testing.T) {
		if exec.Command("python3", "-c", "import boto3").Run() != nil {
			t.Skip("python3 with boto3 is not installed")
		}
		code := snippet(t, root, "### Python", "python") + "\nprint(get_token(\"" + id + "\")[\"fingerprint\"])\n"
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "snippet.py"), []byte(code), 0o644); err != nil {
			t.Fatal(err)
		}
		run(t, dir, "python3", "snippet.py")
	})

	t.Run("Python reject of a named connection's token", func(t *testing.T) {
		if exec.Command("python3", "-c", "import boto3").Run() != nil {
			t.Skip("python3 with boto3 is not installed")
		}
		named := vendors.SecretName(vendors.DefaultPrefix, vendors.Merchenta, "acme", vendors.RoleToken)
		def := secretName(vendors.Merchenta, vendors.RoleToken)
		read := func(id string) token.Token { t.Helper(); return storedToken(t, store, id) }
		code := snippet(t, root, "### Python (boto3)", "python") + "\n" + snippet(t, root, "### Python: the reject rule", "python") +
			"\nprint(reject(\"" + named + "\", get_token(\"" + named + "\"))[\"fingerprint\"])\n"
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "reject.py"), []byte(code), 0o644); err != nil {
			t.Fatal(err)
		}
		before := read(named)
		cmd := exec.Command("python3", "reject.py")
		cmd.Dir, cmd.Env = dir, env
		out, err := cmd.Output()
		if err != nil {
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				t.Fatalf("reject recipe: %v\n%s", err, ee.Stderr)
			}
			t.Fatal(err)
		}
		got := strings.TrimSpace(string(out))
		if got == before.Fingerprint {
			t.Fatalf("the recipe returned the refused token %s", got)
		}
		if now := read(named); now.Fingerprint == before.Fingerprint {
			t.Errorf("merchenta/acme still holds the refused token %s", before.Fingerprint)
		}
		if d := read(def); d.Trigger == token.TriggerReject && d.RefreshedAt.After(before.RefreshedAt) {
			t.Errorf("the reject of merchenta/acme's token replaced the default connection's token (%s)", d.Fingerprint)
		}
	})

	t.Run("Node", func(t *testing.T) {
		if _, err := exec.LookPath("node"); err != nil {
			t.Skip("node is not installed")
		}
		sdk := jsSDKDir(root)
		if _, err := os.Stat(filepath.Join(sdk, "node_modules", "@aws-sdk", "client-secrets-manager")); err != nil {
			if _, err := exec.LookPath("npm"); err != nil {
				t.Skip("npm is not installed to fetch @aws-sdk/client-secrets-manager")
			}
			install := exec.Command("npm", "install", "--no-audit", "--no-fund", "--prefix", sdk, "@aws-sdk/client-secrets-manager@3")
			if out, err := install.CombinedOutput(); err != nil {
				t.Fatalf("npm install @aws-sdk/client-secrets-manager into %s: %v\n%s", sdk, err, out)
			}
		}
		dir := t.TempDir()
		if err := os.Symlink(filepath.Join(sdk, "node_modules"), filepath.Join(dir, "node_modules")); err != nil {
			t.Fatal(err)
		}
		code := snippet(t, root, "### Node.js", "js") + "\nconsole.log((await getToken(\"" + id + "\")).fingerprint);\n"
		if err := os.WriteFile(filepath.Join(dir, "snippet.mjs"), []byte(code), 0o644); err != nil {
			t.Fatal(err)
		}
		run(t, dir, "node", "snippet.mjs")
	})

	t.Run("AWS CLI", func(t *testing.T) {
		for _, tool := range []string{"aws", "jq", "bash"} {
			if _, err := exec.LookPath(tool); err != nil {
				t.Skip(tool + " is not installed")
			}
		}
		code := snippet(t, root, "### AWS CLI", "sh")
		run(t, t.TempDir(), "bash", "-euo", "pipefail", "-c", code)
	})
}
