package session

import (
	"errors"
	"time"

	"github.com/aitutor/aitutor/store"
)

// How a live session delivers a turn (the streaming sink of the pipeline): events to the
// client, the reply's audio in frames as it is synthesized, paced until the learner has heard
// the first sentence, paused while the learner talks over it and resumed when that turned out
// to hold no words (a cough, noise, the tutor's own voice), and the billing verdict from the
// model of the learner's player (playback.go).

// Cancel reasons of response.cancelled, and why a turn stops.
const (
	ReasonBargeIn      = "barge_in"      // the learner spoke (or typed) over the reply
	ReasonClientCancel = "client_cancel" // response.cancel
	ReasonError        = "error"         // a provider failed
	ReasonDisconnect   = "disconnect"    // the connection closed
)

// writable reports whether the writer may still write this turn's audio.
func (t *turn) writable() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return !t.paused && t.stopWhy == ""
}

// audioWritten is called by the writer after it wrote n bytes of this turn's audio from offset.
func (t *turn) audioWritten(offset int64, n int) {
	now := time.Now()
	t.firstAudio.CompareAndSwap(0, now.UnixNano())
	t.mu.Lock()
	if !t.paused && t.stopWhy == "" {
		t.play.written(offset, n, now)
	}
	t.mu.Unlock()
}

// playbackEnd is when the learner's player finishes what was written.
func (t *turn) playbackEnd() time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.play.end()
}

// pause stops the reply's audio at time at, when the learner began talking over it; the turn
// waits for the words of that speech (resume or stop). It reports whether the turn was paused.
func (t *turn) pause(at time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopWhy != "" || t.paused {
		return false
	}
	t.paused, t.pausedAt = true, at
	t.pausedPos = t.play.stop(at)
	t.resumed = make(chan struct{})
	t.signal()
	return true
}

// resume ends a pause: the reply goes on from the start of the sentence it was cut in.
func (t *turn) resume() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.paused || t.stopWhy != "" {
		return false
	}
	t.paused = false
	close(t.resumed)
	t.signal()
	return true
}

// isPaused reports whether the turn waits for the words of an interruption.
func (t *turn) isPaused() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.paused && t.stopWhy == ""
}

// signal wakes the delivery loop (a pause, a resume or a stop); t.mu is held.
func (t *turn) signal() {
	close(t.wake)
	t.wake = make(chan struct{})
}

func (t *turn) wakeup() <-chan struct{} {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.wake
}

// verdict is the billing rule on a live session at now: answered once the learner has heard
// the first sentence and a barge-in begun before its end would have been detected. wait is how
// long until that is known (0: not yet computable).
func (t *turn) verdict(now time.Time, grace time.Duration) (answered bool, wait time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.answered {
		return true, 0
	}
	if t.paused || t.stopWhy != "" || t.play.firstHeard.IsZero() {
		return false, 0
	}
	if at := t.play.firstHeard.Add(grace); now.Before(at) {
		return false, at.Sub(now)
	}
	t.answered = true
	return true, 0
}

// deliver streams the reply to the client and returns the billing verdict.
func (s *Session) deliver(t *turn) bool {
	r := t.reply
	grace := time.Duration(s.settingsSnapshot().BargeInMs)*time.Millisecond + settleMargin
	seg, off := 0, 0   // the next audio to send: a sentence and an offset in it
	var at int64       // the reply offset of (seg, off)
	var starts []int64 // where each sentence starts in the reply's audio
	textSent := 0      // sentences whose text went out
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	wait := func(d time.Duration, changed <-chan struct{}) {
		if d > 0 {
			timer.Reset(d)
			defer timer.Stop()
		}
		var tc <-chan time.Time
		if d > 0 {
			tc = timer.C
		}
		select {
		case <-changed:
		case <-t.wakeup():
		case <-t.ctx.Done():
		case <-tc:
		}
	}
	sendText := func(i int, text string) {
		if i < textSent {
			return
		}
		textSent = i + 1
		if i > 0 {
			text = " " + text
		}
		s.send(deltaEvent{Type: TypeResponseTextDelta, TurnID: t.id, Delta: text})
	}
	for t.ctx.Err() == nil {
		if t.isPaused() {
			t.mu.Lock()
			resumed, pos := t.resumed, t.pausedPos
			t.mu.Unlock()
			select {
			case <-resumed:
			case <-t.ctx.Done():
				continue
			}
			// Go on from the start of the sentence the learner was cut in.
			seg = len(starts) - 1
			for seg > 0 && starts[seg] > pos {
				seg--
			}
			if seg < 0 {
				seg = 0
			}
			off = 0
			if len(starts) > 0 {
				at = starts[seg]
			}
			s.send(resumedEvent{Type: TypeResponseResumed, TurnID: t.id, OffsetMs: int(at / outputBytesPerMs)})
			continue
		}
		sentences, complete, err, changed := r.state()
		if err != nil {
			break
		}
		if seg < len(sentences) {
			text, audio, done := r.sentence(seg)
			if seg == len(starts) {
				starts = append(starts, at)
			}
			if avail := len(audio) - off; avail > 0 {
				sendText(seg, text)
				if answered, vw := t.verdict(time.Now(), grace); !answered {
					t.mu.Lock()
					ahead := t.play.ahead(time.Now())
					t.mu.Unlock()
					if d := ahead - paceLead; d > 0 {
						if vw > 0 {
							d = min(d, vw)
						}
						wait(d, nil)
						continue
					}
				}
				n := min(avail, audioChunk)
				if !s.enqueue(outMsg{kind: kindAudio, data: audio[off : off+n], turn: t, offset: at}) {
					break
				}
				t.mu.Lock()
				t.play.queue(n, time.Now())
				t.mu.Unlock()
				off += n
				at += int64(n)
				continue
			}
			if done {
				sendText(seg, text)
				if seg == 0 {
					t.mu.Lock()
					t.play.setFirstEnd(at)
					t.mu.Unlock()
				}
				seg++
				off = 0
				continue
			}
		} else if complete {
			// Everything is queued; the verdict may still be open.
			answered, d := t.verdict(time.Now(), grace)
			if answered {
				break
			}
			if d == 0 {
				d = 50 * time.Millisecond // the writer has not written the first sentence yet
			}
			wait(d, nil)
			continue
		}
		_, d := t.verdict(time.Now(), grace)
		wait(d, changed)
	}
	// Wait until the writer has passed this turn's frames, so that what was written is final.
	s.flush()
	now := time.Now()
	if t.ctx.Err() != nil {
		if why, _ := t.stopReason(); why == "" {
			t.stop(ReasonDisconnect, now) // the session ended
		}
	}
	if first := t.firstAudio.Load(); first > 0 {
		t.metrics.FirstAudioMs = ms(time.Unix(0, first).Sub(t.in.endOfSpeech))
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopWhy != "" {
		t.heardEnd = t.play.position(t.stopAt)
		return t.answered || t.play.heardFirst(t.stopAt)
	}
	if _, _, err, _ := r.state(); err != nil {
		t.heardEnd = t.play.position(now)
		return false
	}
	t.heardEnd = -1
	return t.answered
}

// heard sends the learner's words, or decides a paused reply: words mean the learner really
// interrupted it; none (a cough, noise, the tutor's own voice) and it goes on.
func (s *Session) heard(t *turn) bool {
	if p := t.interrupting; p != nil {
		if t.userText == "" && p.isPaused() {
			s.resumeTurn(p)
			s.logger.Debug("false interruption: the reply goes on", "turn", p.id)
			s.tutor.metrics.falseInterruptions.Inc()
			return false
		}
		if t.userText != "" {
			at := time.Now()
			if paused, pausedAt := p.pauseTime(); paused {
				at = pausedAt
			}
			p.stop(ReasonBargeIn, at)
			select {
			case <-p.done:
			case <-s.ctx.Done():
				return false
			}
		}
	}
	if t.userText == "" {
		if t.ctx.Err() == nil {
			s.sendError(errorEvent{Code: "no_speech", Message: "no words were recognised; nothing was charged", TurnID: t.id})
		}
		return false
	}
	if t.ctx.Err() != nil {
		return false
	}
	s.send(transcriptEvent{Type: TypeTranscriptUser, TurnID: t.id, Text: t.userText, spoken: t.in.speech != nil})
	return true
}

// pauseTime is when the pause began.
func (t *turn) pauseTime() (bool, time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.paused, t.pausedAt
}

// refused reports a turn that ended before it answered.
func (s *Session) refused(t *turn, err error) {
	if t.ctx.Err() != nil {
		return
	}
	p, _ := ProblemOf(err)
	switch {
	case errors.Is(err, store.ErrQuotaExhausted), errors.Is(err, store.ErrMembershipExpired),
		errors.Is(err, store.ErrMembershipRevoked):
		s.setRemaining(intPtr(0))
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrForbidden):
		p.Code, p.Message = "membership_not_found", "this membership is not yours or no longer exists"
	case errors.Is(err, ErrProvider), errors.Is(err, ErrProviderTimeout):
		p.Message = "could not transcribe the audio (" + errString(err) + "); nothing was charged"
	}
	s.sendError(errorEvent{Code: p.Code, Message: p.Message, TurnID: t.id, Retryable: p.Retryable})
}

// canPay reports whether the session's last count of the membership's uses can pay for a turn:
// the pipeline then charges it beside its transcription.
func (s *Session) canPay(*turn) bool { return payable(s.getRemaining()) }

// payable reports whether a count of remaining uses can pay for a turn (nil: unlimited).
func payable(remaining *int) bool { return remaining == nil || *remaining > 0 }

// answering: the turn is charged and the tutor answers.
func (s *Session) answering(t *turn) {
	s.awaitTruncate(t)
	// Taken now: an interrupted reply has just entered the history.
	t.settings, t.history, t.profile = s.settingsSnapshot(), s.historySnapshot(), s.profile
	s.setRemaining(t.remaining)
	s.send(turnEvent{Type: TypeResponseStarted, TurnID: t.id, remaining: t.remaining})
}

// finished reports how the turn ended and puts it in the history.
func (s *Session) finished(t *turn) {
	entry := historyEntry{turnID: t.id, user: t.userText, assistant: t.keptText, segments: closeSegments(t.reply.segments())}
	s.pushHistory(entry)
	s.setRemaining(t.remaining)
	if s.ctx.Err() != nil {
		return
	}
	remaining := s.getRemaining()
	switch t.status {
	case store.TurnDone:
		s.send(doneEvent{
			Type: TypeResponseDone, TurnID: t.id, Text: t.keptText, RemainingChatUses: remaining,
			Metrics: t.metrics, AudioURL: audioPath(t.tutorClip), UserAudioURL: audioPath(t.userAudio),
		})
	case store.TurnFailed:
		s.send(cancelledEvent{Type: TypeResponseCancelled, TurnID: t.id, Reason: ReasonError, Refunded: true,
			RemainingChatUses: remaining, AudioURL: audioPath(t.tutorClip), UserAudioURL: audioPath(t.userAudio)})
		p, _ := ProblemOf(t.failure)
		s.logger.Warn("turn failed", "turn", t.id, "err", t.failure)
		s.sendError(errorEvent{Code: p.Code, Message: "the tutor could not answer (" + errString(t.failure) + "); the chat use was refunded", TurnID: t.id, Retryable: true})
	default:
		why, _ := t.stopReason()
		if why == ReasonDisconnect {
			return
		}
		s.send(cancelledEvent{Type: TypeResponseCancelled, TurnID: t.id, Reason: why, Refunded: t.refunded,
			RemainingChatUses: remaining, AudioURL: audioPath(t.tutorClip), UserAudioURL: audioPath(t.userAudio)})
	}
}

// audioPath is the path of a stored clip ("" for none), relative to the server's base URL.
func audioPath(id string) string {
	if id == "" {
		return ""
	}
	return "/api/audio/" + id
}
