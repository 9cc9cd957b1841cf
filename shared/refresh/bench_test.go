package refresh

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/token-refresher/token-refresher/shared/secretstore"
)

// BenchmarkRun measures the refresh core's own work for one run: parsing
// the credentials and the stored token, deciding, building and validating
// the token, encoding it, the log line and the metrics line. Secrets
// Manager is in memory and the vendor answers at once, so no waiting is
// included; `make bench` holds this figure to the 1 ms budget.
func BenchmarkRun(b *testing.B) {
	cases := []struct {
		name string
		ev   Event
	}{
		// A forced run goes all the way: vendor call and token write.
		{"refresh", Event{Force: true}},
		// A scheduled run with a fresh token reads both secrets and stops.
		{"skip", Event{}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			mem := &memSecrets{current: map[string]string{credsID: `{"client_id":"id-1","client_secret":"` + secret + `"}`}}
			n := 0
			r := &Refresher{
				Spec: spec,
				Vendor: VendorFunc(func(context.Context, *Request) (*Grant, error) {
					n++
					// A token as long as a typical vendor JWT.
					tok := "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJiZW5jaCIsImlhdCI6MTcwMDAwMDAwMCwiZXhwIjoxNzAwMDAzNjAwfQ." + time.Now().Format("150405.000000000")
					return &Grant{AccessToken: tok, TokenType: "bearer", ExpiresIn: time.Hour}, nil
				}),
				Store:        &secretstore.Store{API: mem},
				Endpoint:     "https://vendor.example.com/token",
				FunctionName: "token-refresher-acme",
				Log:          slog.New(slog.NewJSONHandler(io.Discard, nil)),
				Metrics:      io.Discard,
			}
			ctx := context.Background()
			// Seed a fresh token so "skip" really skips.
			if _, err := r.Run(ctx, target, Event{Force: true}); err != nil {
				b.Fatal(err)
			}
			calls := n
			b.ReportAllocs()
			for b.Loop() {
				if _, err := r.Run(ctx, target, c.ev); err != nil {
					b.Fatal(err)
				}
			}
			if c.ev.Force && n == calls {
				b.Fatal("the vendor was never called: the benchmark measured no refresh")
			}
			if !c.ev.Force && n != calls {
				b.Fatalf("the vendor was called %d times on a fresh token", n-calls)
			}
		})
	}
}

// TestReportDurationMicroseconds: the log line carries the run's duration
// in microseconds next to the rounded milliseconds.
func TestReportDurationMicroseconds(t *testing.T) {
	f := newFixture(t)
	grant := f.grant
	f.grant = func() (*Grant, error) {
		f.now = f.now.Add(1500 * time.Microsecond)
		return grant()
	}
	if _, err := f.r.Run(context.Background(), target, Event{Force: true}); err != nil {
		t.Fatal(err)
	}
	var line struct {
		DurationMS int64 `json:"duration_ms"`
		DurationUS int64 `json:"duration_us"`
	}
	if err := json.Unmarshal(f.logs.Bytes(), &line); err != nil {
		t.Fatalf("log line: %v\n%s", err, f.logs.String())
	}
	if line.DurationMS != 1 || line.DurationUS != 1500 {
		t.Errorf("duration_ms = %d, duration_us = %d, want 1 and 1500: %s", line.DurationMS, line.DurationUS, f.logs.String())
	}
}
