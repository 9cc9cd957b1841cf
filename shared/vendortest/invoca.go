package vendortest

import (
	"encoding/csv"
	"net/http"
	"strings"
	"time"

	"github.com/token-refresher/token-refresher/shared/vendors"
)

// InvocaAPIVersion is the API version in TokenURL.
const InvocaAPIVersion = "2020-10-01"

func init() {
	Register(vendors.Invoca, NewInvoca, map[string]string{"api_token": invocaToken})
}

// NewInvoca starts a fake Invoca API. Invoca has no token endpoint: its
// tokens are made by a person and never expire on a schedule. The server
// accepts the sandbox token of Credentials("invoca") (and those made by
// NewAPIToken) on GET /api/<version>/networks/transactions/<id>.csv, the
// cheap call a refresher validates with; TokenURL is that call's full URL.
// A valid call gets the report Invoca sends: text/csv (or a JSON array for
// .json) with the columns include_columns names and at most one row.
// opts.Lifetime is ignored.
func NewInvoca(opts Options) *Server {
	s := newServer(vendors.Invoca, opts, 0, invocaErrorBody)
	s.tokenPath = "/api/" + InvocaAPIVersion + "/networks/transactions/" + InvocaNetworkID +
		".csv?limit=1&include_columns=transaction_id"
	s.record(invocaToken, time.Time{})
	s.mux.HandleFunc("/api/{version}/networks/transactions/{file}", s.tokenEndpoint(s.invocaTransactions))
	return s.start(opts)
}

// NewAPIToken stands in for a person creating a new API credential in
// Invoca's UI: it returns a new token the API accepts.
func (s *Server) NewAPIToken() string {
	for {
		// Invoca's tokens are 32 alphanumerics; hex is a subset.
		tok := randomHex(16)
		if s.record(tok, time.Time{}) {
			return tok
		}
	}
}

func invocaBody(class, message string) string {
	return jsonString(map[string]any{"errors": map[string]string{"class": class, "invalid_data": message}})
}

func invocaErrorBody(status int) string {
	switch status {
	case http.StatusUnauthorized:
		return invocaBody("NotAuthorized", "invalid or missing oauth_token")
	case http.StatusForbidden:
		return invocaBody("Forbidden", "the token's user may not access this resource")
	}
	return invocaBody(strings.ReplaceAll(http.StatusText(status), " ", ""), http.StatusText(status))
}

func (s *Server) invocaTransactions(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		writeRaw(w, http.StatusMethodNotAllowed, invocaErrorBody(http.StatusMethodNotAllowed))
		return
	}
	network, ext, _ := strings.Cut(r.PathValue("file"), ".")
	if ext != "csv" && ext != "json" {
		writeRaw(w, http.StatusNotFound, invocaErrorBody(http.StatusNotFound))
		return
	}
	tok := r.Header.Get("Authorization")
	if tok != "" {
		// The documented form is "Authorization: <token>"; a scheme
		// (Bearer, Token, Basic) makes it a different, unknown token.
		if strings.ContainsAny(strings.TrimSpace(tok), " \t") {
			writeRaw(w, http.StatusUnauthorized, invocaErrorBody(http.StatusUnauthorized))
			return
		}
		tok = strings.TrimSpace(tok)
	} else {
		tok = r.URL.Query().Get("oauth_token")
	}
	switch s.check(tok) {
	case tokenOK:
	case tokenForbidden:
		writeRaw(w, http.StatusForbidden, invocaErrorBody(http.StatusForbidden))
		return
	default:
		writeRaw(w, http.StatusUnauthorized, invocaErrorBody(http.StatusUnauthorized))
		return
	}
	if network != InvocaNetworkID {
		writeRaw(w, http.StatusForbidden, invocaErrorBody(http.StatusForbidden))
		return
	}
	// The report has the columns include_columns names, in that order
	// (transaction_id when it names none), and at most limit rows: one.
	var columns []string
	for _, c := range strings.Split(r.URL.Query().Get("include_columns"), ",") {
		if c = strings.TrimSpace(c); c != "" {
			columns = append(columns, c)
		}
	}
	if len(columns) == 0 {
		columns = []string{"transaction_id"}
	}
	rows := 1
	if r.URL.Query().Get("limit") == "0" {
		rows = 0
	}
	report := make([]map[string]string, rows)
	for i := range report {
		report[i] = map[string]string{}
		for _, c := range columns {
			report[i][c] = randomHex(8)
		}
	}
	if ext == "json" {
		writeJSON(w, http.StatusOK, report)
		return
	}
	var b strings.Builder
	cw := csv.NewWriter(&b)
	cw.Write(columns)
	for _, row := range report {
		rec := make([]string, len(columns))
		for j, c := range columns {
			rec[j] = row[c]
		}
		cw.Write(rec)
	}
	cw.Flush()
	w.Header().Set("Content-Type", "text/csv")
	w.Write([]byte(b.String()))
}
