package refresh

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

// The sample payloads in events/ are what the schedule and operators send.
func TestSampleEvents(t *testing.T) {
	tests := map[string]Event{
		"scheduled.json": {},
		"scheduler.json": {},
		"force.json":     {Force: true},
		"reject.json":    {RejectedFingerprint: "0123456789abcdef"},
	}
	for name, want := range tests {
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("..", "..", "events", name))
			if err != nil {
				t.Fatal(err)
			}
			got, err := ParseEvent(raw)
			if err != nil || got != want {
				t.Errorf("ParseEvent = %+v, %v; want %+v", got, err, want)
			}
		})
	}
	t.Run("scheduled.json is an EventBridge event", func(t *testing.T) {
		raw, _ := os.ReadFile(filepath.Join("..", "..", "events", "scheduled.json"))
		var ev events.EventBridgeEvent
		if err := json.Unmarshal(raw, &ev); err != nil || ev.DetailType != "Scheduled Event" || ev.Source != "aws.events" {
			t.Errorf("EventBridgeEvent = %+v, %v", ev, err)
		}
	})
}

func FuzzParseEvent(f *testing.F) {
	for _, name := range []string{"scheduled.json", "scheduler.json", "force.json", "reject.json"} {
		if raw, err := os.ReadFile(filepath.Join("..", "..", "events", name)); err == nil {
			f.Add(raw)
		}
	}
	f.Add([]byte(`{"detail":{"force":"x"}}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		_, _ = ParseEvent(raw)
	})
}

func FuzzParseCredentials(f *testing.F) {
	f.Add(`{"client_id":"a","client_secret":"b"}`)
	f.Add(`{"client_id":1,"client_secret":null}`)
	f.Add(`[]`)
	f.Fuzz(func(t *testing.T, secret string) {
		creds, err := ParseCredentials(secret, []string{"client_id", "client_secret"})
		if err == nil && (creds["client_id"] == "" || creds["client_secret"] == "") {
			t.Fatal("accepted credentials without a required field")
		}
	})
}
