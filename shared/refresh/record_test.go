package refresh

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/token-refresher/token-refresher/shared/token"
)

// recordingVendor is a Stateful vendor whose record is set by the test;
// its state is the number of the run that peeked it.
type recordingVendor struct {
	rec    Record
	peeks  int
	calls  int
	grant  func() (*Grant, error)
	states []int
}

func (v *recordingVendor) Peek(context.Context, *Request) (int, Record, error) {
	v.peeks++
	return v.peeks, v.rec, nil
}

func (v *recordingVendor) FetchWith(_ context.Context, _ *Request, state int) (*Grant, error) {
	v.calls++
	v.states = append(v.states, state)
	return v.grant()
}

var _ Stateful[int] = (*recordingVendor)(nil)

// TestRecordVersusPublished: a Stateful vendor's record of the token it last
// obtained, against the token apps read. The published token decides; a
// fresher recorded token that never reached the token secret is
// published without a vendor call.
func TestRecordVersusPublished(t *testing.T) {
	tok := func(access string, refreshed time.Time) *token.Token {
		return &token.Token{Vendor: "acme", AccessToken: access, TokenType: "Bearer", Authorization: "Bearer " + access,
			ExpiresAt: refreshed.Add(time.Hour), RefreshedAt: refreshed, Fingerprint: token.Fingerprint(access),
			Connection: "default", Trigger: token.TriggerSchedule}
	}
	old := tok("access-published-long-ago", t0.Add(-50*time.Minute))
	fresh := tok("access-published-recently", t0.Add(-5*time.Minute))
	recorded := tok("access-recorded-not-published", t0.Add(-2*time.Minute))
	recordedDue := tok("access-recorded-but-due-now", t0.Add(-40*time.Minute))
	withoutValue := *recorded
	withoutValue.AccessToken, withoutValue.Authorization = "", ""
	for _, tc := range []struct {
		name      string
		published *token.Token
		rec       Record
		ev        Event
		action    string
		want      string // fingerprint apps read afterwards; "new" for the vendor's
		calls     int
	}{
		{"nothing published, fresh record: published", nil, Record{Token: recorded}, Event{}, ActionRefreshed, recorded.Fingerprint, 0},
		{"old published, fresh record: published", old, Record{Token: recorded}, Event{}, ActionRefreshed, recorded.Fingerprint, 0},
		{"fresh published, newer record: published", fresh, Record{Token: recorded}, Event{}, ActionRefreshed, recorded.Fingerprint, 0},
		{"published is the record: skipped", recorded, Record{Token: recorded}, Event{}, ActionSkipped, recorded.Fingerprint, 0},
		{"published newer than the record: skipped", fresh, Record{Token: old}, Event{}, ActionSkipped, fresh.Fingerprint, 0},
		{"old published, record due too: refreshed", old, Record{Token: recordedDue}, Event{}, ActionRefreshed, "new", 1},
		{"record without its value: the published token decides", old, Record{Token: &withoutValue}, Event{}, ActionRefreshed, "new", 1},
		{"fresh published, nothing recorded: skipped", fresh, Record{}, Event{}, ActionSkipped, fresh.Fingerprint, 0},
		{"pending state to recover: fetched", fresh, Record{Token: recorded, MustFetch: true}, Event{}, ActionRefreshed, "new", 1},
		{"reject of the published token, fresher record: published", fresh, Record{Token: recorded}, Event{RejectedFingerprint: fresh.Fingerprint}, ActionRefreshed, recorded.Fingerprint, 0},
		{"reject of the published token, same record: refreshed", fresh, Record{Token: fresh}, Event{RejectedFingerprint: fresh.Fingerprint}, ActionRefreshed, "new", 1},
		{"reject of another token: skipped", fresh, Record{Token: fresh}, Event{RejectedFingerprint: old.Fingerprint}, ActionSkipped, fresh.Fingerprint, 0},
		{"forced: the vendor is called", fresh, Record{Token: recorded}, Event{Force: true}, ActionRefreshed, "new", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			v := &recordingVendor{rec: tc.rec, grant: f.grant}
			f.r.Vendor = WithState(v)
			if tc.published != nil {
				b, _ := json.Marshal(tc.published)
				f.mem.current[tokenID] = string(b)
			} else {
				f.mem.current[tokenID] = "Q7#generated-by-secrets-manager"
			}
			sum, err := f.r.Run(context.Background(), Target{CredentialsSecretID: credsID, TokenSecretID: tokenID, RefreshSecretID: "state"}, tc.ev)
			if err != nil || sum.Action != tc.action {
				t.Fatalf("Run = %+v, %v; want %s", sum, err, tc.action)
			}
			if v.calls != tc.calls || v.peeks != 1 {
				t.Errorf("vendor peeked %d times and called %d times, want once and %d", v.peeks, v.calls, tc.calls)
			}
			for _, st := range v.states {
				if st != 1 {
					t.Errorf("FetchWith got state %d, not the one Peek returned", st)
				}
			}
			got := f.stored(t)
			want := tc.want
			if want == "new" {
				want = token.Fingerprint("tok-" + t0.Format("150405"))
			}
			if got.Fingerprint != want {
				t.Errorf("apps read %s, want %s", got.Fingerprint, want)
			}
			if sum.Fingerprint != got.Fingerprint || sum.ExpiresAt != got.ExpiresAt.UTC().Format(time.RFC3339) {
				t.Errorf("reply %+v does not describe the token apps read (%s)", sum, got.Fingerprint)
			}
			var emf map[string]any
			if err := json.Unmarshal(f.metrics.Bytes(), &emf); err != nil {
				t.Fatal(err)
			}
			if left := emf[MetricUntilExpiry]; left != got.ExpiresAt.Sub(t0).Seconds() {
				t.Errorf("%s = %v, want %v", MetricUntilExpiry, left, got.ExpiresAt.Sub(t0).Seconds())
			}
		})
	}
}
