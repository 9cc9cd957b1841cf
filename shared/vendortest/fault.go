package vendortest

import (
	"encoding/json"
	"fmt"
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
// Go's HTTP client resends an idempotent request (GET: Merchenta, Invoca,
// Admitad's authorize) once when a reused connection is closed before any
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
	// AfterReply lets the server do its normal work first (Admitad rotates
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
func (f *Fault) UnmarshalJSON(b []byte) error {
	var j faultJSON
	if err := json.Unmarshal(b, &j); err != nil {
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
