package session

import (
	"context"
	"time"
)

// The upload-and-wait turn of POST /api/tutor/chat: the whole utterance is uploaded and the
// answer comes back at once, as text and the URL of the reply's audio. It runs the same
// pipeline as a live turn with a sink that collects; each sentence is synthesized as soon as the
// chat model completes it, several at once.

// ExchangeRequest is one upload-and-wait turn.
type ExchangeRequest struct {
	UserID         string
	MembershipID   string
	ConversationID string // continue this conversation; empty starts one
	Audio          Audio  // the uploaded file
	Mime           string // its media type, for storing it
	Voice          string
}

// ExchangeResult is what the turn produced.
type ExchangeResult struct {
	ConversationID string
	TurnID         string
	UserText       string
	AssistantText  string
	TTSAudioID     string
	UserAudioID    string
	Remaining      *int
	Metrics        Metrics
}

// restPrefetch bounds the sentences of one REST reply synthesized at once.
const restPrefetch = 4

// Exchange runs an upload-and-wait turn. Membership problems and audio without speech are
// refused before anything is charged or sent to a provider; a provider failure, or a client
// that stopped waiting, refunds the charge.
func (e *Tutor) Exchange(ctx context.Context, req ExchangeRequest) (ExchangeResult, error) {
	start := time.Now()
	m, err := e.store.UserMembership(ctx, req.UserID, req.MembershipID)
	if err != nil {
		return ExchangeResult{}, err
	}
	if err := m.Usable(e.store.Now()); err != nil {
		return ExchangeResult{}, err
	}
	samples, decoded, err := decodeSpeech(ctx, req.Audio)
	if err != nil {
		return ExchangeResult{}, err
	}
	if decoded && !ContainsSpeech(samples) {
		return ExchangeResult{}, ErrNoSpeech
	}
	var history []historyEntry
	level, topic := defaultLevel, ""
	convID := req.ConversationID
	if convID != "" {
		c, err := e.store.UserConversation(ctx, req.UserID, convID)
		if err != nil {
			return ExchangeResult{}, err
		}
		if c.MembershipID != req.MembershipID {
			return ExchangeResult{}, ErrConversationMismatch
		}
		if c.Level != "" {
			level = c.Level
		}
		topic = c.Topic
		if history, err = loadHistory(ctx, e.store, convID); err != nil {
			return ExchangeResult{}, err
		}
	} else {
		c, err := e.store.CreateConversation(ctx, req.UserID, req.MembershipID, "rest", defaultLevel, "")
		if err != nil {
			return ExchangeResult{}, err
		}
		convID = c.ID
	}

	t := newTurn(ctx, "rest_")
	t.userID, t.membershipID, t.conversationID = req.UserID, req.MembershipID, convID
	audio := req.Audio
	t.in = turnInput{upload: &audio, uploadMime: req.Mime, channel: ChannelUpload, endOfSpeech: start, decided: start}
	if decoded {
		stats := measureSpeech(samples)
		t.in.speechStats = &stats
	}
	t.profile = e.profileSummary(ctx, req.UserID)
	t.settings = sessionSettings{Voice: req.Voice, Level: level, Topic: topic}
	t.history, t.prefetch, t.syncClips, t.logger = history, restPrefetch, true, e.logger
	sk := &collectSink{}
	e.runTurn(t, sk)
	if sk.err != nil {
		return ExchangeResult{}, sk.err
	}
	return ExchangeResult{
		ConversationID: convID, TurnID: t.id, UserText: t.userText, AssistantText: trimmed(t.reply.raw.String()),
		TTSAudioID: t.tutorClip, UserAudioID: t.userAudio, Remaining: t.remaining, Metrics: t.metrics,
	}, nil
}

// collectSink gathers a REST turn: the learner gets the answer when it is complete and the
// client still waits for it.
type collectSink struct {
	err error // why the turn did not answer
}

func (c *collectSink) heard(t *turn) bool {
	if t.userText == "" {
		c.err = ErrNoSpeech
		return false
	}
	return true
}

func (c *collectSink) refused(_ *turn, err error) { c.err = err }

// canPay: an upload-and-wait turn is charged before its transcription (there is no last count).
func (c *collectSink) canPay(*turn) bool { return false }

func (c *collectSink) answering(*turn) {}

func (c *collectSink) deliver(t *turn) bool {
	for {
		_, complete, err, changed := t.reply.state()
		if complete {
			if t.ctx.Err() != nil {
				break
			}
			if err != nil {
				t.heardEnd = 0
				return false
			}
			t.heardEnd = -1
			return true
		}
		select {
		case <-changed:
		case <-t.ctx.Done():
		}
		if t.ctx.Err() != nil {
			break
		}
	}
	t.stop(ReasonDisconnect, time.Now()) // the client stopped waiting
	return false
}

func (c *collectSink) finished(t *turn) {
	switch {
	case t.failure != nil:
		c.err = t.failure
	case t.status != "done":
		c.err = context.Canceled // the client went away; nobody reads the answer
	}
}
