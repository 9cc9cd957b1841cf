//go:build linux

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/token-refresher/token-refresher/internal/humandur"
	"github.com/token-refresher/token-refresher/internal/localaws"
	"github.com/token-refresher/token-refresher/shared/secretstore"
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
	ctx, cancelTimeout := context.WithTimeout(ctx, 15*time.Minute)
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
	return fmt.Sprintf(`document.querySelector('#rows .row[data-key="%s/%s"]')`, vendor, vendors.DefaultConnection)
}

// fyberFault sends a fault command to fyber's test server.
func fyberFault(t *testing.T, base int, method, body string) {
	t.Helper()
	req, err := http.NewRequest(method, fmt.Sprintf("http://127.0.0.1:%d/_fault", base+4), strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("%s /_fault: HTTP %d: %s", method, resp.StatusCode, b)
	}
}

// forceFyber forces a fyber refresh through dev and returns its reply.
func forceFyber(t *testing.T, front string) (int, string) {
	t.Helper()
	resp, err := http.Post(front+"/invoke/fyber", "application/json", strings.NewReader(`{"force":true}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// pageWait is how long the browser test waits for a condition on the
// page: generous, for a machine kept busy by other work. Waits end as
// soon as the condition holds.
const pageWait = 90 * time.Second

// checkPageInBrowser loads the status page in headless Chromium: every
// vendor's row and chart render, an injected failure shows as failing
// within seconds, and the connect flow ends with Admitad shown connected.
// It keeps screenshots in artifactDir.
func checkPageInBrowser(t *testing.T, front string, base int, store *secretstore.Store) {
	ctx := browser(t)
	// The window's size includes the browser's own frame: the page gets
	// a 1280x900 viewport, the screen the page must fit.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900)); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(front+"/")); err != nil {
		t.Fatal(err)
	}

	t.Run("every vendor row and its chart", func(t *testing.T) {
		pollPage(t, ctx, fmt.Sprintf("%d rows with charts", wantRows), fmt.Sprintf(`document.querySelectorAll('#rows .row').length === %d &&
			document.querySelectorAll('#rows .row svg.chart').length === %[1]d`, wantRows), pageWait)
		for _, c := range devConnections {
			r := fmt.Sprintf(`document.querySelector('#rows .row[data-key="%s/%s"]')`, vendors.Merchenta, c)
			pollPage(t, ctx, "merchenta/"+c+" ok, named", r+` !== null && `+r+`.dataset.state === "ok" && `+r+`.querySelector('summary .name').textContent === "merchenta/`+c+`"`, pageWait)
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
			pollPage(t, ctx, spec.Name+" ok with a drawn token life", r+`.dataset.state === "ok" && `+r+`.querySelector('svg.chart polyline.life') !== null`, pageWait)
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

	t.Run("summary, title, legend and one screen", func(t *testing.T) {
		checkPageLayout(t, ctx, front)
	})

	t.Run("an injected failure shows as failing", func(t *testing.T) {
		loaded := evalPage[float64](t, ctx, `performance.timeOrigin`)
		// Every fyber token request fails until the fault is dropped, so
		// no run can succeed and clear the failure while the page is
		// checked.
		fyberFault(t, base, http.MethodPost, `{"status":500,"count":1000}`)
		r := row(vendors.Fyber)
		pollPage(t, ctx, "the injected fault on fyber's chart", r+`.querySelector('svg .m-fault') !== null`, pageWait)
		// A forced refresh meets the fault at once; the schedule might
		// skip while the token is fresh.
		go func() {
			resp, err := http.Post(front+"/invoke/fyber", "application/json", strings.NewReader(`{"force":true}`))
			if err == nil {
				resp.Body.Close()
			}
		}()
		pollPage(t, ctx, "fyber failing with its error", r+`.dataset.state === "failing" && `+r+`.querySelector('.err') !== null && `+r+`.querySelector('.err').textContent.includes("HTTP 500")`, pageWait)
		pollPage(t, ctx, "the failure on fyber's chart", r+`.querySelector('svg .m-failed') !== null`, pageWait)
		if words := evalPage[string](t, ctx, r+`.querySelector('.badge').textContent`); words != "failing" {
			t.Errorf("fyber badge says %q", words)
		}
		if first := evalPage[string](t, ctx, `document.querySelector('#rows .row').dataset.key`); first != vendors.Fyber+"/"+vendors.DefaultConnection {
			t.Errorf("the first row is %s, want the failing fyber/default", first)
		}
		pollPage(t, ctx, "a title that names the failure", `/^1 failing\b.* — token-refresher dev$/.test(document.title)`, pageWait)
		pollPage(t, ctx, "a summary line that counts the failure", `document.getElementById("summary").textContent.includes(" · 1 failing · ")`, pageWait)
		why := evalPage[string](t, ctx, r+`.querySelector('summary .why').textContent`)
		if !strings.Contains(why, "last refresh failed") || !strings.Contains(why, "ago") {
			t.Errorf("fyber's row says %q, want when the last refresh failed", why)
		}
		// Closed, the row shows neither the error nor the chart; a click
		// opens it to both.
		if evalPage[bool](t, ctx, r+`.querySelector('.err').checkVisibility()`) {
			t.Errorf("fyber's row shows its full error before it is opened")
		}
		if _, err := chromedp.Run(ctx, chromedp.Click(chromedp.CSS(`.row[data-key="fyber/default"] > summary`))); err != nil {
			t.Fatal(err)
		}
		pollPage(t, ctx, "fyber's row open with the full error and the chart", r+`.open && `+r+`.querySelector('.err').checkVisibility() && `+r+`.querySelector('svg.chart').checkVisibility() && `+r+`.querySelector('svg.chart').getBoundingClientRect().height > 20`, pageWait)
		if again := evalPage[float64](t, ctx, `performance.timeOrigin`); again != loaded {
			t.Errorf("the page reloaded in full")
		}
		screenshot(t, ctx, "dev-status-failing.png")

		// Drop the fault; a forced refresh succeeds and clears the failure.
		fyberFault(t, base, http.MethodDelete, "")
		if code, body := forceFyber(t, front); code != http.StatusOK {
			t.Fatalf("forced refresh after the fault was dropped: HTTP %d: %s", code, body)
		}
		pollPage(t, ctx, "fyber ok after a refresh", r+`.dataset.state === "ok"`, pageWait)
		if _, err := chromedp.Run(ctx, chromedp.Click(chromedp.CSS(`.row[data-key="fyber/default"] > summary`))); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("connect flow ends with Admitad connected", func(t *testing.T) {
		r := row(vendors.Admitad)
		if _, err := chromedp.Run(ctx, chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.Click(chromedp.CSS(`.row[data-key="admitad/default"] a.connect`)))); err != nil {
			t.Fatal(err)
		}
		pollPage(t, ctx, "the callback's page", `document.body.innerText.includes("Admitad connected")`, pageWait)
		if err := chromedp.Do(ctx, chromedp.Navigate(front+"/")); err != nil {
			t.Fatal(err)
		}
		pollPage(t, ctx, "admitad connected and ok", r+` !== null && `+r+`.dataset.connected === "true" && `+r+`.dataset.state === "ok"`, pageWait)
		text := evalPage[string](t, ctx, r+`.innerText`)
		if strings.Contains(text, "not connected") {
			t.Errorf("admitad row still says not connected:\n%s", text)
		}
		if !evalPage[bool](t, ctx, r+`.querySelector('svg .m-connected') !== null`) {
			t.Errorf("no connected mark on admitad's chart")
		}
		// Let fyber recover so the screenshot shows a healthy system.
		pollPage(t, ctx, "fyber ok again", row(vendors.Fyber)+`.dataset.state === "ok"`, pageWait)
		screenshot(t, ctx, "dev-status.png")
	})

	t.Run("readable on a phone", func(t *testing.T) {
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile)); err != nil {
			t.Fatal(err)
		}
		// Two updates after the resize: the page has laid out again.
		seen := evalPage[string](t, ctx, `document.body.dataset.updated || ""`)
		pollPage(t, ctx, "an update after the resize", `(document.body.dataset.updated || "") !== `+strconv.Quote(seen), pageWait)
		seen = evalPage[string](t, ctx, `document.body.dataset.updated || ""`)
		pollPage(t, ctx, "a second update after the resize", `(document.body.dataset.updated || "") !== `+strconv.Quote(seen), pageWait)
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
	pollPage(t, ctx, fmt.Sprintf("%d rows with charts", wantRows), fmt.Sprintf(`document.querySelectorAll('#rows .row svg.chart').length === %d`, wantRows), pageWait)
	screenshot(t, ctx, name)
}

// checkPageLayout checks what a glance at the page (or its tab) tells: a
// summary line and a title that count the states, the legend above the
// rows, every row on one 1280×900 screen, one line each, durations as
// dev's terminal and tokenctl print them, and times of day in UTC.
func checkPageLayout(t *testing.T, ctx context.Context, front string) {
	t.Helper()
	// Before the connect flow every row but Admitad's is ok.
	pollPage(t, ctx, "the summary line", `/^\d+ ok · \d+ failing · \d+ stale · 1 not connected$/.test(document.getElementById("summary").textContent) && document.getElementById("summary").dataset.text === document.getElementById("summary").textContent`, pageWait)
	pollPage(t, ctx, "a title naming Admitad not connected", `document.title === "1 not connected — token-refresher dev"`, pageWait)
	var st status
	resp, err := http.Get(front + "/status")
	if err != nil {
		t.Fatal(err)
	}
	err = json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if st.Summary.OK+st.Summary.Failing+st.Summary.Stale+st.Summary.NotConnected+st.Summary.Starting != wantRows {
		t.Errorf("/status summary %+v does not count %d rows", st.Summary, wantRows)
	}
	if w, h := evalPage[float64](t, ctx, `window.innerWidth`), evalPage[float64](t, ctx, `window.innerHeight`); w != 1280 || h != 900 {
		t.Fatalf("window is %vx%v, want 1280x900", w, h)
	}
	if !evalPage[bool](t, ctx, `document.querySelector('.legend').getBoundingClientRect().bottom <= document.getElementById('rows').getBoundingClientRect().top &&
		document.getElementById('summary').getBoundingClientRect().bottom <= document.querySelector('.legend').getBoundingClientRect().top`) {
		t.Errorf("the summary line and the legend are not above the rows")
	}
	if off := evalPage[[]string](t, ctx, `Array.from(document.querySelectorAll('#rows .row')).filter(r => r.getBoundingClientRect().bottom > window.innerHeight).map(r => r.dataset.key)`); len(off) > 0 {
		t.Errorf("rows below the first 1280x900 screen: %v", off)
	}
	if tall := evalPage[[]string](t, ctx, `Array.from(document.querySelectorAll('#rows .row > summary')).filter(s => s.getBoundingClientRect().height > 40).map(s => s.parentElement.dataset.key)`); len(tall) > 0 {
		t.Errorf("rows taller than one line at 1280 px: %v", tall)
	}
	for _, d := range []time.Duration{0, 350 * time.Millisecond, 1500 * time.Millisecond, 9949 * time.Millisecond, 50 * time.Second,
		8*time.Minute + 30*time.Second, 59*time.Minute + 59*time.Second + 600*time.Millisecond,
		167*time.Minute + 53*time.Second, 2 * time.Hour, 49*time.Hour + 10*time.Minute, -90 * time.Second} {
		if got, want := evalPage[string](t, ctx, fmt.Sprintf(`dur(%d)`, d.Milliseconds())), humandur.Format(d); got != want {
			t.Errorf("the page shows %s as %q, dev's table and tokenctl as %q", d, got, want)
		}
	}
	meta := evalPage[string](t, ctx, `document.getElementById("meta").textContent`)
	if !regexp.MustCompile(`updated \d\d:\d\d:\d\d UTC`).MatchString(meta) {
		t.Errorf("the header says %q, want the update time in 24-hour UTC", meta)
	}
	text := evalPage[string](t, ctx, `document.body.innerText`)
	if m := regexp.MustCompile(`\d\d?:\d\d(:\d\d)? ?[AP]M\b|\b([6-9]\d|[1-9]\d{2,})m(\d+s)?\b`).FindString(text); m != "" {
		t.Errorf("the page shows %q: a 12-hour time, or 60 minutes or more not in hours (dev's format is 1h5m)", m)
	}
	screenshot(t, ctx, "dev-status-start.png")
}
