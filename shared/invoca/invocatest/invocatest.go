// Package invocatest runs a test server that speaks Invoca's API as far
// as a refresher uses it. Invoca has no token endpoint: GET
// /api/<version>/networks/transactions/<network_id>.csv checks the token
// sent as "Authorization: <token>" (a "Bearer" prefix is refused) or as
// ?oauth_token=: 200 with a one-row CSV, 401 for an unknown or revoked
// token, 403 for a token that lacks rights (see vendortest.Server.Forbid)
// or another network. The shape of Invoca's error body is not documented;
// the server sends {"errors":{"class":..., "invalid_data":...}}. Everything
// else (faults, the control endpoints) is package vendortest's.
//
// Importing the package registers the server with vendortest.Register
// under "invoca", with the sandbox token it accepts (a public test value).
// Nothing here is built into a Lambda function.
package invocatest

import (
	"encoding/csv"
	"net/http"
	"strings"
	"time"

	"github.com/token-refresher/token-refresher/shared/vendors"
	"github.com/token-refresher/token-refresher/shared/vendortest"
)

// APIVersion is the API version in TokenURL.
const APIVersion = "2020-10-01"

const (
	// apiToken is the sandbox API token, 32 characters like Invoca's.
	apiToken = "SbxInvocaTok3nF0rTest1ngOnly0001"
	// NetworkID is the network whose transactions the sandbox token
	// may read; TokenURL points at it.
	NetworkID = "1111"
)

func init() {
	vendortest.Register(vendors.Invoca, NewServer, map[string]string{"api_token": apiToken})
}

// NewServer starts a fake Invoca API. Invoca has no token endpoint: its
// tokens are made by a person and never expire on a schedule. The server
// accepts the sandbox token of Credentials("invoca") (and those made by
// NewAPIToken) on GET /api/<version>/networks/transactions/<id>.csv, the
// cheap call a refresher validates with; TokenURL is that call's full URL.
// A valid call gets the report Invoca sends: text/csv (or a JSON array for
// .json) with the columns include_columns names and at most one row.
// opts.Lifetime is ignored.
func NewServer(opts vendortest.Options) *vendortest.Server {
	s := vendortest.NewBase(vendors.Invoca, opts, 0, invocaErrorBody)
	s.SetTokenPath("/api/" + APIVersion + "/networks/transactions/" + NetworkID +
		".csv?limit=1&include_columns=transaction_id")
	s.Record(vendortest.SandboxAccount, apiToken, time.Time{})
	s.HandleFunc("/api/{version}/networks/transactions/{file}", s.TokenEndpoint(func(w http.ResponseWriter, r *http.Request) { invocaTransactions(s, w, r) }))
	return s.Start()
}

// NewAPIToken stands in for a person creating a new API credential in
// Invoca's UI: it returns a new token s accepts.
func NewAPIToken(s *vendortest.Server) string {
	for {
		// Invoca's tokens are 32 alphanumerics; hex is a subset.
		tok := vendortest.RandomHex(16)
		if s.Record(vendortest.SandboxAccount, tok, time.Time{}) {
			return tok
		}
	}
}

func invocaBody(class, message string) string {
	return vendortest.JSONString(map[string]any{"errors": map[string]string{"class": class, "invalid_data": message}})
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

func invocaTransactions(s *vendortest.Server, w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		vendortest.WriteRaw(w, http.StatusMethodNotAllowed, invocaErrorBody(http.StatusMethodNotAllowed))
		return
	}
	network, ext, _ := strings.Cut(r.PathValue("file"), ".")
	if ext != "csv" && ext != "json" {
		vendortest.WriteRaw(w, http.StatusNotFound, invocaErrorBody(http.StatusNotFound))
		return
	}
	tok := r.Header.Get("Authorization")
	if tok != "" {
		// The documented form is "Authorization: <token>"; a scheme
		// (Bearer, Token, Basic) makes it a different, unknown token.
		if strings.ContainsAny(strings.TrimSpace(tok), " \t") {
			vendortest.WriteRaw(w, http.StatusUnauthorized, invocaErrorBody(http.StatusUnauthorized))
			return
		}
		tok = strings.TrimSpace(tok)
	} else {
		tok = r.URL.Query().Get("oauth_token")
	}
	switch s.CheckToken(tok) {
	case vendortest.TokenOK:
	case vendortest.TokenForbidden:
		vendortest.WriteRaw(w, http.StatusForbidden, invocaErrorBody(http.StatusForbidden))
		return
	default:
		vendortest.WriteRaw(w, http.StatusUnauthorized, invocaErrorBody(http.StatusUnauthorized))
		return
	}
	if network != NetworkID {
		vendortest.WriteRaw(w, http.StatusForbidden, invocaErrorBody(http.StatusForbidden))
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
			report[i][c] = vendortest.RandomHex(8)
		}
	}
	if ext == "json" {
		vendortest.WriteJSON(w, http.StatusOK, report)
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
