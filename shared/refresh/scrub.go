package refresh

import (
	"net/url"
	"strings"
)

// Scrubber removes known secret values, and their URL-encoded forms, from
// text bound for an error, a log line or a page. The zero value is ready;
// it is not safe for concurrent use.
type Scrubber struct{ values []string }

// Add registers values to remove. Values shorter than six bytes (a numeric
// id) are ignored: they would mangle messages and are not secrets.
func (s *Scrubber) Add(values ...string) {
	for _, v := range values {
		if len(v) >= 6 {
			s.values = append(s.values, v)
			if q := url.QueryEscape(v); q != v {
				s.values = append(s.values, q)
			}
		}
	}
}

// Scrub returns text with every registered value replaced by "[redacted]".
func (s *Scrubber) Scrub(text string) string {
	for _, v := range s.values {
		text = strings.ReplaceAll(text, v, "[redacted]")
	}
	return text
}
