package main

import (
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/token-refresher/token-refresher/internal/humandur"
)

// console is dev's standard output: text for people, or with -json one
// JSON object per line and nothing else. A write that fails (a closed pipe:
// `dev | head`, or tee killed by Ctrl-C) marks it gone and calls lost once,
// which stops dev; later writes are dropped.
type console struct {
	w    io.Writer
	json bool

	mu       sync.Mutex
	gone     atomic.Bool
	lostOnce sync.Once
	lost     func()
}

func newConsole(w io.Writer, jsonOut bool, lost func()) *console {
	return &console{w: w, json: jsonOut, lost: lost}
}

// isGone reports whether the output has been found closed.
func (c *console) isGone() bool { return c.gone.Load() }

// markGone records that the output is closed.
func (c *console) markGone() {
	c.gone.Store(true)
	c.lostOnce.Do(func() {
		if c.lost != nil {
			c.lost()
		}
	})
}

func (c *console) write(b []byte) {
	if c.gone.Load() {
		return
	}
	c.mu.Lock()
	_, err := c.w.Write(b)
	c.mu.Unlock()
	if err != nil {
		c.markGone()
	}
}

// text prints s in text mode; in JSON mode it prints nothing.
func (c *console) text(s string) {
	if !c.json {
		c.write([]byte(s))
	}
}

// textf is text with formatting.
func (c *console) textf(format string, args ...any) { c.text(fmt.Sprintf(format, args...)) }

// emit prints v as one JSON line in JSON mode; in text mode nothing.
func (c *console) emit(v any) {
	if !c.json {
		return
	}
	b, err := json.Marshal(v)
	if err != nil {
		b, _ = json.Marshal(map[string]string{"event": "error", "error": "dev: encode event: " + err.Error()})
	}
	c.write(append(b, '\n'))
}

// progressEvent is one step of start-up in JSON mode.
type progressEvent struct {
	Event    string  `json:"event"` // "progress"
	Step     string  `json:"step"`
	Function string  `json:"function,omitempty"`
	Detail   string  `json:"detail,omitempty"`
	Seconds  float64 `json:"seconds,omitempty"`
}

// progress reports a finished step: "built fyber (3.1s)" or its JSON
// line. A duration under a millisecond is not printed.
func (c *console) progress(step, function, detail string, took time.Duration) {
	if c.json {
		c.emit(progressEvent{Event: "progress", Step: step, Function: function, Detail: detail, Seconds: roundSeconds(took)})
		return
	}
	line := "  " + detail
	if took >= time.Millisecond {
		line += " (" + humandur.Format(took) + ")"
	}
	c.text(line + "\n")
}

// roundSeconds is d in seconds to a tenth; 0 stays 0 (and is omitted).
func roundSeconds(d time.Duration) float64 {
	return float64(d.Round(100*time.Millisecond)) / float64(time.Second)
}
