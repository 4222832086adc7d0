package web_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/aitutor/aitutor/server/servertest"
	"github.com/aitutor/aitutor/session/openaisim"
)

// press sends one key (kb.Tab, kb.Enter, kb.Escape, ...) to the focused element, with Shift
// when shift is set.
func (tb *tab) press(key string, shift bool) {
	tb.t.Helper()
	var opts []chromedp.KeyOption
	if shift {
		opts = append(opts, chromedp.KeyModifiers(chromedp.ModifierShift))
	}
	tb.do("press "+fmt.Sprintf("%q", key), chromedp.KeyEvent(key, opts...))
}

// tabTo presses Tab (Shift+Tab when back) until the focused element matches the JavaScript
// predicate el => ..., at most 30 times.
func (tb *tab) tabTo(what, predicate string, back bool) {
	tb.t.Helper()
	for range 30 {
		if evalJS[bool](tb, fmt.Sprintf(`(%s)(document.activeElement)`, predicate)) {
			return
		}
		tb.press(kb.Tab, back)
	}
	tb.fatalf("Tab never reached %s; the focus is on %s", what, evalJS[string](tb, `document.activeElement?.outerHTML.slice(0, 120)`))
}

// TestTutorByKeyboard uses the tutor with the keyboard only: Tab to the mode switch and the
// arrow keys to choose push-to-talk, Tab back to Start and Enter; the focus then is on the
// push-to-talk button, so Space talks (it used to land in the message box and type spaces).
// While Space is held the learner's bubble says "Listening…", after release "Transcribing…"
// until the transcript comes. Escape stops the tutor's answer; the transcript keeps its end
// in view; a replay plays from Enter on its button, says so, and stops on Enter again, on
// Escape, or by itself at its end.
func TestTutorByKeyboard(t *testing.T) {
	env := servertest.New(t, servertest.Options{})
	mic := writeMicWAV(t, "talking.wav", speech(3*time.Second), silence(300*time.Millisecond))
	_, token, m := env.Learner("kay@example.com", intp(5))
	p := newTab(t, newBrowser(t, mic, false), env.URL, "keyboard")
	p.signInWithToken(token, "/tutor/"+m.ID)
	p.waitText("#remaining", "5 chats left", 10*time.Second)
	p.waitJS("Start enabled", `!document.querySelector("#start").disabled`, 5*time.Second)

	// Choose push-to-talk: Tab to the mode switch, then the arrow key.
	p.tabTo("the mode switch", `el => el?.name === "mode"`, false)
	p.press(kb.ArrowRight, false)
	p.waitJS("push-to-talk chosen", `aitutorDebug.probes.state.mode === "manual" && !document.querySelector("#ptt").hidden`, 5*time.Second)
	p.tabTo("Start", `el => el?.id === "start"`, true)
	p.press(kb.Enter, false)
	p.waitJS("connected with the focus on push-to-talk", `aitutorDebug.probes.state.connection === "open" && aitutorDebug.probes.state.mic === "on" && document.querySelector("#ptt").getAttribute("aria-disabled") === "false" && document.activeElement?.id === "ptt"`, 15*time.Second)

	// Space: hold, talk, release. The bubble's states are recorded as they come.
	evalJS[chromedp.Void](p, `(() => {
		window.bubbleStates = [];
		new MutationObserver(() => {
			const b = [...document.querySelectorAll(".bubble-user")].at(-1);
			const s = b?.querySelector(".state:not([hidden])")?.innerText;
			if (s && window.bubbleStates.at(-1) !== s) window.bubbleStates.push(s);
		}).observe(document.querySelector("#transcript"), {subtree: true, childList: true, characterData: true, attributes: true});
	})()`)
	p.key(input.DispatchKeyEventTypeKeyDown)
	p.waitJS("the key held", `aitutorDebug.probes.state.pttHeld && document.querySelector("#ptt").getAttribute("aria-pressed") === "true"`, 2*time.Second)
	p.waitText("#mic-status", "release to send", time.Second)
	p.do("talk", chromedp.Sleep(1500*time.Millisecond))
	p.key(input.DispatchKeyEventTypeKeyUp)
	p.waitText(".bubble-user", openaisim.DefaultTranscript, 10*time.Second)
	if got := evalJS[[]string](p, `window.bubbleStates`); strings.Join(got, ",") != "Listening…,Transcribing…" {
		t.Errorf("the learner's bubble went through %q, want Listening… then Transcribing… before the transcript", got)
	}
	if v := evalJS[string](p, `document.querySelector("#message").value`); v != "" {
		t.Errorf("Space typed %q into the message box", v)
	}
	if frames := debugJSON[map[string]int](p, "probes.frames"); frames["sent"] < 50 || frames["sent"] > 100 {
		t.Errorf("frames %v: want about 75 sent (1.5 s held)", frames)
	}

	// Escape stops the tutor while it speaks.
	p.waitJS("the answer playing", `aitutorDebug.probes.audio?.playing && !document.querySelector("#stop-tutor").disabled`, 15*time.Second)
	p.press(kb.Escape, false)
	p.waitJS("the tutor stopped", `!aitutorDebug.probes.audio.playing && aitutorDebug.events.some(e => e.type === "interrupt" && e.why === "escape")`, 3*time.Second)
	p.waitJS("the turn settled", `aitutorDebug.count("response.done") + aitutorDebug.count("response.cancelled") === 1 && document.querySelector("#stop-tutor").disabled`, 10*time.Second)
	p.waitJS("the transcript's end in view", `(() => { const t = document.querySelector("#transcript"); return t.scrollHeight - t.scrollTop - t.clientHeight < 2; })()`, 5*time.Second)

	// A replay from the keyboard: Enter plays it and the button says Stop; Enter stops it.
	last := `el => el === [...document.querySelectorAll(".bubble-tutor .replay")].at(-1)`
	p.waitVisible(".bubble-tutor .replay")
	p.tabTo("the answer's replay", last, true)
	p.press(kb.Enter, false)
	p.waitJS("the replay playing", `document.activeElement.innerText.includes("Stop") && document.activeElement.getAttribute("aria-label") === "Stop playing this answer" && document.activeElement.closest(".bubble").classList.contains("is-playing") && aitutorDebug.probes.audio.playing`, 5*time.Second)
	p.press(kb.Enter, false)
	p.waitJS("the replay stopped", `document.activeElement.innerText.includes("Replay") && !aitutorDebug.probes.audio.playing && !document.querySelector(".is-playing")`, 3*time.Second)
	// Again, and Escape stops it.
	p.press(kb.Enter, false)
	p.waitJS("the replay playing", `aitutorDebug.probes.audio.playing && document.querySelector(".is-playing") !== null`, 5*time.Second)
	p.press(kb.Escape, false)
	p.waitJS("the replay stopped by Escape", `!aitutorDebug.probes.audio.playing && !document.querySelector(".is-playing") && document.activeElement.innerText.includes("Replay")`, 3*time.Second)
	// The learner's own recording plays to its end, and its button goes back by itself.
	p.waitVisible(".bubble-user .replay")
	p.tabTo("the recording's replay", `el => el === document.querySelector(".bubble-user .replay")`, true)
	p.press(kb.Enter, false)
	p.waitJS("the recording playing", `document.querySelector(".bubble-user").classList.contains("is-playing")`, 5*time.Second)
	p.waitJS("the recording ended", `!document.querySelector(".is-playing") && document.querySelector(".bubble-user .replay").innerText.includes("Replay") && aitutorDebug.count("replay.ended") >= 3`, 15*time.Second)
}
