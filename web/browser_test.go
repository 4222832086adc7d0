package web_test

// The browser harness: real headless Chromium driven by chromedp against the real server
// (servertest: PostgreSQL and the OpenAI simulator), with a fake microphone that plays a WAV
// file the test writes.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// step bounds every single browser action; waits for the tutor use their own timeouts.
const step = 20 * time.Second

// chromiumPath finds the browser: $CHROMIUM, else the usual names. A missing browser fails
// the test with a clear message (CI installs Debian's chromium package).
func chromiumPath(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("Chromium is required for the browser tests and was not found: install it (Debian: apt-get install chromium) or set CHROMIUM to its path")
	return ""
}

// newBrowser starts headless Chromium whose microphone plays micWAV (looped); the browser is
// stopped when the test ends. Tabs are made with newTab. Pages may use the microphone without
// asking unless askForMic: then the permission request is refused (headless Chromium has no
// one to ask), as when a person blocks the microphone.
func newBrowser(t testing.TB, micWAV string, askForMic bool) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.Headless,
		chromedp.NoSandbox, // the tests run as root
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 800),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.Flag("disable-renderer-backgrounding", true),
		chromedp.Flag("disable-backgrounding-occluded-windows", true),
		chromedp.Flag("password-store", "basic"),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		chromedp.Flag("use-fake-device-for-media-stream", true),
		chromedp.Flag("use-file-for-fake-audio-capture", micWAV),
	}
	if !askForMic {
		opts = append(opts, chromedp.Flag("use-fake-ui-for-media-stream", true))
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		cancel()
		cancelAlloc()
		t.Fatalf("starting Chromium: %v", err)
	}
	t.Cleanup(func() {
		cctx, ccancel := context.WithTimeout(ctx, 10*time.Second)
		defer ccancel()
		chromedp.Cancel(cctx) //nolint:errcheck // closing; the allocator kills what is left
		cancel()
		cancelAlloc()
	})
	return ctx
}

// tab is one page in its own browser context (its own localStorage and permissions), at
// 1280×800, whose uncaught exceptions and CSP violations fail the test.
type tab struct {
	t      testing.TB
	ctx    context.Context
	base   string // the server's URL
	name   string
	mu     sync.Mutex
	errors []string
	logs   []string
}

func newTab(t testing.TB, browserCtx context.Context, base, name string) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browserCtx, chromedp.WithNewBrowserContext())
	tb := &tab{t: t, ctx: ctx, base: base, name: name}
	msgs := chromedp.Console(ctx)
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 800)); err != nil {
		cancel()
		t.Fatalf("%s: opening a tab: %v", name, err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m, err := range msgs {
			if err != nil {
				return
			}
			tb.mu.Lock()
			// Uncaught exceptions and Content-Security-Policy violations fail the test.
			if m.IsException() || strings.Contains(m.Text, "Content Security Policy") {
				tb.errors = append(tb.errors, m.String())
			}
			tb.logs = append(tb.logs, fmt.Sprintf("%s: %s", m.Type, m.Text))
			tb.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		tb.mu.Lock()
		defer tb.mu.Unlock()
		for _, e := range tb.errors {
			t.Errorf("%s: error in the page: %s", name, e)
		}
		if t.Failed() {
			for _, l := range tb.logs {
				t.Logf("%s console: %s", name, l)
			}
		}
	})
	return tb
}

// do runs actions with the step timeout.
func (tb *tab) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, step)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		tb.fatalf("%s: %v", what, err)
	}
}

func (tb *tab) fatalf(format string, args ...any) {
	tb.t.Helper()
	msg := fmt.Sprintf(format, args...)
	ctx, cancel := context.WithTimeout(tb.ctx, 5*time.Second)
	defer cancel()
	if loc, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.hash + " — " + document.querySelector("main")?.innerText.slice(0, 600)`)); err == nil {
		msg += "\npage: " + loc
	}
	if ev, err := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify((window.aitutorDebug?.events ?? []).filter(e => e.type !== "response.text.delta").slice(-40))`)); err == nil && ev != "[]" {
		msg += "\nevents: " + ev
	}
	tb.screenshot("failure-" + tb.name)
	tb.t.Fatal(msg)
}

// open navigates to a hash route ("/plans") of the app.
func (tb *tab) open(route string) {
	tb.t.Helper()
	tb.do("open "+route, chromedp.Navigate(tb.base+"/#"+route))
}

// go changes the route inside the loaded app (a hash change, no reload).
func (tb *tab) goTo(route string) {
	tb.t.Helper()
	evalJS[chromedp.Void](tb, fmt.Sprintf(`location.hash = %q`, "#"+route))
}

// signInWithToken stores a token as the app does after sign-in and loads route.
func (tb *tab) signInWithToken(token, route string) {
	tb.t.Helper()
	tb.open("/signin")
	evalJS[chromedp.Void](tb, fmt.Sprintf(`localStorage.setItem("aitutor.token", %q)`, token))
	tb.do("leave", chromedp.Navigate("about:blank")) // a new document: the app starts again
	tb.open(route)
}

func (tb *tab) click(sel string) {
	tb.t.Helper()
	tb.do("click "+sel, chromedp.WaitVisible(chromedp.CSS(sel)), chromedp.WaitEnabled(chromedp.CSS(sel)), chromedp.Click(chromedp.CSS(sel)))
}

// fill replaces the value of an input or a textarea by typing text.
func (tb *tab) fill(sel, text string) {
	tb.t.Helper()
	tb.waitVisible(sel)
	evalJS[chromedp.Void](tb, fmt.Sprintf(`document.querySelector(%q).value = ""`, sel))
	tb.do("fill "+sel, chromedp.SendKeys(chromedp.CSS(sel), text))
}

func (tb *tab) waitVisible(sel string) {
	tb.t.Helper()
	tb.do("wait for "+sel, chromedp.WaitVisible(chromedp.CSS(sel)))
}

// waitJS waits until the JavaScript expression is truthy.
func (tb *tab) waitJS(what, expr string, timeout time.Duration) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, timeout+5*time.Second)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(timeout)))
	if err != nil {
		tb.fatalf("waiting for %s (%s): %v", what, expr, err)
	}
}

// textJS is the text of the first element matching sel, white space collapsed.
func textJS(sel string) string {
	return fmt.Sprintf(`(document.querySelector(%q)?.textContent ?? "").replace(/\s+/g, " ").trim()`, sel)
}

// waitText waits until the element's text contains want.
func (tb *tab) waitText(sel, want string, timeout time.Duration) {
	tb.t.Helper()
	tb.waitJS(fmt.Sprintf("%q in %s", want, sel), fmt.Sprintf(`%s.includes(%q)`, textJS(sel), want), timeout)
}

// text is the element's text, white space collapsed.
func (tb *tab) text(sel string) string {
	tb.t.Helper()
	return evalJS[string](tb, textJS(sel))
}

// evalJS evaluates a JavaScript expression (awaiting a promise) and decodes its value.
func evalJS[T any](tb *tab, expr string) T {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, step)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		tb.fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

// debugJSON returns a JSON value of window.aitutorDebug decoded into T.
func debugJSON[T any](tb *tab, expr string) T {
	tb.t.Helper()
	raw := evalJS[string](tb, "JSON.stringify(window.aitutorDebug."+expr+")")
	var v T
	if err := json.Unmarshal([]byte(raw), &v); err != nil {
		tb.fatalf("decoding aitutorDebug.%s = %s: %v", expr, raw, err)
	}
	return v
}

// screenshotDir is test-artifacts/screenshots at the repository root.
var screenshotDir = sync.OnceValue(func() string {
	dir, _ := os.Getwd()
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return filepath.Join(d, "test-artifacts", "screenshots")
		}
		if filepath.Dir(d) == d {
			return filepath.Join(dir, "test-artifacts", "screenshots")
		}
	}
})

// screenshot saves the viewport as test-artifacts/screenshots/<name>.png.
func (tb *tab) screenshot(name string) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, step)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		tb.t.Logf("screenshot %s: %v", name, err)
		return
	}
	dir := screenshotDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.t.Logf("screenshot %s: %v", name, err)
		return
	}
	name = strings.ReplaceAll(name, "/", "-")
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		tb.t.Logf("screenshot %s: %v", name, err)
	}
}

// screenshots saves the page in the light and the dark theme (switched with the page's own
// toggle, which is also checked) and leaves it light.
func (tb *tab) screenshots(name string) {
	tb.t.Helper()
	for _, theme := range []string{"light", "dark"} {
		if current := evalJS[string](tb, `document.documentElement.dataset.theme || (matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light")`); current != theme {
			tb.click("#theme-toggle")
			tb.waitJS("the "+theme+" theme", fmt.Sprintf(`document.documentElement.dataset.theme === %q && localStorage.getItem("aitutor.theme") === %q`, theme, theme), 5*time.Second)
		}
		// Let charts and the level meter redraw in the new colours; dismiss toasts, which would
		// cover the page.
		evalJS[chromedp.Void](tb, `document.getElementById("toasts").replaceChildren()`)
		tb.do("settle", chromedp.Sleep(150*time.Millisecond))
		tb.screenshot(name + "-" + theme)
	}
	tb.click("#theme-toggle")
	tb.waitJS("the light theme", `document.documentElement.dataset.theme === "light"`, 5*time.Second)
}
