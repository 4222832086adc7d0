package session

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"time"
)

// Speculative turns. When the learner pauses (probeSilence of silence while speaking, server
// turn detection), the session transcribes what it heard so far and — when the words are a
// complete turn, no reply is playing and the membership can pay — asks the chat model and
// synthesizes the first sentence, all without telling the client and without charging. The
// words also decide when the turn ends (endofturn.go). When it ends, the turn adopts the
// speculation: its transcript, and its answer with the first sentence's speech waiting; the
// charge and everything after follow as for any turn (pipeline.go), so nothing speculative
// reaches the client or the ledger unless the turn commits. When the learner speaks again
// first, the speculation is cancelled. Every provider call made for one is counted as used or
// wasted in aitutor_speculative_calls_total.

// errSpeculationDropped cancels a speculation that no turn will adopt.
var errSpeculationDropped = errors.New("speculation dropped")

// errNotSpeculated: the pause was not worked on (the membership could not pay when it began);
// the turn transcribes its speech itself.
var errNotSpeculated = errors.New("not speculated")

// speculation is the work done on one pause.
type speculation struct {
	ctx    context.Context
	cancel context.CancelCauseFunc
	tutor  *Tutor
	smart  bool // endOfTurn smart: only complete words are answered ahead

	sttDone     chan struct{} // closed when the transcript (or its failure) is in
	wordsOnce   sync.Once
	transcribed bool   // a transcription was asked for (set before sttDone closes)
	text        string // set before sttDone closes
	err         error
	sttMs       *float64
	verdict     turnVerdict

	produced chan struct{} // closed when the speculation's goroutine has ended

	mu       sync.Mutex
	settled  bool        // adopted or dropped: no new provider call starts
	reply    *reply      // the answer being prepared (nil: none)
	req      ChatRequest // what the chat model was asked
	gate     chan struct{}
	gateOnce sync.Once
}

// speculate starts the work on a pause: audio is the learner's speech so far (16 kHz).
func (s *Session) speculate(audio []int16) *speculation {
	ctx, cancel := context.WithCancelCause(s.ctx)
	settings := s.settingsSnapshot()
	sp := &speculation{
		ctx: ctx, cancel: cancel, tutor: s.tutor, smart: settings.EndOfTurn != endOfTurnSilence,
		sttDone: make(chan struct{}), produced: make(chan struct{}), gate: make(chan struct{}),
	}
	// Decided now, on the reader: the chat model is asked ahead only when nothing is playing
	// (speech over a reply decides that reply first), the membership can pay, the session is not
	// draining and the app answers turns itself (not Realtime create_response false).
	canAnswer := s.canAnswerAhead()
	history, profile := s.historySnapshot(), s.profile
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer close(sp.produced)
		defer sp.wordsIn() // also after a panic: nothing waits for the words forever
		defer s.recoverPanic("speculation")
		// The session's count of uses may be stale (other sessions pay from the membership too):
		// no provider call for a membership that cannot pay now.
		if m, err := s.tutor.store.UserMembership(ctx, s.userID, s.membershipID); err != nil || m.Usable(time.Now()) != nil {
			sp.err = errNotSpeculated
			sp.wordsIn()
			return
		}
		sp.transcribed = true
		start := time.Now()
		text, err := s.tutor.transcribe(ctx, Audio{Data: EncodePCM16(nil, audio), Format: FormatPCM16, SampleRate: DetectorRate})
		sp.sttMs = ms(time.Since(start))
		sp.text, sp.err = text, err
		if err == nil {
			sp.verdict = judgeWords(text)
		}
		sp.wordsIn()
		var r *reply
		var req ChatRequest
		if err == nil && text != "" && canAnswer && (!sp.smart || sp.verdict == verdictComplete) {
			req = buildChat(history, settings, profile, text)
			sp.mu.Lock()
			if !sp.settled {
				r = newReply()
				sp.reply, sp.req = r, req
			}
			sp.mu.Unlock()
		}
		// The words may end the turn now: the silence heard so far may be enough for them.
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer s.recoverPanic("end of turn")
			s.afterWords(sp)
		}()
		if r != nil {
			s.tutor.produce(ctx, req, settings.Voice, livePrefetch, r, sp.gate)
		}
	}()
	return sp
}

// afterWords judges the pause again once its words are in, without waiting for the next audio
// frame (a client may have sent its trailing silence at once, or stopped sending).
func (s *Session) afterWords(sp *speculation) {
	s.inputMu.Lock()
	defer s.inputMu.Unlock()
	if s.spec != sp || s.ctx.Err() != nil {
		return
	}
	s.judgePause()
}

// wordsIn says the words (or why there are none) are in.
func (sp *speculation) wordsIn() {
	sp.wordsOnce.Do(func() { close(sp.sttDone) })
}

// maySpeculate reports whether a pause may be worked on: the membership can pay for a turn
// (speculation never spends provider calls for a turn that would be refused) and the session is
// not draining.
func (s *Session) maySpeculate() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.draining && payable(s.remaining)
}

// canAnswerAhead reports whether a speculation may ask the chat model.
func (s *Session) canAnswerAhead() bool {
	if s.holdTurns {
		return false
	}
	if t := s.currentTurn(); t != nil && !t.finished() {
		return false
	}
	return s.maySpeculate()
}

// transcript waits for the speculation's words.
func (sp *speculation) transcript(ctx context.Context) (string, *float64, error) {
	select {
	case <-sp.sttDone:
		return sp.text, sp.sttMs, sp.err
	case <-ctx.Done():
		return "", nil, context.Cause(ctx)
	}
}

// wordsVerdict is the verdict on the words, and whether they are in.
func (sp *speculation) wordsVerdict() (turnVerdict, bool) {
	select {
	case <-sp.sttDone:
		if sp.err != nil {
			return verdictUnknown, true
		}
		return sp.verdict, true
	default:
		return verdictUnknown, false
	}
}

// adopt: a turn takes the speculation (its words now, its answer later or never).
func (sp *speculation) adopt() {
	go func() { // counted once the words are in (the reader does not wait for them)
		<-sp.sttDone
		if sp.transcribed {
			sp.count("stt", true)
		}
	}()
}

// takeReply hands the prepared answer to the turn when it was asked exactly what the turn asks
// (the same words, history, settings and profile); the rest of its sentences may then be
// synthesized, and it stops when the turn's ctx ends. Otherwise the prepared answer is cancelled
// and the turn asks anew. done closes when the speculation's work has ended.
func (sp *speculation) takeReply(ctx context.Context, req ChatRequest) (r *reply, done <-chan struct{}) {
	sp.mu.Lock()
	if sp.settled {
		sp.mu.Unlock()
		return nil, nil
	}
	sp.settled = true
	r = sp.reply
	fits := r != nil && reflect.DeepEqual(sp.req, req)
	sp.mu.Unlock()
	if r == nil {
		return nil, nil
	}
	if !fits {
		sp.countReply(r, false)
		sp.cancel(errSpeculationDropped)
		return nil, nil
	}
	sp.countReply(r, true)
	context.AfterFunc(ctx, func() { sp.cancel(context.Cause(ctx)) })
	sp.gateOnce.Do(func() { close(sp.gate) })
	return r, sp.produced
}

// abandon settles the speculation unused, once, and cancels its work; ok is false when it was
// settled already. r is the answer it was preparing, if any.
func (sp *speculation) abandon() (r *reply, ok bool) {
	sp.mu.Lock()
	if sp.settled {
		sp.mu.Unlock()
		return nil, false
	}
	sp.settled = true
	r = sp.reply
	sp.mu.Unlock()
	sp.cancel(errSpeculationDropped)
	return r, true
}

// release ends an adopted speculation whose answer the turn did not take (it ended before
// answering): a prepared answer is cancelled and counted as wasted.
func (sp *speculation) release() {
	r, ok := sp.abandon()
	if !ok {
		return
	}
	if r != nil {
		sp.countReply(r, false)
	}
}

// drop cancels a speculation that no turn adopts and counts its calls as wasted.
func (sp *speculation) drop() {
	r, ok := sp.abandon()
	if !ok {
		return
	}
	go func() {
		<-sp.sttDone // the transcription ends at once when cancelled
		if sp.transcribed {
			sp.count("stt", false)
		}
	}()
	if r != nil {
		sp.countReply(r, false)
	}
}

func (sp *speculation) count(stage string, used bool) {
	outcome := "wasted"
	if used {
		outcome = "used"
	}
	sp.tutor.metrics.speculative.WithLabelValues(stage, outcome).Inc()
}

// countReply counts the chat call and the speech of the first sentence (the gate holds the
// others back until the turn takes the reply).
func (sp *speculation) countReply(r *reply, used bool) {
	sp.count("chat", used)
	if sentences, _, _, _ := r.state(); len(sentences) > 0 {
		sp.count("tts", used)
	}
}
