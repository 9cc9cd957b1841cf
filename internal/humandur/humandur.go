// Package humandur formats durations for people: short, at most two units,
// and never a dropped digit ("50s", "8m30s", "1h5m", "2d3h").
package humandur

import (
	"strconv"
	"time"
)

const day = 24 * time.Hour

// steps picks the rounding for a duration: the first step whose limit is
// above the duration, rounded to the step's unit, is used.
var steps = []struct {
	below, unit time.Duration
}{
	{time.Microsecond, time.Nanosecond},
	{time.Millisecond, time.Microsecond},
	{time.Second, time.Millisecond},
	{10 * time.Second, 100 * time.Millisecond},
	{time.Hour, time.Second},
	{day, time.Minute},
}

// Format returns d rounded for reading:
//
//	below 1s      "0s", "850ns", "12µs", "350ms"
//	below 10s     tenths of a second: "1.5s", "4s"
//	below 1h      whole seconds: "50s", "8m30s", "9m"
//	below 1 day   whole minutes: "1h5m", "2h"
//	from 1 day    whole hours, days of 24h: "1d", "2d3h", "400d"
//
// A negative d is formatted as -d with a leading "-". The result depends
// only on d; Format is safe for concurrent use.
func Format(d time.Duration) string {
	if d < 0 {
		if d == -d { // math.MinInt64 has no positive counterpart
			d++
		}
		return "-" + Format(-d)
	}
	for _, s := range steps {
		if r := d.Round(s.unit); r < s.below {
			return format(r)
		}
	}
	return format(d.Round(time.Hour))
}

// format prints an already rounded, non-negative d.
func format(d time.Duration) string {
	switch {
	case d == 0:
		return "0s"
	case d < time.Microsecond:
		return strconv.FormatInt(int64(d), 10) + "ns"
	case d < time.Millisecond:
		return strconv.FormatInt(int64(d/time.Microsecond), 10) + "µs"
	case d < time.Second:
		return strconv.FormatInt(int64(d/time.Millisecond), 10) + "ms"
	case d < 10*time.Second:
		s := strconv.FormatInt(int64(d/time.Second), 10)
		if tenths := d % time.Second / (100 * time.Millisecond); tenths != 0 {
			s += "." + strconv.FormatInt(int64(tenths), 10)
		}
		return s + "s"
	case d < time.Hour:
		return pair(d, time.Minute, "m", time.Second, "s")
	case d < day:
		return pair(d, time.Hour, "h", time.Minute, "m")
	default:
		return pair(d, day, "d", time.Hour, "h")
	}
}

// pair prints d as whole bigs and whole smalls, leaving out a zero part.
func pair(d, big time.Duration, bigName string, small time.Duration, smallName string) string {
	var s string
	if n := d / big; n > 0 {
		s = strconv.FormatInt(int64(n), 10) + bigName
	}
	if n := d % big / small; n > 0 {
		s += strconv.FormatInt(int64(n), 10) + smallName
	}
	return s
}
