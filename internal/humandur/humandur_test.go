package humandur_test

import (
	"math"
	"testing"
	"time"

	"github.com/token-refresher/token-refresher/internal/humandur"
)

func TestFormat(t *testing.T) {
	const day = 24 * time.Hour
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"},
		{1, "1ns"},
		{999, "999ns"},
		{1500 * time.Nanosecond, "2µs"},
		{12 * time.Microsecond, "12µs"},
		{999*time.Microsecond + 400, "999µs"},
		{999*time.Microsecond + 600, "1ms"},
		{350 * time.Millisecond, "350ms"},
		{999*time.Millisecond + 600*time.Microsecond, "1s"},
		{time.Second, "1s"},
		{1500 * time.Millisecond, "1.5s"},
		{4 * time.Second, "4s"},
		{9*time.Second + 960*time.Millisecond, "10s"},
		{10 * time.Second, "10s"},
		{20 * time.Second, "20s"},
		{50 * time.Second, "50s"},
		{59*time.Second + 600*time.Millisecond, "1m"},
		{time.Minute, "1m"},
		{90 * time.Second, "1m30s"},
		{8*time.Minute + 30*time.Second, "8m30s"},
		{9*time.Minute + 10*time.Second, "9m10s"},
		{10 * time.Minute, "10m"},
		{40 * time.Minute, "40m"},
		{59*time.Minute + 59*time.Second + 600*time.Millisecond, "1h"},
		{time.Hour, "1h"},
		{time.Hour + 5*time.Minute, "1h5m"},
		{time.Hour + 10*time.Minute + 29*time.Second, "1h10m"},
		{10*time.Hour + 30*time.Second, "10h1m"},
		{20 * time.Hour, "20h"},
		{23*time.Hour + 59*time.Minute + 40*time.Second, "1d"},
		{day, "1d"},
		{day + 10*time.Hour, "1d10h"},
		{2*day + 3*time.Hour + 20*time.Minute, "2d3h"},
		{10 * day, "10d"},
		{400*day + 20*time.Hour, "400d20h"},
		{-time.Second, "-1s"},
		{-50 * time.Second, "-50s"},
		{-(8*time.Minute + 30*time.Second), "-8m30s"},
		{-time.Hour, "-1h"},
		{-(2*day + 3*time.Hour), "-2d3h"},
		{-350 * time.Millisecond, "-350ms"},
		{math.MaxInt64, "106751d23h"},
		{math.MinInt64, "-106751d23h"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := humandur.Format(tt.d); got != tt.want {
				t.Errorf("Format(%d) = %q, want %q", int64(tt.d), got, tt.want)
			}
		})
	}
}

func BenchmarkFormat(b *testing.B) {
	for b.Loop() {
		humandur.Format(2*time.Hour + 5*time.Minute)
	}
}
