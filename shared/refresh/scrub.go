package refresh

import (
	"encoding/json"
	"errors"
	"html"
	"net/url"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/token-refresher/token-refresher/shared/vendorhttp"
)

// Redacted replaces every secret value Scrub finds.
const Redacted = "[redacted]"

// MaxMessage is the longest error message Message returns, in bytes.
const MaxMessage = 1000

// MinFragment is the shortest piece of a registered value that Scrub
// removes where it appears on its own: a vendor that echoes part of a
// secret (a prefix of a client secret, the middle of a token) leaks that
// part. Values shorter than MinFragment are removed only whole.
const MinFragment = 12

// Scrubber removes known secret values from text bound for an error, a log
// line or a page: each value, and every run of MinFragment or more bytes
// of it, raw and in the forms it takes in a URL query, a URL path, a JSON
// string and an HTML page. The zero value is ready; it is not safe for
// concurrent use.
//
// Text is scrubbed before it is cut, never after: a cut that falls inside
// a secret leaves a piece no scrubber recognises. Message does both in
// that order for errors.
type Scrubber struct {
	raw []string
	// Built on the first Scrub after an Add: a run that has nothing to
	// scrub never pays for it.
	built  int
	whole  []string            // forms shorter than MinFragment
	pieces map[string]struct{} // every MinFragment-byte window of the longer forms
}

// Add registers values to remove. Values shorter than six bytes (a numeric
// id) are ignored: they would mangle messages and are not secrets.
func (s *Scrubber) Add(values ...string) {
	for _, v := range values {
		if len(v) >= 6 {
			s.raw = append(s.raw, v)
		}
	}
}

// Values returns the values registered so far.
func (s *Scrubber) Values() []string { return slices.Clone(s.raw) }

// index brings whole and pieces up to date with raw.
func (s *Scrubber) index() {
	if s.built == len(s.raw) {
		return
	}
	if s.pieces == nil {
		s.pieces = map[string]struct{}{}
	}
	for _, v := range s.raw[s.built:] {
		for _, f := range forms(v) {
			if len(f) < MinFragment {
				if !slices.Contains(s.whole, f) {
					s.whole = append(s.whole, f)
				}
				continue
			}
			for i := 0; i+MinFragment <= len(f); i++ {
				s.pieces[f[i:i+MinFragment]] = struct{}{}
			}
		}
	}
	s.built = len(s.raw)
}

// forms are the ways v can appear in text: raw, URL-query-escaped,
// URL-path-escaped, escaped inside a JSON string (with and without Go's
// HTML escaping of <, > and &) and HTML-escaped.
func forms(v string) []string {
	out := []string{v, url.QueryEscape(v), url.PathEscape(v), html.EscapeString(v)}
	if b, err := json.Marshal(v); err == nil {
		out = append(out, string(b[1:len(b)-1]))
	}
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if enc.Encode(v) == nil {
		j := strings.TrimSuffix(b.String(), "\n")
		out = append(out, j[1:len(j)-1])
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Scrub returns text with every registered value, and every run of
// MinFragment or more bytes of one, replaced by Redacted.
//
// Every occurrence is found first, overlapping ones included, and each
// stretch of text covered by one or more of them becomes a single
// Redacted. So when one value contains another (a username inside a
// password) or two overlap in the text, nothing of either is left, and the
// result does not depend on the order values were added in.
func (s *Scrubber) Scrub(text string) string {
	if len(s.raw) == 0 {
		return text
	}
	s.index()
	type span struct{ from, to int }
	var spans []span
	for _, v := range s.whole {
		for at := 0; at < len(text); {
			i := strings.Index(text[at:], v)
			if i < 0 {
				break
			}
			spans = append(spans, span{at + i, at + i + len(v)})
			at += i + 1
		}
	}
	if len(s.pieces) > 0 {
		for i := 0; i+MinFragment <= len(text); i++ {
			if _, ok := s.pieces[text[i:i+MinFragment]]; ok {
				spans = append(spans, span{i, i + MinFragment})
			}
		}
	}
	if len(spans) == 0 {
		return text
	}
	slices.SortFunc(spans, func(a, b span) int { return a.from - b.from })
	var b strings.Builder
	last := 0 // end of the text already written or redacted
	for i := 0; i < len(spans); {
		from, to := spans[i].from, spans[i].to
		// Merge every span that starts inside (or right at the end of)
		// this stretch.
		for i++; i < len(spans) && spans[i].from <= to; i++ {
			to = max(to, spans[i].to)
		}
		b.WriteString(text[last:from])
		b.WriteString(Redacted)
		last = to
	}
	b.WriteString(text[last:])
	return b.String()
}

// Held keeps the secret values a process has held across its runs, so
// that a value rotated away (an earlier refresh token, a replaced access
// token) is still scrubbed from what a later run prints. It keeps the most
// recent MaxHeld distinct values. It is safe for concurrent use.
type Held struct {
	mu     sync.Mutex
	values []string
}

// MaxHeld bounds the values a Held keeps.
const MaxHeld = 64

// Add records values, most recent last, dropping the oldest beyond MaxHeld.
func (h *Held) Add(values ...string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, v := range values {
		if i := slices.Index(h.values, v); i >= 0 {
			h.values = slices.Delete(h.values, i, i+1)
		}
		h.values = append(h.values, v)
	}
	if n := len(h.values) - MaxHeld; n > 0 {
		h.values = slices.Delete(h.values, 0, n)
	}
}

// Values returns the values held, oldest first.
func (h *Held) Values() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.values)
}

// Message returns err's text for a log line, a page or an invoker, with
// every registered value scrubbed, then cut: vendor text is scrubbed
// while whole and only then shortened.
//
// Every *vendorhttp.Error in err's chain is scrubbed and shortened in
// place first (vendorhttp.Error.Scrub), so that its Code and Description
// read later through errors.As are clean too; the message is then scrubbed
// as a whole and cut to MaxMessage bytes.
func (s *Scrubber) Message(err error) string {
	if err == nil {
		return ""
	}
	walk(err, func(e error) {
		if ve, ok := e.(*vendorhttp.Error); ok {
			ve.Scrub(s.Scrub)
		}
	})
	return cut(s.Scrub(err.Error()), MaxMessage)
}

// cut shortens text to at most max bytes, on a UTF-8 boundary, marking the
// cut with "…".
func cut(text string, max int) string {
	if len(text) <= max {
		return text
	}
	i := max
	for i > 0 && !utf8.RuneStart(text[i]) {
		i--
	}
	return text[:i] + "…"
}

// walk calls f on err and every error it wraps (Unwrap() error and
// Unwrap() []error), depth first.
func walk(err error, f func(error)) {
	for depth := 0; err != nil && depth < 100; depth++ {
		f(err)
		switch u := err.(type) {
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				walk(e, f)
			}
			return
		default:
			err = errors.Unwrap(err)
		}
	}
}
