// Package localaws runs the real parts of token-refresher on loopback for
// integration tests, `make dev` and `make bench`: moto_server as Secrets
// Manager, function bootstraps under the Lambda Runtime Interface Emulator
// (aws-lambda-rie), and Front, an HTTP handler that plays API Gateway (HTTP
// API, payload format 2.0) in front of them.
//
// Every process it starts listens on 127.0.0.1 only, runs in its own process
// group, and is killed with everything below it by Stop. On Linux a child
// also gets SIGKILL when the process that started it dies, so an aborted
// test binary leaves no moto_server or emulator behind.
//
// # What aws-lambda-rie does (measured with the version scripts/install-tools.sh pins)
//
//   - The bootstrap is not started with the emulator: the first invoke runs
//     the init (a cold start), later invokes reuse the same process. Init
//     errors therefore show up on the first Invoke, not in StartFunction.
//   - The bootstrap runs as a child of the emulator in a process group of its
//     own, so killing the emulator's group does not kill it; Stop finds it
//     under /proc and kills it as well. An orphaned bootstrap would keep
//     running its current event and only exit when it next calls the
//     Runtime API.
//   - The emulator passes its whole environment to the bootstrap; this
//     package gives it only the variables the caller lists.
//   - A handler error is HTTP 200 with {"errorMessage","errorType"} and no
//     X-Amz-Function-Error header.
//   - A timeout (AWS_LAMBDA_FUNCTION_TIMEOUT) is HTTP 200 with the plain text
//     "Task timed out after N.00 seconds"; the emulator SIGKILLs the
//     bootstrap and the next invoke starts a new one (a new cold start).
//     Result reports it as ErrorTypeTimeout.
//   - A bootstrap that exits during an invoke gives HTTP 502 with
//     {"errorType":"Runtime.ExitError","errorMessage":"... exit status N"};
//     the next invoke starts a new one.
//   - A bootstrap that exits during init gives HTTP 502 with an empty body,
//     on every invoke (each one retries the init). Result reports it as
//     ErrorTypeInit; the reason is in Function.Output.
//   - One emulator runs one invoke at a time. A second concurrent invoke is
//     refused ("ReserveFailed: AlreadyReserved") and then crashes the
//     emulator (nil pointer panic), so Function.Invoke serialises invokes:
//     concurrent callers queue. For parallel load, start several Functions.
//   - An invoke abandoned by its caller still runs to its end inside the
//     emulator; the next Invoke waits for it.
//   - A taken --runtime-interface-emulator-address or --runtime-api-address
//     port makes the emulator panic and exit at start; StartFunction then
//     retries with fresh ports. Port 9001 (the emulator's default Runtime
//     API port) is never used.
//   - Setting AWS_LAMBDA_MAX_CONCURRENCY switches the emulator to another
//     mode; StartFunction refuses it.
//
// moto_server answers about 0.5–1 s after start; StartMoto polls
// /moto-api/ until it does.
package localaws
