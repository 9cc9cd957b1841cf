// Command admitad-callback is the Lambda function behind the API Gateway
// routes GET /admitad/authorize and GET /admitad/callback, through which a
// person connects Admitad (see package admitad, Callback).
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/token-refresher/token-refresher/shared/admitad"
)

func main() {
	h, err := admitad.NewCallback(context.Background(), os.Getenv, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	lambda.Start(h.Handle)
}
