package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"

	"github.com/aitutor/aitutor/server/servertest"
	"github.com/aitutor/aitutor/session"
	"github.com/aitutor/aitutor/session/client"
	"github.com/aitutor/aitutor/session/openaisim"
	"github.com/aitutor/aitutor/store"
)

// noLeaks checks, when the test and its cleanups are done, that no goroutine is left. Register
// it first so that it runs last. Tests that use it do not run in parallel.
func noLeaks(t *testing.T) {
	t.Cleanup(func() {
		goleak.VerifyNone(t,
			goleak.IgnoreCurrent(),
			// The database/sql pool of storetest's template connection opener lives per process.
			goleak.IgnoreTopFunction("database/sql.(*DB).connectionOpener"),
		)
	})
}

func dial(t *testing.T, env *servertest.Env, tok, membershipID string) *client.Client {
	t.Helper()
	c, err := client.Dial(context.Background(), env.WSURL(membershipID), client.Options{Token: tok})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	evs, err := c.Until(5*time.Second, "session.created")
	if err != nil || len(evs) != 1 {
		t.Fatalf("first message: %v %s", err, client.Types(evs))
	}
	return c
}

type doneEvent struct {
	TurnID            string          `json:"turnId"`
	Text              string          `json:"text"`
	RemainingChatUses *int            `json:"remainingChatUses"`
	Metrics           session.Metrics `json:"metrics"`
	AudioURL          string          `json:"audioUrl"`
	UserAudioURL      string          `json:"userAudioUrl"`
}

func lastDone(t *testing.T, evs []client.Event) doneEvent {
	t.Helper()
	last := evs[len(evs)-1]
	if last.Type != "response.done" {
		t.Fatalf("turn ended with %s: %s (events %s)", last.Type, last.Raw, client.Types(evs))
	}
	var d doneEvent
	if err := last.Decode(&d); err != nil {
		t.Fatal(err)
	}
	return d
}

func countType(evs []client.Event, typ string) int {
	n := 0
	for _, e := range evs {
		if e.Type == typ {
			n++
		}
	}
	return n
}

func indexOf(evs []client.Event, typ string) int {
	for i, e := range evs {
		if e.Type == typ {
			return i
		}
	}
	return -1
}

func TestSpokenTurn(t *testing.T) {
	noLeaks(t)
	env := servertest.New(t, servertest.Options{})
	u, tok, m := env.Learner("ann@example.com", intp(5))
	c := dial(t, env, tok, m.ID)

	speech := client.Join(client.Silence(300*time.Millisecond, 16000), client.Voice(1200*time.Millisecond, 16000), client.Silence(time.Second, 16000))
	if err := c.Stream(context.Background(), speech, 16000, 20*time.Millisecond, true); err != nil {
		t.Fatal(err)
	}
	evs, err := c.Until(15*time.Second, "response.done", "error")
	if err != nil {
		t.Fatal(err)
	}
	d := lastDone(t, evs)
	order := []string{"speech.started", "speech.stopped", "transcript.user", "response.started", "response.text.delta", "audio"}
	prev := -1
	for _, typ := range order {
		i := indexOf(evs, typ)
		if i <= prev {
			t.Fatalf("%s out of order in %s", typ, client.Types(evs))
		}
		prev = i
	}
	var tr struct{ Text, TurnID string }
	evs[indexOf(evs, "transcript.user")].Decode(&tr) //nolint:errcheck
	if tr.Text != openaisim.DefaultTranscript || tr.TurnID != d.TurnID {
		t.Fatalf("transcript %+v", tr)
	}
	if d.RemainingChatUses == nil || *d.RemainingChatUses != 4 {
		t.Fatalf("remaining = %v, want 4", d.RemainingChatUses)
	}
	mt := d.Metrics
	for name, v := range map[string]*float64{"endpointMs": mt.EndpointMs, "sttMs": mt.STTMs, "chatFirstTokenMs": mt.ChatFirstTokenMs,
		"firstSentenceMs": mt.FirstSentenceMs, "ttsFirstByteMs": mt.TTSFirstByteMs, "firstAudioMs": mt.FirstAudioMs, "totalMs": mt.TotalMs} {
		if v == nil || *v < 0 {
			t.Errorf("metric %s = %v", name, v)
		}
	}
	// The transcript is a complete sentence: the turn ends after the short silence (350 ms of
	// audio for silenceMs 700), and its answer was prepared during it. (endpointMs is wall time
	// between reading the last voice and deciding: on a loaded machine the reader may take a
	// burst of frames late, so it is only checked to be in range.)
	stopped := evs[indexOf(evs, "speech.stopped")]
	var st struct {
		EndOfTurn string
		SilenceMs int
	}
	stopped.Decode(&st) //nolint:errcheck
	if st.EndOfTurn != "complete" || st.SilenceMs < 350 || st.SilenceMs >= 700 {
		t.Errorf("speech.stopped %s", stopped.Raw)
	}
	if *mt.FirstAudioMs > *mt.TotalMs || *mt.EndpointMs > 2000 {
		t.Errorf("metrics out of line: endpoint %.0f ms, first audio %.0f ms, total %.0f ms", *mt.EndpointMs, *mt.FirstAudioMs, *mt.TotalMs)
	}
	// The reply text and its audio.
	var text strings.Builder
	audio := 0
	for _, e := range evs {
		switch e.Type {
		case "response.text.delta":
			text.WriteString(e.Field("delta"))
		case "audio":
			if len(e.Audio)%2 != 0 {
				t.Fatalf("odd audio frame of %d bytes", len(e.Audio))
			}
			audio += len(e.Audio)
		}
	}
	if strings.TrimSpace(text.String()) != d.Text || !strings.Contains(d.Text, "turn 1") {
		t.Fatalf("deltas %q vs done %q", text.String(), d.Text)
	}
	wantAudio := int(float64(len(d.Text))/openaisim.CharsPerSecond*24000) * 2
	if audio < wantAudio*9/10 {
		t.Fatalf("got %d bytes of reply audio, want about %d", audio, wantAudio)
	}
	// One use charged, the turn and its audio stored.
	got, _ := env.Store.UserMembership(context.Background(), u.ID, m.ID)
	if *got.RemainingChatUses != 4 {
		t.Fatalf("stored remaining = %d", *got.RemainingChatUses)
	}
	ledger, _ := env.Store.LedgerByMembership(context.Background(), m.ID)
	if len(ledger) != 1 || ledger[0].Kind != "charge" {
		t.Fatalf("ledger = %+v", ledger)
	}
	// The reply audio is stored just after response.done.
	r := env.Do("GET", d.AudioURL, "", nil)
	for deadline := time.Now().Add(5 * time.Second); r.Status == 404 && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
		r = env.Do("GET", d.AudioURL, "", nil)
	}
	if r.Status != 200 || r.Header.Get("Content-Type") != "audio/wav" || len(r.Body) != audio+44 {
		t.Fatalf("stored reply audio: %d %s, %d bytes, want %d", r.Status, r.Header.Get("Content-Type"), len(r.Body), audio+44)
	}
	if n := env.Sim.Calls(openaisim.EndpointSTT); n != 1 {
		t.Fatalf("%d transcriptions", n)
	}
}

func TestTypedTurnAndManualCommit(t *testing.T) {
	noLeaks(t)
	env := servertest.New(t, servertest.Options{})
	_, tok, m := env.Learner("ann@example.com", nil)
	c := dial(t, env, tok, m.ID)

	c.Text("Hello, I went hiking on Saturday.")
	evs, err := c.Until(10*time.Second, "response.done", "error")
	if err != nil {
		t.Fatal(err)
	}
	d := lastDone(t, evs)
	if d.RemainingChatUses != nil || d.Metrics.STTMs != nil || !strings.Contains(d.Text, "I went hiking on Saturday") {
		t.Fatalf("typed turn: %+v", d)
	}
	if env.Sim.Calls(openaisim.EndpointSTT) != 0 {
		t.Fatal("a typed turn was transcribed")
	}

	// Push-to-talk: manual turn detection, then input.commit.
	c.Send(map[string]any{"type": "session.update", "turnDetection": "manual", "level": "beginner", "topic": "travel"})
	evs, _ = c.Until(5*time.Second, "session.updated")
	if evs[len(evs)-1].Field("turnDetection") != "manual" {
		t.Fatalf("update: %s", evs[len(evs)-1].Raw)
	}
	c.Stream(context.Background(), client.Join(client.Voice(800*time.Millisecond, 16000), client.Silence(1500*time.Millisecond, 16000)), 16000, 20*time.Millisecond, false) //nolint:errcheck
	c.Commit()
	evs, err = c.Until(10*time.Second, "response.done", "error")
	if err != nil {
		t.Fatal(err)
	}
	lastDone(t, evs)
	if countType(evs, "speech.started") != 0 {
		t.Fatalf("manual mode sent speech events: %s", client.Types(evs))
	}
	reqs := env.Sim.ChatRequests()
	if sys := reqs[len(reqs)-1].Messages[0].Content; !strings.Contains(sys, "beginner") || !strings.Contains(sys, `"travel"`) {
		t.Fatalf("level and topic not in the prompt: %s", sys)
	}
	// Committing silence is refused without transcribing.
	c.Stream(context.Background(), client.Silence(time.Second, 16000), 16000, 20*time.Millisecond, false) //nolint:errcheck
	c.Commit()
	evs, _ = c.Until(5*time.Second, "error")
	if evs[len(evs)-1].Field("code") != "no_speech" || env.Sim.Calls(openaisim.EndpointSTT) != 1 {
		t.Fatalf("silent commit: %s (stt calls %d)", evs[len(evs)-1].Raw, env.Sim.Calls(openaisim.EndpointSTT))
	}
}

func TestNoiseNeverReachesTheTranscriber(t *testing.T) {
	noLeaks(t)
	env := servertest.New(t, servertest.Options{})
	_, tok, m := env.Learner("ann@example.com", intp(3))
	c := dial(t, env, tok, m.ID)
	noise := make([]int16, 3*16000)
	seed := uint32(7)
	for i := range noise {
		seed = seed*1664525 + 1013904223
		noise[i] = int16(int32(seed>>16)%6000 - 3000)
	}
	c.Stream(context.Background(), client.Join(client.Silence(2*time.Second, 16000), noise, client.Silence(time.Second, 16000)), 16000, 20*time.Millisecond, false) //nolint:errcheck
	c.Text("ping")                                                                                                                                                  // a marker: everything before it has been handled
	evs, err := c.Until(10*time.Second, "response.done")
	if err != nil {
		t.Fatal(err)
	}
	if countType(evs, "speech.started") != 0 || env.Sim.Calls(openaisim.EndpointSTT) != 0 {
		t.Fatalf("noise was taken for speech: %s, %d transcriptions", client.Types(evs), env.Sim.Calls(openaisim.EndpointSTT))
	}
}

func TestQuotaExhaustedSendsNothingToTheChatModel(t *testing.T) {
	noLeaks(t)
	env := servertest.New(t, servertest.Options{})
	_, tok, m := env.Learner("ann@example.com", intp(1))
	c := dial(t, env, tok, m.ID)
	c.Text("first")
	evs, _ := c.Until(10*time.Second, "response.done", "error")
	if d := lastDone(t, evs); *d.RemainingChatUses != 0 {
		t.Fatalf("remaining %d", *d.RemainingChatUses)
	}
	c.Text("second")
	evs, err := c.Until(10*time.Second, "error", "response.started")
	if err != nil {
		t.Fatal(err)
	}
	last := evs[len(evs)-1]
	if last.Type != "error" || last.Field("code") != "quota_exhausted" {
		t.Fatalf("second turn: %s", last.Raw)
	}
	if n := env.Sim.Calls(openaisim.EndpointChat); n != 1 {
		t.Fatalf("chat endpoint called %d times, want 1", n)
	}
	// Spoken turns are refused the same way.
	c.Stream(context.Background(), client.Join(client.Voice(time.Second, 16000), client.Silence(time.Second, 16000)), 16000, 20*time.Millisecond, false) //nolint:errcheck
	evs, _ = c.Until(10*time.Second, "error")
	if evs[len(evs)-1].Field("code") != "quota_exhausted" || env.Sim.Calls(openaisim.EndpointChat) != 1 {
		t.Fatalf("spoken turn on exhausted membership: %s", evs[len(evs)-1].Raw)
	}
	// The session knows the membership cannot pay: the speech was not even transcribed.
	if n := env.Sim.Calls(openaisim.EndpointSTT); n != 0 {
		t.Fatalf("%d transcriptions for a membership known to be exhausted", n)
	}
	// A new session is refused before the upgrade.
	_, err = client.Dial(context.Background(), env.WSURL(m.ID), client.Options{Token: tok})
	var he *client.HTTPError
	if !errors.As(err, &he) || he.Status != http.StatusPaymentRequired || !strings.Contains(he.Body, "quota_exhausted") {
		t.Fatalf("dial on exhausted membership: %v", err)
	}
}

// TestAnotherSessionSpentTheLastUse: a session's count said the membership could pay, so the
// charge ran beside the transcription, but another session had spent the last use meanwhile.
// The turn is refused like any other (nothing heard, nothing asked, one charge in the ledger);
// it cost one transcription, and the session now knows not to transcribe again.
func TestAnotherSessionSpentTheLastUse(t *testing.T) {
	noLeaks(t)
	env := servertest.New(t, servertest.Options{})
	_, tok, m := env.Learner("ann@example.com", intp(1))
	a, b := dial(t, env, tok, m.ID), dial(t, env, tok, m.ID)
	a.Text("first")
	if evs, err := a.Until(10*time.Second, "response.done", "error"); err != nil || evs[len(evs)-1].Type != "response.done" {
		t.Fatalf("first turn: %v %s", err, client.Types(evs))
	}
	speech := client.Join(client.Voice(time.Second, 16000), client.Silence(3*time.Second, 16000))
	for i := range 2 {
		b.Stream(context.Background(), speech, 16000, 20*time.Millisecond, false) //nolint:errcheck
		evs, err := b.Until(10*time.Second, "error", "response.started")
		if err != nil {
			t.Fatal(err)
		}
		if last := evs[len(evs)-1]; last.Field("code") != "quota_exhausted" || indexOf(evs, "transcript.user") >= 0 {
			t.Fatalf("spoken turn %d after the last use was spent elsewhere: %s", i+1, client.Types(evs))
		}
	}
	if n := env.Sim.Calls(openaisim.EndpointSTT); n != 1 {
		t.Fatalf("%d transcriptions, want 1 (the turn charged beside it; none once the session knew)", n)
	}
	if n := env.Sim.Calls(openaisim.EndpointChat); n != 1 {
		t.Fatalf("%d chat requests, want 1", n)
	}
	ledger, _ := env.Store.LedgerByMembership(context.Background(), m.ID)
	if len(ledger) != 1 || ledger[0].Kind != "charge" {
		t.Fatalf("ledger %+v", ledger)
	}
}

// slowReplies makes replies long enough to talk over.
var slowReplies = openaisim.Profile{Name: "slow", STT: 10 * time.Millisecond, ChatFirstToken: 20 * time.Millisecond,
	ChatPerToken: 20 * time.Millisecond, TTSFirstByte: 20 * time.Millisecond, TTSSpeed: 1}

// TestBargeIn talks over a reply. The client says how much of it was heard (response.truncate)
// right after response.cancelled, or a moment later as over a slow network: either way the next
// chat request sees the reply as far as the learner heard it.
func TestBargeIn(t *testing.T) {
	noLeaks(t)
	for _, late := range []time.Duration{0, 100 * time.Millisecond} {
		t.Run(fmt.Sprintf("truncate after %v", late), func(t *testing.T) { bargeIn(t, late) })
	}
}

func bargeIn(t *testing.T, truncateAfter time.Duration) {
	p := slowReplies
	env := servertest.New(t, servertest.Options{Profile: &p})
	_, tok, m := env.Learner("ann@example.com", intp(5))
	c := dial(t, env, tok, m.ID)
	ctx := context.Background()

	c.Text("Tell me a story.")
	evs, err := c.Until(10*time.Second, "audio")
	if err != nil {
		t.Fatal(err)
	}
	turn1 := evs[indexOf(evs, "response.started")].Field("turnId")
	time.Sleep(300 * time.Millisecond)
	// The learner talks over the tutor, in real time as a microphone would.
	go c.Stream(ctx, client.Join(client.Voice(900*time.Millisecond, 16000), client.Silence(1200*time.Millisecond, 16000)), 16000, 20*time.Millisecond, true) //nolint:errcheck
	evs, err = c.Until(10*time.Second, "response.cancelled")
	if err != nil {
		t.Fatal(err)
	}
	cancelled := evs[len(evs)-1]
	if cancelled.Field("reason") != "barge_in" || cancelled.Field("turnId") != turn1 {
		t.Fatalf("cancelled: %s", cancelled.Raw)
	}
	i := indexOf(evs, "speech.started")
	if i < 0 {
		t.Fatalf("no speech.started before the cancel: %s", client.Types(evs))
	}
	// The reply's audio stops when the learner starts talking; the turn is cancelled once their
	// words are known (an interruption without words would let the reply go on).
	for _, ev := range evs[i:] {
		if ev.Type == "audio" && ev.Received.Sub(evs[i].Received) > 100*time.Millisecond {
			t.Fatalf("audio %v after speech.started", ev.Received.Sub(evs[i].Received))
		}
	}
	// The learner heard 500 ms of the reply.
	time.Sleep(truncateAfter)
	c.Truncate(turn1, 500)
	// No audio of the cancelled reply follows; the next turn answers the interruption.
	evs, err = c.Until(15*time.Second, "response.text.delta") // the second chat request is out
	if err != nil {
		t.Fatal(err)
	}
	if n := countType(evs, "audio"); n != 0 {
		t.Fatalf("%d audio frames after response.cancelled: %s", n, client.Types(evs))
	}
	c.Cancel()
	if _, err := c.Until(5*time.Second, "response.cancelled"); err != nil {
		t.Fatal(err)
	}
	reqs := env.Sim.ChatRequests()
	second := reqs[len(reqs)-1].Messages
	if len(second) != 4 || second[2].Role != "assistant" {
		t.Fatalf("second request: %+v", second)
	}
	heard := second[2].Content
	full := openaisim.DefaultReply(reqs[0])
	// 500 ms of speech at 14 characters a second: a few words, marked as cut.
	if len(heard) == 0 || len(heard) > 40 || !strings.HasSuffix(heard, "…") || !strings.HasPrefix(full, strings.TrimSuffix(heard, "…")) {
		t.Fatalf("history keeps %q of %q", heard, full)
	}
	var msgs []store.Message
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		msgs, _ = env.Store.Messages(ctx, reqsConversation(t, env, m.ID))
		if len(msgs) == 2 && msgs[0].TutorText == heard { // the truncation is written after the turn
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(msgs) != 2 || msgs[0].Status != store.TurnCancelled || msgs[0].TutorText != heard {
		t.Fatalf("stored turns: %+v", msgs)
	}
	if env.Sim.Cancelled() == 0 {
		t.Fatal("the provider streams were not cancelled")
	}
}

func TestResponseCancelStopsAtOnce(t *testing.T) {
	noLeaks(t)
	p := slowReplies
	env := servertest.New(t, servertest.Options{Profile: &p})
	_, tok, m := env.Learner("ann@example.com", intp(5))
	c := dial(t, env, tok, m.ID)
	c.Text("Tell me a story.")
	if _, err := c.Until(10*time.Second, "audio"); err != nil {
		t.Fatal(err)
	}
	c.Cancel()
	evs, err := c.Until(5*time.Second, "response.cancelled")
	if err != nil {
		t.Fatal(err)
	}
	if evs[len(evs)-1].Field("reason") != "client_cancel" {
		t.Fatalf("%s", evs[len(evs)-1].Raw)
	}
	// Nothing more of it arrives.
	c.Text("marker")
	evs, _ = c.Until(10*time.Second, "response.started")
	if n := countType(evs, "audio"); n != 0 {
		t.Fatalf("%d audio frames after response.cancelled", n)
	}
	// Stopped before the learner heard its first sentence: the use is given back.
	got, _ := env.Store.LedgerByMembership(context.Background(), m.ID)
	if len(got) != 3 || got[0].Kind != "charge" || got[1].Kind != "refund" || got[1].Reason != session.RefundNotHeard || got[2].Kind != "charge" {
		t.Fatalf("ledger %+v", got)
	}
}

func TestProviderFailureRefunds(t *testing.T) {
	noLeaks(t)
	env := servertest.New(t, servertest.Options{})
	u, tok, m := env.Learner("ann@example.com", intp(5))
	c := dial(t, env, tok, m.ID)
	ctx := context.Background()

	for _, tc := range []struct {
		name     string
		endpoint string
		failure  openaisim.Failure
	}{
		{"chat breaks mid-stream", openaisim.EndpointChat, openaisim.Failure{AfterTokens: 5, Times: 1}},
		{"chat answers 500 on every retry", openaisim.EndpointChat, openaisim.Failure{Status: 500, Times: 3}},
		{"speech breaks mid-stream", openaisim.EndpointSpeech, openaisim.Failure{AfterBytes: 4000, Times: 1}},
		// Two sentences are synthesized at once, each tried three times.
		{"speech answers 503", openaisim.EndpointSpeech, openaisim.Failure{Status: 503, Times: 6}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env.Sim.Fail(tc.endpoint, tc.failure)
			c.Text("hello")
			evs, err := c.Until(10*time.Second, "error")
			if err != nil {
				t.Fatal(err)
			}
			if i := indexOf(evs, "response.cancelled"); i < 0 || evs[i].Field("reason") != "error" {
				t.Fatalf("events: %s", client.Types(evs))
			}
			if code := evs[len(evs)-1].Field("code"); code != "provider_error" {
				t.Fatalf("error %s", evs[len(evs)-1].Raw)
			}
			for i := indexOf(evs, "response.cancelled") + 1; i < len(evs); i++ {
				if evs[i].Type == "audio" {
					t.Fatal("audio after response.cancelled")
				}
			}
			got, _ := env.Store.UserMembership(ctx, u.ID, m.ID)
			if *got.RemainingChatUses != 5 {
				t.Fatalf("remaining %d after a failed turn, want 5 (refunded)", *got.RemainingChatUses)
			}
		})
	}
	ledger, _ := env.Store.LedgerByMembership(ctx, m.ID)
	if len(ledger) != 8 {
		t.Fatalf("ledger has %d rows, want 4 charges and 4 refunds", len(ledger))
	}
	// A transcription failure costs nothing: the use charged alongside it is refunded.
	env.Sim.Fail(openaisim.EndpointSTT, openaisim.Failure{Status: 500, Times: 3})
	c.Stream(ctx, client.Join(client.Voice(time.Second, 16000), client.Silence(time.Second, 16000)), 16000, 20*time.Millisecond, false) //nolint:errcheck
	evs, _ := c.Until(10*time.Second, "error")
	if evs[len(evs)-1].Field("code") != "provider_error" || indexOf(evs, "response.started") >= 0 {
		t.Fatalf("STT failure: %s", client.Types(evs))
	}
	ledger, _ = env.Store.LedgerByMembership(ctx, m.ID)
	if len(ledger) != 10 || ledger[9].Kind != "refund" || ledger[9].Reason != "stt_failed" {
		t.Fatalf("ledger after a failed transcription: %+v", ledger[8:])
	}
	if got, _ := env.Store.UserMembership(ctx, u.ID, m.ID); *got.RemainingChatUses != 5 {
		t.Fatalf("remaining %d after a failed transcription", *got.RemainingChatUses)
	}

	// The session still works.
	c.Text("still there?")
	evs, _ = c.Until(10*time.Second, "response.done", "error")
	lastDone(t, evs)
}

func TestFiveTurnConversationCarriesHistory(t *testing.T) {
	noLeaks(t)
	env := servertest.New(t, servertest.Options{})
	_, tok, m := env.Learner("ann@example.com", intp(10))
	c := dial(t, env, tok, m.ID)
	var replies []string
	said := []string{"I like tea.", "I live in Lyon.", "I work as a nurse.", "My cat is called Milo.", "What should I practise?"}
	for _, s := range said {
		c.Text(s)
		evs, err := c.Until(10*time.Second, "response.done", "error")
		if err != nil {
			t.Fatal(err)
		}
		replies = append(replies, lastDone(t, evs).Text)
	}
	reqs := env.Sim.ChatRequests()
	if len(reqs) != 5 {
		t.Fatalf("%d chat requests", len(reqs))
	}
	last := reqs[4].Messages
	if len(last) != 10 || last[0].Role != "system" {
		t.Fatalf("fifth request has %d messages: %+v", len(last), last)
	}
	for i := 0; i < 4; i++ {
		if last[1+2*i].Role != "user" || last[1+2*i].Content != said[i] || last[2+2*i].Role != "assistant" || last[2+2*i].Content != replies[i] {
			t.Fatalf("turn %d in history: %+v / %+v", i, last[1+2*i], last[2+2*i])
		}
	}
	if last[9].Content != said[4] {
		t.Fatalf("last message %+v", last[9])
	}
}

func TestFiftyConcurrentSessions(t *testing.T) {
	noLeaks(t)
	env := servertest.New(t, servertest.Options{})
	const n = 50
	type learner struct {
		tok string
		m   store.Membership
		u   store.User
	}
	ls := make([]learner, n)
	for i := range ls {
		ls[i].u, ls[i].tok, ls[i].m = env.Learner("l"+string(rune('a'+i%26))+string(rune('a'+i/26))+"@example.com", intp(3))
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range ls {
		wg.Add(1)
		go func(l learner) {
			defer wg.Done()
			c, err := client.Dial(context.Background(), env.WSURL(l.m.ID), client.Options{Token: l.tok})
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			if _, err := c.Until(10*time.Second, "session.created"); err != nil {
				errs <- err
				return
			}
			c.Stream(context.Background(), client.Join(client.Voice(600*time.Millisecond, 16000), client.Silence(900*time.Millisecond, 16000)), 16000, 20*time.Millisecond, true) //nolint:errcheck
			evs, err := c.Until(30*time.Second, "response.done", "error")
			if err != nil {
				errs <- err
				return
			}
			if last := evs[len(evs)-1]; last.Type != "response.done" || countType(evs, "audio") == 0 {
				errs <- errors.New("turn ended with " + string(last.Raw))
			}
		}(ls[i])
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for _, l := range ls {
		got, _ := env.Store.UserMembership(context.Background(), l.u.ID, l.m.ID)
		if *got.RemainingChatUses != 2 {
			t.Fatalf("a learner has %d uses left, want 2", *got.RemainingChatUses)
		}
	}
}

func TestFirstAudioLeavesBeforeTheChatStreamEnds(t *testing.T) {
	noLeaks(t)
	// A slow writer: 60 tokens at 40 ms take 2.4 s; speech starts after the first sentence.
	p := openaisim.Profile{Name: "slow-chat", STT: 10 * time.Millisecond, ChatFirstToken: 50 * time.Millisecond,
		ChatPerToken: 40 * time.Millisecond, TTSFirstByte: 20 * time.Millisecond, TTSSpeed: 50}
	env := servertest.New(t, servertest.Options{Profile: &p})
	_, tok, m := env.Learner("ann@example.com", intp(5))
	c := dial(t, env, tok, m.ID)
	c.Text("Hello!")
	evs, err := c.Until(15*time.Second, "response.done")
	if err != nil {
		t.Fatal(err)
	}
	firstAudio, lastDelta := -1, -1
	for i, e := range evs {
		if e.Type == "audio" && firstAudio < 0 {
			firstAudio = i
		}
		if e.Type == "response.text.delta" {
			lastDelta = i
		}
	}
	if firstAudio < 0 || firstAudio > lastDelta {
		t.Fatalf("first audio at %d, last text delta at %d: %s", firstAudio, lastDelta, client.Types(evs))
	}
	gap := evs[lastDelta].Received.Sub(evs[firstAudio].Received)
	if gap < time.Second {
		t.Fatalf("first audio only %v before the end of the chat stream", gap)
	}
	d := lastDone(t, evs)
	if *d.Metrics.FirstAudioMs > 1500 {
		t.Fatalf("firstAudioMs = %.0f with a 2.4 s reply", *d.Metrics.FirstAudioMs)
	}
}

func TestUpgradeRefusals(t *testing.T) {
	noLeaks(t)
	env := servertest.New(t, servertest.Options{Env: map[string]string{"ALLOWED_ORIGINS": "https://tutor.example.com"}})
	ann, tok, m := env.Learner("ann@example.com", intp(3))
	_, bobTok, _ := env.Learner("bob@example.com", intp(3))
	ctx := context.Background()
	expiredPlan := env.Plan("short", intp(3), store.B2C)
	revoked := env.Membership(ann, expiredPlan)
	_, admin := env.User("root@example.com", "admin")
	env.Do("POST", "/api/admin/users/"+ann.ID+"/memberships/"+revoked.ID+"/delete", admin, nil)

	for _, tc := range []struct {
		name   string
		url    string
		opts   client.Options
		status int
		code   string
	}{
		{"no token", env.WSURL(m.ID), client.Options{}, 401, "unauthorized"},
		{"bad token", env.WSURL(m.ID), client.Options{Token: "nope"}, 401, "invalid_token"},
		{"someone else's membership", env.WSURL(m.ID), client.Options{Token: bobTok}, 403, "forbidden"},
		{"unknown membership", env.WSURL("00000000-0000-0000-0000-000000000000"), client.Options{Token: tok}, 404, "not_found"},
		{"bad membership id", env.WSURL("42"), client.Options{Token: tok}, 400, "bad_request"},
		{"no membership id", strings.Split(env.WSURL(""), "?")[0], client.Options{Token: tok}, 400, "bad_request"},
		{"revoked membership", env.WSURL(revoked.ID), client.Options{Token: tok}, 402, "membership_revoked"},
		{"foreign origin", env.WSURL(m.ID), client.Options{Token: tok, Origin: "https://evil.example.com"}, 403, "origin_not_allowed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := client.Dial(ctx, tc.url, tc.opts)
			var he *client.HTTPError
			if !errors.As(err, &he) || he.Status != tc.status || !strings.Contains(he.Body, `"`+tc.code+`"`) {
				t.Fatalf("got %v, want HTTP %d %s", err, tc.status, tc.code)
			}
		})
	}
	// A browser: the token in the subprotocol, an allowed origin; the server picks aitutor.v1.
	c, err := client.Dial(ctx, env.WSURL(m.ID), client.Options{Token: tok, Browser: true, Origin: "https://tutor.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if p := c.Conn().Subprotocol(); p != "aitutor.v1" {
		t.Fatalf("subprotocol %q", p)
	}
	c.Close()
	// Plain HTTP to the route.
	r := env.Do("GET", "/api/tutor/ws?membershipId="+m.ID, tok, nil)
	if r.Status != 400 {
		t.Fatalf("plain GET: %d %s", r.Status, r.Body)
	}
}

func TestBadInputKeepsTheSession(t *testing.T) {
	noLeaks(t)
	env := servertest.New(t, servertest.Options{})
	_, tok, m := env.Learner("ann@example.com", intp(3))
	c := dial(t, env, tok, m.ID)
	for _, tc := range []struct {
		name string
		send func() error
		code string
	}{
		{"odd-length PCM", func() error { return c.SendAudio([]byte{1, 2, 3}) }, "invalid_audio"},
		{"malformed JSON", func() error { return c.SendRaw([]byte(`{"type": "text.input", `)) }, "invalid_json"},
		{"not an object", func() error { return c.SendRaw([]byte(`[1,2]`)) }, "invalid_json"},
		{"no type", func() error { return c.SendRaw([]byte(`{}`)) }, "invalid_request"},
		{"unknown type", func() error { return c.Send(map[string]string{"type": "session.destroy"}) }, "unknown_type"},
		{"empty text", func() error { return c.Text("   ") }, "invalid_request"},
		{"long text", func() error { return c.Text(strings.Repeat("a", 2001)) }, "invalid_request"},
		{"bad sample rate", func() error { return c.Send(map[string]any{"type": "session.update", "inputSampleRate": 100}) }, "invalid_request"},
		{"bad level", func() error { return c.Send(map[string]any{"type": "session.update", "level": "expert"}) }, "invalid_request"},
		{"bad turn detection", func() error { return c.Send(map[string]any{"type": "session.update", "turnDetection": "auto"}) }, "invalid_request"},
		{"bad silence", func() error { return c.Send(map[string]any{"type": "session.update", "silenceMs": 5}) }, "invalid_request"},
		{"truncate unknown turn", func() error { return c.Truncate("turn_nope", 100) }, "unknown_turn"},
		{"truncate without ms", func() error { return c.Send(map[string]any{"type": "response.truncate", "turnId": "x"}) }, "invalid_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.send(); err != nil {
				t.Fatal(err)
			}
			evs, err := c.Until(5*time.Second, "error")
			if err != nil {
				t.Fatal(err)
			}
			var e struct {
				Code  string `json:"code"`
				Fatal bool   `json:"fatal"`
			}
			evs[len(evs)-1].Decode(&e) //nolint:errcheck
			if e.Code != tc.code || e.Fatal {
				t.Fatalf("got %s, want non-fatal %s", evs[len(evs)-1].Raw, tc.code)
			}
		})
	}
	// A rejected update changed nothing; the session still works.
	c.Text("still here")
	evs, _ := c.Until(10*time.Second, "response.done", "error")
	lastDone(t, evs)
	// A frame over 64 KiB closes with 1009.
	c.SendAudio(make([]byte, 64<<10+2)) //nolint:errcheck
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("oversized frame did not close the session")
	}
	if c.CloseCode != websocket.CloseMessageTooBig {
		t.Fatalf("close code %d, want 1009", c.CloseCode)
	}
}

func TestSampleRateConversion(t *testing.T) {
	noLeaks(t)
	env := servertest.New(t, servertest.Options{})
	_, tok, m := env.Learner("ann@example.com", intp(3))
	c := dial(t, env, tok, m.ID)
	c.Send(map[string]any{"type": "session.update", "inputSampleRate": 48000})
	if _, err := c.Until(5*time.Second, "session.updated"); err != nil {
		t.Fatal(err)
	}
	c.Stream(context.Background(), client.Join(client.Voice(time.Second, 48000), client.Silence(time.Second, 48000)), 48000, 20*time.Millisecond, false) //nolint:errcheck
	evs, err := c.Until(10*time.Second, "response.done", "error")
	if err != nil {
		t.Fatal(err)
	}
	lastDone(t, evs)
	if indexOf(evs, "speech.started") < 0 {
		t.Fatalf("48 kHz speech not detected: %s", client.Types(evs))
	}
}

func TestClosingMidTurnEndsEverything(t *testing.T) {
	noLeaks(t)
	p := slowReplies
	env := servertest.New(t, servertest.Options{Profile: &p})
	_, tok, m := env.Learner("ann@example.com", intp(3))
	c := dial(t, env, tok, m.ID)
	c.Text("Tell me a long story.")
	if _, err := c.Until(10*time.Second, "audio"); err != nil {
		t.Fatal(err)
	}
	c.Abort() // the network drops, no close frame
	deadline := time.Now().Add(5 * time.Second)
	for env.Sim.Active() > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if env.Sim.Active() != 0 {
		t.Fatalf("%d provider streams still running after the socket closed", env.Sim.Active())
	}
	// The turn was stored as cancelled.
	deadline = time.Now().Add(5 * time.Second)
	for {
		r := env.Do("GET", "/metrics", "", nil)
		if strings.Contains(string(r.Body), "aitutor_sessions_active 0") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the session did not end")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestIdleSessionsAreClosed(t *testing.T) {
	noLeaks(t)
	env := servertest.New(t, servertest.Options{Env: map[string]string{"SESSION_IDLE_TIMEOUT": "1s"}})
	_, tok, m := env.Learner("ann@example.com", intp(3))
	c := dial(t, env, tok, m.ID)
	// Silence is not activity.
	go c.Stream(context.Background(), client.Silence(3*time.Second, 16000), 16000, 20*time.Millisecond, true) //nolint:errcheck
	evs, _ := c.Until(5*time.Second, "error")
	var e struct {
		Code  string `json:"code"`
		Fatal bool   `json:"fatal"`
	}
	if len(evs) > 0 {
		evs[len(evs)-1].Decode(&e) //nolint:errcheck
	}
	if e.Code != "idle_timeout" || !e.Fatal {
		t.Fatalf("before closing: %s", client.Types(evs))
	}
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("idle session still open")
	}
	if c.CloseCode != 4000 {
		t.Fatalf("close code %d (%s), want 4000", c.CloseCode, c.CloseText)
	}
}

func TestShutdownLetsTheTurnFinish(t *testing.T) {
	noLeaks(t)
	p := openaisim.Profile{Name: "medium", STT: 10 * time.Millisecond, ChatFirstToken: 20 * time.Millisecond,
		ChatPerToken: 5 * time.Millisecond, TTSFirstByte: 20 * time.Millisecond, TTSSpeed: 10}
	env := servertest.New(t, servertest.Options{Profile: &p})
	_, tok, m := env.Learner("ann@example.com", intp(3))
	c := dial(t, env, tok, m.ID)
	idle := dial(t, env, tok, m.ID)
	c.Text("Tell me something.")
	if _, err := c.Until(10*time.Second, "audio"); err != nil {
		t.Fatal(err)
	}
	stopped := make(chan struct{})
	go func() {
		env.Server.Close()
		close(stopped)
	}()
	// The idle session is told and closed at once.
	evs, _ := idle.Until(5*time.Second, "error")
	if len(evs) == 0 || evs[len(evs)-1].Field("code") != "shutting_down" {
		t.Fatalf("idle session: %s", client.Types(evs))
	}
	<-idle.Done()
	if idle.CloseCode != websocket.CloseGoingAway {
		t.Fatalf("idle session closed with %d", idle.CloseCode)
	}
	// No new sessions.
	if _, err := client.Dial(context.Background(), env.WSURL(m.ID), client.Options{Token: tok}); err == nil {
		t.Fatal("a session opened during shutdown")
	}
	// The live turn finishes, then its session closes with 1001.
	evs, err := c.Until(10*time.Second, "response.done", "response.cancelled")
	if err != nil || evs[len(evs)-1].Type != "response.done" {
		t.Fatalf("live turn during shutdown: %v %s", err, client.Types(evs))
	}
	evs, _ = c.Until(5*time.Second, "error")
	if len(evs) == 0 || evs[len(evs)-1].Field("code") != "shutting_down" {
		t.Fatalf("after the turn: %s", client.Types(evs))
	}
	<-c.Done()
	if c.CloseCode != websocket.CloseGoingAway {
		t.Fatalf("close code %d", c.CloseCode)
	}
	<-stopped
}

func TestSlowClientIsClosedNotBuffered(t *testing.T) {
	noLeaks(t)
	p := openaisim.Profiles["instant"]
	env := servertest.New(t, servertest.Options{Profile: &p})
	env.Sim.SetReply(func(openaisim.ChatRequest) string {
		// The first sentence is short: once it is heard the audio is no longer paced, and the
		// rest (minutes of it) would have to wait in the send queue.
		long := strings.Repeat("This sentence goes on and on to make a very long answer ", 60)
		return "Sure. " + long + ". " + long + ". " + long + "."
	})
	_, tok, m := env.Learner("ann@example.com", intp(3))
	h := http.Header{"Authorization": {"Bearer " + tok}}
	d := websocket.Dialer{ReadBufferSize: 1024}
	conn, _, err := d.Dial(env.WSURL(m.ID), h)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	msg, _ := json.Marshal(map[string]string{"type": "text.input", "text": "talk a lot"})
	conn.WriteMessage(websocket.TextMessage, msg) //nolint:errcheck
	// The client never reads. The server must give up on it rather than queue without bound.
	deadline := time.Now().Add(30 * time.Second)
	for {
		r := env.Do("GET", "/metrics", "", nil)
		if strings.Contains(string(r.Body), `aitutor_sessions_closed_total{code="4002"} 1`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("slow client not closed with 4002:\n%s", grepLines(string(r.Body), "aitutor_sessions"))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func grepLines(s, substr string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// reqsConversation finds the conversation of the membership's WebSocket session.
func reqsConversation(t *testing.T, env *servertest.Env, membershipID string) string {
	t.Helper()
	var id string
	if err := env.Store.DB().Get(&id, `SELECT id FROM conversations WHERE membership_id = $1 ORDER BY created_at DESC LIMIT 1`, membershipID); err != nil {
		t.Fatal(err)
	}
	return id
}
