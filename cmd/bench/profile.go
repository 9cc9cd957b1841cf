package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/token-refresher/token-refresher/internal/localaws"
)

// The instruction profile: each function (and the empty one) runs under
// valgrind --tool=callgrind inside aws-lambda-rie twice, once for the cold
// invoke alone and once for the cold invoke and N warm ones. Instruction
// counts are close to identical from run to run and do not depend on the
// machine's load, so the difference of the two runs divided by N is the
// instructions of one warm invoke, and both can be split by the function
// that executed them. Callgrind counts user-space instructions only: the
// kernel's work for system calls is not in them.

// profile is one function's instruction profile.
type profile struct {
	// Invokes is the warm invokes of the long run.
	Invokes int
	// ColdIr is the instructions from the process start to the first
	// reply (and the exit); WarmIr those of one warm invoke.
	ColdIr, WarmIr int64
	// ColdBy and WarmBy split them by where they ran (categories).
	ColdBy, WarmBy []cost
	// Init is the package initialisation of a cold start as the Go
	// runtime reports it (GODEBUG=inittrace=1), outside callgrind.
	Init initTrace
	// WarmTop are the functions with the most instructions per warm
	// invoke (self cost).
	WarmTop []cost
}

// cost is a count of instructions under a name.
type cost struct {
	Name string
	Ir   int64
}

// invokeFunc does one invoke and checks its reply.
type invokeFunc func(context.Context, *localaws.Function) error

// profileFunction profiles bootstrap (an unstripped build) running inv.
func profileFunction(ctx context.Context, o options, bootstrap string, w workload, env []string) (*profile, error) {
	return profileRuns(ctx, o, bootstrap, w.invoke, env)
}

func profileRuns(ctx context.Context, o options, bootstrap string, inv invokeFunc, env []string) (*profile, error) {
	dir, err := os.MkdirTemp("", "token-refresher-callgrind-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	short, err := callgrindRun(ctx, dir, "cold", bootstrap, inv, env, 0)
	if err != nil {
		return nil, err
	}
	long, err := callgrindRun(ctx, dir, "warm", bootstrap, inv, env, o.profileInvokes)
	if err != nil {
		return nil, err
	}
	p := newProfile(short, long, o.profileInvokes)
	if p.Init, err = initTraceRun(ctx, bootstrap, inv, env); err != nil {
		return nil, err
	}
	return p, nil
}

// initTraceRun does one cold start with GODEBUG=inittrace=1 and reads the
// runtime's report of each package's initialisation.
func initTraceRun(ctx context.Context, bootstrap string, inv invokeFunc, env []string) (initTrace, error) {
	godebug := "inittrace=1"
	var rest []string
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "GODEBUG="); ok {
			godebug = v + ",inittrace=1"
			continue
		}
		rest = append(rest, kv)
	}
	f, err := localaws.StartFunction(ctx, bootstrap, append(rest, "GODEBUG="+godebug), nil)
	if err != nil {
		return initTrace{}, err
	}
	defer f.Stop()
	// The emulator is a Go program too: its own report is printed before
	// it listens; the bootstrap starts with the first invoke.
	seen := len(f.Output())
	if err := inv(ctx, f); err != nil {
		return initTrace{}, fmt.Errorf("invoke with inittrace: %w", err)
	}
	return parseInitTrace(f.Output()[seen:]), nil
}

// initTrace sums GODEBUG=inittrace=1 lines:
//
//	init net/http @1.2 ms, 0.31 ms clock, 41136 bytes, 512 allocs
type initTrace struct {
	Clock         time.Duration
	Bytes, Allocs int64
	// Top are the packages with the most clock time, slowest first.
	Top []initPkg
}

type initPkg struct {
	Pkg           string
	Clock         time.Duration
	Bytes, Allocs int64
}

func parseInitTrace(out string) initTrace {
	var t initTrace
	var pkgs []initPkg
	byPkg := map[string]int{}
	for _, line := range strings.Split(out, "\n") {
		i := strings.Index(line, "init ")
		if i < 0 {
			continue
		}
		f := strings.Fields(line[i:])
		// init PKG @T ms, C ms clock, B bytes, A allocs
		if len(f) != 11 || f[3] != "ms," || f[5] != "ms" || f[6] != "clock," || f[8] != "bytes," || f[10] != "allocs" || !strings.HasPrefix(f[2], "@") {
			continue
		}
		ms, err1 := strconv.ParseFloat(f[4], 64)
		bytes, err2 := strconv.ParseInt(f[7], 10, 64)
		allocs, err3 := strconv.ParseInt(f[9], 10, 64)
		if err1 != nil || err2 != nil || err3 != nil {
			continue
		}
		p := initPkg{Pkg: f[1], Clock: time.Duration(ms * float64(time.Millisecond)), Bytes: bytes, Allocs: allocs}
		t.Clock += p.Clock
		t.Bytes += p.Bytes
		t.Allocs += p.Allocs
		if j, ok := byPkg[p.Pkg]; ok {
			pkgs[j].Clock += p.Clock
			pkgs[j].Bytes += p.Bytes
			pkgs[j].Allocs += p.Allocs
			continue
		}
		byPkg[p.Pkg] = len(pkgs)
		pkgs = append(pkgs, p)
	}
	sort.SliceStable(pkgs, func(i, j int) bool { return pkgs[i].Clock > pkgs[j].Clock })
	if len(pkgs) > 8 {
		pkgs = pkgs[:8]
	}
	t.Top = pkgs
	return t
}

// newProfile computes a profile from the self costs of the cold run and
// of the run with n more invokes.
func newProfile(short, long map[string]int64, n int) *profile {
	p := &profile{Invokes: n}
	warm := map[string]int64{}
	for fn, ir := range long {
		warm[fn] = ir - short[fn]
	}
	for fn, ir := range short {
		if _, ok := long[fn]; !ok {
			warm[fn] = -ir
		}
	}
	var coldTotal, warmTotal int64
	for _, ir := range short {
		coldTotal += ir
	}
	for _, ir := range warm {
		warmTotal += ir
	}
	p.ColdIr = coldTotal
	p.WarmIr = warmTotal / int64(max(n, 1))
	p.ColdBy = byCategory(short, 1)
	p.WarmBy = byCategory(warm, n)
	for fn, ir := range warm {
		p.WarmTop = append(p.WarmTop, cost{fn, ir / int64(max(n, 1))})
	}
	sortCosts(p.WarmTop)
	if len(p.WarmTop) > 12 {
		p.WarmTop = p.WarmTop[:12]
	}
	return p
}

func byCategory(self map[string]int64, n int) []cost {
	sums := map[string]int64{}
	for fn, ir := range self {
		sums[category(fn)] += ir
	}
	out := make([]cost, 0, len(sums))
	for name, ir := range sums {
		out = append(out, cost{name, ir / int64(max(n, 1))})
	}
	sortCosts(out)
	return out
}

func sortCosts(cs []cost) {
	sort.Slice(cs, func(i, j int) bool {
		if cs[i].Ir != cs[j].Ir {
			return cs[i].Ir > cs[j].Ir
		}
		return cs[i].Name < cs[j].Name
	})
}

// Categories of instructions, by the package of the function that ran
// them.
const (
	catGC       = "Go runtime: garbage collector"
	catAlloc    = "Go runtime: memory allocation"
	catRuntime  = "Go runtime: scheduler, timers, system calls, start-up"
	catSDK      = "AWS SDK for Go v2 and smithy-go (middleware, SigV4, JSON protocol, retries)"
	catLambda   = "aws-lambda-go (the Runtime API client)"
	catHTTP     = "net/http, net, bufio, textproto (HTTP client and connections)"
	catCrypto   = "crypto (SigV4's SHA-256 and HMAC, fingerprints)"
	catJSON     = "encoding/json and reflect"
	catStdlib   = "rest of the standard library (fmt, strconv, strings, time, sync, slog, ...)"
	catProject  = "this project's code (shared/, functions/)"
	catOther    = "other modules"
	catUnknown  = "unknown (no symbol)"
	projectPath = "github.com/token-refresher/token-refresher/"
)

var gcPrefixes = []string{"runtime.gc", "runtime.scan", "runtime.markroot", "runtime.greyobject", "runtime.findObject", "runtime.sweep", "runtime.bgsweep", "runtime.bgscavenge", "runtime.(*gcWork)", "runtime.(*gcBits)", "runtime.(*mspan).sweep", "runtime.(*sweepLocked)", "runtime.wbBuf", "runtime.bulkBarrier", "runtime.(*mheap).reclaim", "runtime.(*scavenger", "runtime.(*pageAlloc).scavenge", "runtime.typePointers", "runtime.(*mspan).typePointers", "runtime.(*typePointers)", "runtime.(*spanInlineMarkBits)", "runtime.scanSpan", "runtime.tryDeferToSpanScan", "runtime.(*gcCPULimiterState)"}

var allocPrefixes = []string{"runtime.mallocgc", "runtime.newobject", "runtime.makeslice", "runtime.growslice", "runtime.memclr", "runtime.(*mcache)", "runtime.(*mcentral)", "runtime.(*mheap)", "runtime.(*mspan)", "runtime.nextFreeFast", "runtime.heapSetType", "runtime.rawstring", "runtime.rawbyteslice", "runtime.makemap", "runtime.mapassign", "runtime.concatstring", "runtime.slicebytetostring", "runtime.stringtoslicebyte", "runtime.memmove", "runtime.publicationBarrier", "runtime.(*pageAlloc)", "runtime.newarray", "runtime.(*fixalloc)", "runtime.persistentalloc", "runtime.sysAlloc", "runtime.nextslicecap", "runtime.roundupsize", "runtime.heapBitsSmallForAddr", "runtime.writeHeapBitsSmall"}

// category says where a function (a callgrind function name: a Go symbol)
// belongs.
func category(fn string) string {
	sym := strings.TrimPrefix(fn, "type:.eq.")
	if sym == "" || strings.HasPrefix(sym, "0x") || sym == "???" {
		return catUnknown
	}
	pkg := symbolPackage(sym)
	switch {
	case strings.HasPrefix(pkg, projectPath) || pkg == "main":
		return catProject
	case pkg == "runtime" || strings.HasPrefix(pkg, "internal/runtime/") || pkg == "internal/abi" || pkg == "internal/bytealg":
		for _, p := range gcPrefixes {
			if strings.HasPrefix(sym, p) {
				return catGC
			}
		}
		for _, p := range allocPrefixes {
			if strings.HasPrefix(sym, p) {
				return catAlloc
			}
		}
		return catRuntime
	case strings.HasPrefix(pkg, "github.com/aws/aws-lambda-go/"):
		return catLambda
	case strings.HasPrefix(pkg, "github.com/aws/aws-sdk-go-v2") || strings.HasPrefix(pkg, "github.com/aws/smithy-go"):
		return catSDK
	case pkg == "net" || strings.HasPrefix(pkg, "net/") || pkg == "bufio" || pkg == "mime" || strings.HasPrefix(pkg, "mime/") || strings.HasPrefix(pkg, "vendor/golang.org/x/net/") || pkg == "internal/poll":
		return catHTTP
	case strings.HasPrefix(pkg, "crypto/") || pkg == "crypto" || strings.HasPrefix(pkg, "vendor/golang.org/x/crypto/"):
		return catCrypto
	case pkg == "encoding/json" || pkg == "reflect" || pkg == "internal/reflectlite":
		return catJSON
	case !strings.Contains(strings.SplitN(pkg, "/", 2)[0], "."):
		return catStdlib
	default:
		return catOther
	}
}

// symbolPackage is the import path of a Go symbol: what comes before the
// first dot after the last slash, ignoring type parameters.
func symbolPackage(sym string) string {
	if i := strings.IndexByte(sym, '['); i >= 0 {
		sym = sym[:i]
	}
	slash := strings.LastIndexByte(sym, '/')
	dot := strings.IndexByte(sym[slash+1:], '.')
	if dot < 0 {
		return sym
	}
	return sym[:slash+1+dot]
}

// callgrindRun runs bootstrap under callgrind in a fresh emulator, does
// 1+warm invokes, ends the process with SIGTERM (callgrind writes its
// profile on it) and returns the self cost of each function. (Inclusive
// costs are not used: Go's stack switches confuse callgrind's call
// tracking, self costs are exact.)
func callgrindRun(ctx context.Context, dir, name, bootstrap string, inv invokeFunc, env []string, warm int) (map[string]int64, error) {
	out := filepath.Join(dir, name+".callgrind")
	wrapper := filepath.Join(dir, name, "bootstrap")
	if err := os.MkdirAll(filepath.Dir(wrapper), 0o755); err != nil {
		return nil, err
	}
	// Go's asynchronous preemption signals trip callgrind's signal
	// bookkeeping; without them the program runs the same code.
	// The valgrind on bench's PATH (the function's environment has none).
	valgrind, err := exec.LookPath("valgrind")
	if err != nil {
		return nil, fmt.Errorf("valgrind: %w", err)
	}
	script := "#!/bin/sh\nexport GODEBUG=\"${GODEBUG:+$GODEBUG,}asyncpreemptoff=1\"\nexec " + valgrind + " --tool=callgrind -q --callgrind-out-file=" + out + " " + bootstrap + "\n"
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		return nil, err
	}
	f, err := localaws.StartFunction(ctx, wrapper, env, nil)
	if err != nil {
		return nil, err
	}
	defer f.Stop()
	for i := range 1 + warm {
		if err := inv(ctx, f); err != nil {
			return nil, fmt.Errorf("invoke %d under callgrind: %w\n%s", i+1, err, tail(f.Output(), 2000))
		}
	}
	pid, err := valgrindPID(f.PID())
	if err != nil {
		return nil, err
	}
	_ = syscall.Kill(pid, syscall.SIGTERM)
	// Callgrind writes the profile as the process ends; its last line is
	// the totals.
	deadline := time.Now().Add(60 * time.Second)
	for localaws.Running(pid) || !profileWritten(out) {
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("callgrind (pid %d) wrote no complete profile within 60 s of SIGTERM\n%s", pid, tail(f.Output(), 2000))
		}
		time.Sleep(20 * time.Millisecond)
	}
	_ = f.Stop()
	return annotate(ctx, out)
}

// profileWritten reports whether a callgrind profile ends with its totals.
func profileWritten(file string) bool {
	b, err := os.ReadFile(file)
	if err != nil {
		return false
	}
	i := bytes.LastIndex(b, []byte("\ntotals:"))
	return i >= 0 && bytes.HasSuffix(b, []byte("\n"))
}

// valgrindPID finds the callgrind process below the emulator pid.
func valgrindPID(pid int) (int, error) {
	for _, d := range localaws.Descendants(pid) {
		exe, err := os.Readlink("/proc/" + strconv.Itoa(d) + "/exe")
		if err == nil && strings.Contains(filepath.Base(exe), "callgrind") {
			return d, nil
		}
	}
	return 0, fmt.Errorf("no callgrind process below the emulator (pid %d)", pid)
}

// annotate runs callgrind_annotate on a profile and returns the self cost
// per function.
func annotate(ctx context.Context, file string) (map[string]int64, error) {
	cmd := exec.CommandContext(ctx, "callgrind_annotate", "--inclusive=no", "--threshold=100", "--auto=no", file)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("callgrind_annotate %s: %w: %s", file, err, stderr.String())
	}
	return parseAnnotate(bytes.NewReader(out))
}

// parseAnnotate reads callgrind_annotate's function table:
//
//	30,766 ( 6.45%)  runtime/mbitmap.go:runtime.runGCProg [/path/bootstrap]
//
// and sums the counts per function name (a name may appear under two
// files).
func parseAnnotate(r io.Reader) (map[string]int64, error) {
	out := map[string]int64{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	inTable, rows := false, 0
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasSuffix(line, "file:function") {
			inTable = true
			continue
		}
		if !inTable || line == "" {
			continue
		}
		if strings.HasPrefix(line, "--") {
			if rows > 0 {
				break // the table ends where a source annotation starts
			}
			continue
		}
		countStr, rest, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(strings.ReplaceAll(countStr, ",", ""), 10, 64)
		if err != nil {
			continue
		}
		rest = strings.TrimSpace(rest)
		if strings.HasPrefix(rest, "(") {
			if i := strings.IndexByte(rest, ')'); i >= 0 {
				rest = strings.TrimSpace(rest[i+1:])
			}
		}
		if i := strings.LastIndex(rest, " ["); i >= 0 && strings.HasSuffix(rest, "]") {
			rest = rest[:i]
		}
		_, fn, ok := strings.Cut(rest, ":")
		if !ok {
			fn = rest
		}
		out[fn] += n
		rows++
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("callgrind_annotate printed no function table")
	}
	return out, nil
}

// hostProfileBuild builds pkg for this machine with make build's flags
// but keeping the symbol table, for callgrind.
func hostProfileBuild(ctx context.Context, root, pkg, out string) error {
	args := []string{"build", "-tags", "lambda.norpc", "-trimpath", "-o", out, pkg}
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	var combined bytes.Buffer
	cmd.Stdout, cmd.Stderr = &combined, &combined
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("bench: build %s with symbols: %w\n%s", pkg, err, combined.String())
	}
	return nil
}
