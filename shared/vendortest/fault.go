package vendortest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Fault is a failure the server serves instead of (or before) its normal
// reply to a token request.
//
// The steps run in this order: wait Delay (cut short if the client gives
// up or the server closes), then Drop, else set Retry-After, then answer
// Status with Body. With Status 0 the normal reply follows the delay and
// header.
//
// Go's HTTP client resends an idempotent request (a GET token or
// validation request) once when a reused connection is closed before any
// answer; that resend is a new token request and uses up Count too.
type Fault struct {
	// Status is the HTTP status to answer with; 0 means no status fault
	// (a delay or a Retry-After header only).
	Status int
	// Body is sent with Status; "" means the vendor's documented error body
	// for Status (and an empty body for a 2xx Status: a malformed success).
	Body string
	// RetryAfter is the Retry-After header value, if not "".
	RetryAfter string
	// Delay is how long to wait before answering.
	Delay time.Duration
	// Count is how many following token requests the fault applies to;
	// below 1 means 1.
	Count int
	// Drop closes the connection without answering: the client sees a
	// network error.
	Drop bool
	// AfterReply lets the server do its normal work first (it rotates
	// the refresh token), then serves the fault instead of the normal
	// reply: the reply is lost after the vendor acted on the request.
	// With Status 0 and no Drop, the normal reply is the one served,
	// after Delay: the vendor acted at once and answers slowly.
	AfterReply bool
	// OmitFields removes these fields from the normal JSON reply, which
	// is then sent with its own status (e.g. a 200 carrying a new
	// refresh_token but no access_token).
	OmitFields []string
}

type faultJSON struct {
	Status      int      `json:"status,omitempty"`
	Body        string   `json:"body,omitempty"`
	RetryAfter  string   `json:"retry_after,omitempty"`
	RetryAfter2 string   `json:"RetryAfter,omitempty"` // also matches "retryAfter"
	Delay       string   `json:"delay,omitempty"`
	Count       int      `json:"count,omitempty"`
	Drop        bool     `json:"drop,omitempty"`
	AfterReply  bool     `json:"after_reply,omitempty"`
	OmitFields  []string `json:"omit_fields,omitempty"`
}

// FaultKeys are the keys of a fault as JSON (POST /_fault).
var FaultKeys = []string{"status", "body", "retry_after", "delay", "count", "drop", "after_reply", "omit_fields"}

// knownFaultKey reports whether k is one of FaultKeys (or Go's spelling of
// one, such as "RetryAfter"), in any case.
func knownFaultKey(k string) bool {
	n := strings.ToLower(strings.ReplaceAll(k, "_", ""))
	for _, known := range FaultKeys {
		if n == strings.ReplaceAll(known, "_", "") {
			return true
		}
	}
	return false
}

// MarshalJSON writes the form POST /_fault takes, Delay as a Go duration
// string.
func (f Fault) MarshalJSON() ([]byte, error) {
	j := faultJSON{Status: f.Status, Body: f.Body, RetryAfter: f.RetryAfter, Count: f.Count, Drop: f.Drop, AfterReply: f.AfterReply, OmitFields: f.OmitFields}
	if f.Delay != 0 {
		j.Delay = f.Delay.String()
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads {"status","body","retry_after","delay","count","drop"}
// with delay a Go duration string such as "2s" or "150ms".
//
// A key it does not know ({"statuss":500}) is refused, naming the known
// keys (FaultKeys), so that a typo never queues a fault that does
// something else. Keys match regardless of case ("Status", "RetryAfter").
func (f *Fault) UnmarshalJSON(b []byte) error {
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(b, &keys); err != nil {
		return fmt.Errorf("vendortest: fault: %w", err)
	}
	for k := range keys {
		if !knownFaultKey(k) {
			return fmt.Errorf("vendortest: fault: unknown key %q: the known keys are %s", k, strings.Join(FaultKeys, ", "))
		}
	}
	var j faultJSON
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		return fmt.Errorf("vendortest: fault: %w", err)
	}
	var d time.Duration
	if j.Delay != "" {
		var err error
		if d, err = time.ParseDuration(j.Delay); err != nil {
			return fmt.Errorf("vendortest: fault: delay %q is not a Go duration like \"2s\"", j.Delay)
		}
		if d < 0 {
			return fmt.Errorf("vendortest: fault: delay %q is negative", j.Delay)
		}
	}
	if j.Status != 0 && (j.Status < 100 || j.Status > 999) {
		return fmt.Errorf("vendortest: fault: status %d is not an HTTP status", j.Status)
	}
	ra := j.RetryAfter
	if ra == "" {
		ra = j.RetryAfter2
	}
	*f = Fault{Status: j.Status, Body: j.Body, RetryAfter: ra, Delay: d, Count: j.Count, Drop: j.Drop, AfterReply: j.AfterReply, OmitFields: j.OmitFields}
	return nil
}
