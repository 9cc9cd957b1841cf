package localaws

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/aws/aws-lambda-go/lambda/messages"
	"io"
	"net/http"
	"reflect"
	"sort"
	"strings"
	"sync"
	"time"
)

// AccountID is the account in the ARNs LambdaAPI answers with.
const AccountID = "123456789012"

// Limits of Lambda's Invoke API that LambdaAPI applies too.
const (
	// MaxSyncPayload is the largest request payload of a RequestResponse
	// invocation.
	MaxSyncPayload = 6 << 20
	// MaxAsyncPayload is the largest payload of an Event invocation.
	MaxAsyncPayload = 1 << 20
)

// LambdaFunction is one function LambdaAPI serves.
type LambdaFunction struct {
	// Invoker runs the function.
	Invoker Invoker
	// Aliases are the qualifiers the function answers to besides
	// "$LATEST". Each maps to a check of the event sent through the alias
	// (nil: none): a non-nil error is answered as the function's own error,
	// and the function is not invoked. Under aws-lambda-rie a function
	// cannot see the alias it was invoked through, so a check that the
	// function makes on its invoked ARN in AWS is made here instead.
	Aliases map[string]func(payload []byte) error
	// ReservedConcurrency, when above zero, is how many invocations of
	// the function may run at once, as Lambda's reserved concurrency: a
	// RequestResponse invoke beyond it is answered 429
	// TooManyRequestsException (reason
	// ReservedFunctionConcurrentInvocationLimitExceeded) and not run; an
	// Event invoke waits for a free unit, as Lambda's retries of a
	// throttled asynchronous event would get one.
	ReservedConcurrency int
}

// LambdaAPI is an http.Handler serving the Lambda Invoke API,
//
//	POST /2015-03-31/functions/{FunctionName}/invocations[?Qualifier=...]
//
// for functions by their deployed names, as `sam local start-lambda` does,
// so the AWS CLI (--endpoint-url) and SDK clients (AWS_ENDPOINT_URL_LAMBDA)
// invoke local functions unchanged. FunctionName may be a name, name:alias,
// a partial ARN (123456789012:function:name) or a full ARN.
//
// It answers as Lambda does: 200 with the function's reply; a function
// error is 200 with the error document and X-Amz-Function-Error: Unhandled
// (the emulator sends no such header). Errors of the API itself are JSON
// {"Type","message"} with the error code in X-Amzn-ErrorType:
//
//	unknown function or qualifier        404 ResourceNotFoundException
//	payload is not JSON                  400 InvalidRequestContentException
//	payload too large                    413 RequestTooLargeException
//	reserved concurrency in use          429 TooManyRequestsException
//	bad invocation type or name          400 InvalidParameterValueException
//	the emulator failed                  500 ServiceException
//
// X-Amz-Invocation-Type Event answers 202 and invokes in the background;
// DryRun answers 204. An empty payload is sent as {}.
//
// LambdaAPI is safe for concurrent use if its Invokers are.
type LambdaAPI struct {
	fns map[string]LambdaFunction
	// units holds, per function with a reserved concurrency, one token
	// per invocation running.
	units map[string]chan struct{}

	mu        sync.Mutex
	throttles map[string]int
	// Region is the region in the ARNs of error messages (default Region).
	Region string
	// OnAsyncDone, if not nil, gets the outcome of each Event invocation.
	OnAsyncDone func(name string, res Result, err error)
}

var _ http.Handler = (*LambdaAPI)(nil)

// LambdaInvokePath is the route LambdaAPI serves, as http.ServeMux writes
// it.
const LambdaInvokePath = "POST /2015-03-31/functions/{name}/invocations"

// NewLambdaAPI serves fns, keyed by function name.
func NewLambdaAPI(fns map[string]LambdaFunction) *LambdaAPI {
	a := &LambdaAPI{fns: make(map[string]LambdaFunction, len(fns)), units: map[string]chan struct{}{}, throttles: map[string]int{}}
	for k, v := range fns {
		a.fns[k] = v
		if v.ReservedConcurrency > 0 {
			a.units[k] = make(chan struct{}, v.ReservedConcurrency)
		}
	}
	return a
}

// Throttles is how many RequestResponse invokes of the function named
// name were refused because its reserved concurrency was in use.
func (a *LambdaAPI) Throttles(name string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.throttles[name]
}

// Names returns the functions served, sorted.
func (a *LambdaAPI) Names() []string {
	out := make([]string, 0, len(a.fns))
	for k := range a.fns {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (a *LambdaAPI) region() string {
	if a.Region != "" {
		return a.Region
	}
	return Region
}

// ServeHTTP implements http.Handler.
func (a *LambdaAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || !strings.HasPrefix(r.URL.Path, "/2015-03-31/functions/") || !strings.HasSuffix(r.URL.Path, "/invocations") {
		writeLambdaError(w, http.StatusNotFound, "UnknownOperationException", "unknown operation "+r.Method+" "+r.URL.Path)
		return
	}
	raw := r.PathValue("name")
	if raw == "" {
		raw = strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/2015-03-31/functions/"), "/invocations")
	}
	name, qualifier, err := parseFunctionName(raw, r.URL.Query().Get("Qualifier"))
	if err != nil {
		writeLambdaError(w, http.StatusBadRequest, "InvalidParameterValueException", err.Error())
		return
	}
	arn := fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", a.region(), AccountID, name)
	fn, ok := a.fns[name]
	if !ok {
		writeLambdaError(w, http.StatusNotFound, "ResourceNotFoundException", "Function not found: "+arn)
		return
	}
	var check func([]byte) error
	switch qualifier {
	case "", "$LATEST":
	default:
		c, ok := fn.Aliases[qualifier]
		if !ok {
			writeLambdaError(w, http.StatusNotFound, "ResourceNotFoundException", "Function not found: "+arn+":"+qualifier)
			return
		}
		check = c
	}
	invType := r.Header.Get("X-Amz-Invocation-Type")
	limit := int64(MaxSyncPayload)
	switch invType {
	case "", "RequestResponse":
	case "Event":
		limit = MaxAsyncPayload
	case "DryRun":
	default:
		writeLambdaError(w, http.StatusBadRequest, "InvalidParameterValueException", fmt.Sprintf("X-Amz-Invocation-Type %q is not RequestResponse, Event or DryRun", invType))
		return
	}
	payload, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeLambdaError(w, http.StatusRequestEntityTooLarge, "RequestTooLargeException", fmt.Sprintf("Request must be smaller than %d bytes for the Invoke operation", limit))
			return
		}
		writeLambdaError(w, http.StatusBadRequest, "InvalidRequestContentException", "could not read the request body")
		return
	}
	if len(strings.TrimSpace(string(payload))) == 0 {
		payload = []byte("{}")
	}
	if !json.Valid(payload) {
		writeLambdaError(w, http.StatusBadRequest, "InvalidRequestContentException", "Could not parse request body into json: the payload is not valid JSON")
		return
	}
	w.Header().Set("X-Amzn-Requestid", newRequestID())
	w.Header().Set("X-Amz-Executed-Version", "$LATEST")
	if invType == "DryRun" {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if check != nil {
		if err := check(payload); err != nil {
			if invType == "Event" {
				w.WriteHeader(http.StatusAccepted)
				return
			}
			writeFunctionError(w, ErrorDocument(err))
			return
		}
	}
	units := a.units[name]
	if invType == "Event" {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
			defer cancel()
			if units != nil {
				units <- struct{}{}
				defer func() { <-units }()
			}
			res, err := fn.Invoker.Invoke(ctx, payload)
			if a.OnAsyncDone != nil {
				a.OnAsyncDone(name, res, err)
			}
		}()
		w.WriteHeader(http.StatusAccepted)
		return
	}
	if units != nil {
		select {
		case units <- struct{}{}:
			defer func() { <-units }()
		default:
			a.mu.Lock()
			a.throttles[name]++
			a.mu.Unlock()
			w.Header().Set("X-Amzn-ErrorType", "TooManyRequestsException")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusTooManyRequests)
			b, _ := json.Marshal(map[string]string{"Type": "User", "message": "Rate Exceeded.", "Reason": "ReservedFunctionConcurrentInvocationLimitExceeded"})
			_, _ = w.Write(b)
			return
		}
	}
	res, err := fn.Invoker.Invoke(r.Context(), payload)
	switch {
	case err != nil && r.Context().Err() != nil:
		return // the caller left
	case err != nil:
		writeLambdaError(w, http.StatusInternalServerError, "ServiceException", "the local emulator of "+name+" failed: "+err.Error())
		return
	case res.Failed():
		doc := res.Payload
		if _, _, ok := errorDocument(doc); !ok {
			doc, _ = json.Marshal(map[string]string{"errorMessage": res.ErrorMessage, "errorType": res.ErrorType})
		}
		writeFunctionError(w, doc)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(res.Payload)
}

// parseFunctionName splits a FunctionName of the Invoke API into the name
// and the qualifier, which may also come from the Qualifier parameter.
func parseFunctionName(raw, qualifier string) (name, qual string, err error) {
	parts := strings.Split(raw, ":")
	var fromName string
	switch {
	case len(parts) == 1:
		name = parts[0]
	case len(parts) == 2:
		name, fromName = parts[0], parts[1]
	case (len(parts) == 3 || len(parts) == 4) && parts[1] == "function":
		name = parts[2]
		if len(parts) == 4 {
			fromName = parts[3]
		}
	case (len(parts) == 7 || len(parts) == 8) && parts[0] == "arn" && parts[2] == "lambda" && parts[5] == "function":
		name = parts[6]
		if len(parts) == 8 {
			fromName = parts[7]
		}
	default:
		return "", "", fmt.Errorf("FunctionName %q is not a name, name:qualifier or function ARN", raw)
	}
	if name == "" {
		return "", "", errors.New("FunctionName is empty")
	}
	switch {
	case fromName != "" && qualifier != "" && fromName != qualifier:
		return "", "", fmt.Errorf("the qualifier %q in FunctionName does not match the Qualifier parameter %q", fromName, qualifier)
	case fromName != "":
		qualifier = fromName
	}
	return name, qualifier, nil
}

// ErrorDocument is the error reply a Go function built with aws-lambda-go
// sends for err: {"errorMessage": err.Error(), "errorType": <err's type
// name>}, or, for an aws-lambda-go InvokeResponse_Error (what
// lambdafn.LambdaError returns), its own message and type.
func ErrorDocument(err error) []byte {
	if ie, ok := err.(messages.InvokeResponse_Error); ok {
		b, _ := json.Marshal(map[string]string{"errorMessage": ie.Message, "errorType": ie.Type})
		return b
	}
	t := reflect.TypeOf(err)
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	b, _ := json.Marshal(map[string]string{"errorMessage": err.Error(), "errorType": t.Name()})
	return b
}

func writeFunctionError(w http.ResponseWriter, doc []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amz-Function-Error", "Unhandled")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(doc)
}

func writeLambdaError(w http.ResponseWriter, status int, code, message string) {
	typ := "User"
	if status >= 500 {
		typ = "Service"
	}
	b, _ := json.Marshal(map[string]string{"Type": typ, "message": message})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-ErrorType", code)
	w.Header().Set("X-Amzn-Requestid", newRequestID())
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
