// Command admitad-link prints a short-lived signed link that starts the
// Admitad connect flow. Only someone who can read the stack's signing-key
// secret can mint one.
//
//	admitad-link -url https://<api>/admitad/authorize [-key-secret-id ID] [-ttl 15m]
//
// -url defaults to $ADMITAD_CONNECT_URL and -key-secret-id to
// $SIGNING_KEY_SECRET_ID. The secret is read with the usual AWS SDK
// configuration (AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL_SECRETS_MANAGER).
// The link goes to stdout, its expiry to stderr.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/token-refresher/token-refresher/shared/admitad"
	"github.com/token-refresher/token-refresher/shared/secretstore"
	"github.com/token-refresher/token-refresher/shared/vendorhttp"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("admitad-link", flag.ContinueOnError)
	fs.SetOutput(stderr)
	connectURL := fs.String("url", os.Getenv("ADMITAD_CONNECT_URL"), "the callback API's /admitad/authorize URL (default $ADMITAD_CONNECT_URL)")
	keyID := fs.String("key-secret-id", os.Getenv("SIGNING_KEY_SECRET_ID"), "signing-key secret (default $SIGNING_KEY_SECRET_ID)")
	ttl := fs.Duration("ttl", admitad.DefaultLinkTTL, fmt.Sprintf("how long the link works (at most %s)", admitad.MaxLinkTTL))
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case *connectURL == "":
		return fmt.Errorf("admitad-link: no -url (or ADMITAD_CONNECT_URL): give the callback API's %s URL", admitad.AuthorizePath)
	case !strings.HasSuffix(strings.SplitN(*connectURL, "?", 2)[0], admitad.AuthorizePath):
		return fmt.Errorf("admitad-link: -url %s does not end in %s", vendorhttp.RedactURL(*connectURL), admitad.AuthorizePath)
	case *keyID == "":
		return fmt.Errorf("admitad-link: no -key-secret-id (or SIGNING_KEY_SECRET_ID)")
	case *ttl <= 0 || *ttl > admitad.MaxLinkTTL:
		return fmt.Errorf("admitad-link: -ttl %s is not between 0 and %s", *ttl, admitad.MaxLinkTTL)
	}
	if err := vendorhttp.CheckEndpoint(*connectURL); err != nil {
		return fmt.Errorf("admitad-link: -url: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	awsCfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return fmt.Errorf("admitad-link: load AWS configuration: %w", err)
	}
	key, err := admitad.LoadSigningKey(ctx, &secretstore.Store{API: secretsmanager.NewFromConfig(awsCfg)}, *keyID)
	if err != nil {
		return fmt.Errorf("admitad-link: %w", err)
	}
	now := time.Now()
	fmt.Fprintln(stdout, admitad.MintLink(key, *connectURL, *ttl, now))
	fmt.Fprintf(stderr, "Open the link in a browser before %s; it starts the Admitad connect.\n", now.Add(*ttl).UTC().Format(time.RFC3339))
	return nil
}
