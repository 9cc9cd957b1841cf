// Command tokenctl is the operator's tool for token-refresher: it shows the
// state of every vendor's token, writes a vendor's credentials secret,
// forces a refresh, and mints the signed link that connects Admitad.
//
//	tokenctl status [<vendor>[/<connection>] ...] [--json]
//	tokenctl set-credentials <vendor>[/<connection>] [--secret-id ID] [--allow-untagged] [--json]
//	tokenctl refresh <vendor>[/<connection>] [--function NAME] [--json]
//	tokenctl connect admitad[/<connection>] --url URL [--key-secret-id ID] [--ttl 15m] [--json]
//	tokenctl version [--json] | tokenctl --version
//	tokenctl completion bash|zsh|fish
//
// Every command takes --prefix. Names follow the stack (infra, and
// shared/vendors): secrets <prefix>/<vendor>/{token,credentials} for a
// vendor's default connection, <prefix>/<vendor>/<connection>/... for a
// named one, <prefix>/admitad/signing-key; functions <prefix>-<vendor>.
// The prefix is --prefix, else $TOKENCTL_PREFIX, else "token-refresher".
// AWS access uses the SDK's usual configuration (AWS_PROFILE, AWS_REGION,
// ...); AWS_ENDPOINT_URL_SECRETS_MANAGER and AWS_ENDPOINT_URL_LAMBDA point
// it at a local stack.
//
// Secrets are never taken as arguments: set-credentials reads them from
// stdin, or prompts on a terminal (secret fields without echo). Nothing
// tokenctl prints contains a credential or a token; tokens are shown by
// fingerprint. set-credentials writes only into a secret the stack tagged
// as that vendor's (and connection's) credentials secret.
//
// Commands and flags are built with github.com/spf13/cobra: it is what
// kubectl, gh and docker use, so operators find the conventions they know
// (--long flags, help on every command, "did you mean", completion scripts
// for bash, zsh and fish, --version) without tokenctl writing them.
package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"golang.org/x/term"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	e := &env{
		stdin:   os.Stdin,
		stdout:  os.Stdout,
		stderr:  os.Stderr,
		getenv:  os.Getenv,
		now:     time.Now,
		clients: loadAWS,
		prompter: func() (prompter, error) {
			return newTermPrompter(os.Stdin, os.Stderr)
		},
		stdinTerminal:  term.IsTerminal(int(os.Stdin.Fd())),
		stderrTerminal: term.IsTerminal(int(os.Stderr.Fd())),
	}
	os.Exit(run(ctx, os.Args[1:], e))
}

// env is everything a command touches outside itself.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	now            func() time.Time
	// clients builds the AWS clients on first use.
	clients func(ctx context.Context) (clientSet, error)
	// prompter opens the terminal for set-credentials' questions; used
	// only when stdinTerminal.
	prompter func() (prompter, error)
	// stdinTerminal: set-credentials prompts instead of reading JSON.
	// stderrTerminal: refresh shows that it is waiting.
	stdinTerminal, stderrTerminal bool
}
