package session

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/aitutor/aitutor/session/client"
)

// Speculative turns and the end of turn decided from the words (speculate.go, endofturn.go),
// with the learner's audio streamed at real-time pace as a microphone does.

// audioMs is the length of 16 kHz PCM audio in milliseconds.
func audioMs(a Audio) int { return len(a.Data) / 2 / 16 }

func specCount(r *rig, stage, outcome string) int {
	return int(testutil.ToFloat64(r.tutor.metrics.speculative.WithLabelValues(stage, outcome)))
}

// speak streams clips at real-time pace in 20 ms frames, in the background (a failed send
// shows as the events the test waits for not coming).
func speak(t *testing.T, c *client.Client, clips ...[]int16) {
	go func() {
		if err := c.Stream(context.Background(), client.Join(clips...), 16000, 20*time.Millisecond, true); err != nil {
			t.Log("streaming:", err)
		}
	}()
}

func count(evs []client.Event, typ string) int {
	n := 0
	for _, e := range evs {
		if e.Type == typ {
			n++
		}
	}
	return n
}

func TestHesitationIsOneTurn(t *testing.T) {
	noLeaks(t)
	r := newRig(t, HubConfig{})
	r.stt.hear = func(a Audio) string {
		if audioMs(a) < 2500 {
			return "I would like to..." // the words before the pause
		}
		return "I would like to order a coffee with milk."
	}
	user, m := r.learner(intp(3))
	c, _ := r.dial(user, "")
	speak(t, c, client.Silence(300*time.Millisecond, 16000), client.Voice(time.Second, 16000),
		client.Silence(1200*time.Millisecond, 16000), client.Voice(time.Second, 16000), client.Silence(3*time.Second, 16000))
	evs := until(t, c, TypeResponseDone)
	if n := count(evs, TypeTranscriptUser); n != 1 {
		t.Fatalf("%d transcripts: %s", n, client.Types(evs))
	}
	for _, e := range evs {
		switch e.Type {
		case TypeTranscriptUser:
			if text := e.Field("text"); text != "I would like to order a coffee with milk." {
				t.Fatalf("the turn heard %q", text)
			}
		case TypeSpeechStopped:
			stopped := decode[simpleEvent](t, e)
			if stopped.EndOfTurn != "complete" || stopped.SilenceMs == nil || *stopped.SilenceMs < 350 || *stopped.SilenceMs >= 700 {
				t.Fatalf("speech.stopped %s", e.Raw)
			}
		}
	}
	if count(evs, TypeSpeechPaused) != 2 || count(evs, TypeSpeechResumed) != 1 || count(evs, TypeSpeechStopped) != 1 || count(evs, TypeResponseStarted) != 1 {
		t.Fatalf("events %s", client.Types(evs))
	}
	c.Close()
	r.settled()
	if charges, refunds, _ := r.store.ledger(t, m.ID); charges != 1 || refunds != 0 {
		t.Fatalf("charges %d refunds %d", charges, refunds)
	}
	// The unfinished words were transcribed and dropped; the chat model was asked once, ahead.
	if specCount(r, "stt", "wasted") != 1 || specCount(r, "stt", "used") != 1 || specCount(r, "chat", "wasted") != 0 || specCount(r, "chat", "used") != 1 {
		t.Fatalf("speculative calls: stt %d used %d wasted, chat %d used %d wasted", specCount(r, "stt", "used"), specCount(r, "stt", "wasted"),
			specCount(r, "chat", "used"), specCount(r, "chat", "wasted"))
	}
	if r.chat.calls != 1 || r.stt.calls != 2 {
		t.Fatalf("chat calls %d, stt calls %d", r.chat.calls, r.stt.calls)
	}
}

func TestCompleteTurnEndsAfterShortSilence(t *testing.T) {
	noLeaks(t)
	r := newRig(t, HubConfig{})
	r.stt.def = "How are you today?"
	user, _ := r.learner(intp(3))
	c, _ := r.dial(user, "")
	speak(t, c, client.Voice(1200*time.Millisecond, 16000), client.Silence(2*time.Second, 16000))
	evs := until(t, c, TypeResponseDone)
	var stoppedAt, chatAsked time.Time
	for _, e := range evs {
		if e.Type == TypeSpeechStopped {
			stoppedAt = e.Received
			stopped := decode[simpleEvent](t, e)
			// 350 ms for silenceMs 700, or a little more when the words came late (a loaded
			// machine), never the 700 ms of a fixed silence.
			if stopped.EndOfTurn != "complete" || *stopped.SilenceMs < 350 || *stopped.SilenceMs >= 600 {
				t.Fatalf("speech.stopped %s", e.Raw)
			}
		}
	}
	if stoppedAt.IsZero() {
		t.Fatalf("no speech.stopped: %s", client.Types(evs))
	}
	r.chat.mu.Lock()
	chatAsked = r.chat.at
	r.chat.mu.Unlock()
	if !chatAsked.Before(stoppedAt) {
		t.Fatal("the chat model was not asked before the end of the turn")
	}
	if specCount(r, "chat", "used") != 1 || specCount(r, "tts", "used") != 1 || r.chat.calls != 1 {
		t.Fatalf("the prepared answer was not used: chat used %d, tts used %d, chat calls %d", specCount(r, "chat", "used"), specCount(r, "tts", "used"), r.chat.calls)
	}
	c.Close()
}

func TestSpeculationDroppedByRenewedSpeech(t *testing.T) {
	noLeaks(t)
	r := newRig(t, HubConfig{})
	r.stt.hear = func(a Audio) string {
		if audioMs(a) < 1800 {
			return "Yesterday I went to the cinema." // complete: answered ahead
		}
		return "Yesterday I went to the cinema and then I went home."
	}
	user, m := r.learner(intp(3))
	c, _ := r.dial(user, "")
	// A pause longer than the probe and shorter than the short bound: the answer is being
	// prepared when the learner goes on.
	speak(t, c, client.Voice(time.Second, 16000), client.Silence(300*time.Millisecond, 16000),
		client.Voice(time.Second, 16000), client.Silence(2*time.Second, 16000))
	evs := until(t, c, TypeResponseDone)
	if count(evs, TypeTranscriptUser) != 1 || count(evs, TypeResponseStarted) != 1 || count(evs, TypeSpeechResumed) != 1 {
		t.Fatalf("events %s", client.Types(evs))
	}
	for _, e := range evs {
		if e.Type == TypeTranscriptUser && e.Field("text") != "Yesterday I went to the cinema and then I went home." {
			t.Fatalf("heard %q", e.Field("text"))
		}
		if e.Type == TypeResponseTextDelta && e.Field("turnId") == "" {
			t.Fatalf("a delta outside the turn: %s", e.Raw)
		}
	}
	c.Close()
	r.settled()
	if charges, _, _ := r.store.ledger(t, m.ID); charges != 1 {
		t.Fatalf("%d charges", charges)
	}
	if specCount(r, "chat", "wasted") != 1 || specCount(r, "chat", "used") != 1 || specCount(r, "stt", "wasted") != 1 {
		t.Fatalf("speculative calls: chat %d used %d wasted; stt %d wasted", specCount(r, "chat", "used"), specCount(r, "chat", "wasted"), specCount(r, "stt", "wasted"))
	}
	// The dropped answer's request and the turn's both reached the chat model; only the turn's
	// was charged and heard.
	if r.chat.calls != 2 {
		t.Fatalf("chat calls %d", r.chat.calls)
	}
}

func TestNoSpeculationForATurnThatCannotBePaid(t *testing.T) {
	noLeaks(t)
	r := newRig(t, HubConfig{})
	user, _ := r.learner(intp(1))
	c, _ := r.dial(user, "")
	c.Text("Hello!") //nolint:errcheck
	until(t, c, TypeResponseDone)
	sttBefore := r.stt.calls
	speak(t, c, client.Voice(time.Second, 16000), client.Silence(1500*time.Millisecond, 16000))
	evs := until(t, c, TypeError)
	if e := evs[len(evs)-1]; e.Field("code") != "quota_exhausted" {
		t.Fatalf("error %s", e.Raw)
	}
	if count(evs, TypeSpeechPaused) != 0 || r.stt.calls != sttBefore {
		t.Fatalf("a pause was worked on for a membership that cannot pay: %s, %d transcriptions", client.Types(evs), r.stt.calls-sttBefore)
	}
	for _, e := range evs {
		if e.Type == TypeSpeechStopped {
			if stopped := decode[simpleEvent](t, e); stopped.EndOfTurn != "unknown" || *stopped.SilenceMs < 700 || *stopped.SilenceMs > 730 {
				t.Fatalf("speech.stopped %s", e.Raw)
			}
		}
	}
	c.Close()
}

func TestEndOfTurnSilenceMode(t *testing.T) {
	noLeaks(t)
	r := newRig(t, HubConfig{})
	r.stt.def = "I would like to" // unfinished, but the mode ignores the words
	user, _ := r.learner(intp(3))
	c, created := r.dial(user, "")
	if created["endOfTurn"] != "smart" {
		t.Fatalf("session.created %v", created)
	}
	c.Send(map[string]any{"type": "session.update", "endOfTurn": "maybe"}) //nolint:errcheck
	if e := until(t, c, TypeError); e[len(e)-1].Field("code") != "invalid_request" {
		t.Fatalf("bad endOfTurn: %s", e[len(e)-1].Raw)
	}
	c.Send(map[string]any{"type": "session.update", "endOfTurn": "silence"}) //nolint:errcheck
	if e := until(t, c, TypeSessionUpdated); e[len(e)-1].Field("endOfTurn") != "silence" {
		t.Fatalf("session.updated %s", e[len(e)-1].Raw)
	}
	speak(t, c, client.Voice(time.Second, 16000), client.Silence(1500*time.Millisecond, 16000))
	evs := until(t, c, TypeResponseDone)
	for _, e := range evs {
		if e.Type == TypeSpeechStopped {
			if stopped := decode[simpleEvent](t, e); stopped.EndOfTurn != "silence" || *stopped.SilenceMs != 700 {
				t.Fatalf("speech.stopped %s", e.Raw)
			}
		}
	}
	// The pause was still used to prepare the answer.
	if specCount(r, "chat", "used") != 1 || r.chat.calls != 1 {
		t.Fatalf("chat used %d, calls %d", specCount(r, "chat", "used"), r.chat.calls)
	}
	c.Close()
}
