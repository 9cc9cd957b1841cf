package main

import (
	"encoding/json"
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
	rep := &report{Functions: []*fnResult{
		{Name: "small", LogsRun: true, Size: 9_000_000, PeakRSSk: 14_000,
			Cold: []coldSample{{Total: 15 * time.Millisecond, Vendor: time.Millisecond, Secrets: 5 * time.Millisecond, Run: 9 * time.Millisecond}},
			Warm: []warmSample{{RoundTrip: 7 * time.Millisecond, Run: 6 * time.Millisecond, CPU: 900 * time.Microsecond}}},
		{Name: "big", LogsRun: true, Size: 11_000_000, PeakRSSk: 40_000,
			Cold: []coldSample{{Total: 25 * time.Millisecond}},
			Warm: []warmSample{{CPU: 1500 * time.Microsecond}}},
	}}
	got := map[string]string{}
	for _, r := range rep.rows() {
		if r.result != "" {
			got[r.fn+" "+strings.Fields(r.figure)[0]+" "+r.budget] = r.result
		}
	}
	want := map[string]string{
		"small bootstrap ≤ 10.0 MB":  "OK",
		"small cold ≤ 20.0 ms (p95)": "OK",
		"small peak ≤ 30.0 MB":       "OK",
		"small own ≤ 1.00 ms (p95)":  "OK",
		"big bootstrap ≤ 10.0 MB":    "**OVER**",
		"big cold ≤ 20.0 ms (p95)":   "**OVER**",
		"big peak ≤ 30.0 MB":         "**OVER**",
		"big own ≤ 1.00 ms (p95)":    "**OVER**",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: got %q, want %q (all: %v)", k, got[k], v, got)
		}
	}
}

func TestWorkloadChecks(t *testing.T) {
	authorize, err := authorizeWork("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
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
	for range 2 {
		resp, err := http.Get(m.url)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	d, n := m.take()
	if n != 2 || d < 10*time.Millisecond {
		t.Errorf("take = %v over %d requests, want ≥ 10ms over 2", d, n)
	}
	if d, n := m.take(); d != 0 || n != 0 {
		t.Errorf("second take = %v, %d; want it reset", d, n)
	}
}
