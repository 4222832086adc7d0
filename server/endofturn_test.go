package server_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aitutor/aitutor/server/servertest"
	"github.com/aitutor/aitutor/session/client"
)

// The end of a spoken turn decided from the silence and the words, with real speech: espeak-ng
// speaks, pocketsphinx recognises, the scripted tutor answers, and the learner's audio is
// streamed at a microphone's pace.

func streamLive(t *testing.T, c *client.Client, clips ...[]int16) {
	t.Helper()
	go func() {
		if err := c.Stream(context.Background(), client.Join(clips...), 16000, 20*time.Millisecond, true); err != nil {
			t.Log("streaming:", err)
		}
	}()
}

func TestHesitantLearnerIsOneTurn(t *testing.T) {
	offlineNoLeaks(t)
	providers := offlineEngines(t)
	env := servertest.New(t, servertest.Options{Providers: &providers})
	_, tok, m := env.Learner("hesitant@example.com", intp(3))
	c := dial(t, env, tok, m.ID)
	silence := func(d time.Duration) []int16 { return client.Silence(d, 16000) }
	// "Yesterday I went to the … cinema with my friends", with 1.2 s to find the word.
	streamLive(t, c, silence(300*time.Millisecond), offlineSpeech(t, "Yesterday I went to the"), silence(1200*time.Millisecond),
		offlineSpeech(t, "cinema with my friends"), silence(3*time.Second))
	evs, err := c.Until(60*time.Second, "response.done", "error")
	if err != nil {
		t.Fatal(err)
	}
	if last := evs[len(evs)-1]; last.Type != "response.done" {
		t.Fatalf("the turn ended with %s (%s)", last.Raw, client.Types(evs))
	}
	var heard []string
	for _, e := range evs {
		if e.Type == "transcript.user" {
			heard = append(heard, e.Field("text"))
		}
	}
	if len(heard) != 1 || len(lacksWords(heard[0], []string{"yesterday", "cinema", "friends"})) > 0 {
		t.Fatalf("heard %q: want one turn with the whole sentence (events %s)", heard, client.Types(evs))
	}
	if count(evs, "speech.paused") < 2 || count(evs, "speech.resumed") < 1 || count(evs, "response.started") != 1 {
		t.Fatalf("events %s", client.Types(evs))
	}
	checkLedger(t, env, m.ID, 3)
}

func TestCompleteQuestionEndsAfterAShortSilence(t *testing.T) {
	offlineNoLeaks(t)
	providers := offlineEngines(t)
	env := servertest.New(t, servertest.Options{Providers: &providers})
	_, tok, m := env.Learner("question@example.com", intp(3))
	c := dial(t, env, tok, m.ID)
	streamLive(t, c, client.Silence(300*time.Millisecond, 16000), offlineSpeech(t, "Where do you live"), client.Silence(3*time.Second, 16000))
	evs, err := c.Until(60*time.Second, "response.done", "error")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		if e.Type != "speech.stopped" {
			continue
		}
		var stopped struct {
			EndOfTurn string
			SilenceMs int
		}
		e.Decode(&stopped) //nolint:errcheck
		// The words are complete: the turn ends once they are in and 350 ms of silence were
		// heard — before the 700 ms a fixed silence would wait (pocketsphinx takes a few hundred
		// milliseconds here; allow for a loaded machine).
		if stopped.EndOfTurn != "complete" || stopped.SilenceMs < 350 || stopped.SilenceMs > 1500 {
			t.Fatalf("speech.stopped %s", e.Raw)
		}
		t.Logf("the turn ended after %d ms of silence", stopped.SilenceMs)
	}
	if heard := evs[indexOf(evs, "transcript.user")].Field("text"); !strings.Contains(strings.ToLower(heard), "live") {
		t.Fatalf("heard %q", heard)
	}
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
