package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/token-refresher/token-refresher/internal/localaws"
)

func TestParseBench(t *testing.T) {
	out := `goos: linux
goarch: amd64
pkg: github.com/token-refresher/token-refresher/shared/refresh
cpu: AMD EPYC
BenchmarkRun/refresh-2         	   54840	     21535 ns/op	   13425 B/op	     183 allocs/op
BenchmarkRun/refresh-2         	   54840	     20000 ns/op	   13400 B/op	     183 allocs/op
BenchmarkRun/refresh-2         	   54840	     30000 ns/op	   13500 B/op	     183 allocs/op
BenchmarkRun/skip-2            	   78206	     15839 ns/op	    8612 B/op	     145 allocs/op
PASS
ok  	github.com/token-refresher/token-refresher/shared/refresh	2.428s
pkg: github.com/token-refresher/token-refresher/shared/reader
BenchmarkSimulation/reader-defaults-2         	       4	 262517430 ns/op	         1.919 API-calls/refresh/instance	57093882 B/op	 1180409 allocs/op
--- FAIL: BenchmarkBroken
`
	stats, err := parseBench(strings.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	if len(stats) != 3 {
		t.Fatalf("got %d benchmarks, want 3: %+v", len(stats), stats)
	}
	tests := []struct {
		name              string
		runs              int
		unit              string
		median, min, max_ float64
	}{
		{"refresh.BenchmarkRun/refresh", 3, "ns/op", 21535, 20000, 30000},
		{"refresh.BenchmarkRun/skip", 1, "allocs/op", 145, 145, 145},
		{"reader.BenchmarkSimulation/reader-defaults", 1, "API-calls/refresh/instance", 1.919, 1.919, 1.919},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := stats[i]
			if s.Name != tt.name || s.Runs != tt.runs {
				t.Fatalf("got %s × %d, want %s × %d", s.Name, s.Runs, tt.name, tt.runs)
			}
			if s.Median[tt.unit] != tt.median || s.Min[tt.unit] != tt.min || s.Max[tt.unit] != tt.max_ {
				t.Errorf("%s: median %v min %v max %v", tt.unit, s.Median[tt.unit], s.Min[tt.unit], s.Max[tt.unit])
			}
		})
	}
	if got := strings.Join(stats[2].Units, ","); got != "ns/op,API-calls/refresh/instance,B/op,allocs/op" {
		t.Errorf("units in order = %s", got)
	}
}

func TestPercentile(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	twenty := ms(20, 19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1)
	tests := []struct {
		name string
		in   []time.Duration
		p    float64
		want time.Duration
	}{
		{"median of odd", ms(3, 1, 2), 50, 2 * time.Millisecond},
		{"median of even is the lower middle", ms(4, 1, 3, 2), 50, 2 * time.Millisecond},
		{"p95 of 20 is the 19th", twenty, 95, 19 * time.Millisecond},
		{"p100 is the max", twenty, 100, 20 * time.Millisecond},
		{"one sample", ms(7), 95, 7 * time.Millisecond},
		{"empty", nil, 50, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := percentile(tt.in, tt.p); got != tt.want {
				t.Errorf("percentile(%v, %v) = %v, want %v", tt.in, tt.p, got, tt.want)
			}
		})
	}
}

func TestRunDuration(t *testing.T) {
	out := "START RequestId: x\n" +
		`{"timestamp":"t","level":"INFO","message":"refresh","vendor":"fyber","duration_ms":15,"duration_us":15663}` + "\n" +
		`{"RefreshSuccess":1}` + "\n" +
		`{"message":"refresh","duration_us":800}` + "\n"
	d, next, err := runDuration(out, 0)
	if err != nil || d != 15663*time.Microsecond {
		t.Fatalf("first = %v, %v", d, err)
	}
	d, next, err = runDuration(out, next)
	if err != nil || d != 800*time.Microsecond {
		t.Fatalf("second = %v, %v", d, err)
	}
	if _, _, err := runDuration(out, next); err == nil {
		t.Fatal("found a third line")
	}
	if _, _, err := runDuration(`{"duration_us":5}`, 0); err == nil {
		t.Fatal("an unterminated line was read")
	}
}

func TestInitReport(t *testing.T) {
	tests := []struct {
		out  string
		want time.Duration
	}{
		{"25 Nov 2026 17:45:28,434 [INFO] (rapid) INIT REPORT(durationMs: 4.049000)\n", 4049 * time.Microsecond},
		{"nothing here", 0},
	}
	for _, tt := range tests {
		t.Run(tt.out, func(t *testing.T) {
			if got := initReport(tt.out); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseMem(t *testing.T) {
	m, err := parseMem(strings.NewReader("Name:\tbootstrap\nVmHWM:\t   15332 kB\nVmRSS:\t   15000 kB\n"))
	if err != nil || m.RSSk != 15000 || m.HWMk != 15332 {
		t.Errorf("parseMem = %+v, %v", m, err)
	}
	if _, err := parseMem(strings.NewReader("VmHWM:\t 15 kB\n")); err == nil {
		t.Error("no error without VmRSS")
	}
}

func TestParseVmHWM(t *testing.T) {
	tests := []struct {
		name, status string
		want         int64
		wantErr      bool
	}{
		{"present", "Name:\tbootstrap\nVmPeak:\t 1250000 kB\nVmHWM:\t   15332 kB\nVmRSS:\t   15000 kB\n", 15332, false},
		{"missing", "Name:\tbootstrap\n", 0, true},
		{"odd unit", "VmHWM:\t 15 MB\n", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseVmHWM(strings.NewReader(tt.status))
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("got %d, %v; want %d, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestTrimProcs(t *testing.T) {
	for in, want := range map[string]string{
		"BenchmarkRun/refresh-2":   "BenchmarkRun/refresh",
		"BenchmarkRun/refresh":     "BenchmarkRun/refresh",
		"BenchmarkX/reader-expiry": "BenchmarkX/reader-expiry",
		"BenchmarkX/a-b-16":        "BenchmarkX/a-b",
	} {
		if got := trimProcs(in); got != want {
			t.Errorf("trimProcs(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestVerdicts(t *testing.T) {
	mem := func(hwm int64, rss100, rssLast int64) []memReading {
		return []memReading{{Invokes: 1, RSSk: 9000, HWMk: 9000}, {Invokes: 10, RSSk: 10_000, HWMk: 10_000}, {Invokes: 100, RSSk: rss100 - 500, HWMk: hwm}, {Invokes: 200, RSSk: rss100, HWMk: hwm}, {Invokes: 600, RSSk: rssLast, HWMk: hwm}}
	}
	rep := &report{Invokes: 100,
		Baseline: &baseline{ColdCPU: []time.Duration{2 * time.Millisecond}, WarmCPU: []time.Duration{200 * time.Microsecond}},
		Functions: []*fnResult{
			{Name: "small", LogsRun: true, Size: 9_000_000, PeakRSSk: 14_000, Mem: mem(14_000, 13_000, 13_100),
				Cold:  []coldSample{{Total: 15 * time.Millisecond, CPU: 5 * time.Millisecond, SecretsCalls: 2}},
				Warm:  []warmSample{{RoundTrip: 7 * time.Millisecond, CPU: 800 * time.Microsecond, SecretsCalls: 1}},
				Calls: []callStep{{Name: "warm forced run", Force: true, Action: "refreshed", Ops: []string{"PutSecretValue"}, Max: 1}}},
			{Name: "big", LogsRun: true, Size: 11_000_000, PeakRSSk: 21_000, Mem: mem(21_000, 15_000, 16_000),
				Floor: &baseline{ColdCPU: []time.Duration{time.Millisecond}, WarmCPU: []time.Duration{300 * time.Microsecond}},
				Cold:  []coldSample{{Total: 25 * time.Millisecond, CPU: 6 * time.Millisecond}},
				Warm:  []warmSample{{CPU: 900 * time.Microsecond}},
				Calls: []callStep{{Name: "warm forced run", Force: true, Action: "refreshed", Ops: []string{"GetSecretValue", "PutSecretValue"}, Max: 1}}},
		}}
	md := rep.markdown()
	for _, want := range []string{
		"| small | 5.00 ms | 2.00 ms | 2.50× | OK | 0.80 ms | 0.20 ms | 4.00× | OK |",
		"| big | 6.00 ms | 1.00 ms | 6.00× | **OVER** | 0.90 ms | 0.30 ms | 3.00× | OK |",
		"| small | warm forced run | refreshed | 1 | PutSecretValue | 0.00 ms | ≤ 1 | OK |",
		"| big | warm forced run | refreshed | 2 | GetSecretValue, PutSecretValue | 0.00 ms | ≤ 1 | **OVER** |",
		"| small | 9.0 MB | OK | 8.8 MiB / 9.8 MiB / 12.2 MiB | 13.7 MiB | OK | 12.8 MiB (after 600) | +100 KiB | OK |",
		"| big | 11.0 MB | **OVER** | 8.8 MiB / 9.8 MiB / 14.2 MiB | 20.5 MiB | **OVER** | 15.6 MiB (after 600) | +1000 KiB | **OVER** |",
		"| small | cold (2 Secrets Manager calls) |",
		"| cold CPU ≤ 2.5× the empty function's | **OVER** (1 of 2) | big 6.00× |",
		"| warm CPU per invoke ≤ 4× the empty function's | OK (2 of 2) |  |",
		"**OVER** (1 of 2) | big warm forced run: 2 |",
		"| stripped arm64 bootstrap ≤ 10 MB | **OVER** (1 of 2) | big 11.0 MB |",
		"| small | warm (1 Secrets Manager call) |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
}

func TestCallTarget(t *testing.T) {
	tests := []struct {
		name                  string
		vendor                string
		callback, cold, force bool
		action                string
		want                  int
	}{
		{"skip", "fyber", false, true, false, "skipped", 1},
		{"cold scheduled refresh", "fyber", false, true, false, "refreshed", 3},
		{"warm scheduled refresh", "fyber", false, false, false, "refreshed", 2},
		{"cold forced", "hasoffers", false, true, true, "refreshed", 2},
		{"warm forced", "hasoffers", false, false, true, "refreshed", 2},
		{"invoca validates", "invoca", false, false, false, "validated", 2},
		{"admitad refresh", "admitad", false, true, true, "refreshed", 4},
		{"admitad skip", "admitad", false, false, false, "skipped", 1},
		{"callback has none", "admitad", true, true, false, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := callTarget(tt.vendor, tt.callback, tt.cold, tt.force, tt.action); got != tt.want {
				t.Errorf("callTarget = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestFmtOps(t *testing.T) {
	for _, tt := range []struct {
		ops  []string
		want string
	}{
		{nil, "none"},
		{[]string{"GetSecretValue"}, "GetSecretValue"},
		{[]string{"GetSecretValue", "GetSecretValue", "PutSecretValue", "GetSecretValue"}, "GetSecretValue ×2, PutSecretValue, GetSecretValue"},
		{[]string{""}, "(not an AWS call)"},
	} {
		if got := fmtOps(tt.ops); got != tt.want {
			t.Errorf("fmtOps(%q) = %q, want %q", tt.ops, got, tt.want)
		}
	}
}

func TestMemSnapshot(t *testing.T) {
	var got []int
	for n := 2; n <= 200; n++ {
		if memSnapshot(n, 200) {
			got = append(got, n)
		}
	}
	if fmt.Sprint(got) != "[10 100 200]" {
		t.Errorf("snapshots after %v, want [10 100 200]", got)
	}
}

func TestAgedTimes(t *testing.T) {
	refreshed := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	r, e := agedTimes(refreshed, refreshed.Add(time.Hour))
	// Two minutes left of the token as it was, at most a minute of its
	// life used since the refresh moved back.
	if e != refreshed.Add(2*time.Minute) || r != refreshed.Add(-59*time.Minute) {
		t.Errorf("aged to %v – %v; want %v – %v", r, e, refreshed.Add(-59*time.Minute), refreshed.Add(2*time.Minute))
	}
}

func TestParseAnnotate(t *testing.T) {
	out := `--------------------------------------------------------------------------------
Profile data file 'cold.callgrind' (creator: callgrind-3.19.0)
--------------------------------------------------------------------------------
Ir
--------------------------------------------------------------------------------
9,000 (100.0%)  PROGRAM TOTALS

--------------------------------------------------------------------------------
Ir               file:function
--------------------------------------------------------------------------------
5,000 (55.55%)  runtime/malloc.go:runtime.mallocgc [/tmp/x/bootstrap]
3,000 (33.33%)  github.com/aws/aws-sdk-go-v2/aws/signer/v4/v4.go:github.com/aws/aws-sdk-go-v2/aws/signer/v4.(*Signer).SignHTTP [/tmp/x/bootstrap]
  700 ( 7.77%)  ???:type:.eq.[2]interface {} [/tmp/x/bootstrap]
  300 ( 3.33%)  runtime/other.go:runtime.mallocgc [/tmp/x/bootstrap]

--------------------------------------------------------------------------------
-- Auto-annotated source: runtime/malloc.go
--------------------------------------------------------------------------------
1,000 (10%) ignored line
`
	got, err := parseAnnotate(strings.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{"runtime.mallocgc": 5300, "github.com/aws/aws-sdk-go-v2/aws/signer/v4.(*Signer).SignHTTP": 3000, "type:.eq.[2]interface {}": 700}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if _, err := parseAnnotate(strings.NewReader("no table\n")); err == nil {
		t.Error("no error for output without a function table")
	}
}

func TestCategory(t *testing.T) {
	for fn, want := range map[string]string{
		"runtime.mallocgcSmallScanNoHeader": catAlloc,
		"runtime.gcDrain":                   catGC,
		"runtime.selectgo":                  catRuntime,
		"internal/runtime/maps.(*Map).getWithoutKeySmallFastStr":                     catRuntime,
		"github.com/aws/aws-sdk-go-v2/aws/signer/v4.(*Signer).SignHTTP":              catSDK,
		"github.com/aws/smithy-go/middleware.(*Stack).HandleMiddleware":              catSDK,
		"github.com/aws/aws-lambda-go/lambda.(*invoke).success":                      catLambda,
		"net/textproto.CanonicalMIMEHeaderKey":                                       catHTTP,
		"bufio.(*Reader).ReadSlice":                                                  catHTTP,
		"crypto/internal/fips140/sha256.blockAVX2.abi0":                              catCrypto,
		"encoding/json.appendCompact":                                                catJSON,
		"reflect.Value.Field":                                                        catJSON,
		"strconv.AppendInt":                                                          catStdlib,
		"slices.SortFunc[[]github.com/x/y.T,func(a, b)]":                             catStdlib,
		"github.com/token-refresher/token-refresher/shared/refresh.(*Refresher).run": catProject,
		"main.main":             catProject,
		"golang.org/x/sync.foo": catOther,
		"0x0000000000401000":    catUnknown,
	} {
		if got := category(fn); got != want {
			t.Errorf("category(%q) = %q, want %q", fn, got, want)
		}
	}
}

func TestNewProfile(t *testing.T) {
	short := map[string]int64{"runtime.schedinit": 1000, "main.main": 100, "runtime.mallocgc": 500}
	long := map[string]int64{"runtime.schedinit": 1000, "main.main": 300, "runtime.mallocgc": 900, "encoding/json.Marshal": 200}
	p := newProfile(short, long, 2)
	if p.ColdIr != 1600 || p.WarmIr != 400 {
		t.Errorf("cold %d, warm %d; want 1600 and (1400-600... ) 400", p.ColdIr, p.WarmIr)
	}
	if got := costOf(p.WarmBy, catAlloc); got != 200 {
		t.Errorf("warm allocation per invoke = %d, want 200", got)
	}
	if got := costOf(p.WarmBy, catJSON); got != 100 {
		t.Errorf("warm JSON per invoke = %d, want 100", got)
	}
	if p.WarmTop[0].Name != "runtime.mallocgc" {
		t.Errorf("top warm function %v, want runtime.mallocgc first", p.WarmTop)
	}
}

func TestParseInitTrace(t *testing.T) {
	out := `START RequestId: 1
init internal/bytealg @0.008 ms, 0 ms clock, 0 bytes, 0 allocs
init github.com/aws/aws-sdk-go-v2/service/sts/internal/endpoints @1.0 ms, 0.50 ms clock, 1000 bytes, 10 allocs
init net/http @1.2 ms, 0.25 ms clock, 500 bytes, 5 allocs
init net/http @1.3 ms, 0.05 ms clock, 100 bytes, 1 allocs
not init a line @1 ms
`
	got := parseInitTrace(out)
	if got.Clock != 800*time.Microsecond || got.Bytes != 1600 || got.Allocs != 16 {
		t.Errorf("total %+v", got)
	}
	if len(got.Top) != 3 || got.Top[0].Pkg != "github.com/aws/aws-sdk-go-v2/service/sts/internal/endpoints" || got.Top[1].Clock != 300*time.Microsecond {
		t.Errorf("top %+v", got.Top)
	}
}

func TestWorkloadChecks(t *testing.T) {
	authorize, err := authorizeWork("8f3a61c2d94e07b5a1c6e2f0937d48ab5e19c7d3f0a2b86e4d71c95a3f08e6b2")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		w       workload
		payload string
		wantErr bool
	}{
		{"refreshed", refresherWork, `{"vendor":"fyber","action":"refreshed","fingerprint":"0123456789abcdef"}`, false},
		{"validated", refresherWork, `{"vendor":"invoca","action":"validated"}`, false},
		{"skipped is not a refresh", refresherWork, `{"vendor":"fyber","action":"skipped"}`, true},
		{"not a summary", refresherWork, `"hello"`, true},
		{"redirect", authorize, `{"statusCode":302,"headers":{"Location":"https://store.admitad.com/api/authorize/"}}`, false},
		{"refused link", authorize, `{"statusCode":403,"body":"<html>"}`, true},
		{"not an HTTP reply", authorize, `not json`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.w.check(localaws.Result{Payload: []byte(tt.payload)})
			if (err != nil) != tt.wantErr {
				t.Errorf("check(%s) = %v, want error %v", tt.payload, err, tt.wantErr)
			}
		})
	}
	t.Run("authorize event carries a signed link", func(t *testing.T) {
		var ev struct {
			RouteKey              string            `json:"routeKey"`
			QueryStringParameters map[string]string `json:"queryStringParameters"`
		}
		if err := json.Unmarshal(authorize.payload, &ev); err != nil {
			t.Fatal(err)
		}
		if ev.RouteKey != "GET /admitad/authorize" || len(ev.QueryStringParameters) < 2 {
			t.Errorf("event = %+v", ev)
		}
	})
}

func TestProcReadings(t *testing.T) {
	t.Run("CPU time and peak RSS of this process", func(t *testing.T) {
		cpu, err := cpuTime(os.Getpid())
		if err != nil || cpu <= 0 {
			t.Errorf("cpuTime = %v, %v", cpu, err)
		}
		hwm, err := peakRSS(os.Getpid())
		if err != nil || hwm <= 0 {
			t.Errorf("peakRSS = %d, %v", hwm, err)
		}
	})
	t.Run("bootstrap found below its parent", func(t *testing.T) {
		sleep, err := exec.LookPath("sleep")
		if err != nil {
			t.Skip("no sleep command")
		}
		b, err := os.ReadFile(sleep)
		if err != nil {
			t.Fatal(err)
		}
		bootstrap := filepath.Join(t.TempDir(), "bootstrap")
		if err := os.WriteFile(bootstrap, b, 0o755); err != nil {
			t.Fatal(err)
		}
		// A shell stands in for the emulator: the bootstrap is its child.
		cmd := exec.Command("sh", "-c", bootstrap+" 30; true")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		var pid int
		for range 100 {
			if pid, err = localaws.BootstrapPID(cmd.Process.Pid); err == nil {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if err != nil {
			t.Fatal(err)
		}
		if pp, ok := localaws.ParentPID(pid); !ok || pp != cmd.Process.Pid {
			t.Errorf("found pid %d with parent %d, want a child of %d", pid, pp, cmd.Process.Pid)
		}
		_ = syscall.Kill(pid, syscall.SIGKILL)
		if _, err := localaws.BootstrapPID(os.Getpid() + 1_000_000); err == nil {
			t.Error("found a bootstrap below a process that does not exist")
		}
	})
}

func TestMeteredServer(t *testing.T) {
	m, err := serveMetered(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(5 * time.Millisecond)
		w.WriteHeader(http.StatusNoContent)
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer m.close()
	for _, target := range []string{"secretsmanager.GetSecretValue", ""} {
		req, _ := http.NewRequest(http.MethodPost, m.url, nil)
		if target != "" {
			req.Header.Set("X-Amz-Target", target)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	got := m.take()
	if fmt.Sprint(got.Ops) != "[GetSecretValue ]" {
		t.Errorf("ops = %q, want GetSecretValue and one that is not an AWS call", got.Ops)
	}
	if got.Calls != 2 || got.Wait < 10*time.Millisecond {
		t.Errorf("take = %v over %d requests, want ≥ 10ms over 2", got.Wait, got.Calls)
	}
	if got := m.take(); got.Wait != 0 || got.Calls != 0 || got.Ops != nil {
		t.Errorf("second take = %+v; want it reset", got)
	}
}

// TestProfilerFailureSkipsProfile: with a valgrind that fails (a stand-in
// here; valgrind 3.19's callgrind crashed on the empty function), the
// bench skips the instruction counts with a note in the results and goes
// on, instead of stopping.
func TestProfilerFailureSkipsProfile(t *testing.T) {
	if testing.Short() {
		t.Skip("starts aws-lambda-rie; skipped with -short")
	}
	if _, err := exec.LookPath("aws-lambda-rie"); err != nil {
		t.Skip("aws-lambda-rie is not installed (make dev-tools)")
	}
	stubs := t.TempDir()
	for name, script := range map[string]string{
		"valgrind":           "#!/bin/sh\necho 'valgrind: the stand-in crashes as callgrind 3.19 did' >&2\nexit 1\n",
		"callgrind_annotate": "#!/bin/sh\nexit 1\n",
	} {
		if err := os.WriteFile(filepath.Join(stubs, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PATH", stubs+string(os.PathListSeparator)+os.Getenv("PATH"))
	root, err := localaws.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	sym := filepath.Join(t.TempDir(), "bootstrap")
	if err := hostProfileBuild(ctx, root, baselinePkg, sym); err != nil {
		t.Fatal(err)
	}
	o := options{profile: true, profileInvokes: 1}
	fyber := &fnResult{Name: "fyber", Profile: &profile{}}
	rep := &report{Baseline: &baseline{}, Functions: []*fnResult{fyber}}
	profileBaseline(ctx, &o, rep, sym)
	if o.profile {
		t.Error("the bench still profiles after callgrind failed")
	}
	if rep.Baseline.Profile != nil || fyber.Profile != nil {
		t.Error("profiles are kept after callgrind failed")
	}
	for _, want := range []string{"instruction profile was skipped", "callgrind failed on the empty function", "Every other figure was measured"} {
		if !strings.Contains(rep.ProfileNote, want) {
			t.Errorf("note %q lacks %q", rep.ProfileNote, want)
		}
	}
	md := rep.markdown()
	if !strings.Contains(md, rep.ProfileNote) {
		t.Errorf("the results lack the note:\n%s", md)
	}

	// A failure on a refresher later in the bench does the same.
	o = options{profile: true}
	rep = &report{Baseline: &baseline{Profile: &profile{}}, Functions: []*fnResult{{Name: "fyber", Profile: &profile{}}}}
	rep.skipProfile(&o, "merchenta", errors.New("invoke 1 under callgrind: Runtime.ExitError\nemulator output"))
	if o.profile || rep.Baseline.Profile != nil || rep.Functions[0].Profile != nil ||
		!strings.Contains(rep.ProfileNote, "failed on merchenta (invoke 1 under callgrind: Runtime.ExitError)") {
		t.Errorf("after a refresher's profile failed: profile %v, note %q", o.profile, rep.ProfileNote)
	}
}
