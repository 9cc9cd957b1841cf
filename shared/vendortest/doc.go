// Package vendortest is the machinery of fake vendors: in-process HTTP
// servers, bound to 127.0.0.1 only, that speak a vendor's documented token
// protocol, including its documented error replies, and that can be told
// to fail. It knows no vendor: each vendor's test package,
// shared/<vendor>/<vendor>test (as net/http/httptest sits beside
// net/http), builds its server from the pieces here (NewBase and the
// helpers of base.go) and registers it from init.
//
// Unit tests of the vendor clients, integration tests (the real Lambda
// binaries under aws-lambda-rie calling them over HTTP) and `make dev` (the
// whole system run locally) use them. A Server is safe for concurrent use.
//
// # Finding a vendor's server
//
// New(vendor, opts) starts the test server registered for a vendor of the
// table (package vendors) and Credentials(vendor) returns the sandbox
// credentials it accepts. Package internal/testservers, generated from the
// table, imports every vendor's test package, so a program that imports it
// finds every vendor's server. docs/adding-a-vendor.md walks through it.
//
// Access tokens, refresh tokens and codes come from crypto/rand and are
// distinct. Options.Lifetime scales expires_in and exp (make dev speeds time
// up); Options.Now moves the fake's clock, which also sets every reply's
// Date header.
//
// # Faults
//
// Server.Inject queues a Fault for the next token requests (the requests
// to the handler wrapped by TokenEndpoint: for a vendor of static tokens,
// the validation requests). Faults are served in the
// order they were queued. A fault may delay the reply, answer a status with
// the vendor's documented error body (or a given body), add a Retry-After
// header, or close the connection without answering.
//
// # Control over HTTP
//
// Every server also answers, for make dev and for tests in other processes:
//
//	POST   /_fault   body: a Fault as JSON, e.g.
//	                 {"status":503,"retry_after":"5","delay":"2s","count":2}
//	                 keys: status, body, retry_after, delay (a Go duration
//	                 string), count, drop, after_reply, omit_fields; an
//	                 unknown key is refused (400) naming the known ones.
//	                 Answers 200 {"pending_faults":n}.
//	DELETE /_fault   drops every queued fault.
//	POST   /_revoke  RevokeAll: every issued access token is invalid from now.
//	GET    /_stats   {"vendor", "token_requests", "authorize_requests",
//	                 "issued", "valid", "pending_faults"}: counts only, never
//	                 a token.
//
// A vendor's test package may add control endpoints of its own.
//
// # Safety
//
// Servers bind loopback addresses only, and the handler refuses (403) a
// request whose peer is not a loopback address, so a Handler mounted on a
// wider listener by mistake still serves no one else. The sandbox
// credentials (Credentials) are fixed, public test values; nothing here
// logs a token or a secret.
package vendortest
