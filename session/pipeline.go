package session

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aitutor/aitutor/store"
)

// The turn pipeline, run by both routes: a live session (protocol v1: streamSink, stream.go)
// and an upload-and-wait REST turn (collectSink, exchange.go). A turn:
//
//	hear     typed text, or speech → text; audio without detected speech never reaches the
//	         transcriber
//	charge   one chat use (billing.go), before any chat call; before the transcription too,
//	         unless the membership is known to be able to pay (then beside it); refused: an
//	         error and the end
//	answer   the chat model streams the reply; each sentence is synthesized as soon as it is
//	         complete, the next while the current one plays (reply.go)
//	deliver  the sink gives the learner the reply and says whether they got it (the billing rule)
//	settle   the charge stands, or is refunded; the turn and its settlement are recorded together
//
// The sink decides what the learner sees; everything else happens here, once.

// sink is where a turn's results go.
type sink interface {
	// heard reports the learner's words (empty: none were recognised); false ends the turn.
	heard(t *turn) bool
	// refused ends a turn before it answers: a refused charge, a failed transcription, no words.
	refused(t *turn, err error)
	// canPay reports whether the membership is known to be able to pay for t (the session's last
	// count): its charge may then run beside the transcription.
	canPay(t *turn) bool
	// answering: the use is charged and the chat model is asked.
	answering(t *turn)
	// deliver gives the learner the reply while it is produced and returns when it was
	// delivered in full, the turn stopped or the reply failed. got is the billing rule's verdict.
	deliver(t *turn) (got bool)
	// finished reports the end of a turn that answered, after its settlement.
	finished(t *turn)
}

// turnInput is what the learner said or typed.
type turnInput struct {
	speech      []int16            // 16 kHz speech of a spoken turn
	upload      *Audio             // an uploaded recording (REST), as sent
	uploadMime  string             // its media type
	text        string             // a typed turn
	channel     string             // ChannelVoice, ChannelText or ChannelUpload
	speechStats *store.SpeechStats // the timing of the learner's speech (fluency.go)
	endOfSpeech time.Time          // when the learner stopped speaking (or the text arrived)
	decided     time.Time          // when the end of the turn was decided
	// spec is the speculation on the learner's last pause (speculate.go): its words, and maybe
	// its answer already being prepared.
	spec *speculation
}

// stopped is the cancel cause of a turn stopped on purpose.
type stopped struct {
	reason string // ReasonBargeIn, ReasonClientCancel, ReasonDisconnect, ReasonShutdown
}

func (e stopped) Error() string { return "turn stopped: " + e.reason }

// turn is one exchange: the learner's words in, the tutor's answer out, paid by one chat use.
type turn struct {
	id             string
	userID         string
	membershipID   string
	conversationID string
	in             turnInput
	settings       sessionSettings
	history        []historyEntry
	profile        string // what the tutor remembers of the learner (profile.go)
	prefetch       int    // sentences synthesized at once
	syncClips      bool   // store the audio before the turn ends (REST answers carry its URLs)
	logger         *slog.Logger

	ctx    context.Context
	cancel context.CancelCauseFunc
	done   chan struct{}

	// Set by the pipeline (the turn's goroutine).
	userText  string
	charge    *store.Charge
	remaining *int
	refunded  bool
	reply     *reply
	status    string // store.Turn*
	keptText  string // the reply as far as the learner heard it
	heardEnd  int64  // bytes of the reply's audio the learner heard
	failure   error  // the provider failure that ended the reply
	metrics   Metrics
	userAudio string // ids of the stored clips ("" when none)
	tutorClip string

	// interrupting is the reply this turn's speech paused (stream.go): its words decide whether
	// that reply stops or goes on, so this turn is transcribed before it is charged.
	interrupting *turn
	firstAudio   atomic.Int64 // unix ns when the writer wrote the first audio frame

	mu        sync.Mutex // guards what follows: the reader and the writer touch it too
	stopWhy   string
	stopAt    time.Time
	paused    bool
	pausedAt  time.Time
	pausedPos int64         // the reply offset the learner heard when the pause began
	resumed   chan struct{} // closed when a pause ends
	wake      chan struct{} // closed and replaced on a pause, a resume or a stop
	play      playback
	answered  bool // the learner heard the first sentence in full (settled in memory)
}

func newTurn(parent context.Context, prefix string) *turn {
	ctx, cancel := context.WithCancelCause(parent)
	return &turn{
		id: prefix + randomID()[:12], ctx: ctx, cancel: cancel, done: make(chan struct{}),
		play: newPlayback(), wake: make(chan struct{}),
	}
}

func (t *turn) channel() string {
	if t.in.channel == ChannelUpload {
		return "rest"
	}
	return "ws"
}

// stop ends the turn on purpose at time at: nothing more of it is sent.
func (t *turn) stop(reason string, at time.Time) {
	t.mu.Lock()
	if t.stopWhy == "" {
		t.stopWhy, t.stopAt = reason, at
		if t.paused {
			t.stopAt = t.pausedAt // nothing was heard after the pause began
		}
		t.play.stop(t.stopAt)
		t.signal()
	}
	t.mu.Unlock()
	t.cancel(stopped{reason})
}

func (t *turn) finished() bool {
	select {
	case <-t.done:
		return true
	default:
		return false
	}
}

// stopReason is why the turn was stopped ("" when it was not).
func (t *turn) stopReason() (string, time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.stopWhy, t.stopAt
}

func isStopped(ctx context.Context) bool {
	var st stopped
	return errors.As(context.Cause(ctx), &st)
}

// runTurn runs the pipeline of t and reports to sk.
func (e *Tutor) runTurn(t *turn, sk sink) {
	defer t.cancel(nil)
	if !e.hear(t, sk) {
		return
	}
	sk.answering(t)
	req := buildChat(t.history, t.settings, t.profile, t.userText)
	var produced <-chan struct{}
	if t.in.spec != nil {
		// The answer prepared on the learner's pause, when it was asked the same.
		t.reply, produced = t.in.spec.takeReply(t.ctx, req)
	}
	if t.reply == nil {
		t.reply = newReply()
		done := make(chan struct{})
		produced = done
		go func() {
			defer close(done)
			e.produce(t.ctx, req, t.settings.Voice, t.prefetch, t.reply, nil)
		}()
	}
	got := sk.deliver(t)
	// A reply that ended early (stopped, failed) stops the producer; one delivered in full has
	// nothing left to produce.
	t.cancel(errDelivered)
	<-produced
	e.settle(t, got)
	sk.finished(t)
}

var errDelivered = errors.New("turn delivered")

// hear finds the learner's words and charges the turn; it reports whether the turn goes on to
// the chat model.
func (e *Tutor) hear(t *turn, sk sink) bool {
	if t.in.text != "" {
		t.userText = t.in.text
		return sk.heard(t) && e.charge(t, sk)
	}
	hearFirst := t.interrupting != nil
	var text string
	var err error
	switch {
	case hearFirst:
		text, err = e.transcribeTurn(t)
	case sk.canPay(t):
		// The membership's last count says it can pay: the charge's commit runs beside the
		// transcription, off the critical path. A charge refused after all (another session spent
		// the last use, the membership expired) costs that one transcription.
		result := make(chan chargeResult, 1)
		go func() { result <- e.takeUse(t) }()
		text, err = e.transcribeTurn(t)
		if !e.charged(t, sk, <-result) {
			return false
		}
	default:
		// Not known to be able to pay: no transcription before the charge.
		if !e.charge(t, sk) {
			return false
		}
		text, err = e.transcribeTurn(t)
	}
	switch {
	case t.ctx.Err() != nil:
		e.refund(t, RefundSuperseded)
		return false
	case err != nil:
		t.logger.Warn("transcription failed", "turn", t.id, "err", err)
		e.refund(t, RefundSTTFailed)
		sk.refused(t, err)
		return false
	}
	t.userText = text
	if t.ctx.Err() != nil {
		e.refund(t, RefundSuperseded)
		return false
	}
	if !sk.heard(t) {
		e.refund(t, RefundNoSpeech)
		return false
	}
	if hearFirst && !e.charge(t, sk) {
		return false
	}
	if t.ctx.Err() != nil {
		e.refund(t, RefundSuperseded)
		return false
	}
	return true
}

// transcribeTurn runs speech recognition on the turn's speech or upload (the speculation's
// words when the turn has one: they were heard on the learner's last pause, with no speech
// since).
func (e *Tutor) transcribeTurn(t *turn) (string, error) {
	if sp := t.in.spec; sp != nil {
		text, took, err := sp.transcript(t.ctx)
		if !errors.Is(err, errNotSpeculated) {
			t.metrics.STTMs = took
			return text, err
		}
	}
	a := Audio{}
	switch {
	case t.in.speech != nil:
		a = Audio{Data: EncodePCM16(nil, t.in.speech), Format: FormatPCM16, SampleRate: DetectorRate}
	case t.in.upload != nil:
		a = *t.in.upload
	}
	start := time.Now()
	text, err := e.transcribe(t.ctx, a)
	t.metrics.STTMs = ms(time.Since(start))
	return text, err
}

func ms(d time.Duration) *float64 {
	v := float64(d.Microseconds()) / 1000
	return &v
}

func trimmed(s string) string { return strings.TrimSpace(s) }
