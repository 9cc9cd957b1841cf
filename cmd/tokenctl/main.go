// Command tokenctl is the operator's tool for token-refresher: it shows the
// state of every vendor's token, writes a vendor's credentials secret,
// forces a refresh, and mints the signed link that connects Admitad.
//
//	tokenctl [--prefix P] status [--vendor v,...]
//	tokenctl [--prefix P] set-credentials <vendor> [--secret-id ID]
//	tokenctl [--prefix P] refresh <vendor> [--function NAME]
//	tokenctl [--prefix P] connect admitad --url URL [--key-secret-id ID] [--ttl 15m]
//
// Names follow the stack (infra): secrets <prefix>/<vendor>/token,
// <prefix>/<vendor>/credentials and <prefix>/admitad/signing-key; functions
// <prefix>-<vendor>. The prefix is --prefix, else $TOKENCTL_PREFIX, else
// "token-refresher". AWS access uses the SDK's usual configuration
// (AWS_PROFILE, AWS_REGION, ...); AWS_ENDPOINT_URL_SECRETS_MANAGER and
// AWS_ENDPOINT_URL_LAMBDA point it at a local stack (moto_server and
// aws-lambda-rie; the emulator answers only for the function name
// "function", so pass --function function to refresh).
//
// Secrets are never taken as arguments: set-credentials reads them from
// stdin, or prompts without echo on a terminal. Nothing tokenctl prints
// contains a credential or a token; tokens are shown by fingerprint.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"golang.org/x/term"

	"github.com/token-refresher/token-refresher/shared/secretstore"
)

// DefaultPrefix is the stack's default name prefix (infra.DefaultNamePrefix).
const DefaultPrefix = "token-refresher"

// Exit codes.
const (
	exitOK    = 0
	exitFail  = 1 // a command failed, or status found a stale token
	exitUsage = 2
)

// lambdaAPI is the part of the Lambda client tokenctl calls.
type lambdaAPI interface {
	Invoke(ctx context.Context, in *lambda.InvokeInput, optFns ...func(*lambda.Options)) (*lambda.InvokeOutput, error)
}

var _ lambdaAPI = (*lambda.Client)(nil)

// env is everything a command touches outside itself.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	now            func() time.Time
	// terminal reports whether stdin is a terminal; readHidden reads one
	// line from it without echo.
	terminal   func() bool
	readHidden func() (string, error)
	// clients builds the AWS clients on first use.
	clients func(ctx context.Context) (secretstore.API, lambdaAPI, error)
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fd := int(os.Stdin.Fd())
	e := &env{
		stdin:      os.Stdin,
		stdout:     os.Stdout,
		stderr:     os.Stderr,
		getenv:     os.Getenv,
		now:        time.Now,
		terminal:   func() bool { return term.IsTerminal(fd) },
		readHidden: func() (string, error) { b, err := term.ReadPassword(fd); return string(b), err },
		clients:    awsClients,
	}
	os.Exit(run(ctx, os.Args[1:], e))
}

// awsClients builds the clients from the SDK's default configuration.
func awsClients(ctx context.Context) (secretstore.API, lambdaAPI, error) {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	return secretsmanager.NewFromConfig(cfg), lambda.NewFromConfig(cfg), nil
}

const usage = `tokenctl looks after token-refresher's tokens.

Usage:
  tokenctl [--prefix P] <command> [arguments]

Commands:
  status                   a table of every vendor's token; exit 1 if any is not ok
  set-credentials <vendor> write a vendor's credentials secret (JSON on stdin, or prompts)
  refresh <vendor>         invoke the vendor's refresher with force and print its summary
  connect admitad          mint the signed, short-lived link that connects Admitad

Vendors: hasoffers, invoca, fyber, merchenta, admitad.
Run "tokenctl <command> --help" for a command's flags.

Global flags:
`

// run executes one command line and returns the exit code.
func run(ctx context.Context, args []string, e *env) int {
	fs := flag.NewFlagSet("tokenctl", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	prefix := fs.String("prefix", "", `name prefix of the stack's secrets and functions (default $TOKENCTL_PREFIX, else "`+DefaultPrefix+`")`)
	printUsage := func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}
	fs.Usage = func() {} // printed below, once, to the right stream
	err := fs.Parse(args)
	fs.Usage = printUsage
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(e.stdout)
			printUsage()
			return exitOK
		}
		printUsage()
		return exitUsage
	}
	if *prefix == "" {
		*prefix = e.getenv("TOKENCTL_PREFIX")
	}
	if *prefix == "" {
		*prefix = DefaultPrefix
	}
	rest := fs.Args()
	if len(rest) == 0 {
		fs.Usage()
		return exitUsage
	}
	c := &cli{env: e, prefix: *prefix}
	cmd, cmdArgs := rest[0], rest[1:]
	switch cmd {
	case "status":
		err = c.status(ctx, cmdArgs)
	case "set-credentials":
		err = c.setCredentials(ctx, cmdArgs)
	case "refresh":
		err = c.refresh(ctx, cmdArgs)
	case "connect":
		err = c.connect(ctx, cmdArgs)
	case "help":
		fs.SetOutput(e.stdout)
		fs.Usage()
		return exitOK
	default:
		fmt.Fprintf(e.stderr, "tokenctl: unknown command %q\n", cmd)
		fs.Usage()
		return exitUsage
	}
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.Is(err, errUsageShown):
		return exitUsage
	case errors.Is(err, errUsage):
		fmt.Fprintln(e.stderr, err)
		return exitUsage
	case errors.Is(err, errStale):
		return exitFail
	default:
		fmt.Fprintln(e.stderr, err)
		return exitFail
	}
}

// errUsage marks a wrong command line; errStale a status that found a
// token not ok (the table already said which).
var (
	errUsage      = errors.New("usage")
	errUsageShown = errors.New("usage shown")
	errStale      = errors.New("stale")
)

func usageErr(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{errUsage}, args...)...)
}

// cli holds what every command shares.
type cli struct {
	*env
	prefix string

	secrets secretstore.API
	lambda  lambdaAPI
}

func (c *cli) init(ctx context.Context) error {
	if c.secrets != nil {
		return nil
	}
	s, l, err := c.clients(ctx)
	if err != nil {
		return err
	}
	c.secrets, c.lambda = s, l
	return nil
}

func (c *cli) store() *secretstore.Store { return &secretstore.Store{API: c.secrets} }

func (c *cli) tokenSecret(vendor string) string { return c.prefix + "/" + vendor + "/token" }
func (c *cli) credentialsSecret(vendor string) string {
	return c.prefix + "/" + vendor + "/credentials"
}
func (c *cli) signingKeySecret(vendor string) string { return c.prefix + "/" + vendor + "/signing-key" }
func (c *cli) functionName(vendor string) string     { return c.prefix + "-" + vendor }

// newFlags returns a command's flag set; usage lines describe its
// positional arguments.
func (c *cli) newFlags(name, synopsis, about string) *flag.FlagSet {
	fs := flag.NewFlagSet("tokenctl "+name, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: tokenctl [--prefix P] %s\n\n%s\n", synopsis, about)
		var n int
		fs.VisitAll(func(*flag.Flag) { n++ })
		if n > 0 {
			fmt.Fprintln(fs.Output(), "\nFlags:")
			fs.PrintDefaults()
		}
	}
	return fs
}

// parse parses flags and positional arguments in any order ("refresh fyber
// --function f" and "refresh --function f fyber"). --help prints the usage
// to stdout and returns flag.ErrHelp.
func (c *cli) parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	printUsage := fs.Usage
	fs.Usage = func() {} // printed below, once, to the right stream
	defer func() { fs.Usage = printUsage }()
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fs.SetOutput(c.stdout)
				printUsage()
				return nil, flag.ErrHelp
			}
			printUsage()
			return nil, errUsageShown // the flag package printed the error
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}
