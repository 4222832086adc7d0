package session

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/aitutor/aitutor/store"
)

// A turn: speech ends → transcribe (while one chat use is charged) → stream the chat reply → cut
// it into sentences → synthesize each as soon as it is complete, in order → stream the audio as
// it is produced. Barge-in or response.cancel stop it at once; a provider failure ends it with
// response.cancelled + error and refunds the use, as does a turn that never reaches the chat
// model.

// Stage timeouts.
const (
	sttTimeout        = 30 * time.Second // whole transcription
	chatStallTimeout  = 30 * time.Second // until the first token, and between tokens
	ttsStallTimeout   = 20 * time.Second // until the first byte, and between reads
	storeTimeout      = 10 * time.Second // writes after the socket has gone
	maxSentenceQueued = 64
)

// stopped is the cancel cause of a turn stopped on purpose (barge-in, response.cancel,
// shutdown, a newer turn).
type stopped struct{ reason string }

func (e stopped) Error() string { return "turn stopped: " + e.reason }

// segment is one sentence of the reply and the byte range of its audio.
type segment struct {
	text       string
	start, end int64 // end is -1 while the sentence is being synthesized
}

type turn struct {
	id     string
	s      *Session
	ctx    context.Context
	cancel context.CancelCauseFunc
	done   chan struct{}

	cancelled  atomic.Bool  // no more audio of this turn may be written
	firstAudio atomic.Int64 // unix ns when the writer wrote the first audio frame
	written    atomic.Int64 // audio bytes written to the socket

	mu       sync.Mutex
	segments []segment
	produced int64    // audio bytes produced by TTS
	audio    [][]byte // the reply audio as produced, for storage
}

type turnInput struct {
	audio       []int16 // 16 kHz speech; nil for a typed turn
	text        string  // the typed text
	endOfSpeech time.Time
	decided     time.Time // when the end of the turn was detected
}

func newTurn(s *Session) *turn {
	ctx, cancel := context.WithCancelCause(s.ctx)
	return &turn{id: "turn_" + randomID()[:12], s: s, ctx: ctx, cancel: cancel, done: make(chan struct{})}
}

// stop cancels the turn on purpose; no more of its audio is written.
func (t *turn) stop(reason string) { t.abort(stopped{reason}) }

// abort cancels the turn with cause.
func (t *turn) abort(cause error) {
	t.cancelled.Store(true)
	t.cancel(cause)
}

func (t *turn) finished() bool {
	select {
	case <-t.done:
		return true
	default:
		return false
	}
}

// audioWritten is called by the writer after it wrote n bytes of this turn's audio.
func (t *turn) audioWritten(n int) {
	t.firstAudio.CompareAndSwap(0, time.Now().UnixNano())
	t.written.Add(int64(n))
}

// playbackEnd estimates when the client finishes playing what was written: it plays in real
// time from the first frame.
func (t *turn) playbackEnd() time.Time {
	first := t.firstAudio.Load()
	if first == 0 {
		return time.Time{}
	}
	return time.Unix(0, first).Add(time.Duration(t.written.Load()) * time.Millisecond / outputBytesPerMs)
}

// defaultBytesPerChar estimates the audio of a sentence cut before its synthesis finished: about
// 14 characters a second (150 words a minute) at 48 bytes a millisecond.
const defaultBytesPerChar = outputBytesPerMs * 1000 / 14

// closeSegments gives a sentence whose synthesis was cut an estimated end, from the speaking
// rate of the finished sentences (or defaultBytesPerChar), and never before what was produced.
func closeSegments(segments []segment, produced int64) {
	var chars, bytes int64
	for _, seg := range segments {
		if seg.end >= 0 {
			chars += int64(len(seg.text))
			bytes += seg.end - seg.start
		}
	}
	perChar := int64(defaultBytesPerChar)
	if chars > 0 && bytes > 0 {
		perChar = bytes / chars
	}
	for i := range segments {
		if segments[i].end < 0 {
			segments[i].end = max(produced, segments[i].start+int64(len(segments[i].text))*perChar)
		}
	}
}

// heardText returns the reply text whose audio fits in the first n bytes: whole sentences, and
// the share of the words of a sentence cut in the middle.
func heardText(segments []segment, n int64) string {
	var parts []string
	for _, seg := range segments {
		if seg.end >= 0 && seg.end <= n {
			parts = append(parts, seg.text)
			continue
		}
		if seg.start < n && seg.end > seg.start {
			words := strings.Fields(seg.text)
			keep := int(float64(len(words)) * float64(n-seg.start) / float64(seg.end-seg.start))
			if keep > 0 {
				parts = append(parts, strings.Join(words[:keep], " ")+"…")
			}
		}
		break
	}
	return strings.Join(parts, " ")
}

func (s *Session) startAudioTurn(audio []int16, endOfSpeech time.Time) {
	s.startTurn(turnInput{audio: audio, endOfSpeech: endOfSpeech, decided: time.Now()})
}

func (s *Session) startTextTurn(text string) {
	now := time.Now()
	s.startTurn(turnInput{text: text, endOfSpeech: now, decided: now})
}

// startTurn starts a turn; a reply still running is stopped first (the learner spoke again).
func (s *Session) startTurn(in turnInput) {
	s.mu.Lock()
	if s.draining {
		s.mu.Unlock()
		s.sendError("shutting_down", "the server is restarting; reconnect in a moment", "")
		return
	}
	prev := s.current
	t := newTurn(s)
	s.current = t
	s.mu.Unlock()
	if prev != nil {
		prev.stop(ReasonBargeIn)
	}
	s.wg.Add(1)
	go t.run(prev, in)
}

// run is the turn's goroutine.
func (t *turn) run(prev *turn, in turnInput) {
	s := t.s
	defer s.wg.Done()
	defer close(t.done)
	defer s.recoverPanic("turn")
	defer t.cancel(nil)
	if prev != nil {
		select {
		case <-prev.done: // its history entry is in place; its last frame is queued
		case <-s.ctx.Done():
			return
		}
	}
	rec := turnRecord{t: t, in: in}
	rec.run()
	s.mu.Lock()
	draining := s.draining
	s.mu.Unlock()
	if draining {
		s.fail(CloseGoingAway, "shutting_down", "the server is restarting; reconnect in a moment")
	}
}

// turnRecord collects what a turn did, for response.done, the history and the database.
type turnRecord struct {
	t         *turn
	in        turnInput
	userText  string
	reply     strings.Builder
	charge    *store.Charge
	metrics   Metrics
	ttsFirst  atomic.Int64 // ns from the first TTS request to its first byte
	status    string
	keptReply string
}

func ms(d time.Duration) *float64 {
	v := float64(d.Microseconds()) / 1000
	return &v
}

func (r *turnRecord) run() {
	t, s := r.t, r.t.s
	ctx := t.ctx
	if in := r.in; in.audio != nil {
		r.metrics.EndpointMs = ms(max(in.decided.Sub(in.endOfSpeech), 0))
		// The use is charged while the audio is transcribed, which keeps the database off the
		// path to first audio; a refusal stops the transcription. A turn that then sends
		// nothing to the chat model is refunded.
		if !r.transcribeAndCharge(in.audio) {
			return
		}
	} else {
		r.userText = in.text
		s.send(transcriptEvent{Type: TypeTranscriptUser, TurnID: t.id, Text: r.userText})
		c, err := s.tutor.store.ChargeChatUse(ctx, s.userID, s.membershipID, "turn "+t.id)
		if err != nil {
			r.refused(err)
			return
		}
		r.charge = &c
		s.setRemaining(c.Remaining)
	}
	history, settings := s.snapshot()
	s.send(turnEvent{Type: TypeResponseStarted, TurnID: t.id})
	r.finish(r.respond(history, settings))
}

type chargeResult struct {
	charge store.Charge
	err    error
}

// transcribeAndCharge runs speech recognition and the charge side by side. It reports whether
// the turn goes on to the chat model (with r.userText and r.charge set).
func (r *turnRecord) transcribeAndCharge(audio []int16) bool {
	t, s := r.t, r.t.s
	sttCtx, cancelSTT := context.WithCancel(t.ctx)
	defer cancelSTT()
	charged := make(chan chargeResult, 1)
	go func() {
		chargeStart := time.Now()
		c, err := s.tutor.store.ChargeChatUse(t.ctx, s.userID, s.membershipID, "turn "+t.id)
		s.tutor.metrics.stages.WithLabelValues("ws", "charge").Observe(time.Since(chargeStart).Seconds())
		if err != nil {
			cancelSTT()
		}
		charged <- chargeResult{c, err}
	}()
	start := time.Now()
	text, sttErr := s.tutor.transcribe(sttCtx, Audio{Data: EncodePCM16(nil, audio), Format: FormatPCM16, SampleRate: DetectorRate})
	r.metrics.STTMs = ms(time.Since(start))
	cr := <-charged
	if cr.err != nil {
		r.refused(cr.err)
		return false
	}
	r.charge = &cr.charge
	s.setRemaining(cr.charge.Remaining)
	switch {
	case isStopped(t.ctx) || s.ctx.Err() != nil:
		r.refund("superseded")
		return false
	case sttErr != nil:
		s.logger.Warn("transcription failed", "turn", t.id, "err", sttErr)
		r.refund("stt_failed")
		s.sendError(errorCode(sttErr), "could not transcribe the audio ("+errString(sttErr)+"); nothing was charged", t.id)
		return false
	case text == "":
		r.refund("no_speech")
		s.sendError("no_speech", "no words were recognised; nothing was charged", t.id)
		return false
	}
	r.userText = text
	s.send(transcriptEvent{Type: TypeTranscriptUser, TurnID: t.id, Text: text})
	return true
}

// refused reports a charge the membership refused (or a database failure).
func (r *turnRecord) refused(err error) {
	t, s := r.t, r.t.s
	if isStopped(t.ctx) || s.ctx.Err() != nil {
		return
	}
	code, msg := chargeError(err)
	if code == "internal" {
		s.logger.Error("charge failed", "turn", t.id, "err", err)
	} else {
		s.setRemaining(intPtr(0))
	}
	s.sendError(code, msg, t.id)
}

// refund gives back the turn's use (the chat model was not asked, or it failed).
func (r *turnRecord) refund(reason string) {
	t, s := r.t, r.t.s
	if r.charge == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	remaining, err := s.tutor.store.RefundChatUse(ctx, r.charge.ID, reason)
	if err != nil {
		s.logger.Error("refund failed", "turn", t.id, "charge", r.charge.ID, "err", err)
		return
	}
	s.setRemaining(remaining)
	s.tutor.metrics.refunds.Inc()
}

// respond streams the chat reply and its speech.
func (r *turnRecord) respond(history []historyEntry, settings sessionSettings) error {
	ctx := r.t.ctx
	sentences := make(chan string, maxSentenceQueued)
	speakDone := make(chan error, 1)
	go func() { speakDone <- r.speak(sentences, settings.Voice) }()

	chatErr := r.streamChat(buildChat(history, settings, r.userText), sentences)
	close(sentences)
	speakErr := <-speakDone
	if chatErr != nil {
		return chatErr
	}
	if speakErr != nil {
		return speakErr
	}
	return ctx.Err()
}

// streamChat reads the chat stream, sends the text deltas and hands complete sentences to the
// speaker.
func (r *turnRecord) streamChat(req ChatRequest, sentences chan<- string) error {
	t, s := r.t, r.t.s
	ctx := t.ctx
	start := time.Now()
	watchdog := time.AfterFunc(chatStallTimeout, func() {
		t.abort(fmt.Errorf("%w: chat model sent nothing for %v", ErrProviderTimeout, chatStallTimeout))
	})
	defer watchdog.Stop()

	stream, err := s.tutor.providers.Chat.StreamChat(ctx, req)
	if err != nil {
		return providerError("chat", ctx, err)
	}
	defer stream.Close()
	var split Splitter
	emit := func(sentence string) bool {
		if r.metrics.FirstSentenceMs == nil {
			r.metrics.FirstSentenceMs = ms(time.Since(start))
		}
		select {
		case sentences <- sentence:
			return true
		case <-ctx.Done():
			return false
		}
	}
	for {
		delta, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return providerError("chat", ctx, err)
		}
		if delta == "" {
			continue
		}
		watchdog.Reset(chatStallTimeout)
		if r.metrics.ChatFirstTokenMs == nil {
			r.metrics.ChatFirstTokenMs = ms(time.Since(start))
		}
		r.reply.WriteString(delta)
		s.send(deltaEvent{Type: TypeResponseTextDelta, TurnID: t.id, Delta: delta})
		for _, sentence := range split.Push(delta) {
			if !emit(sentence) {
				return ctx.Err()
			}
		}
	}
	if rest := split.Flush(); rest != "" && !emit(rest) {
		return ctx.Err()
	}
	return nil
}

// synthesis is a sentence whose speech has been requested.
type synthesis struct {
	text      string
	audio     io.ReadCloser
	err       error
	requested time.Time
}

// speak synthesizes the sentences in order and streams their audio. The next sentence's
// request starts while the current one streams, so there is no gap between sentences; at most
// two requests are open.
func (r *turnRecord) speak(sentences <-chan string, voice string) error {
	t, s := r.t, r.t.s
	ctx := t.ctx
	ready := make(chan synthesis)
	go func() {
		defer close(ready)
		for text := range sentences {
			if ctx.Err() != nil {
				continue // drain until the producer closes the channel
			}
			syn := synthesis{text: text, requested: time.Now()}
			syn.audio, syn.err = s.tutor.synthesize(ctx, text, voice)
			select {
			case ready <- syn:
			case <-ctx.Done():
				if syn.audio != nil {
					syn.audio.Close()
				}
			}
		}
	}()
	var err error
	for syn := range ready {
		if err == nil {
			err = r.stream(syn)
			if err != nil {
				t.abort(err) // stops the requester too
			}
		}
		if syn.audio != nil {
			syn.audio.Close()
		}
	}
	return err
}

// stream writes one sentence's audio to the client as it arrives.
func (r *turnRecord) stream(syn synthesis) error {
	t, s := r.t, r.t.s
	ctx := t.ctx
	if syn.err != nil {
		return providerError("tts", ctx, syn.err)
	}
	t.mu.Lock()
	t.segments = append(t.segments, segment{text: syn.text, start: t.produced, end: -1})
	idx := len(t.segments) - 1
	t.mu.Unlock()

	stall := time.AfterFunc(ttsStallTimeout, func() {
		t.abort(fmt.Errorf("%w: speech synthesis sent nothing for %v", ErrProviderTimeout, ttsStallTimeout))
	})
	defer stall.Stop()
	var carry []byte // an odd byte left from the previous read
	first := true
	for {
		bp := audioPool.Get().(*[]byte)
		buf := (*bp)[:audioChunk]
		n := copy(buf, carry)
		m, err := syn.audio.Read(buf[n:])
		n += m
		if m > 0 {
			stall.Reset(ttsStallTimeout)
			if first {
				first = false
				r.ttsFirst.CompareAndSwap(0, int64(time.Since(syn.requested)))
			}
		}
		whole := n &^ 1
		carry = append(carry[:0], buf[whole:n]...)
		if whole > 0 && ctx.Err() == nil {
			t.mu.Lock()
			t.audio = append(t.audio, bytes.Clone(buf[:whole]))
			t.produced += int64(whole)
			t.mu.Unlock()
			if !s.enqueue(outMsg{kind: kindAudio, data: buf[:whole], buf: bp, turn: t}) {
				return ctx.Err()
			}
		} else {
			audioPool.Put(bp)
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return providerError("tts", ctx, err)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	t.mu.Lock()
	t.segments[idx].end = t.produced
	t.mu.Unlock()
	return nil
}

// finish ends the turn: response.done, or response.cancelled (and error + refund on a
// failure); then the history and the database.
func (r *turnRecord) finish(err error) {
	t, s := r.t, r.t.s
	// Wait until the writer has passed every audio frame of this turn, so that the count of
	// written bytes is final.
	flush := make(chan struct{})
	if s.enqueue(outMsg{kind: kindFlush, flush: flush}) {
		select {
		case <-flush:
		case <-s.ctx.Done():
		}
	}
	if f := r.ttsFirst.Load(); f > 0 {
		r.metrics.TTSFirstByteMs = ms(time.Duration(f))
	}
	if first := t.firstAudio.Load(); first > 0 {
		r.metrics.FirstAudioMs = ms(time.Unix(0, first).Sub(r.in.endOfSpeech))
	}

	t.mu.Lock()
	closeSegments(t.segments, t.produced)
	t.mu.Unlock()

	cause := context.Cause(t.ctx)
	var stop stopped
	switch {
	case err == nil && t.ctx.Err() == nil:
		r.status = store.TurnDone
		r.keptReply = strings.TrimSpace(r.reply.String())
	case errors.As(cause, &stop) || s.ctx.Err() != nil:
		r.status = store.TurnCancelled
		t.mu.Lock()
		r.keptReply = heardText(t.segments, t.written.Load())
		t.mu.Unlock()
		if s.ctx.Err() == nil {
			s.send(cancelledEvent{Type: TypeResponseCancelled, TurnID: t.id, Reason: stop.reason})
		}
	default:
		r.status = store.TurnFailed
		if errors.Is(cause, ErrProviderTimeout) || errors.Is(cause, ErrProvider) {
			err = cause
		}
		t.mu.Lock()
		r.keptReply = heardText(t.segments, t.written.Load())
		t.mu.Unlock()
		s.logger.Warn("turn failed", "turn", t.id, "err", err)
		s.send(cancelledEvent{Type: TypeResponseCancelled, TurnID: t.id, Reason: ReasonError})
		r.refund("provider_error")
		s.sendError(errorCode(err), "the tutor could not answer ("+err.Error()+"); the chat use was refunded", t.id)
	}

	// The turn and its audio are stored in the background, so that the next turn does not wait
	// for a large write; the audio's id is made here so that response.done can carry its URL.
	t.mu.Lock()
	chunks := t.audio
	t.audio = nil
	t.mu.Unlock()
	limit := int64(-1) // all of a finished reply; what was written of a stopped one
	if r.status != store.TurnDone {
		limit = t.written.Load()
	}
	audio := wavOf(chunks, limit)
	audioURL, audioID := "", ""
	if len(audio) > WAVHeaderSize {
		audioID = uuid.NewString()
		audioURL = "/api/audio/" + audioID
	}
	r.metrics.TotalMs = ms(time.Since(r.in.endOfSpeech))
	msg := r.message(audioID)
	saved := make(chan struct{})
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer close(saved)
		s.saveTurn(msg, audio)
	}()
	s.pushHistory(historyEntry{turnID: t.id, user: r.userText, assistant: r.keptReply, segments: r.segmentsCopy(), saved: saved})
	if r.status == store.TurnDone {
		s.send(doneEvent{
			Type: TypeResponseDone, TurnID: t.id, Text: r.keptReply, RemainingChatUses: s.getRemaining(),
			Metrics: r.metrics, AudioURL: audioURL,
		})
	}
	s.tutor.observe(r.status, r.metrics)
}

func (r *turnRecord) segmentsCopy() []segment {
	r.t.mu.Lock()
	defer r.t.mu.Unlock()
	return append([]segment(nil), r.t.segments...)
}

// wavOf joins reply audio chunks, the first limit bytes of them (all when limit < 0), into one
// WAV file with a single allocation.
func wavOf(chunks [][]byte, limit int64) []byte {
	var n int64
	for _, c := range chunks {
		n += int64(len(c))
	}
	if limit >= 0 {
		n = min(n, limit)
	}
	out := make([]byte, 0, WAVHeaderSize+n)
	out = append(out, WAVHeader(OutputSampleRate, uint32(n))...)
	for _, c := range chunks {
		if left := WAVHeaderSize + n - int64(len(out)); int64(len(c)) > left {
			c = c[:left]
		}
		out = append(out, c...)
	}
	return out
}

// message is the turn as the database stores it.
func (r *turnRecord) message(audioID string) *store.Message {
	msg := &store.Message{
		ConversationID: r.t.s.conversationID, TurnID: r.t.id, UserText: r.userText, TutorText: r.keptReply,
		Status: r.status, EndpointMs: r.metrics.EndpointMs, STTMs: r.metrics.STTMs,
		ChatFirstTokenMs: r.metrics.ChatFirstTokenMs, FirstSentenceMs: r.metrics.FirstSentenceMs,
		TTSFirstByteMs: r.metrics.TTSFirstByteMs, FirstAudioMs: r.metrics.FirstAudioMs, TotalMs: r.metrics.TotalMs,
	}
	if audioID != "" {
		msg.TutorAudioID = &audioID
	}
	if r.charge != nil {
		msg.ChargeID = &r.charge.ID
	}
	return msg
}

// saveTurn stores a turn's reply audio (a WAV file) and then the turn.
func (s *Session) saveTurn(msg *store.Message, wav []byte) {
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	if msg.TutorAudioID != nil {
		if _, err := s.tutor.store.SaveAudioAs(ctx, *msg.TutorAudioID, s.userID, "audio/wav", wav); err != nil {
			s.logger.Error("saving reply audio", "turn", msg.TurnID, "err", err)
			msg.TutorAudioID = nil
		}
	}
	if err := s.tutor.store.AddMessage(ctx, msg); err != nil {
		s.logger.Error("saving turn", "turn", msg.TurnID, "err", err)
	}
}

// snapshot returns the history and settings a new turn works with.
func (s *Session) snapshot() ([]historyEntry, sessionSettings) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.history
	if len(h) > maxHistory {
		h = h[len(h)-maxHistory:]
	}
	return append([]historyEntry(nil), h...), s.settings
}

func (s *Session) pushHistory(e historyEntry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.history = append(s.history, e)
	if p := s.pendingTruncate; p != nil && p.turnID == e.turnID {
		s.pendingTruncate = nil
		s.applyTruncate(&s.history[len(s.history)-1], p.audioEndMs)
	}
	if len(s.history) > 4*maxHistory {
		s.history = append([]historyEntry(nil), s.history[len(s.history)-maxHistory:]...)
	}
}

// truncate applies response.truncate: the turn's reply in the history becomes what the
// learner heard in its first audioEndMs. A turn that is still finishing gets it when it enters
// the history. It reports whether the turn is known.
func (s *Session) truncate(turnID string, audioEndMs int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.history) - 1; i >= 0; i-- {
		if s.history[i].turnID == turnID {
			s.applyTruncate(&s.history[i], audioEndMs)
			return true
		}
	}
	if t := s.current; t != nil && t.id == turnID {
		s.pendingTruncate = &pendingTruncate{turnID: turnID, audioEndMs: audioEndMs}
		return true
	}
	return false
}

type pendingTruncate struct {
	turnID     string
	audioEndMs int
}

// applyTruncate cuts e's reply to its first audioEndMs of audio, in memory and in the
// database. s.mu is held.
func (s *Session) applyTruncate(e *historyEntry, audioEndMs int) {
	kept := heardText(e.segments, int64(audioEndMs)*outputBytesPerMs)
	if kept == e.assistant {
		return
	}
	e.assistant = kept
	turnID, saved := e.turnID, e.saved
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if saved != nil {
			<-saved // the turn is in the database
		}
		ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
		defer cancel()
		if err := s.tutor.store.TruncateMessage(ctx, s.conversationID, turnID, kept); err != nil {
			s.logger.Error("truncating turn", "turn", turnID, "err", err)
		}
	}()
}

func (s *Session) setRemaining(n *int) {
	s.mu.Lock()
	s.remaining = n
	s.mu.Unlock()
}

func (s *Session) getRemaining() *int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.remaining
}

func intPtr(n int) *int { return &n }

func isStopped(ctx context.Context) bool {
	var st stopped
	return errors.As(context.Cause(ctx), &st)
}

// providerError wraps a provider failure; a cancellation stays a cancellation.
func providerError(stage string, ctx context.Context, err error) error {
	if ctx.Err() != nil {
		if cause := context.Cause(ctx); errors.Is(cause, ErrProviderTimeout) {
			return cause
		}
		return ctx.Err()
	}
	if errors.Is(err, ErrProvider) || errors.Is(err, ErrProviderTimeout) {
		return fmt.Errorf("%s: %w", stage, err)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: %w", stage, ErrProviderTimeout)
	}
	return fmt.Errorf("%w: %s: %v", ErrProvider, stage, err)
}

// errorCode is the error event code of a turn failure.
func errorCode(err error) string {
	switch {
	case errors.Is(err, ErrProviderTimeout):
		return "provider_timeout"
	case errors.Is(err, ErrUnsupportedAudio):
		return "unsupported_audio"
	case errors.Is(err, ErrNoSpeech):
		return "no_speech"
	}
	return "provider_error"
}

// chargeError is the error event of a refused charge.
func chargeError(err error) (code, msg string) {
	switch {
	case errors.Is(err, store.ErrQuotaExhausted):
		return "quota_exhausted", "this membership has no chat uses left; nothing was sent to the tutor"
	case errors.Is(err, store.ErrMembershipExpired):
		return "membership_expired", "this membership has expired; nothing was sent to the tutor"
	case errors.Is(err, store.ErrMembershipRevoked):
		return "membership_revoked", "this membership was revoked; nothing was sent to the tutor"
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrForbidden):
		return "membership_not_found", "this membership is not yours or no longer exists"
	}
	return "internal", "could not charge the chat use; try again"
}
