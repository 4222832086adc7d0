package web_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"

	"github.com/aitutor/aitutor/server/servertest"
	"github.com/aitutor/aitutor/session/openaisim"
	"github.com/aitutor/aitutor/store"
)

// TestBargeIn: the learner speaks again while the tutor's reply plays. The page stops the
// reply's audio at once and reports how much was heard; the server cancels the reply
// (response.cancelled, reason barge_in) and keeps only the heard part in the conversation.
func TestBargeIn(t *testing.T) {
	// Speech synthesis in real time, so that the reply is still being produced when the
	// learner interrupts it.
	slow := openaisim.Profile{Name: "real-time", STT: 50 * time.Millisecond, ChatFirstToken: 100 * time.Millisecond,
		ChatPerToken: 40 * time.Millisecond, TTSFirstByte: 100 * time.Millisecond, TTSSpeed: 1}
	env := servertest.New(t, servertest.Options{Profile: &slow})
	mic := writeMicWAV(t, "barge-in.wav",
		speech(2500*time.Millisecond), silence(3500*time.Millisecond), // a turn; the reply starts
		speech(2500*time.Millisecond), silence(45*time.Second)) // the learner talks over it
	_, token, m := env.Learner("bob@example.com", nil)
	b := newTab(t, newBrowser(t, mic, false), env.URL, "barge-in")
	b.signInWithToken(token, "/tutor/"+m.ID)
	b.waitText("#remaining", "Unlimited", 10*time.Second)
	b.click("#start")

	b.waitJS("the barge-in", `aitutorDebug.events.some(e => e.type === "interrupt" && e.why === "barge_in")`, 30*time.Second)
	b.waitJS("response.cancelled", `aitutorDebug.events.some(e => e.type === "response.cancelled")`, 5*time.Second)
	started := events(b, "response.started")
	if len(started) == 0 {
		b.fatalf("no response.started before the barge-in")
	}
	turn := started[0].TurnID
	type interruptEvent struct {
		Heard        map[string]int `json:"heard"`
		PlayingAfter bool           `json:"playingAfter"`
	}
	interrupt := debugJSON[interruptEvent](b, `events.find(e => e.type === "interrupt")`)
	if heard := interrupt.Heard[turn]; heard <= 0 || heard > 10000 {
		t.Errorf("the page reports %d ms of %s heard: want the part played before the barge-in", heard, turn)
	}
	if interrupt.PlayingAfter {
		t.Error("the tutor's audio still plays after the barge-in")
	}
	cancelled := events(b, "response.cancelled")
	if len(cancelled) != 1 || cancelled[0].TurnID != turn || cancelled[0].Reason != "barge_in" {
		t.Errorf("response.cancelled events %+v, want one for %s with reason barge_in", cancelled, turn)
	}
	if audio := debugJSON[audioStats](b, "probes.audio"); audio.Stops == 0 {
		t.Errorf("no audio source was stopped: %+v", audio)
	}
	// The note says whether the interrupted reply was charged: only when its first sentence
	// had been heard.
	note := "interrupted after"
	if cancelled[0].Refunded {
		note = "stopped before you heard it — not charged"
	}
	b.waitText(fmt.Sprintf(`.bubble-tutor[data-turn-id=%q]`, turn), note, 5*time.Second)
	if env.Sim.Cancelled() == 0 {
		t.Error("the simulator saw no cancelled chat or speech stream")
	}

	// The interruption becomes the next turn.
	b.waitJS("the second turn", `document.querySelectorAll(".bubble-user").length === 2 && document.querySelectorAll(".bubble-tutor").length === 2`, 20*time.Second)
	b.screenshot("tutor-barge-in-light")

	// The server kept only what was heard of the first reply.
	created := events(b, "session.created")
	if len(created) != 1 {
		t.Fatalf("session.created events: %+v", created)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		msgs, err := env.Store.Messages(context.Background(), created[0].ConversationID)
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) > 0 && msgs[0].TurnID == turn {
			if msgs[0].Status != store.TurnCancelled || strings.Contains(msgs[0].TutorText, "how you felt afterwards") {
				t.Errorf("stored first turn: status %q, tutor text %q: want cancelled and cut", msgs[0].Status, msgs[0].TutorText)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the first turn was not stored: %+v", msgs)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestPushToTalk: in push-to-talk mode the microphone is sent only while the Space bar is
// held, and releasing it ends the turn (input.commit).
func TestPushToTalk(t *testing.T) {
	env := servertest.New(t, servertest.Options{})
	mic := writeMicWAV(t, "talking.wav", speech(3*time.Second), silence(300*time.Millisecond))
	_, token, m := env.Learner("pat@example.com", intp(5))
	p := newTab(t, newBrowser(t, mic, false), env.URL, "push-to-talk")
	p.signInWithToken(token, "/tutor/"+m.ID)
	p.click(`label[for="mode-manual"]`)
	p.click("#start")
	p.waitJS("connected in push-to-talk mode", `aitutorDebug.probes.state.connection === "open" && aitutorDebug.probes.state.mic === "on" && aitutorDebug.events.some(e => e.type === "session.updated" && e.turnDetection === "manual")`, 15*time.Second)
	p.waitJS("microphone frames held back", `aitutorDebug.probes.frames.held > 25 && aitutorDebug.probes.frames.sent === 0`, 5*time.Second)
	if n := len(events(p, "speech.started")); n != 0 {
		t.Errorf("%d speech.started events before the key was pressed", n)
	}

	evalJS[chromedp.Void](p, `document.activeElement.blur()`)
	p.key(input.DispatchKeyEventTypeKeyDown)
	p.waitJS("the key held", `aitutorDebug.probes.state.pttHeld && document.querySelector("#ptt").getAttribute("aria-pressed") === "true"`, 2*time.Second)
	p.do("talk", chromedp.Sleep(1500*time.Millisecond))
	p.key(input.DispatchKeyEventTypeKeyUp)
	p.waitText(".bubble-user", openaisim.DefaultTranscript, 10*time.Second)
	p.waitText(".bubble-tutor", "which is turn 1", 10*time.Second)
	p.waitText("#remaining", "4 chats left", 10*time.Second)
	frames := debugJSON[map[string]int](p, "probes.frames")
	if frames["sent"] < 50 || frames["sent"] > 100 {
		t.Errorf("frames %v: want about 75 sent (1.5 s held)", frames)
	}
}

// key presses or releases the Space bar on the page.
func (tb *tab) key(typ input.DispatchKeyEventType) {
	tb.t.Helper()
	tb.do("space "+string(typ), chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, input.DispatchKeyEvent, input.DispatchKeyEventParams{
			Type: typ, Key: " ", Code: "Space", WindowsVirtualKeyCode: 32, NativeVirtualKeyCode: 32,
		})
		return err
	}))
}

// TestPauseKeepsListening: hands-free, the learner pauses mid-turn and goes on. The server says
// speech.paused while it judges the words (transcription is slow here, so the pause outlasts
// the judgement) and speech.resumed when the learner goes on; the page shows that it is still
// listening during the pause, and the whole utterance becomes one turn and one chat.
func TestPauseKeepsListening(t *testing.T) {
	slowEars := openaisim.Profile{Name: "slow-transcription", STT: 1500 * time.Millisecond, ChatFirstToken: 50 * time.Millisecond,
		ChatPerToken: 5 * time.Millisecond, TTSFirstByte: 50 * time.Millisecond}
	env := servertest.New(t, servertest.Options{Profile: &slowEars})
	mic := writeMicWAV(t, "pause.wav",
		speech(1500*time.Millisecond), silence(700*time.Millisecond), // a pause inside the turn
		speech(1500*time.Millisecond), silence(60*time.Second))
	_, token, m := env.Learner("paula@example.com", intp(5))
	p := newTab(t, newBrowser(t, mic, false), env.URL, "pause")
	p.signInWithToken(token, "/tutor/"+m.ID)
	p.waitText("#remaining", "5 chats left", 10*time.Second)
	// What the page shows while the learner talks: the microphone's status and the pending
	// turn's state, every time either changes.
	evalJS[chromedp.Void](p, `window.seen = [];
		new MutationObserver(() => {
			const s = [document.querySelector("#mic-status")?.textContent, document.querySelector(".bubble-user .state:not([hidden])")?.textContent].join(" | ");
			if (window.seen[window.seen.length - 1] !== s) window.seen.push(s);
		}).observe(document.body, {subtree: true, childList: true, characterData: true, attributes: true});`)
	p.click("#start")

	p.waitJS("speech.resumed", `aitutorDebug.events.some(e => e.type === "speech.resumed")`, 20*time.Second)
	p.waitJS("the reply", `aitutorDebug.events.some(e => e.type === "response.done")`, 20*time.Second)
	p.waitText("#remaining", "4 chats left", 10*time.Second)

	var order []string
	for _, e := range events(p, "speech.started", "speech.paused", "speech.resumed", "speech.stopped", "response.started") {
		order = append(order, e.Type)
	}
	want := []string{"speech.started", "speech.paused", "speech.resumed", "speech.paused", "speech.stopped", "response.started"}
	if strings.Join(order, ",") != strings.Join(want, ",") {
		t.Errorf("events %v, want %v", order, want)
	}
	if n := evalJS[int](p, `document.querySelectorAll(".bubble-user").length`); n != 1 {
		t.Errorf("%d learner turns on the page, want one", n)
	}
	seen := evalJS[[]string](p, `window.seen`)
	listening := false
	for _, s := range seen {
		if strings.Contains(s, "go on, or wait for the tutor") {
			listening = true
		}
	}
	if !listening {
		t.Errorf("the page never said it was still listening during the pause: %q", seen)
	}
}
