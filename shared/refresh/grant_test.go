package refresh

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/token-refresher/token-refresher/shared/vendorhttp"
)

func TestSeconds(t *testing.T) {
	tests := []struct {
		in   int64
		want time.Duration
	}{
		{0, 0},
		{3600, time.Hour},
		{-5, -5 * time.Second},
		{int64(MaxExpiresIn / time.Second), MaxExpiresIn},
		{int64(MaxExpiresIn/time.Second) + 1, MaxExpiresIn},
		{9227000000, MaxExpiresIn},
		{math.MaxInt64, MaxExpiresIn},
		{-9227000000, -MaxExpiresIn},
		{math.MinInt64, -MaxExpiresIn},
	}
	for _, tt := range tests {
		if got := Seconds(tt.in); got != tt.want {
			t.Errorf("Seconds(%d) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

// TestNewGrantHugeExpiresIn: an expires_in too large for time.Duration
// must not wrap into a negative lifetime (which refused the token as
// "negative expires_in"); it is a long lifetime, capped by the vendor's
// nominal one when the token is published.
func TestNewGrantHugeExpiresIn(t *testing.T) {
	resp := &vendorhttp.Response{Sent: t0}
	for _, n := range []int64{9227000000, math.MaxInt64, 1 << 40} {
		g := NewGrant(resp, "tok-huge", "bearer", n)
		if g.ExpiresIn <= 0 {
			t.Fatalf("NewGrant(expires_in=%d).ExpiresIn = %v, want positive", n, g.ExpiresIn)
		}
		f := newFixture(t)
		f.grant = func() (*Grant, error) { return g, nil }
		if _, err := f.r.Run(context.Background(), target, Event{}); err != nil {
			t.Fatalf("expires_in=%d: %v", n, err)
		}
		if got := f.stored(t).ExpiresAt; !got.Equal(t0.Add(spec.Lifetime)) {
			t.Errorf("expires_in=%d: expires_at = %v, want the nominal lifetime %v", n, got, t0.Add(spec.Lifetime))
		}
	}
}
