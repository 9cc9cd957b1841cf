package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"

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
	Vendor    string `json:"vendor"`
	URL       string `json:"url"`
	ExpiresAt string `json:"expires_at"`
}

func (c *cli) connectCmd() *cobra.Command {
	var o connectOptions
	cmd := &cobra.Command{
		Use:   "connect admitad --url URL [--key-secret-id ID] [--ttl 15m]",
		Short: "Mint the signed, short-lived link that connects Admitad",
		Long: `Prints a signed, short-lived link that starts the Admitad connect flow: open it in a
browser, sign in at Admitad and allow access. Minting needs read access to the
signing-key secret. --url is the stack output AdmitadAuthorizeUrl.`,
		Example: `  tokenctl connect admitad --url "$(aws cloudformation describe-stacks --stack-name TokenRefresher \
    --query "Stacks[0].Outputs[?OutputKey=='AdmitadAuthorizeUrl'].OutputValue" --output text)"`,
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
	if t.connection != "" {
		return usageErr("connect %s: a link for a named connection is not supported yet; connect the default one (%s)", t, spec.Name)
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
		return usageErr("connect %s: no --url (or ADMITAD_CONNECT_URL): give the stack output AdmitadAuthorizeUrl", spec.Name)
	case o.ttl <= 0 || o.ttl > admitad.MaxLinkTTL:
		return usageErr("connect %s: --ttl %s is not between 0 and %s", spec.Name, o.ttl, admitad.MaxLinkTTL)
	}
	u, err := url.Parse(o.url)
	if err != nil || !strings.HasSuffix(u.Path, admitad.AuthorizePath) {
		return usageErr("connect %s: --url %s does not end in %s", spec.Name, vendorhttp.RedactURL(o.url), admitad.AuthorizePath)
	}
	if err := vendorhttp.CheckEndpoint(o.url); err != nil {
		return usageErr("connect %s: --url: %v", spec.Name, err)
	}
	if err := c.init(ctx); err != nil {
		return fmt.Errorf("connect %s: %w", spec.Name, err)
	}
	key, err := admitad.LoadSigningKey(ctx, &secretstore.Store{API: c.aws.secrets}, id)
	if err != nil {
		return fmt.Errorf("connect %s: %w", spec.Name, err)
	}
	now := c.now()
	link := admitad.MintLink(key, o.url, o.ttl, now)
	expires := now.Add(o.ttl).UTC().Format(time.RFC3339)
	if o.asJSON {
		b, _ := json.Marshal(connectLink{Vendor: spec.Name, URL: link, ExpiresAt: expires})
		printf(c.stdout, "%s\n", b)
		return nil
	}
	printf(c.stdout, "%s\n", link)
	printf(c.stderr, "Open the link in a browser before %s; it starts the %s connect.\n", expires, spec.Title)
	return nil
}
