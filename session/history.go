package session

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aitutor/aitutor/store"
)

// The conversation as the chat model sees it: the turns so far, each reply as far as the
// learner heard it (a reply cut by the learner keeps the sentences heard and the share of the
// words of the sentence cut in the middle). It is bounded, newest kept, by turns and by
// characters, so that long conversations stay cheap.

const (
	maxHistory      = 20     // turns given to the chat model
	maxHistoryChars = 12_000 // characters of history given to the chat model
)

// historyEntry is one finished turn.
type historyEntry struct {
	turnID    string
	user      string
	assistant string
	// segments map the reply's audio to its text, for response.truncate (live turns only).
	segments []segment
	cut      bool // the client said how much of the reply was heard
}

// segment is one sentence of a reply and the byte range of its audio.
type segment struct {
	text       string
	start, end int64 // end is -1 while the sentence's synthesis is not complete
	have       int64 // bytes of it produced
}

// defaultBytesPerChar estimates the audio of a sentence cut before its synthesis finished: about
// 14 characters a second (150 words a minute).
const defaultBytesPerChar = outputBytesPerMs * 1000 / 14

// closeSegments gives a sentence whose synthesis was cut an estimated end, from the speaking
// rate of the finished sentences (or defaultBytesPerChar), never before what was produced.
func closeSegments(segments []segment) []segment {
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
			segments[i].end = max(segments[i].start+segments[i].have, segments[i].start+int64(len(segments[i].text))*perChar)
		}
	}
	return segments
}

// heardText returns the reply text whose audio fits in the first n bytes (all of it when
// n < 0): whole sentences, and the share of the words of a sentence cut in the middle.
func heardText(segments []segment, n int64) string {
	var parts []string
	for _, seg := range segments {
		if n < 0 || (seg.end >= 0 && seg.end <= n) {
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

// bounded returns the newest entries of h that fit maxHistory turns and maxHistoryChars.
func bounded(h []historyEntry) []historyEntry {
	if len(h) > maxHistory {
		h = h[len(h)-maxHistory:]
	}
	chars := 0
	for i := len(h) - 1; i >= 0; i-- {
		chars += utf8.RuneCountInString(h[i].user) + utf8.RuneCountInString(h[i].assistant)
		if chars > maxHistoryChars {
			return h[i+1:]
		}
	}
	return h
}

// loadHistory reads the conversation's recent turns for the chat model. Failed turns are left
// out: the learner got no answer and will say it again.
func loadHistory(ctx context.Context, st Conversations, conversationID string) ([]historyEntry, error) {
	msgs, err := st.RecentMessages(ctx, conversationID, maxHistory)
	if err != nil {
		return nil, err
	}
	h := make([]historyEntry, 0, len(msgs))
	for _, m := range msgs {
		if m.Status == store.TurnFailed || strings.TrimSpace(m.UserText) == "" {
			continue
		}
		h = append(h, historyEntry{turnID: m.TurnID, user: m.UserText, assistant: m.TutorText})
	}
	return bounded(h), nil
}

// pushHistory adds a finished live turn, applying a response.truncate that came before it
// finished.
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

// historySnapshot returns the history a new turn works with.
func (s *Session) historySnapshot() []historyEntry {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bounded(append([]historyEntry(nil), s.history...))
}

type pendingTruncate struct {
	turnID     string
	audioEndMs int
}

// truncate applies response.truncate: the turn's reply in the history becomes what the
// learner heard in its first audioEndMs. A turn that is still running gets it when it finishes.
// It reports whether the turn is known.
func (s *Session) truncate(turnID string, audioEndMs int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.truncateSeen = true
	if s.truncated != nil {
		close(s.truncated)
		s.truncated = nil
	}
	if e := s.entry(turnID); e != nil {
		s.applyTruncate(e, audioEndMs)
		return true
	}
	if t := s.current; t != nil && (t.id == turnID || (t.interrupting != nil && t.interrupting.id == turnID)) {
		// The turn is still running, or it is the reply that the learner's speech paused.
		s.pendingTruncate = &pendingTruncate{turnID: turnID, audioEndMs: audioEndMs}
		return true
	}
	return false
}

// assistantText is the reply of turnID in the history (cut to what was heard when it was
// truncated), if the turn has ended.
func (s *Session) assistantText(turnID string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.entry(turnID); e != nil {
		return e.assistant, true
	}
	return "", false
}

// entry is turnID's entry in the history (nil when it has none). s.mu is held.
func (s *Session) entry(turnID string) *historyEntry {
	for i := len(s.history) - 1; i >= 0; i-- {
		if s.history[i].turnID == turnID {
			return &s.history[i]
		}
	}
	return nil
}

// applyTruncate cuts e's reply to its first audioEndMs of audio, in memory and in the database
// (the turn was recorded before it entered the history). s.mu is held.
func (s *Session) applyTruncate(e *historyEntry, audioEndMs int) {
	if e.segments == nil {
		return // a turn of an earlier session: its stored text is what was heard
	}
	e.cut = true
	kept := heardText(e.segments, int64(audioEndMs)*outputBytesPerMs)
	if kept == e.assistant {
		return
	}
	e.assistant = kept
	turnID := e.turnID
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		ctx, cancel := ledgerContext(context.Background())
		defer cancel()
		if err := s.tutor.store.TruncateMessage(ctx, s.conversationID, turnID, kept); err != nil {
			s.logger.Warn("truncating turn", "turn", turnID, "err", err)
		}
	}()
}

// truncateWait bounds how long a turn that interrupted a reply waits for the client to say how
// much of that reply the learner heard: about one round trip after response.cancelled.
const truncateWait = 250 * time.Millisecond

// awaitTruncate gives the client a moment to send the response.truncate of the reply that t's
// words interrupted, so that the chat model sees that reply as far as the learner heard it (the
// client can only know once it stopped playing; it sends it with, or right after,
// response.cancelled). Until it arrives the history holds the server's own estimate from the
// audio it wrote. No wait when the reply had no audio, when the client already sent the
// truncate, or when this client has let a wait run out without ever sending one.
func (s *Session) awaitTruncate(t *turn) {
	p := t.interrupting
	if p == nil || p.firstAudio.Load() == 0 {
		return
	}
	if why, _ := p.stopReason(); why != ReasonBargeIn {
		return
	}
	timer := time.NewTimer(truncateWait)
	defer timer.Stop()
	for {
		s.mu.Lock()
		done := s.truncateMissed && !s.truncateSeen
		if e := s.entry(p.id); e != nil && (e.cut || e.segments == nil) {
			done = true
		}
		if s.truncated == nil {
			s.truncated = make(chan struct{})
		}
		arrived := s.truncated
		s.mu.Unlock()
		if done {
			return
		}
		select {
		case <-arrived:
		case <-timer.C:
			s.mu.Lock()
			s.truncateMissed = true
			s.mu.Unlock()
			return
		case <-t.ctx.Done():
			return
		}
	}
}
