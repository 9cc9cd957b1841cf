package vendorcheck

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// sixth is the example vendor in testdata/sixth: a textbook
// client-credentials vendor declared by a row alone (row.txt) and its main
// (functions/zenith), laid out as in the module.
const sixth = "zenith"

// skipped are the top-level entries not copied: build output, installed
// tools, synthesized templates, scratch space and git's own data.
var skipped = []string{".git", ".tools", "build", "cdk.out", "tmp", "node_modules"}

// TestSixthVendor adds the example vendor to a copy of the module with one
// row and one main, plus `go generate`, and shows that the vendor checks,
// the conformance suite, make dev's system and the stack all pick it up,
// and that nothing else was edited. The copy is thrown
// away. It takes one to two minutes: most of it synthesizing the stack and
// starting make dev's system (which needs moto_server and aws-lambda-rie
// on PATH, as make dev does; without them that part is skipped). Run it
// alone with
//
//	go test -run TestSixthVendor -v ./internal/vendorcheck
func TestSixthVendor(t *testing.T) {
	if testing.Short() {
		t.Skip("copies the module and runs go commands in it; skipped with -short")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command on PATH")
	}
	src := root(t)
	dir := filepath.Join(t.TempDir(), "module")
	if err := copyModule(src, dir); err != nil {
		t.Fatal(err)
	}
	// What the copy held before the vendor was added (the module itself
	// may change meanwhile).
	before, err := goFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	example := filepath.Join(src, "internal", "vendorcheck", "testdata", "sixth")
	goCmd := func(t *testing.T, args ...string) (string, error) {
		t.Helper()
		cmd := exec.Command("go", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-buildvcs=false")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	// The checks run in the copy; -short keeps this test from running
	// there again.
	checks := []string{"test", "-count=1", "-short", "./internal/vendorcheck", "./internal/testservers"}

	// One row: every check that misses a piece says which.
	row, err := os.ReadFile(filepath.Join(example, "row.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if err := addRow(filepath.Join(dir, "shared", "vendors", "vendors.go"), string(row)); err != nil {
		t.Fatal(err)
	}
	t.Run("a row without its main fails, naming it", func(t *testing.T) {
		out, err := goCmd(t, checks...)
		if err == nil {
			t.Fatalf("the checks pass with a row and nothing else:\n%s", out)
		}
		for _, want := range []string{
			"vendor zenith has no function: functions/zenith/main.go is missing",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("the checks do not say %q:\n%s", want, out)
			}
		}
	})

	// One main, then go generate (which finds no test package to import).
	if err := copyTree(example, dir, func(rel string) bool { return rel != "row.txt" }); err != nil {
		t.Fatal(err)
	}
	if out, err := goCmd(t, "generate", "./internal/testservers"); err != nil {
		t.Fatalf("go generate: %v\n%s", err, out)
	}

	t.Run("only the row and the main changed", func(t *testing.T) {
		after, err := goFiles(dir)
		if err != nil {
			t.Fatal(err)
		}
		var changed []string
		for rel, b := range after {
			if orig, ok := before[rel]; !ok || !bytes.Equal(orig, b) {
				changed = append(changed, rel)
			}
		}
		for rel := range before {
			if _, ok := after[rel]; !ok {
				changed = append(changed, rel+" (removed)")
			}
		}
		slices.Sort(changed)
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"functions/zenith/main.go", "shared/vendors/vendors.go"}
		if !slices.Equal(changed, want) {
			t.Errorf("files that differ from the module: %v, want %v", changed, want)
		}
	})
	t.Run("vendor checks and generated imports", func(t *testing.T) {
		if out, err := goCmd(t, append(checks, "-v")...); err != nil || !strings.Contains(out, "--- PASS: TestEveryVendorIsARowAPackageAndAMain/zenith") {
			t.Fatalf("%v\n%s", err, out)
		}
	})
	t.Run("conformance suite", func(t *testing.T) {
		out, err := goCmd(t, "test", "-count=1", "-v", "-run", "^TestRowsConformance$/^zenith$", "./shared/clientcreds")
		if err != nil || !strings.Contains(out, "--- PASS: TestRowsConformance/zenith ") {
			t.Fatalf("%v\n%s", err, out)
		}
	})
	t.Run("Lambda build leaves the test server out", func(t *testing.T) {
		out, err := goCmd(t, "list", "-tags", "lambda.norpc", "-deps", "./functions/zenith")
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		if !strings.Contains(out, module+"/shared/clientcreds\n") {
			t.Errorf("functions/zenith does not import shared/clientcreds:\n%s", out)
		}
		for _, banned := range []string{"net/http/httptest", module + "/shared/vendortest"} {
			if strings.Contains(out, banned+"\n") {
				t.Errorf("functions/zenith built for Lambda imports %s", banned)
			}
		}
	})
	t.Run("the stack", func(t *testing.T) {
		out, err := goCmd(t, "test", "-count=1", "-v", "-run", "^(TestOneFunctionAndSchedulePerVendor|TestAlarmsForEveryVendor|TestEnvironmentPointsAtSecrets)$", "./infra/tokenrefresher")
		for _, want := range []string{"--- PASS: TestOneFunctionAndSchedulePerVendor/zenith", "--- PASS: TestAlarmsForEveryVendor/zenith"} {
			if err != nil || !strings.Contains(out, want) {
				t.Fatalf("want %q: %v\n%s", want, err, out)
			}
		}
	})
	t.Run("make dev's system", func(t *testing.T) {
		for _, tool := range []string{"moto_server", "aws-lambda-rie"} {
			if !haveTool(tool) {
				t.Skipf("%s is not on PATH (make dev-tools installs it)", tool)
			}
		}
		bin := filepath.Join(t.TempDir(), "dev")
		if out, err := goCmd(t, "build", "-o", bin, "./cmd/dev"); err != nil {
			t.Fatalf("build dev: %v\n%s", err, out)
		}
		runDev(t, dir, bin)
	})
}

// runDev starts dev in dir and waits until the sixth vendor's row of GET
// /status shows a token from its test server, then stops dev.
func runDev(t *testing.T, dir, bin string) {
	t.Helper()
	base := freePorts(t, 2+6) // front, moto_server and a test server per vendor
	var out bytes.Buffer
	cmd := exec.Command(bin, "-base-port", strconv.Itoa(base), "-speed", "120", "-status-interval", "5s", "-json", "-log", filepath.Join(t.TempDir(), "dev.log"))
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
			t.Error("dev did not stop within 30s of SIGTERM")
		}
		if t.Failed() {
			t.Logf("dev output:\n%s", out.String())
		}
	}()
	type row struct {
		Vendor      string `json:"vendor"`
		Function    string `json:"function"`
		TestServer  string `json:"test_server"`
		Fingerprint string `json:"fingerprint"`
		State       string `json:"state"`
	}
	wantServer := fmt.Sprintf("http://127.0.0.1:%d", base+2+5) // the sixth row of the table
	deadline := time.Now().Add(5 * time.Minute)
	var last row
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("dev exited (%v) before the new vendor had a token", err)
		case <-time.After(time.Second):
		}
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/status", base))
		if err != nil {
			continue
		}
		var st struct {
			Vendors []row `json:"vendors"`
		}
		err = json.NewDecoder(resp.Body).Decode(&st)
		resp.Body.Close()
		if err != nil {
			continue
		}
		for _, v := range st.Vendors {
			if v.Vendor == sixth {
				last = v
			}
		}
		if last.Fingerprint != "" && last.State == "ok" {
			if !strings.HasPrefix(last.TestServer, wantServer) || !strings.HasSuffix(last.Function, "-"+sixth) {
				t.Errorf("dev's row for %s: %+v, want its test server on %s", sixth, last, wantServer)
			}
			return
		}
	}
	t.Fatalf("no token for %s in dev's status within 5 minutes; last row %+v", sixth, last)
}

// haveTool reports whether make dev would find tool: on PATH, or (as
// package localaws looks for aws-lambda-rie) in $(go env GOPATH)/bin.
func haveTool(tool string) bool {
	if _, err := exec.LookPath(tool); err == nil {
		return true
	}
	out, err := exec.Command("go", "env", "GOPATH").Output()
	if err != nil {
		return false
	}
	for _, dir := range filepath.SplitList(strings.TrimSpace(string(out))) {
		if _, err := os.Stat(filepath.Join(dir, "bin", tool)); err == nil {
			return true
		}
	}
	return false
}

// freePorts finds n consecutive free ports on 127.0.0.1, away from the
// Lambda Runtime API's default 9001.
func freePorts(t *testing.T, n int) int {
	t.Helper()
outer:
	for range 100 {
		// Below Linux's ephemeral ports (32768 and up), which any
		// process's outgoing connection or port-0 listener can take
		// between this check and dev's own listen.
		base := 20000 + rand.IntN(32768-20000-n)
		for p := base; p < base+n; p++ {
			ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
			if err != nil {
				continue outer
			}
			ln.Close()
		}
		return base
	}
	t.Fatalf("no %d consecutive free ports on 127.0.0.1", n)
	return 0
}

// addRow puts row at the end of the vendor table in vendors.go.
func addRow(path, row string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	s := string(b)
	start := strings.Index(s, "\nvar table = []Spec{\n")
	end := strings.Index(s[max(start, 0):], "\n}\n")
	if start < 0 || end < 0 {
		return fmt.Errorf("%s: no table (var table = []Spec{ ... }) to add the row to", path)
	}
	at := start + end
	return os.WriteFile(path, []byte(s[:at]+"\n"+strings.TrimRight(row, "\n")+s[at:]), 0o644)
}

// copyModule copies the module at src into dst, without the skipped
// top-level entries.
func copyModule(src, dst string) error {
	return copyTree(src, dst, func(rel string) bool {
		top, _, _ := strings.Cut(rel, "/")
		return !slices.Contains(skipped, top)
	})
}

// copyTree copies the regular files under src that keep accepts (by path
// relative to src, with slashes) into dst.
func copyTree(src, dst string, keep func(rel string) bool) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil || rel == "." {
			return err
		}
		if !keep(filepath.ToSlash(rel)) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(target, 0o755)
		case !d.Type().IsRegular():
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, info.Mode().Perm())
	})
}

// goFiles reads every .go file under dir, by slash path relative to dir.
func goFiles(dir string) (map[string][]byte, error) {
	out := map[string][]byte{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(path)
		out[filepath.ToSlash(rel)] = b
		return err
	})
	return out, err
}
