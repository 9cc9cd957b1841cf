// Package vendortest runs fake vendors: in-process HTTP servers, bound to
// 127.0.0.1 only, that speak the documented token protocols of HasOffers,
// Fyber, Merchenta, Invoca and Admitad, including their documented error
// replies, and that can be told to fail.
//
// Unit tests of the vendor clients, integration tests (the real Lambda
// binaries under aws-lambda-rie calling them over HTTP) and `make dev` (the
// whole system run locally) use them. A Server is safe for concurrent use.
//
// # Finding a vendor's server
//
// New(vendor, opts) starts the test server registered for a vendor of the
// table (package vendors) and Credentials(vendor) returns the sandbox
// credentials it accepts. The five servers above register themselves; a new
// vendor's package builds its own with NewBase and the exported helpers
// (see base.go) in a file excluded from Lambda builds (//go:build
// !lambda.norpc) and calls Register from init. Package vendortest/all,
// generated from the table, imports every vendor package, so a program that
// imports it finds every vendor's server. docs/adding-a-vendor.md walks
// through it.
//
// # What each fake speaks
//
//   - HasOffers: POST /authorize with JSON {client_id, client_secret,
//     audience} answers {access_token (a JWT with numeric iat/exp),
//     token_type "Bearer", expires_in 86400}. Wrong credentials or audience:
//     401; a body that is not JSON: 400. GET /Apiv3/json with a Bearer token
//     and IntegratorId answers a Network-API-shaped reply (400 without
//     IntegratorId, 401 for a bad token, 404 for an unknown integrator).
//     The documentation lists error messages, not the shape of the body; the
//     fake sends {"error": <code>, "message": <documented message>}.
//   - Fyber: POST /auth/v1/token with JSON {grant_type, client_id,
//     client_secret} answers {accessToken (a JWT with numeric iat/exp),
//     tokenType "bearer", expiresIn 3600}; errors are 400
//     {"error":"unsupported_grant_type"|"invalid_request"|"invalid_client"}
//     and 500 {"error":"internal_server_error"}. POST /api/v1/report checks a
//     Bearer token.
//   - Merchenta: GET /v3/oauth/accessToken?username=&password=&advertiser=
//     answers {"status":"success","data":{"accessToken":T}} where T is
//     JWT-shaped with ISO-8601 times without a zone and a 64-hex-digit
//     signature, one hour apart. Wrong username or password: 401 AUTH001; an
//     advertiser the user may not act for: 403 AUTH003. Any other GET under
//     /v3/ checks the Bearer token (401 AUTH001).
//   - Invoca: no token endpoint. GET
//     /api/<version>/networks/transactions/<network_id>.csv checks the token
//     sent as "Authorization: <token>" (a "Bearer" prefix is refused) or as
//     ?oauth_token=: 200 with a one-row CSV, 401 for an unknown or revoked
//     token, 403 for a token that lacks rights (see Server.Forbid) or another
//     network. The shape of Invoca's error body is not documented; the fake
//     sends {"errors":{"class":..., "invalid_data":...}}.
//   - Admitad: GET /api/authorize/ (also the older /authorize/) approves at
//     once, standing in for the person who clicks Allow, and redirects to
//     redirect_uri with code and state, or with error and
//     error_description. POST /token/ (form-encoded) serves
//     grant_type=authorization_code (HTTP Basic client_id:client_secret
//     required), refresh_token (client_id and client_secret in the body) and
//     client_credentials. Every refresh rotates: the used refresh token is
//     dead afterwards; access tokens issued earlier stay valid until they
//     expire. GET /me/ checks a Bearer token.
//
// Access tokens, refresh tokens and codes come from crypto/rand and are
// distinct. Options.Lifetime scales expires_in and exp (make dev speeds time
// up); Options.Now moves the fake's clock, which also sets every reply's
// Date header.
//
// # Faults
//
// Server.Inject queues a Fault for the next token requests (for Invoca: the
// validation requests; for Admitad: POST /token/). Faults are served in the
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
// Admitad's server also answers POST /_deny (DenyNext) and POST
// /_revoke_grant (RevokeGrant).
//
// # Safety
//
// Servers bind loopback addresses only, and the handler refuses (403) a
// request whose peer is not a loopback address, so a Handler mounted on a
// wider listener by mistake still serves no one else. The sandbox
// credentials (Credentials) are fixed, public test values; nothing here
// logs a token or a secret.
package vendortest
