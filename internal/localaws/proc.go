package localaws

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// process is a child started in its own process group. Its output goes to a
// syncBuffer (and, when given, a caller's writer).
type process struct {
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{} // closed when the process has been waited for
	err  error         // result of Wait; read only after done is closed

	stopOnce sync.Once
	stopErr  error
}

// startProcess starts path with args in a new process group. env is the
// complete environment of the child. out receives stdout and stderr.
func startProcess(path string, args, env []string, dir string, logw io.Writer) (*process, error) {
	buf := &syncBuffer{}
	var w io.Writer = buf
	if logw != nil {
		w = &teeWriter{buf: buf, w: logw}
	}
	cmd := exec.Command(path, args...)
	cmd.Env = env
	cmd.Dir = dir
	cmd.Stdout = w
	cmd.Stderr = w
	cmd.SysProcAttr = sysProcAttr()
	// A grandchild that escaped the kill could keep the output pipe open;
	// do not let Wait hang on it.
	cmd.WaitDelay = 2 * time.Second
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &process{cmd: cmd, out: buf, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

func (p *process) pid() int { return p.cmd.Process.Pid }

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop kills the process group and every descendant that left it, then
// waits for the process. It is idempotent.
func (p *process) stop() error {
	p.stopOnce.Do(func() {
		pid := p.pid()
		if !p.exited() {
			killTree(pid)
		}
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			p.stopErr = fmt.Errorf("process %d did not exit within 10s of SIGKILL", pid)
		}
	})
	return p.stopErr
}

// killTree freezes the process group of pid (so it cannot start new
// children), kills every descendant found under /proc together with its own
// process group, then kills the group of pid.
func killTree(pid int) {
	_ = syscall.Kill(-pid, syscall.SIGSTOP)
	for _, d := range Descendants(pid) {
		_ = syscall.Kill(-d, syscall.SIGKILL)
		_ = syscall.Kill(d, syscall.SIGKILL)
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	_ = syscall.Kill(pid, syscall.SIGKILL)
}

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// tail returns at most the last n bytes written.
func (b *syncBuffer) tail(n int) string {
	s := b.String()
	if len(s) > n {
		s = "..." + s[len(s)-n:]
	}
	return s
}

// teeWriter copies to the buffer and to w; a failing w does not stop the
// buffer from recording.
type teeWriter struct {
	buf *syncBuffer
	w   io.Writer
}

func (t *teeWriter) Write(p []byte) (int, error) {
	_, _ = t.buf.Write(p)
	_, _ = t.w.Write(p)
	return len(p), nil
}

var (
	portMu    sync.Mutex
	portsUsed = map[int]bool{}
)

// freeLoopbackPort returns a TCP port on 127.0.0.1 that was free a moment ago
// and that this process has not handed out before. It never returns 9001, the
// emulator's default Runtime API port.
func freeLoopbackPort() (int, error) {
	portMu.Lock()
	defer portMu.Unlock()
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		_ = l.Close()
		if port == 9001 || portsUsed[port] {
			continue
		}
		portsUsed[port] = true
		return port, nil
	}
	return 0, errors.New("no free port on 127.0.0.1 after 50 tries")
}

func loopbackAddr(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }
