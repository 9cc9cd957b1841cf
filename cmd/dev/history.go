package main

import (
	"math"
	"sync"
	"time"
)

// Kinds of marks on a token's chart.
const (
	markRefreshed = "refreshed"
	markSkipped   = "skipped"
	markFailed    = "failed"
	markFault     = "fault"
	markRestart   = "restart"
	markConnected = "connected"
)

// markKind maps a run's outcome to the mark drawn for it.
func markKind(outcome string) string {
	switch outcome {
	case "refreshed", "superseded":
		return markRefreshed
	case outcomeFailed, outcomeError:
		return markFailed
	default: // skipped, validated
		return markSkipped
	}
}

// segment is the time one token was the stored one.
type segment struct {
	fingerprint string
	from        time.Time
	expires     time.Time // zero: never expires
}

type mark struct {
	at   time.Time
	kind string
	note string
}

// history is what dev saw of one vendor's token over the last window of
// wall time: which token was stored when, and what happened to it. Safe
// for concurrent use.
type history struct {
	window time.Duration

	mu       sync.Mutex
	segments []segment
	marks    []mark
	faults   int // pending faults at the last sample
}

func newHistory(window time.Duration) *history { return &history{window: window} }

// observe records that at time at the stored token had this fingerprint
// and expiry ("" fingerprint: no token).
func (h *history) observe(at time.Time, fingerprint string, expires time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if n := len(h.segments); n > 0 {
		last := &h.segments[n-1]
		if last.fingerprint == fingerprint {
			last.expires = expires
			return
		}
		if at.Before(last.from) {
			return // an older reading that lost a race with a newer one
		}
	}
	h.segments = append(h.segments, segment{fingerprint: fingerprint, from: at, expires: expires})
	h.pruneLocked(at)
}

// mark records an event on the chart.
func (h *history) mark(at time.Time, kind, note string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.marks = append(h.marks, mark{at: at, kind: kind, note: note})
	h.pruneLocked(at)
}

// faultsPending records the test server's count of queued faults; a rise
// is an injected fault.
func (h *history) faultsPending(at time.Time, n int) {
	h.mu.Lock()
	rise := n > h.faults
	h.faults = n
	h.mu.Unlock()
	if rise {
		h.mark(at, markFault, "fault injected")
	}
}

// pruneLocked drops what lies wholly before two windows ago, keeping the
// segment that was current at the window's start.
func (h *history) pruneLocked(now time.Time) {
	cut := now.Add(-2 * h.window)
	i := 0
	for i+1 < len(h.segments) && !h.segments[i+1].from.After(cut) {
		i++
	}
	h.segments = h.segments[i:]
	j := 0
	for j < len(h.marks) && h.marks[j].at.Before(cut) {
		j++
	}
	h.marks = h.marks[j:]
}

// chart is the picture of a token's remaining life over the window, in
// coordinates the page only scales: x from 0 (the window's start) to 1
// (now), y from 0 (expired) to 1 (a whole lifetime left).
type chart struct {
	// WindowSeconds is the window's length in dev time.
	WindowSeconds float64 `json:"window_seconds"`
	// Lines are polylines of [x, y]; a gap between them is time without
	// a token.
	Lines [][][2]float64 `json:"lines,omitempty"`
	// Threshold is the y below which a run refreshes.
	Threshold float64 `json:"threshold,omitempty"`
	// NoExpiry: the vendor's tokens do not expire; lines sit at y = 1.
	NoExpiry bool        `json:"no_expiry,omitempty"`
	Marks    []chartMark `json:"marks,omitempty"`
}

type chartMark struct {
	X    float64 `json:"x"`
	Kind string  `json:"kind"`
	Note string  `json:"note,omitempty"`
	// Ago is how long ago it happened, in dev time, for people.
	Ago string `json:"ago"`
}

// chart draws the window ending at now. lifetime is the full life of a
// token (0: tokens never expire); speed turns wall time into dev time.
func (h *history) chart(now time.Time, lifetime time.Duration, threshold, speed float64) chart {
	h.mu.Lock()
	defer h.mu.Unlock()
	start := now.Add(-h.window)
	c := chart{WindowSeconds: math.Round(h.window.Seconds() * speed), Threshold: threshold, NoExpiry: lifetime == 0}
	if lifetime == 0 {
		c.Threshold = 0
	}
	x := func(t time.Time) float64 {
		return round4(float64(t.Sub(start)) / float64(h.window))
	}
	y := func(seg segment, t time.Time) float64 {
		if lifetime == 0 || seg.expires.IsZero() {
			return 1
		}
		left := seg.expires.Sub(t)
		return round4(min(max(float64(left)/float64(lifetime), 0), 1))
	}
	var line [][2]float64
	flush := func() {
		if len(line) > 1 {
			c.Lines = append(c.Lines, line)
		}
		line = nil
	}
	for i, seg := range h.segments {
		end := now
		if i+1 < len(h.segments) {
			end = h.segments[i+1].from
		}
		if !end.After(start) {
			continue
		}
		from := seg.from
		if from.Before(start) {
			from = start
		}
		if seg.fingerprint == "" {
			flush()
			continue
		}
		// A new token starts a new tooth: a vertical jump from where the
		// previous one ended.
		line = append(line, [2]float64{x(from), y(seg, from)})
		if !seg.expires.IsZero() && lifetime > 0 && seg.expires.After(from) && seg.expires.Before(end) {
			line = append(line, [2]float64{x(seg.expires), 0})
		}
		line = append(line, [2]float64{x(end), y(seg, end)})
	}
	flush()
	for _, m := range h.marks {
		if m.at.Before(start) || m.at.After(now) {
			continue
		}
		c.Marks = append(c.Marks, chartMark{X: x(m.at), Kind: m.kind, Note: m.note, Ago: devAgo(now.Sub(m.at), speed)})
	}
	return c
}

func round4(f float64) float64 { return math.Round(f*1e4) / 1e4 }
