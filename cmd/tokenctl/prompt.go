package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync/atomic"

	"golang.org/x/term"

	"github.com/token-refresher/token-refresher/shared/refresh"
	"github.com/token-refresher/token-refresher/shared/vendors"
)

// prompter asks questions on a terminal.
type prompter interface {
	// ask prints label and reads one line, without echo when hidden. Ctrl-C
	// gives errInterrupted and Ctrl-D (or the end of input) errEOF, at
	// once; so does ctx ending (errInterrupted).
	ask(ctx context.Context, label string, hidden bool) (string, error)
	// say prints one line.
	say(line string)
	// close gives the terminal back as it was.
	close() error
}

// maxTries is how often a field is asked again after a wrong answer.
const maxTries = 3

// askCredentials asks for every field of t's vendor, checks each answer as
// it is given, and returns the credentials. Nothing is kept of an aborted
// prompt.
func (c *cli) askCredentials(ctx context.Context, t target) (refresh.Credentials, error) {
	p, err := c.prompter()
	if err != nil {
		return nil, fmt.Errorf("open the terminal: %w", err)
	}
	defer p.close()
	spec := t.spec
	p.say(fmt.Sprintf("Credentials for %s (%s). Secret fields are not shown as you type. Ctrl-C aborts; nothing is written until every field is in.", spec.Title, t))
	values := refresh.Credentials{}
	ask := func(field string, optional bool, note string) error {
		label := field
		switch {
		case note != "":
			label += " (" + note + ")"
		case optional:
			label += " (optional, Enter to skip)"
		}
		hidden := !visibleFields[field]
		if hidden {
			label += " [hidden]"
		}
		label += ": "
		for try := 1; ; try++ {
			v, err := p.ask(ctx, label, hidden)
			if err != nil {
				return err
			}
			// Only the line's end is taken off: a value with white space
			// around it is refused here as it is from stdin.
			v = strings.TrimRight(v, "\r\n")
			var problem error
			switch {
			case v == "" && optional:
				return nil
			case v == "":
				problem = fmt.Errorf("field %q is required", field)
			default:
				problem = checkField(field, v)
			}
			if problem == nil {
				values[field] = v
				return nil
			}
			if try == maxTries {
				return fmt.Errorf("%w (asked %d times)", problem, maxTries)
			}
			p.say("  " + problem.Error() + "; try again")
		}
	}
	for _, f := range spec.CredentialFields {
		if err := ask(f, false, ""); err != nil {
			return nil, err
		}
	}
	for _, f := range spec.OptionalFields {
		note := ""
		if spec.Name == vendors.Invoca && (f == "vanity" || f == "network_id") {
			if values["validate_url"] != "" {
				continue // the validation URL is given whole
			}
			note = "needed without validate_url"
		}
		if err := ask(f, note == "", note); err != nil {
			return nil, err
		}
	}
	if err := checkTogether(spec, values); err != nil {
		return nil, err
	}
	return values, nil
}

// termPrompter asks on a terminal in raw mode, through x/term's line
// editor: in raw mode Ctrl-C reaches it as a key rather than as SIGINT,
// so a prompt ends the moment it is pressed, and the terminal is restored
// by close whatever happens.
type termPrompter struct {
	fd  int
	old *term.State
	t   *term.Terminal
	in  *keyWatcher
	out io.Writer
}

var _ prompter = (*termPrompter)(nil)

func newTermPrompter(in *os.File, out io.Writer) (*termPrompter, error) {
	fd := int(in.Fd())
	old, err := term.MakeRaw(fd)
	if err != nil {
		return nil, fmt.Errorf("raw mode: %w", err)
	}
	w := &keyWatcher{r: in}
	return &termPrompter{fd: fd, old: old, in: w, out: out, t: term.NewTerminal(struct {
		io.Reader
		io.Writer
	}{w, out}, "")}, nil
}

type lineResult struct {
	line string
	err  error
}

func (p *termPrompter) ask(ctx context.Context, label string, hidden bool) (string, error) {
	done := make(chan lineResult, 1)
	go func() {
		var r lineResult
		if hidden {
			r.line, r.err = p.t.ReadPassword(label)
		} else {
			p.t.SetPrompt(label)
			r.line, r.err = p.t.ReadLine()
			p.t.SetPrompt("")
		}
		done <- r
	}()
	// After an aborted read nothing more goes through the line editor: it
	// keeps the half-typed line, and would repaint it, echo on, with the
	// next write.
	select {
	case r := <-done:
		if errors.Is(r.err, io.EOF) {
			_, _ = io.WriteString(p.out, "\r\n")
			if p.in.ctrlC.Load() {
				return "", errInterrupted
			}
			return "", errEOF
		}
		if r.err != nil {
			return "", fmt.Errorf("read the terminal: %w", r.err)
		}
		return r.line, nil
	case <-ctx.Done():
		// The reader stays blocked on the terminal; the process is about
		// to end.
		_, _ = io.WriteString(p.out, "\r\n")
		return "", errInterrupted
	}
}

func (p *termPrompter) say(line string) { _, _ = p.t.Write([]byte(line + "\n")) }

func (p *termPrompter) close() error { return term.Restore(p.fd, p.old) }

// keyWatcher notes whether Ctrl-C passed through: x/term's line editor
// reports Ctrl-C and Ctrl-D alike, as io.EOF.
type keyWatcher struct {
	r     io.Reader
	ctrlC atomic.Bool
}

func (k *keyWatcher) Read(b []byte) (int, error) {
	n, err := k.r.Read(b)
	if bytes.IndexByte(b[:n], 3) >= 0 {
		k.ctrlC.Store(true)
	}
	return n, err
}
