// Command echofn is the Lambda function the localaws tests run under
// aws-lambda-rie. It replies with the event it received and logs one line
// per invoke. Behaviour is steered by the event:
//
//	{"fail": true}        handler error "echofn: asked to fail"
//	{"sleep_ms": N}       sleeps N milliseconds before replying
//	{"exit": true}        the process exits with status 3 mid-invoke
//	{"env": "NAME"}       the reply carries "env_value": os.Getenv(NAME)
//
// With ECHOFN_INIT_FAIL=1 in its environment it fails before lambda.Start,
// as a function with a broken configuration does at cold start.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
)

type request struct {
	Fail    bool   `json:"fail"`
	SleepMS int    `json:"sleep_ms"`
	Exit    bool   `json:"exit"`
	Env     string `json:"env"`
}

type reply struct {
	Event    json.RawMessage `json:"event"`
	EnvValue string          `json:"env_value,omitempty"`
	PID      int             `json:"pid"`
}

func handle(_ context.Context, event json.RawMessage) (reply, error) {
	fmt.Println("echofn: handling event")
	var req request
	_ = json.Unmarshal(event, &req) // Non-object events are echoed as they are.
	if req.SleepMS > 0 {
		// Through the deadline, as a function that overruns it: the
		// emulator's timeout, not the handler, ends such an invoke.
		time.Sleep(time.Duration(req.SleepMS) * time.Millisecond)
	}
	if req.Exit {
		os.Exit(3)
	}
	if req.Fail {
		return reply{}, errors.New("echofn: asked to fail")
	}
	r := reply{Event: event, PID: os.Getpid()}
	if req.Env != "" {
		r.EnvValue = os.Getenv(req.Env)
	}
	return r, nil
}

func main() {
	if os.Getenv("ECHOFN_INIT_FAIL") == "1" {
		fmt.Fprintln(os.Stderr, "echofn: init failed on purpose")
		os.Exit(2)
	}
	lambda.Start(handle)
}
