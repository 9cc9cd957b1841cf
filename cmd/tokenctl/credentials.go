package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/spf13/cobra"

	"github.com/token-refresher/token-refresher/shared/refresh"
	"github.com/token-refresher/token-refresher/shared/secretstore"
	"github.com/token-refresher/token-refresher/shared/token"
	"github.com/token-refresher/token-refresher/shared/vendorhttp"
	"github.com/token-refresher/token-refresher/shared/vendors"
)

// maxCredentialsSize bounds what set-credentials reads from stdin.
const maxCredentialsSize = token.MaxSecretSize

// visibleFields are the credentials fields that are not secret: prompts
// show them as typed. Every other field is read without echo.
var visibleFields = map[string]bool{
	"client_id": true, "username": true, "advertiser": true, "audience": true, "integrator_id": true,
	"network_id": true, "vanity": true, "validate_url": true, "scope": true, "expected_username": true,
}

type setCredentialsOptions struct {
	secretID      string
	allowUntagged bool
	asJSON        bool
}

// credentialsWritten is set-credentials --json's output.
type credentialsWritten struct {
	Vendor     string   `json:"vendor"`
	Connection string   `json:"connection"`
	SecretID   string   `json:"secret_id"`
	VersionID  string   `json:"version_id"`
	Fields     []string `json:"fields"`
	Untagged   bool     `json:"untagged,omitempty"`
}

func (c *cli) setCredentialsCmd() *cobra.Command {
	var o setCredentialsOptions
	cmd := &cobra.Command{
		Use:   "set-credentials <vendor>[/<connection>] [--secret-id ID] < credentials.json",
		Short: "Write a vendor's credentials secret (JSON on stdin, or prompts)",
		Long: `Writes the credentials secret of a vendor's connection. The credentials are read as
one JSON object from stdin or, when stdin is a terminal, asked for field by field:
fields that are not secret (client_id, username, ...) are shown as typed, secret
ones (client_secret, password, api_token) are not. Each field is checked as it is
entered; Ctrl-C or Ctrl-D aborts at once and writes nothing. Every field the vendor
requires is checked before anything is written; unknown fields are refused.
Secrets are never taken as arguments.

Before writing, the target secret's tags are read: it must be the credentials
secret of that vendor and connection (tags token-refresher:role=credentials,
token-refresher:vendor, token-refresher:connection), as the stack tags it. Any
other secret is refused and named for what it is. A secret without these tags
(an imported one, or a stack deployed before the tags) is written only with
--allow-untagged.`,
		Example: `  tokenctl set-credentials fyber < fyber.json
  tokenctl set-credentials merchenta/acme          # on a terminal: prompts
  tokenctl set-credentials invoca --secret-id imported/invoca --allow-untagged < invoca.json`,
		Args:              oneTarget,
		ValidArgsFunction: completeVendors,
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.setCredentials(cmd.Context(), args[0], o)
		},
	}
	cmd.Flags().StringVar(&o.secretID, "secret-id", "", "credentials secret (default <prefix>/<vendor>[/<connection>]/credentials)")
	cmd.Flags().BoolVar(&o.allowUntagged, "allow-untagged", false, "write into a secret that has no token-refresher tags (an imported credentials secret)")
	cmd.Flags().BoolVar(&o.asJSON, "json", false, "print what was written (secret id, version, field names) as JSON")
	return cmd
}

func (c *cli) setCredentials(ctx context.Context, arg string, o setCredentialsOptions) error {
	t, err := parseTarget(arg)
	if err != nil {
		return fmt.Errorf("set-credentials: %w", err)
	}
	id := o.secretID
	if id == "" {
		id = c.secret(t, vendors.RoleCredentials)
	}
	fail := func(err error) error {
		if errors.Is(err, errInterrupted) || errors.Is(err, errEOF) {
			return fmt.Errorf("set-credentials %s: %w; nothing written", t, err)
		}
		return fmt.Errorf("set-credentials %s: secret %s: %w; nothing written", t, id, err)
	}
	var creds refresh.Credentials
	if !c.stdinTerminal {
		// Piped input is checked before AWS is asked anything.
		b, err := io.ReadAll(io.LimitReader(c.stdin, maxCredentialsSize+1))
		if err != nil {
			return fail(fmt.Errorf("read stdin: %w", err))
		}
		if len(b) > maxCredentialsSize {
			return fail(fmt.Errorf("stdin is over %d bytes", maxCredentialsSize))
		}
		if creds, err = parseCredentials(t.spec, string(b)); err != nil {
			return fail(err)
		}
	}
	if err := c.init(ctx); err != nil {
		return fail(err)
	}
	untagged, err := c.checkCredentialsSecret(ctx, id, t, o.allowUntagged)
	if err != nil {
		return fail(err)
	}
	if c.stdinTerminal {
		// The target is checked first, so nobody types secrets for a write
		// that would be refused.
		if creds, err = c.askCredentials(ctx, t); err != nil {
			return fail(err)
		}
	}
	body, err := json.Marshal(map[string]string(creds))
	if err != nil {
		return fail(fmt.Errorf("encode: %w", err))
	}
	if err := ctx.Err(); err != nil {
		return fail(errInterrupted)
	}
	version, err := (&secretstore.Store{API: c.aws.secrets}).Put(ctx, id, string(body))
	if err != nil {
		if errors.Is(err, secretstore.ErrNotFound) {
			return fail(fmt.Errorf("does not exist (deploy the stack first, or give --secret-id)"))
		}
		return fail(err)
	}
	fields := make([]string, 0, len(creds))
	for k := range creds {
		fields = append(fields, k)
	}
	sort.Strings(fields)
	if o.asJSON {
		b, _ := json.Marshal(credentialsWritten{Vendor: t.spec.Name, Connection: t.connectionName(), SecretID: id,
			VersionID: version, Fields: fields, Untagged: untagged})
		printf(c.stdout, "%s\n", b)
		return nil
	}
	printf(c.stdout, "%s: wrote credentials (%s) to %s, version %s\n", t, strings.Join(fields, ", "), id, version)
	return nil
}

// checkCredentialsSecret reads id's tags and refuses it unless it is the
// credentials secret of t, or has no token-refresher tags at all and
// allowUntagged is set (then untagged is true).
func (c *cli) checkCredentialsSecret(ctx context.Context, id string, t target, allowUntagged bool) (untagged bool, err error) {
	out, err := c.aws.secrets.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(id)})
	if err != nil {
		var nf *types.ResourceNotFoundException
		if errors.As(err, &nf) {
			return false, fmt.Errorf("does not exist in region %s (deploy the stack first, check --prefix (now %q) and the region, or give --secret-id)",
				orUnset(c.aws.region), c.prefix)
		}
		if isAccessDenied(err) {
			return false, fmt.Errorf("read its tags: access denied: check --prefix (now %q; the operator policy covers only the stack's own secrets) and that your role has the stack's operator policy (DescribeSecret)", c.prefix)
		}
		return false, fmt.Errorf("read its tags: %w", err)
	}
	tags := map[string]string{}
	for _, tg := range out.Tags {
		tags[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
	}
	role, hasRole := tags[vendors.TagRole]
	vendor, hasVendor := tags[vendors.TagVendor]
	conn, hasConn := tags[vendors.TagConnection]
	if !hasRole && !hasVendor && !hasConn {
		if !allowUntagged {
			return false, fmt.Errorf("has no token-refresher tags (%s, %s, %s), so it is not known to be %s's credentials secret; "+
				"if it is (an imported secret, or one made before the stack tagged them), pass --allow-untagged",
				vendors.TagRole, vendors.TagVendor, vendors.TagConnection, t)
		}
		printf(c.stderr, "tokenctl set-credentials %s: secret %s has no token-refresher tags; writing it because of --allow-untagged\n", t, id)
		return true, nil
	}
	if hasRole && !hasConn && role != vendors.RoleSigningKey {
		conn = vendors.DefaultConnection // tagged before connections existed
	}
	want := vendors.SecretTags(t.spec.Name, t.connection, vendors.RoleCredentials)
	if role == want[vendors.TagRole] && vendor == want[vendors.TagVendor] && conn == want[vendors.TagConnection] {
		return false, nil
	}
	return false, fmt.Errorf("is %s, not the credentials secret of %s (connection %s): refused",
		describeTags(role, vendor, conn, hasRole, hasVendor), t.spec.Name, t.connectionName())
}

// describeTags names what a secret's tags say it is.
func describeTags(role, vendor, conn string, hasRole, hasVendor bool) string {
	var what string
	switch {
	case !hasRole:
		what = "a secret without a " + vendors.TagRole + " tag"
	case role == vendors.RoleCredentials:
		what = "the credentials secret"
	case role == vendors.RoleToken:
		what = "the token secret (apps read it)"
	case role == vendors.RoleRefreshToken:
		what = "the refresh-token secret"
	case role == vendors.RoleSigningKey:
		what = "the signing-key secret"
	default:
		what = fmt.Sprintf("a secret of role %q", role)
	}
	switch {
	case !hasVendor:
		what += " of no vendor"
	case role == vendors.RoleSigningKey || conn == "":
		what += " of " + vendor
	default:
		what += fmt.Sprintf(" of %s (connection %s)", vendor, conn)
	}
	return what
}

// parseCredentials decodes stdin's JSON object and checks it for spec:
// its shape, each field, and the fields together. Errors name the field and
// the byte offset, never a value.
func parseCredentials(spec vendors.Spec, raw string) (refresh.Credentials, error) {
	if strings.TrimSpace(raw) == "" {
		return nil, errors.New("stdin is empty: pipe the credentials as one JSON object, or run on a terminal to be asked field by field")
	}
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, jsonError(err, dec.InputOffset(), int64(len(raw)))
	}
	// Positions are counted from 1, as the json package's syntax errors are.
	end := dec.InputOffset()
	if rest := strings.TrimLeft(raw[end:], " \t\r\n"); rest != "" {
		return nil, fmt.Errorf("credentials have trailing data after the JSON object (from byte %d): give exactly one object",
			end+int64(len(raw[end:])-len(rest))+1)
	}
	switch v.(type) {
	case map[string]any:
	case []any:
		return nil, errors.New("credentials are a JSON array: give one JSON object of fields")
	case nil:
		return nil, errors.New("credentials are JSON null: give one JSON object of fields")
	case string:
		return nil, errors.New("credentials are a JSON string: give one JSON object of fields")
	case json.Number:
		return nil, errors.New("credentials are a JSON number: give one JSON object of fields")
	case bool:
		return nil, errors.New("credentials are a JSON boolean: give one JSON object of fields")
	}
	creds, err := refresh.ParseCredentials(raw, spec.CredentialFields)
	if err != nil {
		return nil, fmt.Errorf("credentials %w", err)
	}
	if err := checkFieldNames(spec, creds); err != nil {
		return nil, err
	}
	for k, v := range creds {
		if v == "" {
			delete(creds, k) // an empty optional field
			continue
		}
		if err := checkField(k, v); err != nil {
			return nil, err
		}
	}
	if err := checkTogether(spec, creds); err != nil {
		return nil, err
	}
	return creds, nil
}

// jsonError describes a decoding error by position only: the json
// package's messages quote the offending character, which may belong to a
// secret.
func jsonError(err error, offset, end int64) error {
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		return fmt.Errorf("credentials are not valid JSON (syntax error at byte %d)", se.Offset)
	case errors.Is(err, io.ErrUnexpectedEOF):
		// The decoder's offset is where the unfinished value began; the
		// input ended at its last byte.
		return fmt.Errorf("credentials are not valid JSON (the input ends inside the object, at byte %d)", end)
	default:
		return fmt.Errorf("credentials are not valid JSON (at byte %d)", offset)
	}
}

func checkFieldNames(spec vendors.Spec, creds refresh.Credentials) error {
	known := map[string]bool{}
	for _, f := range allFields(spec) {
		known[f] = true
	}
	var unknown []string
	for k := range creds {
		if !known[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	sort.Strings(unknown)
	msg := fmt.Sprintf("unknown field %q", unknown[0])
	if s := suggest(unknown[0], allFields(spec)); s != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", s)
	}
	return fmt.Errorf("%s: %s takes %s", msg, spec.Name, describeFields(spec))
}

func allFields(spec vendors.Spec) []string {
	return append(append([]string{}, spec.CredentialFields...), spec.OptionalFields...)
}

func describeFields(spec vendors.Spec) string {
	s := strings.Join(spec.CredentialFields, ", ")
	if len(spec.OptionalFields) > 0 {
		s += "; optional " + strings.Join(spec.OptionalFields, ", ")
	}
	if spec.Name == vendors.Invoca {
		s += " (validate_url, or vanity and network_id, is needed)"
	}
	return s
}

var (
	// An Invoca vanity is the first label of <vanity>.invoca.net.
	vanityRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$`)
	// A network id is one path segment of the validation URL.
	networkIDRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
)

// checkField checks one non-empty field's value. Errors name the field,
// never the value (only non-secret fields have a format to check).
func checkField(name, value string) error {
	if value == vendors.Placeholder {
		return fmt.Errorf("field %q still holds the placeholder %q: fill in the real value", name, value)
	}
	if strings.TrimSpace(value) != value {
		return fmt.Errorf("field %q starts or ends with white space", name)
	}
	switch name {
	case "audience":
		// The values the vendor table documents (HasOffers' row).
		if audiences := vendors.MustLookup(vendors.HasOffers).FieldValues[name]; !slices.Contains(audiences, value) {
			return fmt.Errorf("field %q is not an audience HasOffers documents: use %q", name, strings.Join(audiences, `" or "`))
		}
	case "validate_url":
		u, err := url.Parse(value)
		if err != nil || u.Host == "" {
			return fmt.Errorf("field %q is not an absolute URL", name)
		}
		if err := vendorhttp.CheckEndpoint(value); err != nil {
			return fmt.Errorf("field %q: %v", name, err)
		}
	case "vanity":
		if !vanityRE.MatchString(value) {
			return fmt.Errorf("field %q is not a host name label (the <vanity> of <vanity>.invoca.net)", name)
		}
	case "network_id":
		if !networkIDRE.MatchString(value) {
			return fmt.Errorf("field %q is not a network id (letters, digits, - and _)", name)
		}
	}
	return nil
}

// checkTogether checks the rules between fields: Invoca's refresher needs a
// way to build its validation call.
func checkTogether(spec vendors.Spec, creds refresh.Credentials) error {
	if spec.Name != vendors.Invoca {
		return nil
	}
	vanity, network := creds["vanity"] != "", creds["network_id"] != ""
	switch {
	case creds["validate_url"] != "":
		return nil
	case vanity && network:
		return nil
	case vanity:
		return errors.New(`field "vanity" needs "network_id" too (the validation call is built from both)`)
	case network:
		return errors.New(`field "network_id" needs "vanity" too (the validation call is built from both)`)
	default:
		return errors.New(`invoca needs "validate_url", or "vanity" and "network_id": the refresher validates the token with that call`)
	}
}
