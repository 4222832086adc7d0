package session

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/aitutor/aitutor/session/client"
	"github.com/aitutor/aitutor/store"
)

// The billing rule on a live session (billing.go), with fakes: the learner pays for an answer
// they heard the first sentence of, never for one stopped before that, and a charge always ends
// answered or refunded.

func noLeaks(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t, goleak.IgnoreCurrent()) })
}

// fastTurns makes turn detection and barge-in quick for tests.
func fastTurns(t *testing.T, c *client.Client) {
	t.Helper()
	c.Send(map[string]any{"type": "session.update", "silenceMs": 300, "minSpeechMs": 150, "bargeInMs": 150}) //nolint:errcheck
	if _, err := c.Until(5*time.Second, TypeSessionUpdated); err != nil {
		t.Fatal(err)
	}
}

func until(t *testing.T, c *client.Client, types ...string) []client.Event {
	t.Helper()
	evs, err := c.Until(10*time.Second, types...)
	if err != nil {
		t.Fatalf("waiting for %v: %v", types, err)
	}
	return evs
}

func decode[T any](t *testing.T, ev client.Event) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(ev.Raw, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// settled waits until the background writes of the rig are done.
func (r *rig) settled() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	done := make(chan struct{})
	go func() { r.tutor.background.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		r.t.Fatal("background writes did not finish")
	}
}

func TestAnsweredTurnIsCharged(t *testing.T) {
	noLeaks(t)
	r := newRig(t, HubConfig{})
	user, m := r.learner(intp(3))
	c, _ := r.dial(user, "")
	fastTurns(t, c)
	c.Text("Hello!") //nolint:errcheck
	evs := until(t, c, TypeResponseDone)
	done := decode[doneEvent](t, evs[len(evs)-1])
	if done.RemainingChatUses == nil || *done.RemainingChatUses != 2 {
		t.Fatalf("remaining %v, want 2", done.RemainingChatUses)
	}
	if done.Text != "Hi there. How are you today? Tell me more." {
		t.Fatalf("text %q", done.Text)
	}
	r.settled()
	if charges, refunds, _ := r.store.ledger(t, m.ID); charges != 1 || refunds != 0 {
		t.Fatalf("charges %d refunds %d", charges, refunds)
	}
	if s := r.store.status(done.TurnID); s != store.TurnDone {
		t.Fatalf("status %q", s)
	}
}

// The text of a sentence is sent with its first audio frame, never before, and until the first
// sentence is heard the audio runs at most paceLead ahead of the learner's player.
func TestTextNeverRunsAheadOfTheAudio(t *testing.T) {
	noLeaks(t)
	r := newRig(t, HubConfig{})
	r.chat.reply = "Hello there, this is a long first sentence that takes a while to say out loud. Then a second one. And a third."
	r.tts.speed = 50
	user, _ := r.learner(intp(3))
	c, _ := r.dial(user, "")
	fastTurns(t, c)
	c.Text("Hello!") //nolint:errcheck
	evs := until(t, c, TypeResponseDone)
	var firstAudio time.Time
	audio := 0
	sentenceBytes := []int{}
	for _, ev := range evs {
		switch ev.Type {
		case client.TypeAudio:
			if firstAudio.IsZero() {
				firstAudio = ev.Received
			}
			audio += len(ev.Audio)
			sentenceBytes[len(sentenceBytes)-1] += len(ev.Audio)
			// Before the first sentence is heard, the client holds at most paceLead unplayed.
			if len(sentenceBytes) == 1 {
				played := ev.Received.Sub(firstAudio)
				if ahead := bytesDur(int64(audio)) - played; ahead > paceLead+300*time.Millisecond {
					t.Fatalf("audio ran %v ahead of playback", ahead)
				}
			}
		case TypeResponseTextDelta:
			if len(sentenceBytes) > 0 && sentenceBytes[len(sentenceBytes)-1] == 0 {
				t.Fatal("a sentence's text came before the audio of the one before it")
			}
			sentenceBytes = append(sentenceBytes, 0)
		}
	}
	if len(sentenceBytes) != 3 {
		t.Fatalf("%d text deltas, want one per sentence", len(sentenceBytes))
	}
	if want := len("Hello there, this is a long first sentence that takes a while to say out loud.") * 40 * outputBytesPerMs; sentenceBytes[0] != want {
		t.Fatalf("first sentence has %d bytes of audio, want %d", sentenceBytes[0], want)
	}
}

func TestStopBeforeTheFirstSentenceIsHeardIsRefunded(t *testing.T) {
	for _, tc := range []struct {
		name string
		when string // thinking: before any audio; playing: after the first frame
	}{
		{"while thinking", "thinking"},
		{"while the first sentence plays", "playing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			noLeaks(t)
			r := newRig(t, HubConfig{})
			r.chat.first = 300 * time.Millisecond
			user, m := r.learner(intp(3))
			c, _ := r.dial(user, "")
			fastTurns(t, c)
			c.Text("Hello!") //nolint:errcheck
			if tc.when == "thinking" {
				until(t, c, TypeResponseStarted)
			} else {
				until(t, c, client.TypeAudio)
			}
			c.Cancel() //nolint:errcheck
			evs := until(t, c, TypeResponseCancelled)
			ev := decode[cancelledEvent](t, evs[len(evs)-1])
			if ev.Reason != ReasonClientCancel || !ev.Refunded || ev.RemainingChatUses == nil || *ev.RemainingChatUses != 3 {
				t.Fatalf("response.cancelled %s", evs[len(evs)-1].Raw)
			}
			r.settled()
			if charges, refunds, _ := r.store.ledger(t, m.ID); charges != 1 || refunds != 1 {
				t.Fatalf("charges %d refunds %d", charges, refunds)
			}
			if s := r.store.status(ev.TurnID); s != store.TurnCancelled {
				t.Fatalf("status %q", s)
			}
		})
	}
}

func TestStopAfterTheFirstSentenceIsHeardIsPaid(t *testing.T) {
	noLeaks(t)
	r := newRig(t, HubConfig{})
	r.chat.reply = "Hi. This second sentence is long enough to still be playing when the learner stops it, surely."
	r.tts.speed = 2
	user, m := r.learner(intp(3))
	c, _ := r.dial(user, "")
	fastTurns(t, c)
	c.Text("Hello!") //nolint:errcheck
	until(t, c, client.TypeAudio)
	// "Hi." is 120 ms of audio; heard, and past the barge-in window (150 + 300 ms).
	time.Sleep(800 * time.Millisecond)
	c.Cancel() //nolint:errcheck
	evs := until(t, c, TypeResponseCancelled)
	ev := decode[cancelledEvent](t, evs[len(evs)-1])
	if ev.Refunded || *ev.RemainingChatUses != 2 {
		t.Fatalf("response.cancelled %s", evs[len(evs)-1].Raw)
	}
	r.settled()
	if charges, refunds, answered := r.store.ledger(t, m.ID); charges != 1 || refunds != 0 || answered != 1 {
		t.Fatalf("charges %d refunds %d answered %d", charges, refunds, answered)
	}
	if s := r.store.status(ev.TurnID); s != store.TurnInterrupted {
		t.Fatalf("status %q", s)
	}
}

func TestDisconnectBeforeTheAnswerIsHeardIsRefunded(t *testing.T) {
	noLeaks(t)
	r := newRig(t, HubConfig{})
	user, m := r.learner(intp(3))
	c, _ := r.dial(user, "")
	fastTurns(t, c)
	c.Text("Hello!") //nolint:errcheck
	until(t, c, client.TypeAudio)
	c.Abort()
	<-c.Done()
	deadline := time.Now().Add(5 * time.Second)
	for r.hub.Live() > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	r.settled()
	if charges, refunds, _ := r.store.ledger(t, m.ID); charges != 1 || refunds != 1 {
		t.Fatalf("charges %d refunds %d", charges, refunds)
	}
	r.store.mu.Lock()
	reason := r.store.refunds[1]
	r.store.mu.Unlock()
	if reason != RefundDisconnected {
		t.Fatalf("refund reason %q", reason)
	}
}

func TestProviderFailureIsRefunded(t *testing.T) {
	noLeaks(t)
	r := newRig(t, HubConfig{})
	r.tts.failAfter = 4800
	user, m := r.learner(intp(3))
	c, _ := r.dial(user, "")
	fastTurns(t, c)
	c.Text("Hello!") //nolint:errcheck
	evs := until(t, c, TypeError)
	if ev := evs[len(evs)-1]; ev.Field("code") != "provider_error" {
		t.Fatalf("error %s", ev.Raw)
	}
	i := len(evs) - 2
	if ev := decode[cancelledEvent](t, evs[i]); evs[i].Type != TypeResponseCancelled || ev.Reason != ReasonError || !ev.Refunded {
		t.Fatalf("before the error: %s", evs[i].Raw)
	}
	r.settled()
	if charges, refunds, _ := r.store.ledger(t, m.ID); charges != 1 || refunds != 1 {
		t.Fatalf("charges %d refunds %d", charges, refunds)
	}
}

// A charge whose turn is cancelled while the charge is being written still ends refunded.
func TestCancelDuringTheChargeDoesNotOrphanIt(t *testing.T) {
	noLeaks(t)
	r := newRig(t, HubConfig{})
	r.store.chargeDelay = 100 * time.Millisecond // the charge commits while the turn is cancelled
	user, m := r.learner(intp(3))
	c, _ := r.dial(user, "")
	fastTurns(t, c)
	for i := 0; i < 5; i++ {
		c.Text("Hello!") //nolint:errcheck
		c.Cancel()       //nolint:errcheck
	}
	c.Text("Last one") //nolint:errcheck
	until(t, c, TypeResponseDone)
	r.settled()
	charges, refunds, answered := r.store.ledger(t, m.ID)
	if answered != 1 || charges-refunds != 1 {
		t.Fatalf("charges %d refunds %d answered %d", charges, refunds, answered)
	}
	if r.chat.calls > charges {
		t.Fatalf("%d chat calls for %d charges", r.chat.calls, charges)
	}
}

func TestNoProviderCallForAMembershipThatCannotPay(t *testing.T) {
	noLeaks(t)
	r := newRig(t, HubConfig{})
	user, m := r.learner(intp(0))
	c, _ := r.dial(user, "")
	fastTurns(t, c)
	c.Stream(context.Background(), client.Join(client.Voice(600*time.Millisecond, 16000), client.Silence(600*time.Millisecond, 16000)), 16000, 20*time.Millisecond, false) //nolint:errcheck
	evs := until(t, c, TypeError)
	if code := evs[len(evs)-1].Field("code"); code != "quota_exhausted" {
		t.Fatalf("error %s", evs[len(evs)-1].Raw)
	}
	c.Text("hello") //nolint:errcheck
	until(t, c, TypeError)
	if r.stt.calls != 0 || r.chat.calls != 0 {
		t.Fatalf("%d transcriptions and %d chat calls for a membership without uses", r.stt.calls, r.chat.calls)
	}
	if charges, _, _ := r.store.ledger(t, m.ID); charges != 0 {
		t.Fatalf("%d charges", charges)
	}
}

// A settlement the database refuses is retried, so that it is never lost.
func TestSettlementIsRetriedWhenTheDatabaseFails(t *testing.T) {
	noLeaks(t)
	r := newRig(t, HubConfig{})
	r.store.failRecord = 2
	user, m := r.learner(intp(3))
	c, _ := r.dial(user, "")
	fastTurns(t, c)
	c.Text("Hello!") //nolint:errcheck
	until(t, c, TypeResponseDone)
	r.settled()
	if charges, refunds, answered := r.store.ledger(t, m.ID); charges != 1 || refunds != 0 || answered != 1 {
		t.Fatalf("charges %d refunds %d answered %d", charges, refunds, answered)
	}
}
