package server_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aitutor/aitutor/server/servertest"
	"github.com/aitutor/aitutor/session/client"
	"github.com/aitutor/aitutor/session/openaisim"
	"github.com/aitutor/aitutor/store"
)

// TestRandomizedLedger drives many learners at once through a few hundred spoken and typed
// turns with random barge-ins (with words, and false ones that hold none), cancels, lost
// connections, reconnections that resume the conversation, and provider failures, against the
// real server, PostgreSQL and the simulator. Then, for every membership:
//
//	initial − remaining = charges − refunds = charges settled as answered
//
// every charge is settled, no chat request went out without a charge, every outcome the
// clients saw agrees with the billing rule where the rule is clear-cut, and no goroutine is
// left. LEDGER_SEED picks the run (the seed is logged); LEDGER_LEARNERS and LEDGER_ACTIONS scale
// it.
func TestRandomizedLedger(t *testing.T) {
	noLeaks(t)
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("LEDGER_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	learners, actions := envInt("LEDGER_LEARNERS", 8), envInt("LEDGER_ACTIONS", 30)
	t.Logf("LEDGER_SEED=%d LEDGER_LEARNERS=%d LEDGER_ACTIONS=%d", seed, learners, actions)

	p := openaisim.Profiles["fast"]
	env := servertest.New(t, servertest.Options{Profile: &p})
	// Replies of one to three sentences whose first sentence is short or long.
	env.Sim.SetReply(func(req openaisim.ChatRequest) string {
		n := len(req.Messages)
		first := []string{"Good.", "That is a really interesting thing to tell me."}[n%2]
		return first + " Tell me more about it, please. What happened next?"
	})
	// The learner's words are a long utterance; a short one is a cough: no words.
	env.Sim.SetTranscript(func(_ string, data []byte) string {
		if len(data) < 36000 { // < about 1.1 s of 16 kHz speech
			return ""
		}
		return "I would like to tell you about my weekend."
	})

	type member struct {
		id       string
		initial  *int
		observed outcomes
	}
	members := make([]*member, learners)
	var wg sync.WaitGroup
	var faultMu sync.Mutex
	retried := 0 // chat calls that a provider fault added: the client retries a failed request
	for i := range learners {
		uses := intp(actions + 10)
		if i%4 == 3 {
			uses = nil // unlimited
		}
		_, tok, m := env.Learner(fmt.Sprintf("learner%d@example.com", i), uses)
		members[i] = &member{id: m.ID, initial: uses}
		rng := rand.New(rand.NewPCG(seed, uint64(i)))
		wg.Add(1)
		go func(mb *member) {
			defer wg.Done()
			l := &randomLearner{t: t, env: env, tok: tok, membership: m.ID, rng: rng, faultMu: &faultMu, retried: &retried}
			l.run(actions)
			mb.observed = l.seen
		}(members[i])
	}
	wg.Wait()

	// Let every turn end and every settlement land.
	deadline := time.Now().Add(20 * time.Second)
	for env.Server.Live() > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	env.Server.Close()

	ctx := context.Background()
	totalCharges := 0
	for _, mb := range members {
		ledger, err := env.Store.LedgerByMembership(ctx, mb.id)
		if err != nil {
			t.Fatal(err)
		}
		charges, refunds, answered := 0, 0, 0
		for _, e := range ledger {
			if e.Kind == "refund" {
				refunds++
				continue
			}
			charges++
			switch {
			case e.Outcome == nil:
				t.Errorf("membership %s: charge %d (%s) was never settled", mb.id, e.ID, e.Reason)
			case *e.Outcome == store.OutcomeAnswered:
				answered++
			}
		}
		totalCharges += charges
		if mb.initial != nil {
			var remaining int
			if err := env.Store.DB().Get(&remaining, `SELECT remaining_chat_uses FROM memberships WHERE id = $1`, mb.id); err != nil {
				t.Fatal(err)
			}
			if *mb.initial-remaining != charges-refunds {
				t.Errorf("membership %s: initial − remaining = %d, charges − refunds = %d", mb.id, *mb.initial-remaining, charges-refunds)
			}
		}
		if charges-refunds != answered {
			t.Errorf("membership %s: charges − refunds = %d, answered = %d", mb.id, charges-refunds, answered)
		}
		o := mb.observed
		if answered < o.answered || answered > o.answered+o.unknown {
			t.Errorf("membership %s: %d answered in the ledger; the client saw %d answered and %d turns whose end it did not see", mb.id, answered, o.answered, o.unknown)
		}
		t.Logf("membership %s: %d charges, %d refunds; client saw %d answered, %d refunded, %d unknown, %d false interruptions", mb.id, charges, refunds, o.answered, o.refunded, o.unknown, o.resumed)
	}
	if calls := env.Sim.Calls(openaisim.EndpointChat); int(calls) > totalCharges+retried {
		t.Errorf("%d chat requests (%d of them retries of failed ones) for %d charges: the chat model was asked without a charge", calls, retried, totalCharges)
	}
	if totalCharges < learners*actions/2 {
		t.Errorf("only %d charges in %d actions: the run did not exercise the pipeline", totalCharges, learners*actions)
	}
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// outcomes are what a learner's client saw of its turns.
type outcomes struct {
	answered, refunded, unknown, resumed int
}

// randomLearner is one learner of TestRandomizedLedger.
type randomLearner struct {
	t            *testing.T
	env          *servertest.Env
	tok          string
	membership   string
	conversation string
	rng          *rand.Rand
	c            *client.Client
	seen         outcomes
	faultMu      *sync.Mutex
	retried      *int
}

func (l *randomLearner) run(actions int) {
	defer func() {
		if l.c != nil {
			l.c.Close()
		}
	}()
	for range actions {
		if l.c == nil && !l.connect() {
			return
		}
		switch x := l.rng.IntN(100); {
		case x < 30:
			l.typedTurn()
		case x < 45:
			l.spokenTurn()
		case x < 62:
			l.cancelTurn()
		case x < 82:
			l.bargeIn(l.rng.IntN(3) > 0)
		case x < 92:
			l.disconnect()
		default:
			l.providerFault()
		}
	}
}

// connect opens a session, continuing the learner's conversation once there is one.
func (l *randomLearner) connect() bool {
	url := l.env.WSURL(l.membership)
	if l.conversation != "" {
		url += "&conversationId=" + l.conversation
	}
	c, err := client.Dial(context.Background(), url, client.Options{Token: l.tok})
	if err != nil {
		l.t.Errorf("dial: %v", err)
		return false
	}
	ev, err := c.Next(5 * time.Second)
	if err != nil || ev.Type != "session.created" {
		l.t.Errorf("session.created: %v %s", err, ev.Raw)
		c.Close()
		return false
	}
	var sc struct {
		ConversationID string `json:"conversationId"`
		Resumed        bool   `json:"resumed"`
	}
	ev.Decode(&sc) //nolint:errcheck
	if l.conversation != "" && (sc.ConversationID != l.conversation || !sc.Resumed) {
		l.t.Errorf("reconnect did not resume %s: %s", l.conversation, ev.Raw)
	}
	l.conversation = sc.ConversationID
	c.Send(map[string]any{"type": "session.update", "silenceMs": 300, "minSpeechMs": 150, "bargeInMs": 150}) //nolint:errcheck
	if _, err := c.Until(5*time.Second, "session.updated"); err != nil {
		l.t.Errorf("session.update: %v", err)
	}
	l.c = c
	return true
}

// finish waits for the end of the turn and counts what the client saw.
func (l *randomLearner) finish(evs []client.Event) {
	for {
		last := evs[len(evs)-1]
		switch last.Type {
		case "response.done":
			l.seen.answered++
			return
		case "response.cancelled":
			if refunded(last) {
				l.seen.refunded++
			} else {
				l.seen.answered++
			}
			if last.Field("reason") == "error" {
				l.drain() // the error event follows
			}
			return
		case "error":
			return // refused or nothing heard: no turn
		case "response.resumed":
			l.seen.resumed++
		}
		var err error
		evs, err = l.c.Until(20*time.Second, "response.done", "response.cancelled", "response.resumed", "error")
		if err != nil {
			l.t.Errorf("turn end: %v", err)
			l.seen.unknown++
			l.c.Close()
			l.c = nil
			return
		}
	}
}

// drain reads what is left of a turn (an error event after response.cancelled).
func (l *randomLearner) drain() {
	l.c.Until(300*time.Millisecond, "error") //nolint:errcheck
}

func refunded(ev client.Event) bool {
	var v struct {
		Refunded bool `json:"refunded"`
	}
	ev.Decode(&v) //nolint:errcheck
	return v.Refunded
}

func (l *randomLearner) typedTurn() {
	l.c.Text("Let me tell you something.")
	evs, err := l.c.Until(20*time.Second, "response.done", "response.cancelled", "error")
	if err != nil {
		l.t.Errorf("typed turn: %v", err)
		return
	}
	l.finish(evs)
}

func (l *randomLearner) spokenTurn() {
	speech := client.Join(client.Voice(1500*time.Millisecond, 16000), client.Silence(600*time.Millisecond, 16000))
	l.c.Stream(context.Background(), speech, 16000, 20*time.Millisecond, false) //nolint:errcheck
	evs, err := l.c.Until(20*time.Second, "response.done", "response.cancelled", "error")
	if err != nil {
		l.t.Errorf("spoken turn: %v", err)
		return
	}
	l.finish(evs)
}

// heardModel is the client's own model of its player: frames play back to back in real time
// from the first one's arrival.
type heardModel struct {
	firstAudio  time.Time
	bytes       int
	firstEnd    int // bytes of the first sentence, once the second one's text arrived (-1 before)
	sentences   int
	doneOrEnded bool
}

func (h *heardModel) add(ev client.Event) {
	switch ev.Type {
	case "audio":
		if h.firstAudio.IsZero() {
			h.firstAudio = ev.Received
		}
		h.bytes += len(ev.Audio)
	case "response.text.delta":
		h.sentences++
		if h.sentences == 2 {
			h.firstEnd = h.bytes
		}
	case "response.done", "response.cancelled":
		if h.firstEnd < 0 {
			h.firstEnd = h.bytes
		}
		h.doneOrEnded = true
	}
}

// verdict says what the billing rule gives for a stop at time at: "paid", "refunded", or ""
// when it is too close to the end of the first sentence to tell from the client.
func (h *heardModel) verdict(at time.Time) string {
	if h.firstAudio.IsZero() || at.Before(h.firstAudio) {
		return "refunded"
	}
	heardMs := min(float64(at.Sub(h.firstAudio).Milliseconds()), float64(h.bytes)/48)
	if h.firstEnd < 0 {
		if heardMs < float64(h.bytes)/48-300 {
			return "refunded" // the first sentence is not even complete
		}
		return ""
	}
	firstMs := float64(h.firstEnd) / 48
	switch {
	case heardMs < firstMs-250:
		return "refunded"
	case heardMs > firstMs+250:
		return "paid"
	}
	return ""
}

// cancelTurn sends a typed turn and stops it at a random moment.
func (l *randomLearner) cancelTurn() {
	l.c.Text("Tell me a long story.")
	h := &heardModel{firstEnd: -1}
	wait := time.Duration(l.rng.IntN(2500)) * time.Millisecond
	evs, ended := l.readFor(wait, h)
	if ended {
		l.finish(evs)
		return
	}
	at := time.Now()
	expect := h.verdict(at)
	l.c.Cancel()
	evs, ended = l.afterCancel(indexOf(evs, "response.started") >= 0)
	if !ended {
		return
	}
	last := evs[len(evs)-1]
	if last.Type == "response.cancelled" && last.Field("reason") == "client_cancel" {
		if got := map[bool]string{true: "refunded", false: "paid"}[refunded(last)]; expect != "" && got != expect {
			l.t.Errorf("stopped %v after the first audio (first sentence %.0f ms): %s, the rule says %s", at.Sub(h.firstAudio), float64(h.firstEnd)/48, got, expect)
		}
	}
	l.finish(evs)
}

// afterCancel reads a cancelled turn to its end. A turn cancelled before response.started ends
// without a response.* event (docs/protocol.md): when none follows within a few seconds of the
// cancel, there was no turn. ended is false then, and when a started turn never ended (an error).
func (l *randomLearner) afterCancel(started bool) (evs []client.Event, ended bool) {
	for {
		wait := 3 * time.Second
		if started {
			wait = 20 * time.Second
		}
		ev, err := l.c.Next(wait)
		if err != nil {
			if started {
				l.t.Errorf("cancel: no end of the turn: %v (got %s)", err, client.Types(evs))
			}
			return evs, false
		}
		evs = append(evs, ev)
		switch ev.Type {
		case "response.started":
			started = true
		case "response.done", "response.cancelled", "error":
			return evs, true
		}
	}
}

// readFor reads the turn's events for d; ended reports a turn that ended meanwhile.
func (l *randomLearner) readFor(d time.Duration, h *heardModel) ([]client.Event, bool) {
	var evs []client.Event
	deadline := time.Now().Add(d)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return evs, false
		}
		ev, err := l.c.Next(left)
		if err != nil {
			return evs, false
		}
		evs = append(evs, ev)
		h.add(ev)
		switch ev.Type {
		case "response.done", "response.cancelled", "error":
			return evs, true
		}
	}
}

// bargeIn talks over a reply in real time: with words (a real interruption) or a cough.
func (l *randomLearner) bargeIn(words bool) {
	l.c.Text("What do you think about it?")
	h := &heardModel{firstEnd: -1}
	wait := time.Duration(200+l.rng.IntN(2000)) * time.Millisecond
	evs, ended := l.readFor(wait, h)
	if ended {
		l.finish(evs)
		return
	}
	voice := 300 * time.Millisecond // a cough: the simulator hears no words
	if words {
		voice = 1200 * time.Millisecond
	}
	speech := client.Join(client.Voice(voice, 16000), client.Silence(700*time.Millisecond, 16000))
	start := time.Now()
	streamed := make(chan struct{})
	go func() {
		defer close(streamed)
		l.c.Stream(context.Background(), speech, 16000, 20*time.Millisecond, true) //nolint:errcheck
	}()
	expect := h.verdict(start)
	for {
		ev, err := l.c.Next(20 * time.Second)
		if err != nil {
			l.t.Errorf("barge-in: %v", err)
			<-streamed
			return
		}
		h.add(ev)
		switch ev.Type {
		case "response.cancelled":
			if ev.Field("reason") == "barge_in" {
				if got := map[bool]string{true: "refunded", false: "paid"}[refunded(ev)]; expect != "" && got != expect {
					l.t.Errorf("interrupted %v after the first audio (first sentence %.0f ms): %s, the rule says %s", start.Sub(h.firstAudio), float64(h.firstEnd)/48, got, expect)
				}
			}
			<-streamed
			l.finish([]client.Event{ev})
			if words && ev.Field("reason") == "barge_in" {
				// The interruption is the next turn.
				evs, err := l.c.Until(20*time.Second, "response.done", "response.cancelled", "error")
				if err == nil {
					l.finish(evs)
				}
			}
			return
		case "response.resumed":
			l.seen.resumed++
			<-streamed
			evs, err := l.c.Until(20*time.Second, "response.done", "response.cancelled", "error")
			if err != nil {
				l.t.Errorf("after response.resumed: %v", err)
				return
			}
			l.finish(evs)
			return
		case "response.done":
			// It ended before the learner spoke: what they said is a turn of its own.
			l.seen.answered++
			<-streamed
			if words {
				evs, err := l.c.Until(20*time.Second, "response.done", "response.cancelled", "error")
				if err == nil {
					l.finish(evs)
				}
			} else {
				l.c.Until(2*time.Second, "error") //nolint:errcheck // no_speech
			}
			return
		case "error":
			<-streamed
			return
		}
	}
}

// disconnect drops the connection in the middle of a turn; the next action reconnects and
// resumes the conversation.
func (l *randomLearner) disconnect() {
	l.c.Text("Are you still there?")
	h := &heardModel{firstEnd: -1}
	evs, ended := l.readFor(time.Duration(l.rng.IntN(2000))*time.Millisecond, h)
	if ended {
		l.finish(evs)
	} else {
		l.seen.unknown++
	}
	l.c.Abort()
	<-l.c.Done()
	l.c = nil
}

// providerFault makes the next provider call of a random stage fail, then runs a turn.
func (l *randomLearner) providerFault() {
	l.faultMu.Lock()
	switch l.rng.IntN(3) {
	case 0:
		l.env.Sim.Fail(openaisim.EndpointChat, openaisim.Failure{AfterTokens: 3, Times: 1})
	case 1:
		l.env.Sim.Fail(openaisim.EndpointSpeech, openaisim.Failure{AfterBytes: 2000, Times: 1})
	default:
		l.env.Sim.Fail(openaisim.EndpointChat, openaisim.Failure{Status: 500, Times: 3})
		*l.retried += 3
	}
	l.faultMu.Unlock()
	l.typedTurn()
}
