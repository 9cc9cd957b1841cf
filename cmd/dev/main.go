// Command dev runs the whole of token-refresher on 127.0.0.1 with one
// command (`make dev`), without an AWS account or vendor accounts:
//
//   - moto_server as Secrets Manager, with every vendor's credentials secret
//     seeded with the test servers' sandbox credentials, and the token,
//     refresh-token and signing-key secrets created as the stack creates them;
//   - a test server per vendor (package vendortest) speaking the vendor's
//     documented token protocol, with fault injection over HTTP;
//   - every function's real bootstrap, built for this machine, under
//     aws-lambda-rie, configured only through its environment, exactly as
//     in AWS;
//   - a scheduler that invokes each refresher on the vendor table's schedule
//     (package vendors), sped up by -speed, once per connection with the
//     connection's own event, as the stack's schedules do;
//   - named connections (-connections, default merchenta=acme,globex):
//     more accounts of a vendor at its test server, each with its own
//     credentials, token secret and status row, served by the vendor's one
//     function (CONNECTIONS and NAME_PREFIX in its environment);
//   - an HTTP front standing in for API Gateway (payload format 2.0) in
//     front of the Admitad callback function, which also serves a status
//     page, GET /status (JSON) and GET /connect (a fresh signed Admitad
//     connect link).
//
// It prints what runs where and a live status table. Ctrl-C (SIGINT),
// SIGTERM, SIGHUP or a closed standard output stops every process it
// started. A port already in use stops it before anything starts, with the
// port named.
//
// Ports are consecutive from -base-port: front +0, moto_server +1, then the
// test servers in vendor-table order (hasoffers +2, invoca +3, fyber +4,
// merchenta +5, admitad +6). Emulators take free ports.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/token-refresher/token-refresher/shared/vendors"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// config is what the flags set.
type config struct {
	basePort       int
	speed          float64
	statusInterval time.Duration
	jsonStatus     bool
	logPath        string
	linkTTL        time.Duration
	// connections are the named connections run besides every vendor's
	// default one (-connections).
	connections connectionsFlag
}

// vendorPorts lists each vendor's test server port offset, in table
// order: "hasoffers +2, invoca +3,\nfyber +4, ..." (wrapped as the usage is).
func vendorPorts() string {
	var b strings.Builder
	col := len("Ports from -base-port: front +0, moto_server +1, ")
	for i, name := range vendors.Names() {
		item := fmt.Sprintf("%s +%d", name, i+2)
		switch {
		case i == 0:
		case col+len(", ")+len(item)+1 > 74:
			b.WriteString(",\n")
			col = 0
		default:
			b.WriteString(", ")
			col += 2
		}
		b.WriteString(item)
		col += len(item)
	}
	return b.String()
}

// usageHead is dev's usage; the ports come from the vendor table.
var usageHead = `Usage: dev [flags]

Runs token-refresher on 127.0.0.1: moto_server (Secrets Manager), test
servers for every vendor, every function under aws-lambda-rie, a scheduler
on the vendor table's schedule and the API Gateway front of the Admitad
callback. Ctrl-C stops everything. Run it from the module (make dev).

Ports from -base-port: front +0, moto_server +1, ` + vendorPorts() + `.

Named connections (-connections, default merchenta=acme,globex) are more
accounts of a vendor at its test server, served by the vendor's one
function, each with its own secrets, schedule and status row.

Flags:
`

func parseFlags(args []string, stderr io.Writer) (config, error) {
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c config
	fs.IntVar(&c.basePort, "base-port", 7700, "first of the consecutive 127.0.0.1 ports dev listens on (2 + one per vendor)")
	fs.Float64Var(&c.speed, "speed", 60, "speed-up: token lifetimes and schedule periods are divided by it (60: an hour passes in a minute; 1: real time). Tokens live at least a minute, as the refresher refuses shorter ones")
	fs.DurationVar(&c.statusInterval, "status-interval", 0, "how often the status is printed (default 2s on a terminal, 30s otherwise)")
	fs.BoolVar(&c.jsonStatus, "json", false, "print the status as one JSON object per line instead of a table")
	fs.StringVar(&c.logPath, "log", "build/dev.log", "file receiving the output of moto_server and every function (relative to the module root)")
	fs.DurationVar(&c.linkTTL, "link-ttl", 15*time.Minute, "how long an Admitad connect link minted by GET /connect works")
	conns := fs.String("connections", defaultConnections, "named connections run besides every vendor's default one: vendor=name[,name...], groups separated by spaces or ';' (\"\": default connections only). Vendors: "+strings.Join(accountVendorNames(), ", "))
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usageHead)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	var err error
	if c.connections, err = parseConnections(*conns); err != nil {
		return config{}, err
	}
	switch {
	case fs.NArg() > 0:
		return config{}, fmt.Errorf("dev: unexpected argument %q (see -help)", fs.Arg(0))
	case c.basePort < 1024 || c.basePort+portCount-1 > 65535:
		return config{}, fmt.Errorf("dev: -base-port %d: the ports %d-%d must lie within 1024-65535", c.basePort, c.basePort, c.basePort+portCount-1)
	case c.speed < 1 || c.speed > 100000:
		return config{}, fmt.Errorf("dev: -speed %g is not between 1 and 100000", c.speed)
	case c.statusInterval < 0:
		return config{}, fmt.Errorf("dev: -status-interval %s is negative", c.statusInterval)
	case c.linkTTL <= 0 || c.linkTTL > time.Hour:
		return config{}, fmt.Errorf("dev: -link-ttl %s is not between 0 and 1h", c.linkTTL)
	case c.logPath == "":
		return config{}, errors.New("dev: -log is empty")
	}
	return c, nil
}

// run is main without the exit: 0 after a clean stop, 2 for bad flags, 1
// for a failure.
//
// SIGINT, SIGTERM and SIGHUP stop dev, and so does a closed standard
// output (`dev | head`, or tee killed by Ctrl-C): every stop runs the same
// cleanup. When stdout is gone the last words go to stderr.
func run(args []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	ctx, lost := context.WithCancel(ctx)
	defer lost()
	out := newConsole(stdout, cfg.jsonStatus, lost)

	// With SIGPIPE taken, a write to a closed stdout fails with EPIPE
	// instead of killing dev before its cleanup; the console notices the
	// failed write. (SIGPIPE also comes from closed sockets: it is not a
	// reason to stop by itself.)
	pipes := make(chan os.Signal, 1)
	signal.Notify(pipes, syscall.SIGPIPE)
	defer signal.Stop(pipes)
	go func() {
		for range pipes {
			if f, ok := stdout.(*os.File); ok && outputClosed(f) {
				out.markGone()
			}
		}
	}()
	if f, ok := stdout.(*os.File); ok {
		go watchOutput(ctx, f, out.markGone)
	}

	sys, err := start(ctx, cfg, out, stdout)
	if err != nil && ctx.Err() != nil {
		fmt.Fprintln(stderr, "dev: "+stopCause(out)+" while starting; everything started so far is stopped")
		return 1
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	sys.serve(ctx)
	out.text("\nStopping...\n")
	out.emit(map[string]string{"event": "stopping", "reason": stopCause(out)})
	if err := sys.stop(); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	const stopped = "Stopped: every process dev started has exited."
	out.text(stopped + "\n")
	out.emit(map[string]string{"event": "stopped"})
	if out.isGone() {
		fmt.Fprintln(stderr, "dev: standard output was closed. "+stopped)
	}
	return 0
}

// stopCause names why dev stops.
func stopCause(out *console) string {
	if out.isGone() {
		return "standard output closed"
	}
	return "signal"
}
