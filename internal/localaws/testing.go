package localaws

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"testing"
	"time"
)

// Helpers for tests. Moto and builds are shared by every test of one test
// binary; end them with RunTests from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(localaws.RunTests(m)) }
//
// Without it, moto_server still dies with the test binary (Linux kills it
// when its parent dies) and the next test binary removes stale build
// folders.
//
// Output of moto and emulators is kept out of test logs (it would mix
// freely); set LOCALAWS_LOG=1 to copy it to stderr.

var (
	testMu sync.Mutex

	testMoto    *Moto
	testMotoErr error

	rootOnce sync.Once
	rootDir  string
	rootErr  error

	buildDirOnce sync.Once
	buildDir     string
	buildDirErr  error

	builds = map[string]*buildEntry{}
)

type buildEntry struct {
	once sync.Once
	path string
	err  error
}

func testLog() io.Writer {
	if os.Getenv("LOCALAWS_LOG") == "1" {
		return os.Stderr
	}
	return nil
}

// MotoForTest returns the moto_server shared by this test binary, starting
// it on first use, and fails t if it cannot start. Tests that share it must
// use their own secret names, or not run in parallel with a test that calls
// Reset.
func MotoForTest(t testing.TB) *Moto {
	t.Helper()
	testMu.Lock()
	defer testMu.Unlock()
	if testMoto == nil && testMotoErr == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		testMoto, testMotoErr = StartMoto(ctx, testLog())
		cancel()
	}
	if testMotoErr != nil {
		t.Fatal(testMotoErr)
	}
	return testMoto
}

// BuildForTest builds ./functions/<fn> of this module once per test binary
// and returns the bootstrap's path; it fails t if the build fails.
func BuildForTest(t testing.TB, fn string) string {
	t.Helper()
	return buildForTest(t, fn, func(ctx context.Context, root, out string) (string, error) {
		return Build(ctx, root, fn, out)
	})
}

// buildForTest builds once per key with build(ctx, moduleRoot, outDir).
func buildForTest(t testing.TB, key string, build func(ctx context.Context, root, out string) (string, error)) string {
	t.Helper()
	rootOnce.Do(func() { rootDir, rootErr = ModuleRoot() })
	if rootErr != nil {
		t.Fatal(rootErr)
	}
	buildDirOnce.Do(func() { buildDir, buildDirErr = newBuildDir() })
	if buildDirErr != nil {
		t.Fatal(buildDirErr)
	}
	testMu.Lock()
	e, ok := builds[key]
	if !ok {
		e = &buildEntry{}
		builds[key] = e
	}
	testMu.Unlock()
	e.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		e.path, e.err = build(ctx, rootDir, buildDir)
	})
	if e.err != nil {
		t.Fatal(e.err)
	}
	return e.path
}

const buildDirPrefix = "localaws-build-"

// newBuildDir makes this process's build folder, named after its pid, and
// removes folders left by processes that no longer run.
func newBuildDir() (string, error) {
	RemoveStaleTempDirs(buildDirPrefix)
	tmp := os.TempDir()
	dir, err := os.MkdirTemp(tmp, fmt.Sprintf("%s%d-", buildDirPrefix, os.Getpid()))
	if err != nil {
		return "", fmt.Errorf("localaws: build folder: %w", err)
	}
	return dir, nil
}

// FunctionForTest builds ./functions/<fn> (once per test binary), runs it
// under the emulator with env, and stops it when t ends.
func FunctionForTest(t testing.TB, fn string, env []string) *Function {
	t.Helper()
	return startFunctionForTest(t, BuildForTest(t, fn), env)
}

func startFunctionForTest(t testing.TB, bootstrap string, env []string) *Function {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	f, err := StartFunction(ctx, bootstrap, env, testLog())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := f.Stop(); err != nil {
			t.Error(err)
		}
	})
	return f
}

// RunTests runs m, then stops the shared moto and removes the shared build
// folder. It returns m.Run's exit code.
func RunTests(m *testing.M) int {
	code := m.Run()
	testMu.Lock()
	defer testMu.Unlock()
	if testMoto != nil {
		if err := testMoto.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
		testMoto = nil
	}
	if buildDir != "" {
		_ = os.RemoveAll(buildDir)
	}
	return code
}
