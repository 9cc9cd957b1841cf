package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/token-refresher/token-refresher/shared/secretstore"
)

// secretsAPI is the part of the Secrets Manager client tokenctl calls: the
// store's calls, and DescribeSecret to read a secret's tags and tell a
// missing secret from one without a value.
type secretsAPI interface {
	secretstore.API
	DescribeSecret(ctx context.Context, in *secretsmanager.DescribeSecretInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.DescribeSecretOutput, error)
	ListSecrets(ctx context.Context, in *secretsmanager.ListSecretsInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.ListSecretsOutput, error)
}

// lambdaAPI is the part of the Lambda client tokenctl calls.
type lambdaAPI interface {
	Invoke(ctx context.Context, in *lambda.InvokeInput, optFns ...func(*lambda.Options)) (*lambda.InvokeOutput, error)
}

var (
	_ secretsAPI = (*secretsmanager.Client)(nil)
	_ lambdaAPI  = (*lambda.Client)(nil)
)

// clientSet is what a command needs of AWS.
type clientSet struct {
	secrets secretsAPI
	lambda  lambdaAPI
	region  string
}

// errNoCredentials is returned when the SDK's credential chain finds
// nothing: one plain sentence instead of the chain's last error (about EC2
// instance metadata) once per call.
var errNoCredentials = errors.New("no AWS credentials found")

// loadAWS builds the clients from the SDK's default configuration and
// checks once that credentials can be had.
func loadAWS(ctx context.Context) (clientSet, error) {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return clientSet{}, fmt.Errorf("load AWS configuration: %w", err)
	}
	if _, err := cfg.Credentials.Retrieve(ctx); err != nil {
		if ctx.Err() != nil {
			return clientSet{}, ctx.Err()
		}
		return clientSet{}, credentialsError(err)
	}
	return clientSet{
		secrets: secretsmanager.NewFromConfig(cfg),
		lambda:  lambda.NewFromConfig(cfg),
		region:  cfg.Region,
	}, nil
}

// credentialsError turns the credential chain's failure into one line. The
// chain's own error names the last provider it tried (usually EC2 instance
// metadata), which tells someone who has not set up credentials nothing;
// only with a profile chosen is its reason worth showing.
func credentialsError(err error) error {
	hint := "set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (on EC2, ECS or Lambda the role is used)"
	if p := os.Getenv("AWS_PROFILE"); p != "" {
		hint = fmt.Sprintf("profile %q gave none (for an SSO profile run `aws sso login --profile %s`): %s", p, p, firstLine(err.Error()))
	}
	return fmt.Errorf("%w: %s", errNoCredentials, hint)
}

// firstLine returns s up to its first newline.
func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
