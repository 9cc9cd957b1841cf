package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/token-refresher/token-refresher/internal/localaws"
	_ "github.com/token-refresher/token-refresher/internal/testservers"
	"github.com/token-refresher/token-refresher/shared/admitad/admitadtest"
	"github.com/token-refresher/token-refresher/shared/secretstore"
	"github.com/token-refresher/token-refresher/shared/vendors"
	"github.com/token-refresher/token-refresher/shared/vendortest"
)

// Names as the stack deploys them with the default prefix: secrets
// <prefix>/<vendor>/<role> (default connection), functions
// <prefix>-<folder>.
func secretName(vendor, role string) string {
	return vendors.SecretName(vendors.DefaultPrefix, vendor, vendors.DefaultConnection, role)
}
func functionName(folder string) string { return vendors.FunctionName(vendors.DefaultPrefix, folder) }

// functionTimeout is AWS_LAMBDA_FUNCTION_TIMEOUT, as the stack sets it.
const functionTimeout = 60

// minTokenLife is the shortest lifetime a sped-up test server gives its
// tokens: the refresher refuses a token of an hour-long vendor that lives
// under a minute as a bad reply.
const minTokenLife = time.Minute

// portCount is how many consecutive ports dev listens on: the front,
// moto_server and a test server per vendor of the table.
var portCount = 2 + len(vendors.All())

// port is one fixed port and what listens there.
type port struct {
	n    int
	what string
}

func (p port) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(p.n)) }
func (p port) url() string  { return "http://" + p.addr() }

// layout assigns the fixed ports from base.
type layout struct {
	front, moto port
	vendor      map[string]port
}

func newLayout(base int) layout {
	l := layout{
		front:  port{base, "front (Lambda API, Admitad callback API, status)"},
		moto:   port{base + 1, "moto_server"},
		vendor: map[string]port{},
	}
	for i, s := range vendors.All() {
		l.vendor[s.Name] = port{base + 2 + i, s.Name + " test server"}
	}
	return l
}

func (l layout) all() []port {
	out := []port{l.front, l.moto}
	for _, s := range vendors.All() {
		out = append(out, l.vendor[s.Name])
	}
	return out
}

// check makes sure every port is free before anything starts.
func (l layout) check() error {
	for _, p := range l.all() {
		if p.n == 9001 {
			return fmt.Errorf("dev: port 9001 (%s) is the Lambda Runtime API's default port; pick another -base-port", p.what)
		}
		ln, err := net.Listen("tcp", p.addr())
		if err != nil {
			return fmt.Errorf("dev: port %d (%s) on 127.0.0.1 is in use: stop what holds it, or move all of dev's ports with -base-port", p.n, p.what)
		}
		_ = ln.Close()
	}
	return nil
}

// vendorRun is one connection of a vendor as dev runs it. A vendor's
// connections share its test server and its function.
type vendorRun struct {
	spec       vendors.Spec
	connection string
	// account is the test server's account the connection's credentials
	// belong to (vendortest.SandboxAccount for the default connection),
	// creds those credentials.
	account  string
	creds    map[string]string
	fake     *vendortest.Server
	fn       *localaws.Supervised
	every    time.Duration // sped-up schedule period
	lifetime time.Duration // sped-up token lifetime of the test server; 0: never expires
	tokenID  string
	history  *history
}

// key names the connection's row: vendor/connection.
func (v *vendorRun) key() string { return v.spec.Name + "/" + v.connection }

// named reports whether v is a named connection (not the default one).
func (v *vendorRun) named() bool { return v.connection != vendors.DefaultConnection }

// label is how lines and the table name the connection: the vendor for
// the default connection, vendor/connection for a named one.
func (v *vendorRun) label() string {
	if v.named() {
		return v.key()
	}
	return v.spec.Name
}

// secret names the connection's secret of role.
func (v *vendorRun) secret(role string) string {
	return vendors.SecretName(vendors.DefaultPrefix, v.spec.Name, v.connection, role)
}

// event is the input of the connection's schedule, as the stack sets it:
// {} for the default connection, {"connection":"<name>"} for a named one.
func (v *vendorRun) event() []byte {
	if !v.named() {
		return scheduledEvent
	}
	b, _ := json.Marshal(map[string]string{"connection": v.connection})
	return b
}

// system is everything dev started.
type system struct {
	cfg      config
	out      *console
	raw      io.Writer // stdout itself, to tell a terminal
	ports    layout
	root     string
	logPath  string
	log      *lockedFile
	buildDir string
	moto     *localaws.Moto
	store    *secretstore.Store
	vendors  []*vendorRun
	callback *localaws.Supervised
	server   *http.Server
	lambda   *localaws.LambdaAPI
	cache    *statusCache
	key      []byte
	sched    *scheduler
	started  time.Time

	closers []func() error // in start order; stop runs them backwards
}

// start brings everything up. On failure it stops what it had started.
func start(ctx context.Context, cfg config, out *console, raw io.Writer) (_ *system, err error) {
	s := &system{cfg: cfg, out: out, raw: raw, ports: newLayout(cfg.basePort), started: time.Now()}
	defer func() {
		if err != nil {
			if serr := s.stop(); serr != nil {
				err = fmt.Errorf("%w; and while stopping: %v", err, serr)
			}
		}
	}()
	if err := s.ports.check(); err != nil {
		return nil, err
	}
	if s.root, err = localaws.ModuleRoot(); err != nil {
		return nil, fmt.Errorf("dev: %w (run it from the repository: make dev)", err)
	}
	if err := s.openLog(); err != nil {
		return nil, err
	}
	if err := s.build(ctx); err != nil {
		return nil, err
	}
	out.text("Starting:\n")
	t0 := time.Now()
	if s.moto, err = localaws.StartMotoAt(ctx, s.ports.moto.addr(), s.log.prefixed("moto")); err != nil {
		return nil, fmt.Errorf("dev: %w", err)
	}
	s.closers = append(s.closers, s.moto.Stop)
	out.progress("moto", "", "moto_server (Secrets Manager) ready on "+s.moto.URL, time.Since(t0))
	sm, err := s.moto.SecretsManager(ctx)
	if err != nil {
		return nil, fmt.Errorf("dev: %w", err)
	}
	s.store = &secretstore.Store{API: sm}
	t0 = time.Now()
	if err := s.startFakes(); err != nil {
		return nil, err
	}
	out.progress("test-servers", "", fmt.Sprintf("vendor test servers on ports %d-%d", s.ports.vendor[vendors.All()[0].Name].n, s.ports.vendor[vendors.All()[len(vendors.All())-1].Name].n), time.Since(t0))
	t0 = time.Now()
	n, err := s.seed(ctx, sm)
	if err != nil {
		return nil, err
	}
	out.progress("secrets", "", fmt.Sprintf("%d secrets created as the stack creates them", n), time.Since(t0))
	events := &eventLog{out: out, echo: cfg.jsonStatus || !isTerminal(raw)}
	s.sched = newScheduler(s.vendors, events)
	if err := s.startFunctions(ctx); err != nil {
		return nil, err
	}
	s.cache = newStatusCache(s)
	if err := s.startFront(); err != nil {
		return nil, err
	}
	out.progress("front", "", "front (Lambda API, status page) on "+s.ports.front.url(), 0)
	return s, nil
}

func (s *system) openLog() error {
	p := s.cfg.logPath
	if !filepath.IsAbs(p) {
		p = filepath.Join(s.root, p)
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("dev: log file: %w", err)
	}
	f, err := os.Create(p)
	if err != nil {
		return fmt.Errorf("dev: log file: %w", err)
	}
	s.logPath = p
	s.log = &lockedFile{f: f}
	s.closers = append(s.closers, f.Close)
	return nil
}

// functionFolders are the folders under functions/ that dev runs.
func functionFolders() []string {
	var out []string
	for _, spec := range vendors.All() {
		out = append(out, spec.FunctionName())
		if cb := spec.CallbackFunctionName(); cb != "" {
			out = append(out, cb)
		}
	}
	return out
}

// buildDirPrefix names dev's build folders: <prefix><pid>-<random>.
const buildDirPrefix = "token-refresher-dev-"

// build compiles every function for this machine into a temporary folder,
// two at a time, reporting each as it is done. Folders left by a dev that
// was killed (its pid no longer runs) are removed first.
func (s *system) build(ctx context.Context) error {
	removeStaleBuildDirs()
	dir, err := os.MkdirTemp("", fmt.Sprintf("%s%d-", buildDirPrefix, os.Getpid()))
	if err != nil {
		return fmt.Errorf("dev: build folder: %w", err)
	}
	s.buildDir = dir
	s.closers = append(s.closers, func() error { return os.RemoveAll(dir) })
	folders := functionFolders()
	s.out.textf("Building %d functions for this machine (the first build takes minutes; later ones use Go's build cache):\n", len(folders))
	all := time.Now()
	sem := make(chan struct{}, 2)
	errs := make([]error, len(folders))
	var wg sync.WaitGroup
	for i, fn := range folders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			t0 := time.Now()
			_, errs[i] = localaws.Build(ctx, s.root, fn, dir)
			if errs[i] == nil {
				s.out.progress("build", fn, "built "+fn, time.Since(t0))
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("dev: %w", err)
	}
	s.out.progress("build", "", fmt.Sprintf("built %d functions", len(folders)), time.Since(all))
	return nil
}

// removeStaleBuildDirs removes build folders of dev processes that no
// longer run.
func removeStaleBuildDirs() { localaws.RemoveStaleTempDirs(buildDirPrefix) }

func (s *system) bootstrap(folder string) string {
	return filepath.Join(s.buildDir, folder, "bootstrap")
}

// scaled divides d by the speed-up.
func (s *system) scaled(d time.Duration) time.Duration {
	return time.Duration(float64(d) / s.cfg.speed)
}

// startFakes starts every vendor's test server and makes the runs of its
// connections: the default one with the sandbox account, then each named
// one (-connections) as an account of its own, added to the test server.
func (s *system) startFakes() (err error) {
	for _, spec := range vendors.All() {
		v := &vendorRun{spec: spec, connection: vendors.DefaultConnection, account: vendortest.SandboxAccount,
			creds: vendortest.Credentials(spec.Name), tokenID: secretName(spec.Name, vendors.RoleToken)}
		v.every = max(s.scaled(spec.Every), time.Second)
		if spec.Expires() {
			v.lifetime = max(s.scaled(spec.Lifetime), minTokenLife)
		}
		p := s.ports.vendor[spec.Name]
		if v.fake, err = startFake(spec.Name, vendortest.Options{Lifetime: v.lifetime, Addr: p.addr()}); err != nil {
			return fmt.Errorf("dev: %s (port %d): %w", p.what, p.n, err)
		}
		s.closers = append(s.closers, func() error { v.fake.Close(); return nil })
		v.history = newHistory(s.chartWindow())
		s.vendors = append(s.vendors, v)
		for _, conn := range s.cfg.connections[spec.Name] {
			c := *v
			c.connection, c.account, c.creds = conn, conn, connectionCredentials(spec.Name, conn)
			c.tokenID = c.secret(vendors.RoleToken)
			c.history = newHistory(s.chartWindow())
			v.fake.AddAccount(c.account, c.creds)
			s.vendors = append(s.vendors, &c)
		}
	}
	return nil
}

// connectionsOf returns the runs of vendor's connections, the default
// first.
func (s *system) connectionsOf(vendor string) []*vendorRun {
	var out []*vendorRun
	for _, v := range s.vendors {
		if v.spec.Name == vendor {
			out = append(out, v)
		}
	}
	return out
}

// namedConnections returns the names of vendor's named connections.
func (s *system) namedConnections(vendor string) []string {
	var out []string
	for _, v := range s.connectionsOf(vendor) {
		if v.named() {
			out = append(out, v.connection)
		}
	}
	return out
}

// chartWindow is how much wall time one hour of dev time takes.
func (s *system) chartWindow() time.Duration { return s.scaled(time.Hour) }

// startFake starts the vendor's registered test server; a vendor without
// one, or a failed listen, is an error.
func startFake(vendor string, opts vendortest.Options) (*vendortest.Server, error) {
	return vendortest.New(vendor, opts)
}

// seed creates the secrets as the stack does, tagged as the stack tags
// them (vendors.SecretTags: role, vendor, connection), with the sandbox
// credentials an operator would put into the credentials secrets.
func (s *system) seed(ctx context.Context, sm *secretsmanager.Client) (int, error) {
	n := 0
	err := s.seedAll(func(name, value string, tags map[string]string) error {
		in := &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String(value)}
		keys := make([]string, 0, len(tags))
		for k := range tags {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			in.Tags = append(in.Tags, smtypes.Tag{Key: aws.String(k), Value: aws.String(tags[k])})
		}
		if _, err := sm.CreateSecret(ctx, in); err != nil {
			return fmt.Errorf("dev: create secret %s: %w", name, err)
		}
		n++
		return nil
	})
	return n, err
}

// seedAll calls create for every secret of every connection: its name,
// its first value and its tags.
func (s *system) seedAll(create func(name, value string, tags map[string]string) error) error {
	for _, v := range s.vendors {
		put := func(role, value string) error {
			return create(v.secret(role), value, vendors.SecretTags(v.spec.Name, v.connection, role))
		}
		creds, err := json.Marshal(v.creds)
		if err != nil {
			return fmt.Errorf("dev: encode %s credentials: %w", v.key(), err)
		}
		if err := put(vendors.RoleCredentials, string(creds)); err != nil {
			return err
		}
		// A secret the stack creates without a value holds a generated
		// random string, which the functions read as "nothing yet".
		if err := put(vendors.RoleToken, randomString(24)); err != nil {
			return err
		}
		if v.spec.AuthCode {
			if err := put(vendors.RoleRefreshToken, randomString(24)); err != nil {
				return err
			}
			if v.named() {
				continue // the signing key is the vendor's, shared by its connections
			}
			key := randomString(48)
			s.key = []byte(key)
			if err := put(vendors.RoleSigningKey, key); err != nil {
				return err
			}
		}
	}
	return nil
}

// randomString is n random bytes, base64url-encoded.
func randomString(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("dev: crypto/rand: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// startFunctions runs every bootstrap under a supervised emulator with the
// environment the stack gives it, pointed at moto and the test servers.
func (s *system) startFunctions(ctx context.Context) error {
	supervise := func(folder string, env []string, v *vendorRun) (*localaws.Supervised, error) {
		t0 := time.Now()
		name := functionName(folder)
		env = append(append(append(s.moto.Env(), vendors.FunctionEnv()...),
			"AWS_LAMBDA_FUNCTION_NAME="+name,
			"AWS_LAMBDA_FUNCTION_TIMEOUT="+strconv.Itoa(functionTimeout),
		), env...)
		fn, err := localaws.Supervise(ctx, s.bootstrap(folder), env, localaws.SuperviseOptions{
			Log:       s.log.prefixed(folder),
			OnRestart: func(r localaws.Restart) { s.sched.restarted(v, name, r) },
		})
		if err != nil {
			return nil, fmt.Errorf("dev: %w", err)
		}
		s.closers = append(s.closers, fn.Stop)
		s.out.progress("function", name, "started "+name+" under aws-lambda-rie", time.Since(t0))
		return fn, nil
	}
	for _, v := range s.vendors {
		if v.named() {
			continue // served by the vendor's function, started with the default connection
		}
		env := []string{
			"CREDENTIALS_SECRET_ID=" + secretName(v.spec.Name, vendors.RoleCredentials),
			"TOKEN_SECRET_ID=" + v.tokenID,
			v.spec.URLEnv + "=" + v.fake.TokenURL(),
		}
		if v.spec.AuthCode {
			env = append(env, "REFRESH_SECRET_ID="+secretName(v.spec.Name, vendors.RoleRefreshToken))
		}
		if named := s.namedConnections(v.spec.Name); len(named) > 0 {
			// As the stack sets them for a vendor with named connections.
			env = append(env, "CONNECTIONS="+strings.Join(named, ","), "NAME_PREFIX="+vendors.DefaultPrefix)
		}
		fn, err := supervise(v.spec.FunctionName(), env, v)
		if err != nil {
			return err
		}
		for _, c := range s.connectionsOf(v.spec.Name) {
			c.fn = fn
		}

		if cb := v.spec.CallbackFunctionName(); cb != "" {
			env := []string{
				"CREDENTIALS_SECRET_ID=" + secretName(v.spec.Name, vendors.RoleCredentials),
				"TOKEN_SECRET_ID=" + v.tokenID,
				"REFRESH_SECRET_ID=" + secretName(v.spec.Name, vendors.RoleRefreshToken),
				"SIGNING_KEY_SECRET_ID=" + secretName(v.spec.Name, vendors.RoleSigningKey),
				"TOKEN_URL=" + v.fake.TokenURL(),
				"AUTHORIZE_URL=" + admitadtest.Of(v.fake).AuthorizeURL(),
				"CALLBACK_URL=" + s.ports.front.url() + "/" + v.spec.Name + "/callback",
				"REFRESHER_FUNCTION_NAME=" + functionName(v.spec.FunctionName()),
			}
			fn, err := supervise(cb, env, v)
			if err != nil {
				return err
			}
			s.callback = fn
		}
	}
	return nil
}

// startFront serves the API Gateway stand-in and dev's own pages on the
// front port.
func (s *system) startFront() error {
	ln, err := net.Listen("tcp", s.ports.front.addr())
	if err != nil {
		return fmt.Errorf("dev: port %d (%s) on 127.0.0.1 is in use: %w", s.ports.front.n, s.ports.front.what, err)
	}
	s.lambda = s.newLambdaAPI()
	s.server = &http.Server{Handler: s.handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.server.Serve(ln) }()
	s.closers = append(s.closers, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := s.server.Shutdown(ctx); err != nil {
			return s.server.Close()
		}
		return nil
	})
	return nil
}

// serve runs the scheduler, the status sampler and the display until ctx
// ends.
func (s *system) serve(ctx context.Context) {
	s.printBanner()
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); s.sched.run(ctx) }()
	go func() { defer wg.Done(); s.cache.run(ctx) }()
	go func() { defer wg.Done(); s.display(ctx) }()
	wg.Wait()
}

// stop ends everything started, newest first, and reports what failed.
func (s *system) stop() error {
	var errs []error
	for i := len(s.closers) - 1; i >= 0; i-- {
		if err := s.closers[i](); err != nil {
			errs = append(errs, err)
		}
	}
	s.closers = nil
	if left := leftovers(); len(left) > 0 {
		errs = append(errs, fmt.Errorf("processes still running: %s", strings.Join(left, "; ")))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("dev: stop: %w", err)
	}
	return nil
}

// lockedFile is the shared log file; each process writes through its own
// prefixed writer.
type lockedFile struct {
	mu sync.Mutex
	f  *os.File
}

func (l *lockedFile) prefixed(name string) io.Writer {
	return &prefixWriter{file: l, prefix: "[" + name + "] "}
}

// prefixWriter writes whole lines, each starting with prefix.
type prefixWriter struct {
	file    *lockedFile
	prefix  string
	mu      sync.Mutex
	partial []byte
}

func (w *prefixWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.partial = append(w.partial, p...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			if len(w.partial) <= 64<<10 {
				return len(p), nil
			}
			// A very long line without an end: write it anyway.
			w.partial = append(w.partial, '\n')
			continue
		}
		w.file.mu.Lock()
		_, _ = w.file.f.WriteString(time.Now().UTC().Format("15:04:05.000 ") + w.prefix)
		_, _ = w.file.f.Write(w.partial[:i+1])
		w.file.mu.Unlock()
		w.partial = w.partial[i+1:]
	}
}
