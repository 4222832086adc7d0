package session

import (
	"context"
	"testing"
	"time"

	"github.com/aitutor/aitutor/session/client"
	"github.com/aitutor/aitutor/store"
)

// Barge-in: speech over the reply pauses it; the words of that speech decide. Words: the reply
// stops (refunded when its first sentence was not heard) and they are the next turn. None — a
// cough, noise, the tutor's own voice in the microphone — and the reply goes on from the start
// of the sentence it was cut in, charged once.

// speakOver streams d of voice and then silence in real time, as a microphone does.
func speakOver(t *testing.T, c *client.Client, d time.Duration) {
	t.Helper()
	go c.Stream(context.Background(), client.Join(client.Voice(d, 16000), client.Silence(800*time.Millisecond, 16000)), 16000, 20*time.Millisecond, true) //nolint:errcheck
}

func TestFalseInterruptionResumesTheReply(t *testing.T) {
	noLeaks(t)
	r := newRig(t, HubConfig{})
	r.chat.reply = "Hello there, my friend. This is the second sentence of a reply. And a third one to finish."
	r.tts.speed = 2
	r.stt.say("") // the speech over the reply holds no words
	user, m := r.learner(intp(3))
	c, _ := r.dial(user, "")
	fastTurns(t, c)
	c.Text("Hello!") //nolint:errcheck
	until(t, c, client.TypeAudio)
	speakOver(t, c, 400*time.Millisecond)
	evs := until(t, c, TypeResponseResumed, TypeResponseCancelled, TypeError)
	if last := evs[len(evs)-1]; last.Type != TypeResponseResumed {
		t.Fatalf("after a cough: %s (%s)", last.Raw, client.Types(evs))
	}
	if i := indexOfType(evs, TypeSpeechStarted); i < 0 {
		t.Fatalf("no speech.started: %s", client.Types(evs))
	}
	evs = until(t, c, TypeResponseDone)
	if n := countOf(evs, client.TypeAudio); n == 0 {
		t.Fatal("no audio after response.resumed")
	}
	done := decode[doneEvent](t, evs[len(evs)-1])
	if done.Text != r.chat.reply {
		t.Fatalf("text %q", done.Text)
	}
	r.settled()
	if charges, refunds, answered := r.store.ledger(t, m.ID); charges != 1 || refunds != 0 || answered != 1 {
		t.Fatalf("charges %d refunds %d answered %d", charges, refunds, answered)
	}
	if r.chat.calls != 1 {
		t.Fatalf("%d chat calls", r.chat.calls)
	}
}

func TestRealInterruptionStopsTheReplyAndIsTheNextTurn(t *testing.T) {
	noLeaks(t)
	r := newRig(t, HubConfig{})
	r.chat.reply = "Hello there, my friend, how lovely to hear from you today. This is a second sentence."
	r.tts.speed = 2
	r.stt.say("Wait, I have a question")
	user, m := r.learner(intp(3))
	c, _ := r.dial(user, "")
	fastTurns(t, c)
	c.Text("Hello!") //nolint:errcheck
	evs := until(t, c, client.TypeAudio)
	first := evs[len(evs)-2].Field("turnId")
	speakOver(t, c, 400*time.Millisecond)
	evs = until(t, c, TypeResponseCancelled)
	cancelled := decode[cancelledEvent](t, evs[len(evs)-1])
	if cancelled.TurnID != first || cancelled.Reason != ReasonBargeIn || !cancelled.Refunded {
		t.Fatalf("response.cancelled %s", evs[len(evs)-1].Raw)
	}
	evs = until(t, c, TypeResponseDone)
	if i := indexOfType(evs, TypeTranscriptUser); i < 0 || evs[i].Field("text") != "Wait, I have a question" {
		t.Fatalf("the interruption's turn: %s", client.Types(evs))
	}
	r.settled()
	if charges, refunds, answered := r.store.ledger(t, m.ID); charges != 2 || refunds != 1 || answered != 1 {
		t.Fatalf("charges %d refunds %d answered %d", charges, refunds, answered)
	}
	if s := r.store.status(first); s != store.TurnCancelled {
		t.Fatalf("interrupted turn %q", s)
	}
	// The tutor is told what the learner heard of the reply it cut: less than its first sentence.
	reqs := r.chat.requests()
	last := reqs[len(reqs)-1].Messages
	if got := last[len(last)-2]; got.Role == RoleAssistant && got.Content == r.chat.reply {
		t.Fatalf("the whole cut reply is in the history: %+v", last)
	}
}

func indexOfType(evs []client.Event, typ string) int {
	for i, e := range evs {
		if e.Type == typ {
			return i
		}
	}
	return -1
}

func countOf(evs []client.Event, typ string) int {
	n := 0
	for _, e := range evs {
		if e.Type == typ {
			n++
		}
	}
	return n
}

// An idle learner who answers pings stays connected across many read deadlines; one who stops
// answering is closed with 1008.
func TestKeepaliveHoldsAnIdleClient(t *testing.T) {
	noLeaks(t)
	r := newRig(t, HubConfig{PongWait: 300 * time.Millisecond, PingPeriod: 100 * time.Millisecond})
	user, _ := r.learner(intp(3))
	alive, _ := r.dial(user, "")
	pings := 0
	dead, _ := r.dial(user, "", client.Options{IgnorePings: true})
	select {
	case <-alive.Done():
		t.Fatalf("an idle client that answers pings was closed: %d %s", alive.CloseCode, alive.CloseText)
	case <-time.After(2 * time.Second): // more than six read deadlines
	}
	select {
	case <-dead.Done():
		if dead.CloseCode != ClosePolicy && dead.CloseCode != 0 {
			t.Fatalf("close code %d, want %d", dead.CloseCode, ClosePolicy)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("a client that never answers pings stayed open")
	}
	// The healthy one is still there and answers.
	alive.Text("still there?") //nolint:errcheck
	until(t, alive, TypeResponseDone)
	_ = pings
}

func TestResumeAConversation(t *testing.T) {
	noLeaks(t)
	r := newRig(t, HubConfig{})
	user, m := r.learner(intp(5))
	c, created := r.dial(user, "")
	conv := created["conversationId"].(string)
	if created["resumed"] != false {
		t.Fatalf("session.created %v", created)
	}
	fastTurns(t, c)
	c.Text("My name is Ann.") //nolint:errcheck
	until(t, c, TypeResponseDone)
	c.Close()

	c2, created := r.dial(user, conv)
	if created["conversationId"] != conv || created["resumed"] != true || created["turns"] != float64(1) {
		t.Fatalf("session.created on resume: %v", created)
	}
	fastTurns(t, c2)
	c2.Text("What is my name?") //nolint:errcheck
	until(t, c2, TypeResponseDone)
	reqs := r.chat.requests()
	msgs := reqs[len(reqs)-1].Messages
	if len(msgs) != 4 || msgs[1].Content != "My name is Ann." || msgs[2].Role != RoleAssistant || msgs[3].Content != "What is my name?" {
		t.Fatalf("the resumed turn's chat request: %+v", msgs)
	}
	r.settled()
	r.store.ledger(t, m.ID)

	// Another learner cannot continue it.
	other, _ := r.learner(intp(5))
	url := "ws" + r.srv.URL[len("http"):] + "/?user=" + other + "&conversationId=" + conv
	if _, err := client.Dial(context.Background(), url, client.Options{}); err == nil {
		t.Fatal("another user resumed the conversation")
	} else if he, ok := err.(*client.HTTPError); !ok || he.Status != 404 {
		t.Fatalf("another user's resume: %v", err)
	}
}

func TestSessionsPerUserAreLimited(t *testing.T) {
	noLeaks(t)
	r := newRig(t, HubConfig{MaxSessionsPerUser: 2})
	user, _ := r.learner(intp(5))
	r.dial(user, "")
	r.dial(user, "")
	url := "ws" + r.srv.URL[len("http"):] + "/?user=" + user
	_, err := client.Dial(context.Background(), url, client.Options{})
	if he, ok := err.(*client.HTTPError); !ok || he.Status != 429 {
		t.Fatalf("third session: %v", err)
	}
	other, _ := r.learner(intp(5))
	r.dial(other, "")
}
