package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/spf13/cobra"

	"github.com/token-refresher/token-refresher/shared/admitad"
	"github.com/token-refresher/token-refresher/shared/secretstore"
	"github.com/token-refresher/token-refresher/shared/vendorhttp"
	"github.com/token-refresher/token-refresher/shared/vendors"
)

type connectOptions struct {
	url, keyID string
	ttl        time.Duration
	asJSON     bool
}

// connectLink is connect --json's output.
type connectLink struct {
	Vendor string `json:"vendor"`
	// Connection is the connection the link connects: "default" or the
	// name given as admitad/<connection>.
	Connection string `json:"connection"`
	URL        string `json:"url"`
	ExpiresAt  string `json:"expires_at"`
}

func (c *cli) connectCmd() *cobra.Command {
	var o connectOptions
	cmd := &cobra.Command{
		Use:   "connect admitad[/<connection>] --url URL [--key-secret-id ID] [--ttl 15m]",
		Short: "Mint the signed, short-lived link that connects an Admitad connection",
		Long: `Prints a signed, short-lived link that starts the Admitad connect flow: open it in a
browser, sign in at Admitad and allow access. admitad connects the default
connection, admitad/<connection> a named one: the link names the connection
inside its signature, so it can connect that connection and no other. Minting
needs read access to the signing-key secret (one per stack, shared by all
connections). --url is the stack output AdmitadAuthorizeUrl.`,
		Example: `  tokenctl connect admitad --url "$(aws cloudformation describe-stacks --stack-name TokenRefresher \
    --query "Stacks[0].Outputs[?OutputKey=='AdmitadAuthorizeUrl'].OutputValue" --output text)"
  tokenctl connect admitad/eu --json`,
		Args: oneTarget,
		ValidArgsFunction: func(_ *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
			if len(args) > 0 {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			return []cobra.Completion{vendors.Admitad}, cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.connect(cmd.Context(), args[0], o)
		},
	}
	cmd.Flags().StringVar(&o.url, "url", "", "the connect API's "+admitad.AuthorizePath+" URL (default $ADMITAD_CONNECT_URL)")
	cmd.Flags().StringVar(&o.keyID, "key-secret-id", "", "signing-key secret (default <prefix>/admitad/signing-key)")
	cmd.Flags().DurationVar(&o.ttl, "ttl", admitad.DefaultLinkTTL, fmt.Sprintf("how long the link works, at most %s", admitad.MaxLinkTTL))
	cmd.Flags().BoolVar(&o.asJSON, "json", false, "print the link and its expiry as JSON")
	return cmd
}

func (c *cli) connect(ctx context.Context, arg string, o connectOptions) error {
	t, err := parseTarget(arg)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	spec := t.spec
	if !spec.AuthCode {
		return usageErr("connect: %s is not connected by a person; only admitad is", spec.Name)
	}
	if o.url == "" {
		o.url = c.getenv("ADMITAD_CONNECT_URL")
	}
	id := o.keyID
	if id == "" {
		id = c.secret(t, vendors.RoleSigningKey)
	}
	switch {
	case o.url == "":
		return usageErr("connect %s: no --url (or ADMITAD_CONNECT_URL): give the stack output AdmitadAuthorizeUrl", t)
	case o.ttl <= 0 || o.ttl > admitad.MaxLinkTTL:
		return usageErr("connect %s: --ttl %s is not between 0 and %s", t, o.ttl, admitad.MaxLinkTTL)
	}
	u, err := url.Parse(o.url)
	if err != nil || !strings.HasSuffix(u.Path, admitad.AuthorizePath) {
		return usageErr("connect %s: --url %s does not end in %s", t, vendorhttp.RedactURL(o.url), admitad.AuthorizePath)
	}
	if err := vendorhttp.CheckEndpoint(o.url); err != nil {
		return usageErr("connect %s: --url: %v", t, err)
	}
	if err := c.init(ctx); err != nil {
		return fmt.Errorf("connect %s: %w", t, err)
	}
	if t.connection != "" {
		if err := c.checkConnection(ctx, t); err != nil {
			return fmt.Errorf("connect %s: %w", t, err)
		}
	}
	key, err := admitad.LoadSigningKey(ctx, &secretstore.Store{API: c.aws.secrets}, id)
	if err != nil {
		return fmt.Errorf("connect %s: %w", t, err)
	}
	now := c.now()
	link := admitad.MintConnectionLink(key, o.url, t.connection, o.ttl, now)
	expires := now.Add(o.ttl).UTC().Format(time.RFC3339)
	if o.asJSON {
		b, _ := json.Marshal(connectLink{Vendor: spec.Name, Connection: t.connectionName(), URL: link, ExpiresAt: expires})
		printf(c.stdout, "%s\n", b)
		return nil
	}
	printf(c.stdout, "%s\n", link)
	what := "the " + spec.Title + " connect"
	if t.connection != "" {
		what = fmt.Sprintf("the %s connect of connection %s", spec.Title, t.connection)
	}
	printf(c.stderr, "Open the link in a browser before %s; it starts %s.\n", expires, what)
	return nil
}

// checkConnection refuses a named connection the stack does not have: one
// without a token secret. A link for it would only be refused by the
// callback, in the browser of the person connecting. When the secret
// cannot be described (no DescribeSecret on it), the link is minted and a
// note says it was not checked.
func (c *cli) checkConnection(ctx context.Context, t target) error {
	id := c.secret(t, vendors.RoleToken)
	_, err := c.aws.secrets.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(id)})
	var nf *types.ResourceNotFoundException
	switch {
	case err == nil:
		return nil
	case errors.As(err, &nf):
		return fmt.Errorf("the stack has no connection %s: its token secret %s does not exist in region %s (declare %s in the stack's \"connections\" context and deploy, or check --prefix (now %q) and the region)",
			t.connection, id, orUnset(c.aws.region), t.connection, c.prefix)
	case ctx.Err() != nil:
		return ctx.Err()
	}
	printf(c.stderr, "note: could not check that the stack has connection %s (%s: %s); the callback refuses the link if it does not\n", t.connection, id, firstLine(err.Error()))
	return nil
}
