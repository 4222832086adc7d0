package session

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/aitutor/aitutor/store"
)

// Recording a finished turn: how it ended (done, interrupted, cancelled, failed), the reply as
// far as the learner heard it, its latencies, its settlement (billing.go records it with the
// turn, in one transaction), and the two recordings — the learner's words and the reply's audio
// as heard — written after the turn, off the path of the next one.

// settle decides how the turn ended, settles its charge and records it with the audio the
// learner heard.
func (e *Tutor) settle(t *turn, got bool) {
	r := t.reply
	_, _, replyErr, _ := r.state()
	why, _ := t.stopReason()
	rec := store.TurnRecord{}
	switch {
	case replyErr != nil && why == "" && !isStopped(t.ctx) && !errors.Is(replyErr, context.Canceled):
		t.status, t.failure = store.TurnFailed, replyErr
		rec.Outcome, rec.RefundReason = store.OutcomeRefunded, RefundProviderError
	case got && why == "":
		t.status = store.TurnDone
		rec.Outcome = store.OutcomeAnswered
	case got:
		t.status = store.TurnInterrupted
		rec.Outcome = store.OutcomeAnswered
	default:
		t.status = store.TurnCancelled
		rec.Outcome, rec.RefundReason = store.OutcomeRefunded, RefundNotHeard
		if why == ReasonDisconnect {
			rec.RefundReason = RefundDisconnected
		}
	}
	if t.status == store.TurnDone {
		t.keptText = r.text()
		t.heardEnd = -1
	} else {
		t.keptText = heardText(closeSegments(r.segments()), t.heardEnd)
	}
	if f := r.ttsFirstByte; f > 0 {
		t.metrics.TTSFirstByteMs = ms(f)
	}
	if f := r.chatFirstToken; f > 0 {
		t.metrics.ChatFirstTokenMs = ms(f)
	}
	if f := r.firstSentence; f > 0 {
		t.metrics.FirstSentenceMs = ms(f)
	}
	t.metrics.TotalMs = ms(time.Since(t.in.endOfSpeech))

	// The clips get their ids now, so that the answer can carry their URLs; they are written
	// after the turn is recorded.
	tutorWAV := wavOf(r, t.heardEnd)
	if len(tutorWAV) > WAVHeaderSize {
		t.tutorClip = uuid.NewString()
	}
	var userClip []byte
	userMime := "audio/wav"
	switch {
	case t.in.speech != nil:
		userClip = WAV(EncodePCM16(nil, t.in.speech), DetectorRate)
	case t.in.upload != nil:
		userClip, userMime = t.in.upload.Data, t.in.uploadMime
	}
	if len(userClip) > 0 {
		t.userAudio = uuid.NewString()
	}
	if st := t.in.speechStats; st != nil {
		tutorBytes := t.heardEnd
		if tutorBytes < 0 {
			tutorBytes = int64(len(r.audio()))
		}
		st.TutorMs = int(bytesDur(tutorBytes) / time.Millisecond)
	}
	rec.Message = store.Message{
		Speech:         t.in.speechStats,
		ConversationID: t.conversationID, TurnID: t.id, UserText: t.userText, TutorText: t.keptText,
		Status: t.status, ChargeID: &t.charge.ID, EndpointMs: t.metrics.EndpointMs, STTMs: t.metrics.STTMs,
		ChatFirstTokenMs: t.metrics.ChatFirstTokenMs, FirstSentenceMs: t.metrics.FirstSentenceMs,
		TTSFirstByteMs: t.metrics.TTSFirstByteMs, FirstAudioMs: t.metrics.FirstAudioMs, TotalMs: t.metrics.TotalMs,
	}
	e.record(t, rec)
	e.observe(t)
	e.saveClips(t, userClip, userMime, tutorWAV)
}

// saveClips stores the learner's recording and the reply's audio and links them to the turn,
// in the background: the next turn never waits for a large write.
func (e *Tutor) saveClips(t *turn, user []byte, userMime string, tutor []byte) {
	if t.userAudio == "" && t.tutorClip == "" {
		return
	}
	save := func() (userOK, tutorOK bool) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*ledgerTimeout)
		defer cancel()
		var userID, tutorID *string
		if t.userAudio != "" {
			if _, err := e.store.SaveAudioAs(ctx, t.userAudio, t.userID, userMime, user); err != nil {
				t.logger.Error("saving the learner's audio", "turn", t.id, "err", err)
			} else {
				userID = &t.userAudio
			}
		}
		if t.tutorClip != "" {
			if _, err := e.store.SaveAudioAs(ctx, t.tutorClip, t.userID, "audio/wav", tutor); err != nil {
				t.logger.Error("saving the reply audio", "turn", t.id, "err", err)
			} else {
				tutorID = &t.tutorClip
			}
		}
		if userID != nil || tutorID != nil {
			if err := e.store.SetTurnAudio(ctx, t.conversationID, t.id, userID, tutorID); err != nil {
				t.logger.Error("linking the turn's audio", "turn", t.id, "err", err)
			}
		}
		return userID != nil, tutorID != nil
	}
	if t.syncClips {
		userOK, tutorOK := save()
		if !userOK {
			t.userAudio = ""
		}
		if !tutorOK {
			t.tutorClip = ""
		}
		return
	}
	e.background.Add(1)
	go func() {
		defer e.background.Done()
		save()
	}()
}

// wavOf is the reply's audio, its first limit bytes (all when limit < 0), as one WAV file.
func wavOf(r *reply, limit int64) []byte {
	pcm := r.audio()
	if limit >= 0 && int64(len(pcm)) > limit {
		pcm = pcm[:limit&^1]
	}
	return WAV(pcm, OutputSampleRate)
}
