package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/spf13/cobra"

	"github.com/token-refresher/token-refresher/internal/humandur"
	"github.com/token-refresher/token-refresher/shared/refresh"
	"github.com/token-refresher/token-refresher/shared/vendors"
)

// forceEvent is the event refresh sends. Connection is left out for the
// default connection, so refreshers that predate connections get exactly
// {"force":true}.
type forceEvent struct {
	Force      bool   `json:"force"`
	Connection string `json:"connection,omitempty"`
}

// refreshReply is the refresher's summary, with the connection a refresher
// that knows connections names.
type refreshReply struct {
	refresh.Summary
	Connection string `json:"connection,omitempty"`
}

func (c *cli) refreshCmd() *cobra.Command {
	var function string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "refresh <vendor>[/<connection>] [--function NAME]",
		Short: "Invoke a vendor's refresher with force and print its summary",
		Long: `Invokes the vendor's refresher function itself (<prefix>-<vendor>, not its reject
alias, which apps use and which refuses force) with {"force": true}, which fetches
a new token (Invoca: validates the stored one) whatever the stored token's age, and
prints its summary. A named connection is sent as {"force": true, "connection": NAME}.
The reply must be for the vendor (and connection) asked for; any other is an error
(a refresher that predates connections names none, and is refused for a named one).
On a terminal it shows that it is waiting on the function.`,
		Example: `  tokenctl refresh fyber
  tokenctl refresh merchenta/acme --json`,
		Args:              oneTarget,
		ValidArgsFunction: completeVendors,
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.refresh(cmd.Context(), args[0], function, asJSON)
		},
	}
	cmd.Flags().StringVar(&function, "function", "", "refresher function to invoke (default <prefix>-<vendor>)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the refresher's reply as JSON")
	return cmd
}

func (c *cli) refresh(ctx context.Context, arg, function string, asJSON bool) error {
	t, err := parseTarget(arg)
	if err != nil {
		return fmt.Errorf("refresh: %w", err)
	}
	fn := function
	if fn == "" {
		fn = vendors.FunctionName(c.prefix, t.spec.FunctionName())
	}
	fail := func(format string, args ...any) error {
		return fmt.Errorf("refresh %s: function %s: "+format, append([]any{t, fn}, args...)...)
	}
	if err := c.init(ctx); err != nil {
		return fail("%w", err)
	}
	payload, _ := json.Marshal(forceEvent{Force: true, Connection: t.connection})
	stop := c.progress(fmt.Sprintf("refresh %s: waiting on function %s", t, fn))
	out, err := c.aws.lambda.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(fn), Payload: payload})
	stop()
	if err != nil {
		var nf *lambdatypes.ResourceNotFoundException
		if errors.As(err, &nf) {
			return fail("not found in region %s: check --prefix (now %q) and the region (AWS_REGION or the profile's)", orUnset(c.aws.region), c.prefix)
		}
		return fail("invoke: %v", err)
	}
	var doc struct {
		ErrorMessage *string `json:"errorMessage"`
		ErrorType    string  `json:"errorType"`
	}
	_ = json.Unmarshal(out.Payload, &doc)
	if out.FunctionError != nil || doc.ErrorMessage != nil {
		// The refresher's errors carry no secret.
		return fail("failed (%s): %s", doc.ErrorType, aws.ToString(doc.ErrorMessage))
	}
	var reply refreshReply
	if err := json.Unmarshal(out.Payload, &reply); err != nil || reply.Action == "" {
		return fail("reply is not a refresher summary")
	}
	if reply.Vendor != t.spec.Name {
		return fail("replied for vendor %q, not %s: --function or --prefix names another vendor's refresher", reply.Vendor, t.spec.Name)
	}
	switch {
	case reply.Connection == "" && t.connection != "":
		return fail("the reply names no connection: the refresher predates connections and ran for the default connection, not %s", t.connection)
	case reply.Connection != "" && reply.Connection != t.connectionName():
		return fail("replied for connection %q, not %s", reply.Connection, t.connectionName())
	}
	if asJSON {
		b, _ := json.Marshal(reply)
		printf(c.stdout, "%s\n", b)
		return nil
	}
	line := fmt.Sprintf("%s: %s, fingerprint %s", t, reply.Action, reply.Fingerprint)
	if reply.ExpiresAt != "" {
		line += ", expires " + reply.ExpiresAt
		if at, err := time.Parse(time.RFC3339, reply.ExpiresAt); err == nil {
			line += " (in " + humandur.Format(at.Sub(c.now())) + ")"
		}
	}
	printf(c.stdout, "%s\n", line)
	return nil
}

// spinnerFrames turn while a command waits.
var spinnerFrames = []string{"|", "/", "-", `\`}

// progress shows msg with a spinner on stderr while the caller waits, when
// stderr is a terminal; otherwise it prints nothing. The returned stop
// clears the line.
func (c *cli) progress(msg string) (stop func()) {
	if !c.stderrTerminal {
		return func() {}
	}
	return startSpinner(c.stderr, msg, 100*time.Millisecond)
}

func startSpinner(w io.Writer, msg string, every time.Duration) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	printf(w, "\r%s %s", spinnerFrames[0], msg)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(every)
		defer tick.Stop()
		for i := 1; ; i++ {
			select {
			case <-done:
				printf(w, "\r\x1b[K")
				return
			case <-tick.C:
				printf(w, "\r%s %s", spinnerFrames[i%len(spinnerFrames)], msg)
			}
		}
	}()
	var once sync.Once
	return func() { once.Do(func() { close(done); wg.Wait() }) }
}
