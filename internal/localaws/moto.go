package localaws

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// Region is the AWS region every local client and function uses.
const Region = "us-east-1"

// motoInstallHint tells how to get moto_server.
const motoInstallHint = `install it with: pip install "moto[server]"`

// Moto is a moto_server process serving the Secrets Manager API on loopback.
// Its methods are safe for concurrent use.
type Moto struct {
	// URL is the server's base URL, "http://127.0.0.1:PORT".
	URL string

	proc *process
	fix  string // folder holding the label fix
}

// labelFix is loaded into moto_server's Python as sitecustomize: moto 5
// does not move its "default version" with AWSCURRENT in
// UpdateSecretVersionStage, so GetSecretValue without a stage,
// BatchGetSecretValue and the next plain PutSecretValue use the version
// that held the label before; AWS uses the one that holds it now. With the
// fix they agree with AWS, which is what call counts and batched reads are
// measured against. The refreshers work without it (they name AWSCURRENT
// and check the stages of batched reads), only with more calls.
//
//go:embed motofix/sitecustomize.py
var labelFix []byte

const (
	labelFixLoaded = "localaws: moto label fix loaded"
	labelFixFailed = "localaws: moto label fix failed"
	motoDirPrefix  = "localaws-moto-"
)

// writeLabelFix writes the label fix to a new folder for PYTHONPATH.
func writeLabelFix() (string, error) {
	RemoveStaleTempDirs(motoDirPrefix)
	dir, err := os.MkdirTemp("", fmt.Sprintf("%s%d-", motoDirPrefix, os.Getpid()))
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "sitecustomize.py"), labelFix, 0o600); err != nil {
		_ = os.RemoveAll(dir)
		return "", err
	}
	return dir, nil
}

// withPythonPath returns env with dir first on PYTHONPATH.
func withPythonPath(env []string, dir string) []string {
	out := make([]string, 0, len(env)+1)
	path := dir
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PYTHONPATH="); ok {
			if v != "" {
				path += string(os.PathListSeparator) + v
			}
			continue
		}
		out = append(out, kv)
	}
	return append(out, "PYTHONPATH="+path)
}

// StartMoto starts moto_server on a free 127.0.0.1 port in its own process
// group and returns once it answers HTTP. ctx bounds the start only; call
// Stop to end the server. logw, if not nil, receives the server's output.
//
// It fails if moto_server is not on PATH, or does not become ready before ctx
// ends (30 s when ctx has no deadline).
func StartMoto(ctx context.Context, logw io.Writer) (*Moto, error) {
	var lastErr error
	for range 3 {
		port, err := freeLoopbackPort()
		if err != nil {
			return nil, fmt.Errorf("localaws: start moto: pick port: %w", err)
		}
		m, err := startMoto(ctx, port, logw)
		if err == nil {
			return m, nil
		}
		lastErr = err
		if !errors.Is(err, errPortInUse) {
			break
		}
	}
	return nil, lastErr
}

// StartMotoAt starts moto_server on addr ("127.0.0.1:PORT" or
// "localhost:PORT"; only loopback is accepted) as StartMoto does. If the
// port is taken, the error names it and wraps syscall.EADDRINUSE.
func StartMotoAt(ctx context.Context, addr string, logw io.Writer) (*Moto, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("localaws: start moto: address %q: %w", addr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port <= 0 || port > 65535 {
		return nil, fmt.Errorf("localaws: start moto: address %q: port is not a number in 1-65535", addr)
	}
	if host != "localhost" && !isLoopbackIP(host) {
		return nil, fmt.Errorf("localaws: start moto: address %q: only loopback (127.0.0.1) is allowed", addr)
	}
	if port == 9001 {
		return nil, fmt.Errorf("localaws: start moto: port 9001 is reserved for the Lambda Runtime API")
	}
	// Check first, so a server already listening there is never mistaken
	// for the moto we start.
	l, err := net.Listen("tcp", loopbackAddr(port))
	if err != nil {
		return nil, fmt.Errorf("localaws: start moto: port %d on 127.0.0.1 is in use: %w", port, syscall.EADDRINUSE)
	}
	_ = l.Close()
	return startMoto(ctx, port, logw)
}

var errPortInUse = syscall.EADDRINUSE

func startMoto(ctx context.Context, port int, logw io.Writer) (*Moto, error) {
	path, err := exec.LookPath("moto_server")
	if err != nil {
		return nil, fmt.Errorf("localaws: start moto: moto_server not found on PATH; %s", motoInstallHint)
	}
	fix, err := writeLabelFix()
	if err != nil {
		return nil, fmt.Errorf("localaws: start moto: write label fix: %w", err)
	}
	proc, err := startProcess(path, []string{"-H", "127.0.0.1", "-p", strconv.Itoa(port)}, withPythonPath(os.Environ(), fix), "", logw)
	if err != nil {
		_ = os.RemoveAll(fix)
		return nil, fmt.Errorf("localaws: start moto: run %s: %w", path, err)
	}
	m := &Moto{URL: "http://" + loopbackAddr(port), proc: proc, fix: fix}
	if err := m.waitReady(ctx, port); err != nil {
		_ = m.Stop()
		return nil, err
	}
	return m, nil
}

// waitReady polls the moto API until it answers, the process exits or ctx
// ends.
func (m *Moto) waitReady(ctx context.Context, port int) error {
	ctx, cancel := withDefaultTimeout(ctx, 30*time.Second)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-m.proc.done:
			out := m.proc.out.tail(2000)
			if strings.Contains(out, "in use") || strings.Contains(out, "Address already in use") {
				return fmt.Errorf("localaws: start moto: port %d on 127.0.0.1 is in use: %w", port, errPortInUse)
			}
			if strings.Contains(out, "command not found") {
				return fmt.Errorf("localaws: start moto: moto_server is not installed for the active Python; %s; output:\n%s", motoInstallHint, out)
			}
			return fmt.Errorf("localaws: start moto: moto_server exited (%v) before it was ready; output:\n%s", m.proc.err, out)
		case <-ctx.Done():
			return fmt.Errorf("localaws: start moto: not ready on port %d: %w; output:\n%s", port, context.Cause(ctx), m.proc.out.tail(2000))
		case <-tick.C:
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, m.URL+"/moto-api/", nil)
			resp, err := client.Do(req)
			if err != nil {
				continue
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && !m.proc.exited() {
				out := m.proc.out.String()
				if !strings.Contains(out, labelFixLoaded) {
					return fmt.Errorf("localaws: start moto: moto_server answers but did not load the Secrets Manager label fix (its output names the cause after %q; or its Python ignored PYTHONPATH); output:\n%s", labelFixFailed, m.proc.out.tail(2000))
				}
				return nil
			}
		}
	}
}

// Reset clears every resource moto holds (POST /moto-api/reset).
func (m *Moto) Reset(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.URL+"/moto-api/reset", nil)
	if err != nil {
		return fmt.Errorf("localaws: reset moto: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("localaws: reset moto: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("localaws: reset moto: HTTP %d", resp.StatusCode)
	}
	return nil
}

// Env returns the environment a process needs to use this moto as Secrets
// Manager with the AWS SDK: the endpoint, the region, dummy credentials (moto
// checks no signature) and no instance-metadata lookups.
func (m *Moto) Env() []string {
	return []string{
		"AWS_ENDPOINT_URL_SECRETS_MANAGER=" + m.URL,
		"AWS_REGION=" + Region,
		"AWS_ACCESS_KEY_ID=localaws",
		"AWS_SECRET_ACCESS_KEY=localaws",
		"AWS_EC2_METADATA_DISABLED=true",
	}
}

// SecretsManager returns an SDK client that talks to this moto. It reads no
// shared config or credentials file, so a developer's AWS profile is never
// used.
func (m *Moto) SecretsManager(ctx context.Context) (*secretsmanager.Client, error) {
	cfg, err := config.LoadDefaultConfig(ctx,
		config.WithRegion(Region),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("localaws", "localaws", "")),
		config.WithSharedConfigFiles([]string{}),
		config.WithSharedCredentialsFiles([]string{}),
		config.WithEC2IMDSClientEnableState(imds.ClientDisabled),
	)
	if err != nil {
		return nil, fmt.Errorf("localaws: secrets manager client: %w", err)
	}
	return secretsmanager.NewFromConfig(cfg, func(o *secretsmanager.Options) {
		o.BaseEndpoint = aws.String(m.URL)
	}), nil
}

// PID returns the process id of moto_server.
func (m *Moto) PID() int { return m.proc.pid() }

// Stop kills moto_server's process group and waits for it. It is
// idempotent.
func (m *Moto) Stop() error {
	err := m.proc.stop()
	if m.fix != "" {
		_ = os.RemoveAll(m.fix)
	}
	if err != nil {
		return fmt.Errorf("localaws: stop moto: %w", err)
	}
	return nil
}

func isLoopbackIP(host string) bool {
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func withDefaultTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, d)
}
