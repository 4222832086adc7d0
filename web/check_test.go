package web_test

// Checks that every page is usable at a phone's and a desktop's size in both themes: nothing
// wider than the screen, nothing clipped in tables, the page's primary controls on screen
// without scrolling, and no serious or critical accessibility violation found by axe-core
// (testdata/axe, injected into the page by the test; the app never serves it).

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// viewport is a screen size the pages are checked at.
type viewport struct {
	name   string
	w, h   int64
	mobile bool
}

var (
	phone   = viewport{"phone", 390, 844, true}
	desktop = viewport{"desktop", 1280, 800, false}
	// viewports are the sizes every page is checked at.
	viewports = []viewport{phone, desktop}
)

// resize emulates the viewport (a phone with touch and a mobile layout viewport).
func (tb *tab) resize(v viewport) {
	tb.t.Helper()
	if v.mobile {
		tb.do("resize to "+v.name, chromedp.EmulateViewport(v.w, v.h, chromedp.EmulateMobile))
	} else {
		tb.do("resize to "+v.name, chromedp.EmulateViewport(v.w, v.h))
	}
	tb.settle()
}

// settle waits until the page has laid out and painted twice (ResizeObservers, charts).
func (tb *tab) settle() {
	tb.t.Helper()
	evalJS[bool](tb, `new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => setTimeout(() => r(true), 50))))`)
}

// setTheme switches the theme with the page's own toggle, whose label must say what it
// switches to; while a modal dialog keeps the toggle out of reach, as the toggle does.
func (tb *tab) setTheme(theme string) {
	tb.t.Helper()
	if evalJS[string](tb, `document.documentElement.dataset.theme || (matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light")`) == theme {
		return
	}
	if evalJS[bool](tb, `document.querySelector("dialog[open]") !== null`) {
		evalJS[chromedp.Void](tb, fmt.Sprintf(`(() => {
			document.documentElement.dataset.theme = %q;
			localStorage.setItem("aitutor.theme", %q);
			window.dispatchEvent(new CustomEvent("themechange", {detail: %q}));
		})()`, theme, theme, theme))
	} else {
		want := map[string]string{"light": "Light theme", "dark": "Dark theme"}[theme]
		if got := evalJS[string](tb, `document.querySelector("#theme-toggle").innerText + " " + document.querySelector("#theme-toggle").getAttribute("aria-label")`); !strings.Contains(strings.ToLower(got), strings.ToLower(want)) {
			tb.t.Errorf("the theme toggle reads %q in the other theme, want it to say %q", got, want)
		}
		tb.click("#theme-toggle")
	}
	tb.waitJS("the "+theme+" theme", fmt.Sprintf(`document.documentElement.dataset.theme === %q`, theme), 5*time.Second)
	tb.settle()
}

// axeScript is axe-core's minified script (testdata/axe).
var axeScript = sync.OnceValues(func() (string, error) {
	b, err := os.ReadFile(filepath.Join("testdata", "axe", "axe.min.js"))
	return string(b), err
})

// axeViolation is one serious or critical violation found by axe-core.
type axeViolation struct {
	ID     string `json:"id"`
	Impact string `json:"impact"`
	Help   string `json:"help"`
	Nodes  []struct {
		Target  []any  `json:"target"`
		Summary string `json:"failureSummary"`
		HTML    string `json:"html"`
	} `json:"nodes"`
}

// axe runs axe-core on the page as it is now and fails the test on every serious or critical
// violation (WCAG 2.x A and AA rules and axe's best practices).
func (tb *tab) axe(what string) {
	tb.t.Helper()
	src, err := axeScript()
	if err != nil {
		tb.t.Fatalf("axe-core (web/testdata/axe/axe.min.js): %v", err)
	}
	if !evalJS[bool](tb, `typeof window.axe === "object"`) {
		evalJS[bool](tb, src+";true")
	}
	raw := evalJS[string](tb, `axe.run(document, {resultTypes: ["violations"]}).then(r => JSON.stringify(r.violations.filter(v => v.impact === "serious" || v.impact === "critical")))`)
	var vs []axeViolation
	if err := json.Unmarshal([]byte(raw), &vs); err != nil {
		tb.t.Fatalf("axe result %s: %v", raw, err)
	}
	for _, v := range vs {
		var nodes []string
		for i, n := range v.Nodes {
			if i == 5 {
				nodes = append(nodes, fmt.Sprintf("… and %d more", len(v.Nodes)-5))
				break
			}
			nodes = append(nodes, fmt.Sprintf("%v: %s", n.Target, strings.ReplaceAll(n.Summary, "\n", " ")))
		}
		tb.t.Errorf("%s: axe %s (%s): %s\n    %s", what, v.ID, v.Impact, v.Help, strings.Join(nodes, "\n    "))
	}
}

// layout is what checkLayout measures.
type layout struct {
	Overflow   int      `json:"overflow"`   // px the page is wider than the screen
	OutOfView  []string `json:"outOfView"`  // controls not wholly on screen
	Missing    []string `json:"missing"`    // controls not on the page or not shown
	Clipped    []string `json:"clipped"`    // tables wider than their box (desktop)
	Overflowed []string `json:"overflowed"` // elements sticking out of the screen
}

// checkLayout fails when the page is wider than the screen, when one of the inView
// selectors is not wholly on screen with the page scrolled to the top, or (on a desktop)
// when a table is wider than its box, so that its last columns are cut off.
func (tb *tab) checkLayout(what string, v viewport, inView ...string) {
	tb.t.Helper()
	sels, _ := json.Marshal(inView)
	raw := evalJS[string](tb, fmt.Sprintf(`(() => {
		window.scrollTo(0, 0);
		const out = {overflow: document.documentElement.scrollWidth - document.documentElement.clientWidth, outOfView: [], missing: [], clipped: [], overflowed: []};
		const W = document.documentElement.clientWidth, H = window.innerHeight;
		for (const sel of %s) {
			const el = document.querySelector(sel);
			const r = el?.getBoundingClientRect();
			if (!el || r.width === 0 || r.height === 0 || getComputedStyle(el).visibility === "hidden") { out.missing.push(sel); continue; }
			if (r.top < -0.5 || r.left < -0.5 || r.bottom > H + 0.5 || r.right > W + 0.5) out.outOfView.push(sel + " at " + [r.left, r.top, r.right, r.bottom].map(Math.round).join(","));
		}
		if (%t) for (const w of document.querySelectorAll(".table-wrap")) {
			if (w.scrollWidth > w.clientWidth + 1) out.clipped.push((w.closest("section")?.querySelector("h2")?.innerText ?? "a table") + ": " + w.scrollWidth + " px in " + w.clientWidth);
		}
		for (const el of document.querySelectorAll("main *, .topbar *")) {
			if (el.closest(".table-wrap, .transcript, .nav, .tabs, .uplot, .sr-only, [hidden]")) continue;
			const r = el.getBoundingClientRect();
			if (r.width > 0 && (r.right > W + 1 || r.left < -1)) out.overflowed.push(el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + (el.className && typeof el.className === "string" ? "." + el.className.split(" ").join(".") : "") + " " + Math.round(r.left) + "–" + Math.round(r.right));
		}
		out.overflowed = out.overflowed.slice(0, 8);
		return JSON.stringify(out);
	})()`, sels, !v.mobile))
	var l layout
	if err := json.Unmarshal([]byte(raw), &l); err != nil {
		tb.t.Fatalf("layout %s: %v", raw, err)
	}
	at := fmt.Sprintf("%s at %d×%d", what, v.w, v.h)
	if l.Overflow > 0 {
		tb.t.Errorf("%s is %d px wider than the screen: %v", at, l.Overflow, l.Overflowed)
	} else if len(l.Overflowed) > 0 {
		tb.t.Errorf("%s: elements stick out of the screen: %v", at, l.Overflowed)
	}
	for _, s := range l.Missing {
		tb.t.Errorf("%s: %s is not shown", at, s)
	}
	for _, s := range l.OutOfView {
		tb.t.Errorf("%s: %s is not on screen without scrolling", at, s)
	}
	for _, s := range l.Clipped {
		tb.t.Errorf("%s: a table is cut off: %s", at, s)
	}
}

// checkPage checks the page at every viewport in both themes: layout (checkLayout with
// inView) and axe-core; it saves a screenshot of each as <name>-<phone|desktop>-<theme>.png,
// and leaves the page at the desktop size in the light theme.
func (tb *tab) checkPage(name string, inView ...string) {
	tb.t.Helper()
	for _, v := range viewports {
		tb.resize(v)
		for _, theme := range []string{"light", "dark"} {
			tb.setTheme(theme)
			what := fmt.Sprintf("%s (%s, %s theme)", name, v.name, theme)
			tb.checkLayout(what, v, inView...)
			tb.axe(what)
			evalJS[chromedp.Void](tb, `document.getElementById("toasts").replaceChildren()`)
			tb.shoot(fmt.Sprintf("%s-%s-%s", name, v.name, theme))
		}
	}
	tb.resize(desktop)
	tb.setTheme("light")
}

// shoot saves a screenshot (the viewport, scrolled to the top) to test-artifacts/screenshots,
// and to docs/screenshots under the name docShots gives it when SCREENSHOTS_TO is set (make
// screenshots).
func (tb *tab) shoot(name string) {
	tb.t.Helper()
	tb.shootAt(name, "")
}

// shootAt is shoot with the page scrolled to the element sel (below the sticky top bar).
func (tb *tab) shootAt(name, sel string) {
	tb.t.Helper()
	if sel == "" {
		evalJS[chromedp.Void](tb, `window.scrollTo(0, 0)`)
	} else {
		evalJS[chromedp.Void](tb, fmt.Sprintf(`window.scrollTo(0, document.querySelector(%q).getBoundingClientRect().top + window.scrollY - document.querySelector(".topbar").offsetHeight - 16)`, sel))
	}
	tb.settle()
	tb.screenshot(name)
	dir := os.Getenv("SCREENSHOTS_TO")
	doc, ok := docShots[name]
	if dir == "" || !ok {
		return
	}
	b, err := os.ReadFile(filepath.Join(screenshotDir(), name+".png"))
	if err != nil {
		tb.t.Errorf("screenshot %s: %v", name, err)
		return
	}
	if err := os.WriteFile(filepath.Join(dir, doc+".png"), b, 0o644); err != nil {
		tb.t.Errorf("screenshot %s: %v", name, err)
	}
}

// checkDocShots fails when SCREENSHOTS_TO is set and a screenshot named in docShots was not
// written (make screenshots would lose it).
func checkDocShots(t *testing.T) {
	t.Helper()
	dir := os.Getenv("SCREENSHOTS_TO")
	if dir == "" {
		return
	}
	for name, doc := range docShots {
		if _, err := os.Stat(filepath.Join(dir, doc+".png")); err != nil {
			t.Errorf("the screenshot %s (%s) was not taken", doc, name)
		}
	}
}
