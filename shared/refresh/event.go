package refresh

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// What a run is asked (Event) and what it answers (Summary), and the
// limits on what rejects may cause.

// Actions a run reports.
const (
	ActionRefreshed = "refreshed"
	ActionSkipped   = "skipped"
	ActionValidated = "validated"
	// ActionSuperseded: a newer writer (an Admitad reconnect) replaced the
	// refresh state during the run; the run stepped back and published
	// nothing.
	ActionSuperseded = "superseded"
)

// ErrSuperseded is returned (wrapped) by a Vendor whose state was replaced
// by a newer writer during the fetch. The refresher then publishes nothing
// and reports ActionSuperseded without failing.
var ErrSuperseded = errors.New("superseded by a newer write")

// Event is the input of a run. It accepts an EventBridge (or Scheduler)
// event, whose fields it ignores except "detail", and a plain object.
type Event struct {
	// Force refreshes even when the stored token is fresh.
	Force bool `json:"force"`
	// RejectedFingerprint asks for a refresh because an app was refused
	// with the token of that fingerprint; the vendor is called only if the
	// stored token still has it.
	RejectedFingerprint string `json:"rejected_fingerprint"`
	// Connection names the account to refresh; "" (or "default") is the
	// vendor's default connection.
	Connection string `json:"connection,omitempty"`
}

// ParseEvent reads a run's input: {}, {"force":true},
// {"rejected_fingerprint":"..."}, or an EventBridge event carrying those in
// "detail". Anything else is an error naming the problem.
func ParseEvent(raw []byte) (Event, error) {
	var ev struct {
		Event
		Detail json.RawMessage `json:"detail"`
	}
	trimmed := strings.TrimSpace(string(raw))
	if trimmed == "" || trimmed == "null" {
		return Event{}, nil
	}
	if err := json.Unmarshal(raw, &ev); err != nil {
		return Event{}, fmt.Errorf("refresh: event is not a JSON object with force/rejected_fingerprint: %w", err)
	}
	out := ev.Event
	if len(ev.Detail) > 0 && ev.Detail[0] == '{' {
		var d Event
		if err := json.Unmarshal(ev.Detail, &d); err != nil {
			return Event{}, fmt.Errorf("refresh: event detail: %w", err)
		}
		out.Force = out.Force || d.Force
		if out.RejectedFingerprint == "" {
			out.RejectedFingerprint = d.RejectedFingerprint
		}
		if out.Connection == "" {
			out.Connection = d.Connection
		}
	}
	return out, checkEvent(out)
}

// Summary is the result of a run, returned to the invoker.
type Summary struct {
	Vendor string `json:"vendor"`
	// Connection is the account refreshed: "default" for the vendor's
	// default connection.
	Connection  string `json:"connection"`
	Action      string `json:"action"`
	ExpiresAt   string `json:"expires_at,omitempty"`
	Fingerprint string `json:"fingerprint,omitempty"`
	// Reason says why a run that was asked to refresh skipped instead
	// (a rejected token refreshed too recently), or what a run that
	// published without calling the vendor published.
	Reason string `json:"reason,omitempty"`
	// Refusal names, for programs, why a reject was skipped although the
	// rejected token is the stored one: RefusalRejectInterval or
	// RefusalVersionBudget. Empty otherwise.
	Refusal string `json:"refusal,omitempty"`
}

// Refusals of a reject (Summary.Refusal).
const (
	// RefusalRejectInterval: the stored token replaced a rejected one
	// less than MinRejectInterval ago.
	RefusalRejectInterval = "reject_interval"
	// RefusalVersionBudget: the token secret has RejectVersionBudget
	// versions from the last 24 hours.
	RefusalVersionBudget = "version_budget"
)

// MinRejectInterval bounds the vendor calls that rejected tokens cause: a
// run for a rejected token calls the vendor only if the stored token was
// obtained at least this long ago. However many apps report the token,
// a vendor sees at most one such call per interval (runs of one function
// never overlap), which also keeps the token secret far below Secrets
// Manager's limit of about 100 versions a day. Scheduled and forced runs
// are not affected.
const MinRejectInterval = time.Minute

// RejectVersionBudget is how many versions the token secret may have
// gained in the last 24 hours for a rejected token still to be replaced.
// Secrets Manager refuses writes to a secret with about 100 versions
// younger than a day; the busiest schedule (an hour-long token refreshed at
// half-life) writes 48 a day, so rejects stop well before the quota.
const RejectVersionBudget = 80
