package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/token-refresher/token-refresher/shared/vendors"
)

// Exit codes.
const (
	exitOK        = 0
	exitFail      = 1 // a command failed, or status found a vendor not ok
	exitUsage     = 2
	exitInterrupt = 130 // Ctrl-C at a prompt (128 + SIGINT, as shells report it)
)

// Errors that decide the exit code.
var (
	// errNotOK marks a status that found a vendor not ok; the table has
	// already said which.
	errNotOK = errors.New("not ok")
	// errInterrupted and errEOF end a prompt; nothing is written.
	errInterrupted = errors.New("interrupted (Ctrl-C)")
	errEOF         = errors.New("input ended (Ctrl-D or end of file)")
)

// usageError marks a wrong command line: exit 2, and a pointer to --help.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usageErr(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

func isUsage(err error) bool {
	var u *usageError
	return errors.As(err, &u)
}

// cli holds what every command shares.
type cli struct {
	*env
	prefix string
	aws    *clientSet
}

// init builds the AWS clients once.
func (c *cli) init(ctx context.Context) error {
	if c.aws != nil {
		return nil
	}
	cs, err := c.clients(ctx)
	if err != nil {
		return err
	}
	c.aws = &cs
	return nil
}

// rootLong is the root command's help; the vendors come from the table.
var rootLong = `tokenctl looks after token-refresher's tokens: it shows every vendor's token,
writes a vendor's credentials secret, forces a refresh and mints the link that
connects Admitad.

A target is <vendor> for the vendor's default connection, or
<vendor>/<connection> for a named one (e.g. merchenta/acme).
Vendors: ` + strings.Join(vendors.Names(), ", ") + `.

Names follow the stack: secrets <prefix>/<vendor>[/<connection>]/{token,credentials},
functions <prefix>-<vendor>. AWS access uses the SDK's usual configuration
(AWS_PROFILE, AWS_REGION, ...).`

// newRoot builds the command tree around c.
func newRoot(c *cli) *cobra.Command {
	root := &cobra.Command{
		Use:     "tokenctl",
		Short:   "Look after token-refresher's tokens",
		Long:    rootLong,
		Version: versionLine(),
		Args:    cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return unknownCommand(cmd, args[0])
			}
			cmd.SetOut(c.stderr)
			_ = cmd.Help()
			return usageErr("no command given")
		},
		SilenceErrors:     true,
		SilenceUsage:      true,
		DisableAutoGenTag: true,
		PersistentPreRun: func(cmd *cobra.Command, args []string) {
			if c.prefix == "" {
				c.prefix = c.getenv("TOKENCTL_PREFIX")
			}
			if c.prefix == "" {
				c.prefix = vendors.DefaultPrefix
			}
		},
	}
	root.SetVersionTemplate("{{.Name}} {{.Version}}\n")
	root.PersistentFlags().StringVar(&c.prefix, "prefix", "",
		`name prefix of the stack's secrets and functions (default $TOKENCTL_PREFIX, else "`+vendors.DefaultPrefix+`")`)
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return usageErr("%s: %v", cmd.CommandPath(), err)
	})
	root.AddCommand(c.statusCmd(), c.setCredentialsCmd(), c.refreshCmd(), c.connectCmd(), c.versionCmd())
	root.SuggestionsMinimumDistance = 2
	return root
}

// unknownCommand is cobra's "unknown command" error with its suggestions.
func unknownCommand(cmd *cobra.Command, name string) error {
	msg := fmt.Sprintf("unknown command %q for %q", name, cmd.CommandPath())
	if s := cmd.SuggestionsFor(name); len(s) > 0 {
		msg += "; did you mean " + strings.Join(s, " or ") + "?"
	}
	return usageErr("%s", msg)
}

// run executes one command line and returns the exit code.
func run(ctx context.Context, args []string, e *env) int {
	c := &cli{env: e}
	root := newRoot(c)
	root.SetArgs(singleDashCompat(root, args))
	root.SetIn(e.stdin)
	root.SetOut(e.stdout)
	root.SetErr(e.stderr)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return exitOK
	}
	if cmd == nil {
		cmd = root
	}
	switch {
	case errors.Is(err, errNotOK):
		return exitFail
	case isUsage(err) || isCobraUsage(err):
		fmt.Fprintf(e.stderr, "tokenctl: %s\n", strings.ReplaceAll(strings.TrimSpace(err.Error()), "\n\n", "; "))
		fmt.Fprintf(e.stderr, "Run '%s --help' for usage.\n", cmd.CommandPath())
		return exitUsage
	case errors.Is(err, errInterrupted):
		fmt.Fprintf(e.stderr, "tokenctl: %v\n", err)
		return exitInterrupt
	default:
		fmt.Fprintf(e.stderr, "tokenctl: %v\n", err)
		return exitFail
	}
}

// isCobraUsage recognises the command-line errors cobra makes itself
// (it has no error types for them).
func isCobraUsage(err error) bool {
	s := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand flag", "invalid argument", "flag needs an argument", "accepts ", "requires "} {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// singleDashCompat rewrites the single-dash long flags that tokenctl took
// before it moved to cobra (-vendor fyber, -json, -prefix=x) to their
// --long form, so scripts written for it keep working. Only names that are
// long flags of some command are rewritten; everything after "--" is left
// alone.
func singleDashCompat(root *cobra.Command, args []string) []string {
	long := map[string]bool{"help": true, "version": true}
	var walk func(*cobra.Command)
	walk = func(cmd *cobra.Command) {
		for _, fs := range []*pflag.FlagSet{cmd.Flags(), cmd.PersistentFlags()} {
			fs.VisitAll(func(f *pflag.Flag) { long[f.Name] = true })
		}
		for _, sub := range cmd.Commands() {
			walk(sub)
		}
	}
	walk(root)
	out := make([]string, 0, len(args))
	for i, a := range args {
		if a == "--" {
			return append(out, args[i:]...)
		}
		if strings.HasPrefix(a, "-") && !strings.HasPrefix(a, "--") && len(a) > 2 {
			name, _, _ := strings.Cut(a[1:], "=")
			if long[name] {
				a = "-" + a
			}
		}
		out = append(out, a)
	}
	return out
}

// printf writes to w, ignoring errors as fmt.Fprintf callers do.
func printf(w io.Writer, format string, args ...any) { fmt.Fprintf(w, format, args...) }
