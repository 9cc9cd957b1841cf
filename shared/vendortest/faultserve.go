package vendortest

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"time"
)

// Serving faults: the token endpoint wrapper that answers a queued Fault
// instead of the normal reply, and the control endpoints that queue them.

// tokenEndpoint wraps a vendor's token (or validation) handler: it counts
// the request and serves the next queued fault, if any.
func (s *Server) tokenEndpoint(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		f, faulted := s.take()
		if !faulted {
			next(w, r)
			return
		}
		var rec *httptest.ResponseRecorder
		if f.AfterReply || len(f.OmitFields) > 0 {
			rec = httptest.NewRecorder()
			next(rec, r)
			if len(f.OmitFields) > 0 && !f.AfterReply {
				writeOmitting(w, rec, f.OmitFields)
				return
			}
		}
		if f.Delay > 0 && !s.sleep(r.Context(), f.Delay) {
			if r.Context().Err() == nil { // server closing
				drop(w)
			}
			return
		}
		if f.Drop {
			drop(w)
			return
		}
		if f.RetryAfter != "" {
			w.Header().Set("Retry-After", f.RetryAfter)
		}
		if f.Status == 0 && rec != nil {
			// The vendor acted at once; its answer arrives after Delay.
			writeRecorded(w, rec)
			return
		}
		if f.Status == 0 {
			next(w, r)
			return
		}
		body := f.Body
		if body == "" && f.Status >= 300 {
			body = s.errBody(f.Status)
		}
		writeRaw(w, f.Status, body)
	}
}

// writeRecorded sends a recorded reply as it was.
func writeRecorded(w http.ResponseWriter, rec *httptest.ResponseRecorder) {
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}

// writeOmitting sends the recorded reply without the given JSON fields.
func writeOmitting(w http.ResponseWriter, rec *httptest.ResponseRecorder, fields []string) {
	var body map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		panic("vendortest: omit_fields on a reply that is not a JSON object")
	}
	for _, f := range fields {
		delete(body, f)
	}
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	b, _ := json.Marshal(body)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(rec.Code)
	w.Write(b)
}

// take counts a token request and pops the fault that applies to it.
func (s *Server) take() (Fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests++
	if len(s.faults) == 0 {
		return Fault{}, false
	}
	f := s.faults[0]
	s.faults[0].Count--
	if s.faults[0].Count <= 0 {
		s.faults = s.faults[1:]
	}
	return f, true
}

// sleep waits d; it reports false if the request or the server ended first.
func (s *Server) sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-s.done:
		return false
	}
}

// drop closes the connection without an answer.
func drop(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler) // HTTP/2 or a recorder: abort the stream
	}
	conn.Close()
}

func (s *Server) handleFault(w http.ResponseWriter, r *http.Request) {
	var f Fault
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	if err := dec.Decode(&f); err != nil {
		http.Error(w, "vendortest: decode fault: "+err.Error(), http.StatusBadRequest)
		return
	}
	s.Inject(f)
	writeJSON(w, http.StatusOK, map[string]int{"pending_faults": s.PendingFaults()})
}

func (s *Server) handleClearFaults(w http.ResponseWriter, r *http.Request) {
	s.ClearFaults()
	w.WriteHeader(http.StatusNoContent)
}
