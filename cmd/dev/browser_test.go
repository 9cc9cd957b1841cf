//go:build linux

package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/token-refresher/token-refresher/internal/localaws"
	"github.com/token-refresher/token-refresher/shared/secretstore"
	"github.com/token-refresher/token-refresher/shared/vendorhttp"
	"github.com/token-refresher/token-refresher/shared/vendors"
)

// chromiumPath finds Debian's chromium (or another Chromium or Chrome).
// Without one the browser test is skipped, unless REQUIRE_CHROMIUM is set
// (CI sets it: .ci/run installs chromium).
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("REQUIRE_CHROMIUM") != "" {
		t.Fatal("chromium is not installed (REQUIRE_CHROMIUM is set): apt-get install -y chromium")
	}
	t.Skip("chromium is not installed: apt-get install -y chromium (REQUIRE_CHROMIUM=1 makes this a failure)")
	return ""
}

// artifactDir is where the browser test keeps its screenshots:
// DEV_ARTIFACTS_DIR, or build/test-artifacts in the module.
func artifactDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("DEV_ARTIFACTS_DIR")
	if dir == "" {
		root, err := localaws.ModuleRoot()
		if err != nil {
			t.Fatal(err)
		}
		dir = filepath.Join(root, "build", "test-artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// browser starts a headless Chromium with a fresh profile, loopback only.
func browser(t *testing.T) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("metrics-recording-only", true),
		chromedp.Flag("password-store", "basic"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancel(); cancelAlloc() })
	return ctx
}

// pollPage waits until the JavaScript expression is true in the page.
func pollPage(t *testing.T, ctx context.Context, what, expr string, timeout time.Duration) {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(timeout), chromedp.WithPollingInterval(100*time.Millisecond))); err != nil {
		body, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
		t.Fatalf("page: no %s within %s: %v\npage text:\n%s", what, timeout, err, body)
	}
}

func evalPage[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	p := filepath.Join(artifactDir(t), name)
	if err := os.WriteFile(p, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", p)
}

// row is the page's element for a vendor's default connection.
func row(vendor string) string {
	return fmt.Sprintf(`document.querySelector('#rows section.row[data-key="%s/%s"]')`, vendor, vendors.DefaultConnection)
}

// checkPageInBrowser loads the status page in headless Chromium: every
// vendor's row and chart render, an injected failure shows as failing
// within seconds, and the connect flow ends with Admitad shown connected.
// It keeps screenshots in artifactDir.
func checkPageInBrowser(t *testing.T, front string, base int, store *secretstore.Store) {
	ctx := browser(t)
	if err := chromedp.Do(ctx, chromedp.Navigate(front+"/")); err != nil {
		t.Fatal(err)
	}

	t.Run("every vendor row and its chart", func(t *testing.T) {
		pollPage(t, ctx, fmt.Sprintf("%d rows with charts", wantRows), fmt.Sprintf(`document.querySelectorAll('#rows section.row').length === %d &&
			document.querySelectorAll('#rows section.row svg.chart').length === %[1]d`, wantRows), 10*time.Second)
		for _, c := range devConnections {
			r := fmt.Sprintf(`document.querySelector('#rows section.row[data-key="%s/%s"]')`, vendors.Merchenta, c)
			pollPage(t, ctx, "merchenta/"+c+" ok, named", r+` !== null && `+r+`.dataset.state === "ok" && `+r+`.querySelector('.name').textContent.includes("/ `+c+`")`, 20*time.Second)
		}
		for _, spec := range vendors.All() {
			r := row(spec.Name)
			if !evalPage[bool](t, ctx, r+` !== null`) {
				t.Fatalf("no row for %s", spec.Name)
			}
			if spec.AuthCode {
				if st := evalPage[string](t, ctx, r+`.dataset.state`); st != stateNotConnected {
					t.Errorf("%s shows %q before the connect flow, want %s", spec.Name, st, stateNotConnected)
				}
				continue
			}
			pollPage(t, ctx, spec.Name+" ok with a drawn token life", r+`.dataset.state === "ok" && `+r+`.querySelector('svg.chart polyline.life') !== null`, 20*time.Second)
			if words := evalPage[string](t, ctx, r+`.querySelector('.badge').textContent`); words != "ok" {
				t.Errorf("%s badge says %q", spec.Name, words)
			}
		}
		if w := evalPage[bool](t, ctx, `document.documentElement.scrollWidth <= window.innerWidth`); !w {
			t.Errorf("the page scrolls sideways at 1280 px: scrollWidth %v", evalPage[float64](t, ctx, `document.documentElement.scrollWidth`))
		}
		if n := evalPage[float64](t, ctx, `performance.getEntriesByType('resource').filter(e => !e.name.startsWith(location.origin)).length`); n != 0 {
			t.Errorf("the page loaded %v resources from elsewhere", n)
		}
	})

	t.Run("an injected failure shows as failing", func(t *testing.T) {
		loaded := evalPage[float64](t, ctx, `performance.timeOrigin`)
		fault := fmt.Sprintf(`{"status":500,"count":%d}`, vendorhttp.DefaultMaxAttempts)
		resp, err := http.Post(fmt.Sprintf("http://127.0.0.1:%d/_fault", base+4), "application/json", strings.NewReader(fault))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		r := row(vendors.Fyber)
		pollPage(t, ctx, "the injected fault on fyber's chart", r+`.querySelector('svg .m-fault') !== null`, 5*time.Second)
		// A forced refresh meets the fault at once; the schedule might
		// skip while the token is fresh.
		go func() {
			resp, err := http.Post(front+"/invoke/fyber", "application/json", strings.NewReader(`{"force":true}`))
			if err == nil {
				resp.Body.Close()
			}
		}()
		pollPage(t, ctx, "fyber failing with its error", r+`.dataset.state === "failing" && `+r+`.querySelector('.err') !== null && `+r+`.querySelector('.err').textContent.includes("HTTP 500")`, 8*time.Second)
		pollPage(t, ctx, "the failure on fyber's chart", r+`.querySelector('svg .m-failed') !== null`, 5*time.Second)
		if words := evalPage[string](t, ctx, r+`.querySelector('.badge').textContent`); words != "failing" {
			t.Errorf("fyber badge says %q", words)
		}
		if again := evalPage[float64](t, ctx, `performance.timeOrigin`); again != loaded {
			t.Errorf("the page reloaded in full")
		}
		screenshot(t, ctx, "dev-status-failing.png")
	})

	t.Run("connect flow ends with Admitad connected", func(t *testing.T) {
		r := row(vendors.Admitad)
		if _, err := chromedp.Run(ctx, chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.Click(chromedp.CSS(`section.row[data-key="admitad/default"] a.connect`)))); err != nil {
			t.Fatal(err)
		}
		pollPage(t, ctx, "the callback's page", `document.body.innerText.includes("Admitad connected")`, 30*time.Second)
		if err := chromedp.Do(ctx, chromedp.Navigate(front+"/")); err != nil {
			t.Fatal(err)
		}
		pollPage(t, ctx, "admitad connected and ok", r+` !== null && `+r+`.dataset.connected === "true" && `+r+`.dataset.state === "ok"`, 10*time.Second)
		text := evalPage[string](t, ctx, r+`.innerText`)
		if strings.Contains(text, "not connected") {
			t.Errorf("admitad row still says not connected:\n%s", text)
		}
		if !evalPage[bool](t, ctx, r+`.querySelector('svg .m-connected') !== null`) {
			t.Errorf("no connected mark on admitad's chart")
		}
		// Let fyber recover so the screenshot shows a healthy system.
		pollPage(t, ctx, "fyber ok again", row(vendors.Fyber)+`.dataset.state === "ok"`, 30*time.Second)
		screenshot(t, ctx, "dev-status.png")
	})

	t.Run("readable on a phone", func(t *testing.T) {
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(1500 * time.Millisecond)
		if !evalPage[bool](t, ctx, `document.documentElement.scrollWidth <= window.innerWidth`) {
			t.Errorf("the page scrolls sideways at 390 px: scrollWidth %v", evalPage[float64](t, ctx, `document.documentElement.scrollWidth`))
		}
		screenshot(t, ctx, "dev-status-phone.png")
	})
}

// screenshotPage opens the status page in a new browser once every row
// has drawn, and keeps a screenshot of it.
func screenshotPage(t *testing.T, front, name string) {
	ctx := browser(t)
	if err := chromedp.Do(ctx, chromedp.Navigate(front+"/")); err != nil {
		t.Fatal(err)
	}
	pollPage(t, ctx, fmt.Sprintf("%d rows with charts", wantRows), fmt.Sprintf(`document.querySelectorAll('#rows section.row svg.chart').length === %d`, wantRows), 10*time.Second)
	screenshot(t, ctx, name)
}
