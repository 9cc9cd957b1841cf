package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/smithy-go"
	"github.com/spf13/cobra"

	"github.com/token-refresher/token-refresher/internal/humandur"
	"github.com/token-refresher/token-refresher/shared/secretstore"
	"github.com/token-refresher/token-refresher/shared/token"
	"github.com/token-refresher/token-refresher/shared/vendors"
)

// States status reports, from best to worst.
const (
	stateOK            = "ok"
	stateStale         = "stale"          // one scheduled refresh did not replace the token
	stateFailing       = "failing"        // two or more did not
	stateExpired       = "expired"        // past expires_at
	stateNotConnected  = "not connected"  // the secret exists but holds no token yet
	stateSecretMissing = "secret missing" // no such secret: wrong --prefix or region, or not deployed
	stateMalformed     = "malformed"      // the secret holds something that is not this vendor's token
	stateError         = "error"          // the secret could not be read (e.g. access denied)
)

// staleGrace is how late a scheduled run may be before status counts it
// as missed.
const staleGrace = 5 * time.Minute

// assess returns the state of a vendor's stored token at now: ok, stale,
// failing or expired.
//
// A scheduled run replaces a token once its remaining life is at most
// RefreshBelow of its lifetime, so a token is due at age
// (1-RefreshBelow)*lifetime and replaced by the first run after that, at
// most one period (Every) later. A token older than that plus a grace has
// outlived one run that should have replaced it: stale. Older by another
// period, two runs in a row did not: failing. A token without expiry
// (Invoca) is due at every run: stale past one period plus the grace,
// failing past two.
func assess(spec vendors.Spec, t token.Token, now time.Time) string {
	grace := max(staleGrace, spec.Every/10)
	due := time.Duration(0)
	if !t.ExpiresAt.IsZero() {
		if !now.Before(t.ExpiresAt) {
			return stateExpired
		}
		due = time.Duration((1 - spec.RefreshBelow) * float64(t.ExpiresAt.Sub(t.RefreshedAt)))
	}
	switch age := now.Sub(t.RefreshedAt); {
	case age > due+2*spec.Every+grace:
		return stateFailing
	case age > due+spec.Every+grace:
		return stateStale
	}
	return stateOK
}

// vendorStatus is one row of status, and one element of status --json.
type vendorStatus struct {
	Vendor     string `json:"vendor"`
	Connection string `json:"connection"`
	State      string `json:"state"`
	// SecretID is the token secret looked at.
	SecretID         string `json:"secret_id"`
	Connected        bool   `json:"connected"`
	Fingerprint      string `json:"fingerprint,omitempty"`
	ExpiresAt        string `json:"expires_at,omitempty"`
	ExpiresInSeconds *int64 `json:"expires_in_seconds,omitempty"`
	RefreshedAt      string `json:"refreshed_at,omitempty"`
	// Problem says what is wrong, and what to do, for a state other than
	// ok, stale, failing and expired.
	Problem string `json:"problem,omitempty"`

	target target
	token  token.Token
	// fact and hint split Problem for the table: what is wrong with this
	// target, and what to check (the same for every target a wrong
	// --prefix or region misses, so printed once).
	fact, hint string
}

// statusReport is status --json's output.
type statusReport struct {
	Prefix  string         `json:"prefix"`
	Region  string         `json:"region"`
	Checked string         `json:"checked_at"`
	Vendors []vendorStatus `json:"vendors"`
	NotOK   int            `json:"not_ok"`
	// Warnings say what status could not check (added): named
	// connections it could not list.
	Warnings []string `json:"warnings,omitempty"`
}

func (c *cli) statusCmd() *cobra.Command {
	var only []string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status [<vendor>[/<connection>] ...]",
		Short: "Show every vendor's token; exit 1 if any is not ok",
		Long: `Shows, per vendor (default connection) or per target given, whether a token is stored,
its fingerprint, when it expires, when it was last refreshed, and its state:

  ok              the token is as fresh as the schedule keeps it
  stale           one scheduled refresh did not replace it (a run was missed or failed)
  failing         two or more in a row did not
  expired         past its expires_at
  not connected   the secret exists but holds no token yet (Admitad: connect it;
                  others: set the credentials, then refresh)
  secret missing  no such secret: the id looked for is printed; check --prefix
                  and the region
  malformed       the secret holds something that is not this vendor's token
  error           the secret could not be read (the error is printed)

Exits 1 when any vendor shown is not ok, with --json too.`,
		Example: `  tokenctl status
  tokenctl status fyber merchenta/acme
  tokenctl status --vendor fyber,invoca --json`,
		ValidArgsFunction: completeManyVendors,
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, v := range only {
				for _, s := range strings.Split(v, ",") {
					if s = strings.TrimSpace(s); s != "" {
						args = append(args, s)
					}
				}
			}
			return c.status(cmd.Context(), args, asJSON)
		},
	}
	cmd.Flags().StringSliceVar(&only, "vendor", nil, "targets to show, comma-separated, as <vendor> or <vendor>/<connection> (default: every vendor's default connection)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as one JSON object")
	_ = cmd.RegisterFlagCompletionFunc("vendor", completeManyVendors)
	return cmd
}

func (c *cli) status(ctx context.Context, args []string, asJSON bool) error {
	var targets []target
	for _, a := range args {
		t, err := parseTarget(a)
		if err != nil {
			return fmt.Errorf("status: %w", err)
		}
		targets = append(targets, t)
	}
	if err := c.init(ctx); err != nil {
		return fmt.Errorf("status: %w", err)
	}
	var warnings []string
	if len(targets) == 0 {
		var listErr error
		for _, s := range vendors.All() {
			targets = append(targets, target{spec: s})
			named, err := c.namedConnections(ctx, s)
			targets = append(targets, named...)
			if err != nil && listErr == nil {
				listErr = err
			}
		}
		if listErr != nil {
			warnings = append(warnings, listWarning(listErr))
		}
	}
	for _, w := range warnings {
		printf(c.stderr, "tokenctl status: %s\n", w)
	}
	now := c.now()
	rep := statusReport{Prefix: c.prefix, Region: c.aws.region, Checked: now.UTC().Format(time.RFC3339), Warnings: warnings}
	for _, t := range targets {
		st := c.statusOf(ctx, t, now)
		if st.State != stateOK {
			rep.NotOK++
		}
		rep.Vendors = append(rep.Vendors, st)
	}
	if asJSON {
		b, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return fmt.Errorf("status: encode: %w", err)
		}
		printf(c.stdout, "%s\n", b)
	} else if err := c.statusTable(rep, now); err != nil {
		return err
	}
	if rep.NotOK > 0 {
		if !asJSON {
			printf(c.stderr, "tokenctl status: %d of %d %s not ok\n", rep.NotOK, len(rep.Vendors), countNoun(rep.Vendors))
		}
		return errNotOK
	}
	return nil
}

func (c *cli) statusTable(rep statusReport, now time.Time) error {
	tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
	printf(tw, "VENDOR\tCONNECTED\tFINGERPRINT\tEXPIRES IN\tLAST REFRESH\tSTATE\n")
	for _, st := range rep.Vendors {
		row := []string{st.target.String(), "no", "-", "-", "-", st.State}
		if st.Connected {
			t := st.token
			row[1], row[2], row[3] = "yes", t.Fingerprint, "never"
			if !t.ExpiresAt.IsZero() {
				row[3] = humandur.Format(t.ExpiresAt.Sub(now))
			}
			row[4] = humandur.Format(now.Sub(t.RefreshedAt)) + " ago (" + t.RefreshedAt.UTC().Format(time.RFC3339) + ")"
		}
		printf(tw, "%s\n", strings.Join(row, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("status: write: %w", err)
	}
	var hints []string
	for _, st := range rep.Vendors {
		switch {
		case st.hint != "":
			printf(c.stderr, "tokenctl status: %s: %s\n", st.target, st.fact)
			if !slices.Contains(hints, st.hint) {
				hints = append(hints, st.hint)
			}
		case st.Problem != "":
			printf(c.stderr, "tokenctl status: %s: %s\n", st.target, st.Problem)
		}
	}
	for _, h := range hints {
		printf(c.stderr, "tokenctl status: %s\n", h)
	}
	return nil
}

// countNoun names what a status report's rows are: vendors when each is a
// vendor's default connection, connections when a named one is among them.
func countNoun(rows []vendorStatus) string {
	for _, st := range rows {
		if st.Connection != vendors.DefaultConnection {
			return "connections"
		}
	}
	return "vendors"
}

// statusOf reads and assesses one target's token secret.
func (c *cli) statusOf(ctx context.Context, t target, now time.Time) vendorStatus {
	id := c.secret(t, vendors.RoleToken)
	st := vendorStatus{Vendor: t.spec.Name, Connection: t.connectionName(), SecretID: id, target: t}
	store := &secretstore.Store{API: c.aws.secrets}
	v, err := store.Get(ctx, id)
	switch {
	case errors.Is(err, secretstore.ErrNotFound):
		// Secrets Manager answers ResourceNotFound both for a secret that
		// does not exist and for one without a value yet.
		_, derr := c.aws.secrets.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(id)})
		var nf *types.ResourceNotFoundException
		switch {
		case derr == nil:
			st.State, st.Problem = stateNotConnected, notConnectedHint(t)
		case errors.As(derr, &nf):
			st.State = stateSecretMissing
			st.fact, st.hint = c.missingFact(id), c.missingAdvice()
			st.Problem = st.fact + ": " + st.hint
		default:
			st.State, st.Problem = stateError, c.readProblem(id, derr)
			st.fact, st.hint = c.readProblemParts(id, derr)
		}
		return st
	case err != nil:
		st.State, st.Problem = stateError, c.readProblem(id, err)
		st.fact, st.hint = c.readProblemParts(id, err)
		return st
	}
	tok, perr := token.Parse(v.String)
	switch {
	case perr != nil && !json.Valid([]byte(v.String)):
		// A new secret holds the stack's random string until the first refresh.
		st.State, st.Problem = stateNotConnected, notConnectedHint(t)
	case perr != nil:
		st.State, st.Problem = stateMalformed, fmt.Sprintf("secret %s: %v", id, perr)
	case tok.Vendor != t.spec.Name:
		st.State, st.Problem = stateMalformed, fmt.Sprintf("secret %s holds a %q token, not %s's", id, tok.Vendor, t.spec.Name)
	default:
		st.Connected, st.Fingerprint, st.token = true, tok.Fingerprint, tok
		st.RefreshedAt = tok.RefreshedAt.UTC().Format(time.RFC3339)
		if !tok.ExpiresAt.IsZero() {
			st.ExpiresAt = tok.ExpiresAt.UTC().Format(time.RFC3339)
			secs := int64(tok.ExpiresAt.Sub(now) / time.Second)
			st.ExpiresInSeconds = &secs
		}
		st.State = assess(t.spec, tok, now)
	}
	return st
}

// missingFact says which secret was looked for and where; missingAdvice
// what to check.
func (c *cli) missingFact(id string) string {
	return fmt.Sprintf("secret %s not found in region %s", id, orUnset(c.aws.region))
}

func (c *cli) missingAdvice() string {
	return fmt.Sprintf("check --prefix (now %q; or TOKENCTL_PREFIX) and the region (AWS_REGION or the profile's), or deploy the stack", c.prefix)
}

// readProblem describes a failed read of secret id. Access denied often
// means a wrong --prefix: the operator policy covers only the stack's own
// secrets, so AWS refuses before it looks whether the secret exists.
func (c *cli) readProblem(id string, err error) string {
	if fact, hint := c.readProblemParts(id, err); hint != "" {
		return fact + ": " + hint
	}
	return fmt.Sprintf("secret %s: %v", id, err)
}

// readProblemParts splits readProblem into what failed and, for access
// denied, what to check ("" otherwise).
func (c *cli) readProblemParts(id string, err error) (string, string) {
	if isAccessDenied(err) {
		return fmt.Sprintf("secret %s: access denied", id),
			fmt.Sprintf("check --prefix (now %q; the operator policy covers only the stack's own secrets), the region (%s) and that your role has the stack's operator policy",
				c.prefix, orUnset(c.aws.region))
	}
	return fmt.Sprintf("secret %s: %v", id, err), ""
}

func isAccessDenied(err error) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == "AccessDeniedException"
}

func orUnset(s string) string {
	if s == "" {
		return "(none set)"
	}
	return s
}

func notConnectedHint(t target) string {
	if t.spec.AuthCode {
		return "no token yet: connect it with `tokenctl connect " + t.spec.Name + "` and open the link"
	}
	return "no token yet: set the credentials (`tokenctl set-credentials " + t.String() + "`), then `tokenctl refresh " + t.String() + "`"
}

// listWarning says that named connections could not be listed, and why.
func listWarning(err error) string {
	if isAccessDenied(err) {
		return "named connections are not shown: listing secrets was refused (secretsmanager:ListSecrets is not granted; the stack's operator policy grants it): name them as arguments (tokenctl status <vendor>/<connection>)"
	}
	return "named connections are not shown: listing secrets failed (" + err.Error() + "): name them as arguments (tokenctl status <vendor>/<connection>)"
}

// namedConnections finds a vendor's named connections in the deployment:
// token secrets under <prefix>/<vendor>/ that the stack tagged with role
// "token" and a connection other than the default. When secrets cannot be
// listed it returns the ones found so far and the error.
func (c *cli) namedConnections(ctx context.Context, spec vendors.Spec) ([]target, error) {
	var out []target
	in := &secretsmanager.ListSecretsInput{Filters: []types.Filter{
		{Key: types.FilterNameStringTypeName, Values: []string{c.prefix + "/" + spec.Name + "/"}},
		{Key: types.FilterNameStringTypeTagKey, Values: []string{vendors.TagConnection}},
	}}
	seen := map[string]bool{}
	for range 100 {
		page, err := c.aws.secrets.ListSecrets(ctx, in)
		if err != nil {
			return out, err
		}
		for _, e := range page.SecretList {
			tags := map[string]string{}
			for _, tg := range e.Tags {
				tags[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
			}
			conn := tags[vendors.TagConnection]
			if tags[vendors.TagRole] != vendors.RoleToken || tags[vendors.TagVendor] != spec.Name ||
				conn == vendors.DefaultConnection || vendors.CheckConnection(conn) != nil || seen[conn] {
				continue
			}
			if aws.ToString(e.Name) != vendors.SecretName(c.prefix, spec.Name, conn, vendors.RoleToken) {
				continue
			}
			seen[conn] = true
			out = append(out, target{spec: spec, connection: conn})
		}
		if aws.ToString(page.NextToken) == "" {
			break
		}
		in.NextToken = page.NextToken
	}
	sort.Slice(out, func(i, j int) bool { return out[i].connection < out[j].connection })
	return out, nil
}
