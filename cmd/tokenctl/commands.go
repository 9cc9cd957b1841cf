package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/token-refresher/token-refresher/shared/admitad"
	"github.com/token-refresher/token-refresher/shared/refresh"
	"github.com/token-refresher/token-refresher/shared/secretstore"
	"github.com/token-refresher/token-refresher/shared/token"
	"github.com/token-refresher/token-refresher/shared/vendorhttp"
	"github.com/token-refresher/token-refresher/shared/vendors"
)

// States status reports.
const (
	stateOK           = "ok"
	stateStale        = "stale"
	stateExpired      = "expired"
	stateNotConnected = "not connected"
	stateMalformed    = "malformed"
	stateError        = "error"
)

// staleGrace is how late a scheduled run may be before status calls the
// token stale.
const staleGrace = 5 * time.Minute

// assess returns the state of a vendor's stored token at now.
//
// The refresher replaces a token once its remaining life is at most
// RefreshBelow of its lifetime, on a schedule of period Every, so a healthy
// token never has less than RefreshBelow*lifetime - Every left. Less than
// that (minus a grace) means scheduled runs were missed or failed. A token
// without expiry (Invoca) is stale when its last validation is older than
// one period plus the grace.
func assess(spec vendors.Spec, t token.Token, now time.Time) string {
	grace := max(staleGrace, spec.Every/10)
	if t.ExpiresAt.IsZero() {
		if now.Sub(t.RefreshedAt) > spec.Every+grace {
			return stateStale
		}
		return stateOK
	}
	if !now.Before(t.ExpiresAt) {
		return stateExpired
	}
	lifetime := t.ExpiresAt.Sub(t.RefreshedAt)
	floor := time.Duration(spec.RefreshBelow*float64(lifetime)) - spec.Every - grace
	if t.ExpiresAt.Sub(now) < floor {
		return stateStale
	}
	return stateOK
}

func (c *cli) status(ctx context.Context, args []string) error {
	fs := c.newFlags("status", "status [--vendor v,...]",
		"Shows, per vendor, whether a token is stored, its fingerprint, when it expires, when it was\n"+
			"last refreshed and its state: ok, stale (scheduled refreshes were missed), expired, not\n"+
			"connected (no token yet), malformed or error. Exits 1 when any vendor shown is not ok.")
	only := fs.String("vendor", "", "comma-separated vendors to show (default: all)")
	pos, err := c.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageErr("tokenctl status: unexpected argument %q", pos[0])
	}
	specs := vendors.All()
	if *only != "" {
		specs = nil
		for _, name := range strings.Split(*only, ",") {
			s, err := vendors.Lookup(strings.TrimSpace(name))
			if err != nil {
				return usageErr("tokenctl status: --vendor: %v", err)
			}
			specs = append(specs, s)
		}
	}
	if err := c.init(ctx); err != nil {
		return fmt.Errorf("tokenctl status: %w", err)
	}
	now := c.now()
	tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "VENDOR\tCONNECTED\tFINGERPRINT\tEXPIRES IN\tLAST REFRESH\tSTATE")
	var problems []string
	bad := 0
	for _, spec := range specs {
		id := c.tokenSecret(spec.Name)
		row := []string{spec.Name, "no", "-", "-", "-", ""}
		v, err := c.store().Get(ctx, id)
		switch {
		case errors.Is(err, secretstore.ErrNotFound):
			row[5] = stateNotConnected
		case err != nil:
			row[5] = stateError
			problems = append(problems, fmt.Sprintf("tokenctl status: %s: %v", spec.Name, err))
		default:
			t, perr := token.Parse(v.String)
			switch {
			case perr != nil && !json.Valid([]byte(v.String)):
				// A new secret holds a random string until the first refresh.
				row[5] = stateNotConnected
			case perr != nil:
				row[5] = stateMalformed
				problems = append(problems, fmt.Sprintf("tokenctl status: %s: secret %s: %v", spec.Name, id, perr))
			case t.Vendor != spec.Name:
				row[5] = stateMalformed
				problems = append(problems, fmt.Sprintf("tokenctl status: %s: secret %s holds a %q token", spec.Name, id, t.Vendor))
			default:
				row[1], row[2] = "yes", t.Fingerprint
				row[3] = "never"
				if !t.ExpiresAt.IsZero() {
					row[3] = short(t.ExpiresAt.Sub(now))
				}
				row[4] = short(now.Sub(t.RefreshedAt)) + " ago (" + t.RefreshedAt.UTC().Format(time.RFC3339) + ")"
				row[5] = assess(spec, t, now)
			}
		}
		if row[5] != stateOK {
			bad++
		}
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("tokenctl status: write: %w", err)
	}
	for _, p := range problems {
		fmt.Fprintln(c.stderr, p)
	}
	if bad > 0 {
		fmt.Fprintf(c.stderr, "tokenctl status: %d of %d vendors not ok\n", bad, len(specs))
		return errStale
	}
	return nil
}

// short formats d to the minute (seconds below ten minutes), negative as
// "-5m".
func short(d time.Duration) string {
	sign := ""
	if d < 0 {
		sign, d = "-", -d
	}
	if d < 10*time.Minute {
		d = d.Round(time.Second)
	} else {
		d = d.Round(time.Minute)
	}
	s := d.String()
	s = strings.TrimSuffix(s, "0s")
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	if s == "" {
		s = "0s"
	}
	return sign + s
}

// maxCredentialsSize bounds what set-credentials reads from stdin.
const maxCredentialsSize = token.MaxSecretSize

func (c *cli) setCredentials(ctx context.Context, args []string) error {
	fs := c.newFlags("set-credentials", "set-credentials <vendor> [--secret-id ID] < credentials.json",
		"Writes the vendor's credentials secret. The credentials are read as a JSON object from\n"+
			"stdin, or, when stdin is a terminal, asked for field by field without echo. Every field\n"+
			"the vendor requires is checked before anything is written; unknown fields are refused.\n"+
			"Secrets are never taken as arguments.")
	secretID := fs.String("secret-id", "", "credentials secret (default <prefix>/<vendor>/credentials)")
	pos, err := c.parse(fs, args)
	if err != nil {
		return err
	}
	spec, err := c.vendorArg("set-credentials", pos)
	if err != nil {
		return err
	}
	id := *secretID
	if id == "" {
		id = c.credentialsSecret(spec.Name)
	}
	fail := func(format string, args ...any) error {
		return fmt.Errorf("tokenctl set-credentials %s: secret %s: "+format+"; nothing written", append([]any{spec.Name, id}, args...)...)
	}
	var raw string
	if c.terminal() {
		raw, err = c.prompt(spec)
		if err != nil {
			return fail("%v", err)
		}
	} else {
		b, err := io.ReadAll(io.LimitReader(c.stdin, maxCredentialsSize+1))
		if err != nil {
			return fail("read stdin: %v", err)
		}
		if len(b) > maxCredentialsSize {
			return fail("stdin is over %d bytes", maxCredentialsSize)
		}
		raw = string(b)
	}
	creds, err := refresh.ParseCredentials(raw, spec.CredentialFields)
	if err != nil {
		return fail("credentials %v", err)
	}
	known := map[string]bool{}
	for _, f := range append(append([]string{}, spec.CredentialFields...), spec.OptionalFields...) {
		known[f] = true
	}
	var unknown []string
	for k := range creds {
		if !known[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return fail("unknown field %q (%s takes %s)", unknown[0], spec.Name, describeFields(spec))
	}
	for k, v := range creds {
		if v == "" {
			delete(creds, k) // an empty optional field
		}
	}
	body, err := json.Marshal(map[string]string(creds))
	if err != nil {
		return fail("encode: %v", err)
	}
	if err := c.init(ctx); err != nil {
		return fail("%v", err)
	}
	version, err := c.store().Put(ctx, id, string(body))
	if err != nil {
		if errors.Is(err, secretstore.ErrNotFound) {
			return fail("does not exist (deploy the stack first, or give --secret-id)")
		}
		return fail("%v", err)
	}
	fields := make([]string, 0, len(creds))
	for k := range creds {
		fields = append(fields, k)
	}
	sort.Strings(fields)
	fmt.Fprintf(c.stdout, "%s: wrote credentials (%s) to %s, version %s\n", spec.Name, strings.Join(fields, ", "), id, version)
	return nil
}

func describeFields(spec vendors.Spec) string {
	s := strings.Join(spec.CredentialFields, ", ")
	if len(spec.OptionalFields) > 0 {
		s += "; optional " + strings.Join(spec.OptionalFields, ", ")
	}
	return s
}

// prompt asks for every field of spec on the terminal, without echo, and
// returns the JSON object. An optional field may be left empty.
func (c *cli) prompt(spec vendors.Spec) (string, error) {
	fmt.Fprintf(c.stderr, "Credentials for %s (input is not shown).\n", spec.Title)
	values := map[string]string{}
	ask := func(field string, optional bool) error {
		label := field
		if optional {
			label += " (optional, Enter to skip)"
		}
		fmt.Fprintf(c.stderr, "%s: ", label)
		v, err := c.readHidden()
		fmt.Fprintln(c.stderr)
		if err != nil {
			return fmt.Errorf("read %s from the terminal: %v", field, err)
		}
		if v = strings.TrimSpace(v); v != "" {
			values[field] = v
		}
		return nil
	}
	for _, f := range spec.CredentialFields {
		if err := ask(f, false); err != nil {
			return "", err
		}
	}
	for _, f := range spec.OptionalFields {
		if err := ask(f, true); err != nil {
			return "", err
		}
	}
	b, err := json.Marshal(values)
	return string(b), err
}

// vendorArg checks that pos is exactly one known vendor.
func (c *cli) vendorArg(cmd string, pos []string) (vendors.Spec, error) {
	if len(pos) != 1 {
		return vendors.Spec{}, usageErr("tokenctl %s: want exactly one vendor (one of %s), got %d arguments", cmd, vendorNames(), len(pos))
	}
	spec, err := vendors.Lookup(pos[0])
	if err != nil {
		return vendors.Spec{}, usageErr("tokenctl %s: %v (one of %s)", cmd, err, vendorNames())
	}
	return spec, nil
}

func vendorNames() string {
	var names []string
	for _, s := range vendors.All() {
		names = append(names, s.Name)
	}
	return strings.Join(names, ", ")
}

func (c *cli) refresh(ctx context.Context, args []string) error {
	fs := c.newFlags("refresh", "refresh <vendor> [--function NAME]",
		"Invokes the vendor's refresher with {\"force\": true}, which fetches a new token (Invoca:\n"+
			"validates the stored one) whatever the stored token's age, and prints its summary.")
	function := fs.String("function", "", "refresher function (default <prefix>-<vendor>; \"function\" for aws-lambda-rie)")
	asJSON := fs.Bool("json", false, "print the refresher's reply as JSON")
	pos, err := c.parse(fs, args)
	if err != nil {
		return err
	}
	spec, err := c.vendorArg("refresh", pos)
	if err != nil {
		return err
	}
	fn := *function
	if fn == "" {
		fn = c.functionName(spec.Name)
	}
	fail := func(format string, args ...any) error {
		return fmt.Errorf("tokenctl refresh %s: function %s: "+format, append([]any{spec.Name, fn}, args...)...)
	}
	if err := c.init(ctx); err != nil {
		return fail("%v", err)
	}
	out, err := c.lambda.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(fn), Payload: []byte(`{"force":true}`)})
	if err != nil {
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
	var sum refresh.Summary
	if err := json.Unmarshal(out.Payload, &sum); err != nil || sum.Action == "" {
		return fail("reply is not a refresher summary")
	}
	if *asJSON {
		b, _ := json.Marshal(sum)
		fmt.Fprintln(c.stdout, string(b))
		return nil
	}
	line := fmt.Sprintf("%s: %s, fingerprint %s", sum.Vendor, sum.Action, sum.Fingerprint)
	if sum.ExpiresAt != "" {
		line += ", expires " + sum.ExpiresAt
		if at, err := time.Parse(time.RFC3339, sum.ExpiresAt); err == nil {
			line += " (in " + short(at.Sub(c.now())) + ")"
		}
	}
	fmt.Fprintln(c.stdout, line)
	return nil
}

func (c *cli) connect(ctx context.Context, args []string) error {
	fs := c.newFlags("connect", "connect admitad --url URL [--key-secret-id ID] [--ttl 15m]",
		"Prints a signed, short-lived link that starts the Admitad connect flow: open it in a\n"+
			"browser, sign in at Admitad and allow access. Minting needs read access to the\n"+
			"signing-key secret. --url is the stack output AdmitadAuthorizeUrl.")
	connectURL := fs.String("url", "", "the connect API's "+admitad.AuthorizePath+" URL (default $ADMITAD_CONNECT_URL)")
	keyID := fs.String("key-secret-id", "", "signing-key secret (default <prefix>/admitad/signing-key)")
	ttl := fs.Duration("ttl", admitad.DefaultLinkTTL, fmt.Sprintf("how long the link works, at most %s", admitad.MaxLinkTTL))
	pos, err := c.parse(fs, args)
	if err != nil {
		return err
	}
	spec, err := c.vendorArg("connect", pos)
	if err != nil {
		return err
	}
	if !spec.AuthCode {
		return usageErr("tokenctl connect: %s is not connected by a person; only admitad is", spec.Name)
	}
	if *connectURL == "" {
		*connectURL = c.getenv("ADMITAD_CONNECT_URL")
	}
	id := *keyID
	if id == "" {
		id = c.signingKeySecret(spec.Name)
	}
	switch {
	case *connectURL == "":
		return usageErr("tokenctl connect %s: no --url (or ADMITAD_CONNECT_URL): give the stack output AdmitadAuthorizeUrl", spec.Name)
	case *ttl <= 0 || *ttl > admitad.MaxLinkTTL:
		return usageErr("tokenctl connect %s: --ttl %s is not between 0 and %s", spec.Name, *ttl, admitad.MaxLinkTTL)
	}
	u, err := url.Parse(*connectURL)
	if err != nil || !strings.HasSuffix(u.Path, admitad.AuthorizePath) {
		return usageErr("tokenctl connect %s: --url %s does not end in %s", spec.Name, vendorhttp.RedactURL(*connectURL), admitad.AuthorizePath)
	}
	if err := vendorhttp.CheckEndpoint(*connectURL); err != nil {
		return usageErr("tokenctl connect %s: --url: %v", spec.Name, err)
	}
	if err := c.init(ctx); err != nil {
		return fmt.Errorf("tokenctl connect %s: %w", spec.Name, err)
	}
	key, err := admitad.LoadSigningKey(ctx, c.store(), id)
	if err != nil {
		return fmt.Errorf("tokenctl connect %s: %w", spec.Name, err)
	}
	now := c.now()
	fmt.Fprintln(c.stdout, admitad.MintLink(key, *connectURL, *ttl, now))
	fmt.Fprintf(c.stderr, "Open the link in a browser before %s; it starts the %s connect.\n", now.Add(*ttl).UTC().Format(time.RFC3339), spec.Title)
	return nil
}
