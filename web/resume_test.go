package web_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/aitutor/aitutor/server/servertest"
	"github.com/aitutor/aitutor/session/openaisim"
	"github.com/aitutor/aitutor/store"
)

// Browser tests of issue 9, "Durable, fair conversations": the tutor page continues its
// conversation across a server restart and a reload, keeps what the learner typed while
// disconnected, and the home page lists past conversations to read, replay and continue.

// restartInBackground restarts the server as a deploy does (env.Restart: drain, down for down,
// serve again on the same address) while the test watches the page; the returned channel is
// closed when the new server serves. The test does not end before that.
func restartInBackground(t *testing.T, env *servertest.Env, down time.Duration) <-chan struct{} {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		env.Restart(down)
	}()
	t.Cleanup(func() { <-done }) // before env's own cleanup, which closes the server
	return done
}

// waitDone waits for the background restart.
func waitDone(t *testing.T, done <-chan struct{}, timeout time.Duration) {
	t.Helper()
	select {
	case <-done:
	case <-time.After(timeout):
		t.Fatalf("the server did not restart within %v", timeout)
	}
}

// typeTurn sends a typed message and waits for the tutor's answer to it (the simulator echoes
// the message) and for its response.done.
func (tb *tab) typeTurn(text string) {
	tb.t.Helper()
	before := evalJS[int](tb, `aitutorDebug.count("response.done")`)
	tb.fill("#message", text)
	tb.click("#send")
	echo := strings.TrimRight(text, ".!? ")
	tb.waitJS("the answer to "+text, fmt.Sprintf(`[...document.querySelectorAll(".bubble-tutor")].some(b => b.innerText.includes(%q)) && aitutorDebug.count("response.done") > %d`, `You said "`+echo, before), 20*time.Second)
}

// lastChat is the messages of the simulator's latest chat request.
func lastChat(t *testing.T, env *servertest.Env) []openaisim.Message {
	t.Helper()
	reqs := env.Sim.ChatRequests()
	if len(reqs) == 0 {
		t.Fatal("the simulator received no chat request")
	}
	return reqs[len(reqs)-1].Messages
}

// TestReconnectAfterRestart: the server restarts while the tutor page is connected. The page
// shows that it reconnects, reconnects by itself to the same conversation (session.created
// with resumed: true), says that the conversation continues, and the next turn's chat request
// carries the turns from before the restart.
func TestReconnectAfterRestart(t *testing.T) {
	env := servertest.New(t, servertest.Options{})
	mic := writeMicWAV(t, "quiet.wav", silence(5*time.Second))
	_, token, m := env.Learner("restart@example.com", intp(10))
	p := newTab(t, newBrowser(t, mic, false), env.URL, "restart")
	p.signInWithToken(token, "/tutor/"+m.ID)
	p.waitText("#remaining", "10 chats left", 10*time.Second)
	p.click("#start")
	p.waitJS("connected", `aitutorDebug.probes.state.connection === "open" && aitutorDebug.probes.state.mic === "on"`, 10*time.Second)
	p.typeTurn("I cooked a curry for my friends.")
	created := events(p, "session.created")
	if len(created) != 1 || created[0].ConversationID == "" || created[0].Resumed {
		t.Fatalf("session.created events: %+v, want one for a new conversation", created)
	}
	conv := created[0].ConversationID
	p.waitJS("the conversation in the address", fmt.Sprintf(`location.hash === %q`, "#/tutor/"+m.ID+"/"+conv), 5*time.Second)

	done := restartInBackground(t, env, 1500*time.Millisecond)
	p.waitText("#conn-state", "Reconnecting", 10*time.Second)
	p.waitText("#connection-banner", "restarting", 5*time.Second)
	p.screenshot("tutor-reconnecting-light")
	if !evalJS[bool](p, `!document.querySelector("#send").disabled && !document.querySelector("#message").disabled`) {
		t.Error("the message box is off while reconnecting")
	}
	waitDone(t, done, 30*time.Second)

	p.waitJS("the second session", `aitutorDebug.count("session.created") === 2 && aitutorDebug.probes.state.connection === "open"`, 20*time.Second)
	created = events(p, "session.created")
	if again := created[1]; !again.Resumed || again.ConversationID != conv || again.Turns != 1 {
		t.Errorf("session.created after the restart: %+v, want resumed conversation %s with 1 turn", again, conv)
	}
	errs := events(p, "error")
	if len(errs) != 1 || errs[0].Code != "shutting_down" {
		t.Errorf("error events: %+v, want one shutting_down", errs)
	}
	p.waitText("#transcript .bubble-reconnected", "The conversation continues", 5*time.Second)
	if got := p.text("#transcript"); strings.Contains(got, "fresh session") || strings.Contains(got, "the server is restarting") {
		t.Errorf("the transcript reports the restart as a failure: %q", got)
	}
	if banner := p.text("#tutor-banner"); banner != "" {
		t.Errorf("the banner still shows %q after reconnecting", banner)
	}

	// The next turn continues the conversation: the tutor is given the turn before the restart.
	p.typeTurn("What should I cook next time?")
	p.waitText(".bubble-tutor:last-of-type", "which is turn 2", 5*time.Second)
	p.waitText("#remaining", "8 chats left", 5*time.Second)
	msgs := lastChat(t, env)
	if !containsMessage(msgs, "I cooked a curry for my friends.") || msgs[len(msgs)-1].Content != "What should I cook next time?" {
		t.Errorf("the chat request after the restart does not carry the conversation: %+v", msgs)
	}
	if !evalJS[bool](p, fmt.Sprintf(`location.hash === %q`, "#/tutor/"+m.ID+"/"+conv)) {
		t.Errorf("the address no longer names the conversation: %s", evalJS[string](p, `location.hash`))
	}
	p.screenshot("tutor-reconnected-light")
}

// TestTypedWhileDisconnected: a message typed while the server is down is not lost: it waits on
// screen, marked as waiting, and is sent once, when the page has reconnected.
func TestTypedWhileDisconnected(t *testing.T) {
	env := servertest.New(t, servertest.Options{})
	mic := writeMicWAV(t, "quiet.wav", silence(5*time.Second))
	_, token, m := env.Learner("offline-typing@example.com", nil)
	p := newTab(t, newBrowser(t, mic, false), env.URL, "typing")
	p.signInWithToken(token, "/tutor/"+m.ID)
	p.waitText("#remaining", "Unlimited", 10*time.Second)
	p.click("#start")
	p.waitJS("connected", `aitutorDebug.probes.state.connection === "open" && aitutorDebug.probes.state.mic === "on"`, 10*time.Second)

	done := restartInBackground(t, env, 4*time.Second)
	p.waitText("#conn-state", "Reconnecting", 10*time.Second)
	const text = "Are you still there?"
	p.fill("#message", text)
	p.click("#send")
	queued := `.bubble-user[data-queued="true"]`
	p.waitText(queued, text, 2*time.Second)
	p.waitText(queued, "waiting for the connection", time.Second)
	if v := evalJS[string](p, `document.querySelector("#message").value`); v != "" {
		t.Errorf("the message box still holds %q after the message was queued", v)
	}
	if got := debugJSON[string](p, "probes.state.outbox"); got != text {
		t.Errorf("the waiting message is %q, want %q", got, text)
	}
	if n := len(env.Sim.ChatRequests()); n != 0 {
		t.Errorf("%d chat requests while the server was down", n)
	}
	p.screenshot("tutor-queued-light")
	waitDone(t, done, 30*time.Second)

	p.waitJS("the answer to the waiting message", fmt.Sprintf(`document.querySelector(".bubble-tutor")?.innerText.includes(%q) && aitutorDebug.count("response.done") === 1`, `You said "Are you still there`), 30*time.Second)
	if n := evalJS[int](p, `document.querySelectorAll('.bubble-user[data-queued="true"]').length`); n != 0 {
		t.Errorf("%d messages still marked as waiting", n)
	}
	if got := p.text(".bubble-user p"); got != text || !evalJS[bool](p, `document.querySelector(".bubble-user .meta").hidden`) {
		t.Errorf("the learner's bubble reads %q with a note %q, want the message without a note", got, p.text(".bubble-user .meta"))
	}
	var sent []debugEvent
	for _, e := range events(p, "transcript.user") {
		if e.Text == text {
			sent = append(sent, e)
		}
	}
	reqs := env.Sim.ChatRequests()
	if len(sent) != 1 || len(reqs) != 1 || reqs[0].Messages[len(reqs[0].Messages)-1].Content != text {
		t.Errorf("the waiting message went to the server %d times and to the tutor in %d requests, want once", len(sent), len(reqs))
	}
	if created := events(p, "session.created"); len(created) != 2 || !created[1].Resumed || created[1].ConversationID != created[0].ConversationID {
		t.Errorf("session.created events: %+v, want the same conversation resumed", created)
	}
}

// TestReloadContinuesConversation: after a reload the tutor page shows the earlier turns of its
// conversation (from GET /api/conversations/{id}, with how each was charged) and continues
// the same conversation on Start.
func TestReloadContinuesConversation(t *testing.T) {
	env := servertest.New(t, servertest.Options{})
	mic := writeMicWAV(t, "quiet.wav", silence(5*time.Second))
	_, token, m := env.Learner("reload@example.com", intp(10))
	p := newTab(t, newBrowser(t, mic, false), env.URL, "reload")
	p.signInWithToken(token, "/tutor/"+m.ID)
	p.waitText("#remaining", "10 chats left", 10*time.Second)
	p.click("#start")
	p.waitJS("connected", `aitutorDebug.probes.state.connection === "open" && aitutorDebug.probes.state.mic === "on"`, 10*time.Second)

	// A first message, interrupted by a second one before its first sentence was heard: the
	// first reply is not charged.
	p.fill("#message", "Tell me about London.")
	p.click("#send")
	p.waitJS("the first reply started", `aitutorDebug.count("response.started") === 1`, 10*time.Second)
	p.typeTurn("Actually, tell me about Paris.")
	cancelled := events(p, "response.cancelled")
	if len(cancelled) != 1 || cancelled[0].Reason != "barge_in" || !cancelled[0].Refunded {
		t.Fatalf("response.cancelled events: %+v, want the first reply refunded", cancelled)
	}
	first := cancelled[0].TurnID
	p.waitText(fmt.Sprintf(`.bubble-tutor[data-turn-id=%q]`, first), "stopped before you heard it — not charged", 5*time.Second)
	p.waitText("#remaining", "9 chats left", 5*time.Second)
	conv := events(p, "session.created")[0].ConversationID
	p.waitJS("the conversation in the address", fmt.Sprintf(`location.hash === %q`, "#/tutor/"+m.ID+"/"+conv), 5*time.Second)

	p.do("reload", chromedp.Reload())
	p.waitJS("the earlier turns", `document.querySelectorAll(".bubble-tutor").length === 2 && document.querySelectorAll(".bubble-user").length === 2`, 10*time.Second)
	p.waitText(fmt.Sprintf(`.bubble-tutor[data-turn-id=%q]`, first), "not charged", time.Second)
	if got := p.text(".bubble-user"); !strings.Contains(got, "Tell me about London.") {
		t.Errorf("the first learner bubble after the reload reads %q", got)
	}
	if got := p.text(`.bubble-tutor[data-status="done"]`); !strings.Contains(got, `You said "Actually, tell me about Paris"`) {
		t.Errorf("the second answer after the reload reads %q", got)
	}
	p.waitText("#start", "Continue conversation", time.Second)
	p.waitText("#start-panel", "remembers the 2 earlier turns", time.Second)
	if n := evalJS[int](p, `aitutorDebug.count("session.created")`); n != 0 {
		t.Errorf("%d sessions before Start after the reload", n)
	}
	p.screenshots("tutor-continue")

	p.click("#start")
	p.waitJS("the continued session", `aitutorDebug.probes.state.connection === "open"`, 10*time.Second)
	created := events(p, "session.created")
	if len(created) != 1 || !created[0].Resumed || created[0].ConversationID != conv || created[0].Turns != 2 {
		t.Fatalf("session.created after the reload: %+v, want conversation %s resumed with 2 turns", created, conv)
	}
	p.typeTurn("And what about Rome?")
	p.waitText(".bubble-tutor:last-of-type", "which is turn 3", 5*time.Second)
	msgs := lastChat(t, env)
	if !containsMessage(msgs, "Tell me about London.") || !containsMessage(msgs, "Actually, tell me about Paris.") {
		t.Errorf("the chat request after the reload does not carry the earlier turns: %+v", msgs)
	}
	stored, err := env.Store.Messages(context.Background(), conv)
	if err != nil {
		t.Fatal(err)
	}
	if len(stored) != 3 || stored[0].Status != store.TurnCancelled || stored[2].UserText != "And what about Rome?" {
		t.Errorf("stored turns of the conversation: %+v", stored)
	}
}

// TestPastConversations: the home page lists the learner's conversations, newest first, a page
// at a time; one opens to its transcript, where both the learner's recording and the tutor's
// answer replay from the server; it continues on the tutor page while its membership can pay.
// The learner's usage is described in words.
func TestPastConversations(t *testing.T) {
	env := servertest.New(t, servertest.Options{})
	mic := writeMicWAV(t, "one-utterance.wav", speech(2500*time.Millisecond), silence(45*time.Second))
	u, token, m := env.Learner("history@example.com", intp(5))

	// Older conversations on a membership that has no chats left: readable, not continued.
	ctx := context.Background()
	empty := env.Membership(u, env.Plan("Used Up", intp(0), store.B2C))
	var oldest store.Conversation
	for i := range 11 {
		c, err := env.Store.CreateConversation(ctx, u.ID, empty.ID, "ws", "beginner", "")
		if err != nil {
			t.Fatal(err)
		}
		status := store.TurnDone
		if i == 0 {
			status, oldest = store.TurnInterrupted, c
		}
		msg := store.Message{ConversationID: c.ID, TurnID: fmt.Sprintf("turn_old%02d", i), UserText: fmt.Sprintf("Old message number %d.", i), TutorText: "An old answer.", Status: status}
		if err := env.Store.AddMessage(ctx, &msg); err != nil {
			t.Fatal(err)
		}
	}

	// A spoken turn on the tutor page: the newest conversation.
	p := newTab(t, newBrowser(t, mic, false), env.URL, "history")
	p.signInWithToken(token, "/tutor/"+m.ID)
	p.waitText("#remaining", "5 chats left", 10*time.Second)
	p.click("#start")
	p.waitJS("the spoken turn answered", `aitutorDebug.count("response.done") === 1`, 30*time.Second)
	conv := events(p, "session.created")[0].ConversationID
	p.waitJS("the learner's recording offered for replay", `document.querySelector(".bubble-user .replay") !== null`, 5*time.Second)

	// Home: the conversations, the newest first, and the usage in words.
	p.click(`#nav a[href="#/"]`)
	item := fmt.Sprintf(`#conversations li[data-conversation-id=%q]`, conv)
	p.waitText(item, openaisim.DefaultTranscript, 10*time.Second)
	p.waitText(item, "1 turn", time.Second)
	p.waitText(item, "plan for history@example.com", time.Second)
	if first := evalJS[string](p, `document.querySelector("#conversations li").dataset.conversationId`); first != conv {
		t.Errorf("the first conversation listed is %s, want the newest, %s", first, conv)
	}
	if n := evalJS[int](p, `document.querySelectorAll("#conversations li.conversation").length`); n != 10 {
		t.Errorf("%d conversations on the first page, want 10", n)
	}
	if !evalJS[bool](p, fmt.Sprintf(`document.querySelector(%q) !== null`, item+" a.continue")) {
		t.Error("the conversation of an active membership cannot be continued")
	}
	p.click("#more-conversations")
	oldItem := fmt.Sprintf(`#conversations li[data-conversation-id=%q]`, oldest.ID)
	p.waitText(oldItem, "Old message number 0.", 10*time.Second)
	p.waitJS("all conversations and no more", `document.querySelectorAll("#conversations li.conversation").length === 12 && document.querySelector("#more-conversations").hidden`, 5*time.Second)
	if evalJS[bool](p, fmt.Sprintf(`document.querySelector(%q) !== null`, oldItem+" a.continue")) {
		t.Error("a conversation of a membership with no chats left offers to continue")
	}
	p.waitText("#usage", "Spoken conversation turn", 5*time.Second)
	p.waitText("#usage .usage-charge .delta", "−1", time.Second)
	p.waitText("#usage-rule", "first sentence you heard", time.Second)
	evalJS[chromedp.Void](p, `window.scrollTo(0, document.querySelector("#conversations-h").offsetTop - 80)`)
	p.screenshots("home-conversations")

	// Open the conversation: its transcript, and both recordings replay from the server.
	p.click(item + " a.open")
	p.waitJS("the conversation page", fmt.Sprintf(`location.hash === %q`, "#/conversations/"+conv), 5*time.Second)
	p.waitText("#transcript .bubble-user", openaisim.DefaultTranscript, 10*time.Second)
	p.waitText("#transcript .bubble-tutor", "which is turn 1", time.Second)
	p.waitText("#transcript .bubble-tutor", "answered in", time.Second)
	type clipEvent struct {
		URL     string `json:"url"`
		Status  int    `json:"status"`
		Rate    int    `json:"rate"`
		Samples int    `json:"samples"`
	}
	clip := func(url string) clipEvent {
		t.Helper()
		p.waitJS("the recording "+url, fmt.Sprintf(`aitutorDebug.events.some(e => e.type === "clip" && e.url === %q)`, url), 10*time.Second)
		return debugJSON[clipEvent](p, fmt.Sprintf(`events.find(e => e.type === "clip" && e.url === %q)`, url))
	}
	var stored struct {
		Messages []struct{ UserAudioURL, TutorAudioURL string } `json:"messages"`
	}
	env.Do(http.MethodGet, "/api/conversations/"+conv, token, nil).JSON(t, &stored)
	if len(stored.Messages) != 1 || stored.Messages[0].UserAudioURL == "" || stored.Messages[0].TutorAudioURL == "" {
		t.Fatalf("the spoken conversation's turns: %+v, want one with both recordings", stored.Messages)
	}
	turn := stored.Messages[0]
	p.click("#transcript .bubble-user .replay")
	if c := clip(turn.UserAudioURL); c.Status != 200 || c.Rate != 16000 || c.Samples < 16000 {
		t.Errorf("the learner's recording: %+v, want 200 and more than a second at 16 kHz", c)
	}
	p.click("#transcript .bubble-tutor .replay")
	if c := clip(turn.TutorAudioURL); c.Status != 200 || c.Rate != 24000 || c.Samples < 24000 {
		t.Errorf("the tutor's recording: %+v, want 200 and more than a second at 24 kHz", c)
	}
	p.waitJS("the replay playing", `!document.querySelector("#stop-playback").disabled`, 5*time.Second)
	p.screenshots("conversation")

	// A conversation of the used-up membership: readable, with its notes, not continued.
	p.goTo("/conversations/" + oldest.ID)
	p.waitText("#transcript .bubble-tutor", "interrupted — charged", 10*time.Second)
	p.waitText("#cannot-continue", "has no chats left", time.Second)
	if evalJS[bool](p, `document.querySelector("#continue-conversation") !== null`) {
		t.Error("a conversation of a used-up membership offers to continue")
	}

	// Continue the spoken conversation: the tutor page shows it and replays its recording
	// before the session starts.
	p.goTo("/conversations/" + conv)
	p.click("#continue-conversation")
	p.waitJS("the tutor page with the conversation", fmt.Sprintf(`location.hash === %q`, "#/tutor/"+m.ID+"/"+conv), 5*time.Second)
	p.waitText("#transcript .bubble-user", openaisim.DefaultTranscript, 10*time.Second)
	p.waitText("#start", "Continue conversation", time.Second)
	p.click("#transcript .bubble-user .replay")
	p.waitJS("the recording replayed on the tutor page", `aitutorDebug.events.some(e => e.type === "replay" && e.role === "user") && aitutorDebug.probes.audio?.scheduledSamples >= 24000`, 10*time.Second)
}

// TestFalseInterruptionResumes: the learner's voice over the tutor's reply holds no words (the
// transcriber hears nothing in it, as with a cough). The page stops the reply at once; the
// server resumes it (response.resumed), the page plays its audio again, the "interrupted" note
// goes away, and the reply ends with response.done, charged.
func TestFalseInterruptionResumes(t *testing.T) {
	slow := openaisim.Profile{Name: "real-time", STT: 50 * time.Millisecond, ChatFirstToken: 100 * time.Millisecond,
		ChatPerToken: 40 * time.Millisecond, TTSFirstByte: 100 * time.Millisecond, TTSSpeed: 1}
	env := servertest.New(t, servertest.Options{Profile: &slow})
	var calls atomic.Int32
	env.Sim.SetTranscript(func(string, []byte) string {
		if calls.Add(1) == 1 {
			return openaisim.DefaultTranscript
		}
		return "" // the second voice held no words
	})
	mic := writeMicWAV(t, "cough.wav",
		speech(2500*time.Millisecond), silence(3500*time.Millisecond), // a turn; the reply starts
		speech(time.Second), silence(60*time.Second)) // a voice over it, without words
	_, token, m := env.Learner("cough@example.com", intp(5))
	p := newTab(t, newBrowser(t, mic, false), env.URL, "cough")
	p.signInWithToken(token, "/tutor/"+m.ID)
	p.waitText("#remaining", "5 chats left", 10*time.Second)
	p.click("#start")

	p.waitJS("the reply stopped by the voice", `aitutorDebug.events.some(e => e.type === "interrupt" && e.why === "barge_in")`, 30*time.Second)
	p.waitJS("response.resumed", `aitutorDebug.count("response.resumed") === 1`, 15*time.Second)
	resumed := events(p, "response.resumed")[0]
	turn := events(p, "response.started")[0].TurnID
	if resumed.TurnID != turn {
		t.Errorf("response.resumed for %s, want the reply %s", resumed.TurnID, turn)
	}
	bubble := fmt.Sprintf(`.bubble-tutor[data-turn-id=%q]`, turn)
	played := debugJSON[audioStats](p, "probes.audio").PlayedSamples
	p.waitJS("the reply playing again", fmt.Sprintf(`aitutorDebug.probes.audio.playedSamples > %d + 24000`, played), 15*time.Second)
	if got := p.text(bubble); strings.Contains(got, "interrupted") {
		t.Errorf("the resumed reply still reads %q", got)
	}
	p.waitJS("response.done", `aitutorDebug.count("response.done") === 1`, 60*time.Second)
	if n := len(events(p, "response.cancelled")); n != 0 {
		t.Errorf("%d response.cancelled events for a voice without words", n)
	}
	if n := evalJS[int](p, `document.querySelectorAll(".bubble-user").length`); n != 1 {
		t.Errorf("%d learner bubbles, want 1: the voice without words leaves none", n)
	}
	p.waitText("#remaining", "4 chats left", 5*time.Second)
	p.waitText(bubble, "answered in", time.Second)
}
