package session

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/aitutor/aitutor/store"
)

// The upload-and-wait turn of POST /api/tutor/chat: the whole utterance is uploaded, and the
// answer comes back as text plus a URL of the whole reply's audio. It runs the same providers
// and the same charging rules as a streamed turn. To answer sooner than the prototype did, each
// sentence is synthesized as soon as the chat model completes it, several at once.

// ExchangeRequest is one upload-and-wait turn.
type ExchangeRequest struct {
	UserID         string
	MembershipID   string
	ConversationID string // continue this conversation; empty starts one
	Audio          Audio  // the uploaded file
	Mime           string // its content type, for storing it
	Voice          string
}

// ExchangeResult is what the turn produced.
type ExchangeResult struct {
	ConversationID string
	UserText       string
	AssistantText  string
	TTSAudioID     string
	UserAudioID    string
	Remaining      *int
	Metrics        Metrics
}

// ErrConversationMismatch: a REST turn named a conversation of another membership.
var ErrConversationMismatch = errors.New("conversation belongs to another membership")

// maxParallelTTS bounds the sentences of one REST reply synthesized at once.
const maxParallelTTS = 4

// Exchange runs an upload-and-wait turn. Membership problems are refused before anything is
// sent to a provider; a provider failure after the charge refunds it.
func (t *Tutor) Exchange(ctx context.Context, req ExchangeRequest) (ExchangeResult, error) {
	start := time.Now()
	m, err := t.store.UserMembership(ctx, req.UserID, req.MembershipID)
	if err != nil {
		return ExchangeResult{}, err
	}
	if err := m.Usable(t.store.Now()); err != nil {
		return ExchangeResult{}, err
	}
	// Silence and noise never reach the transcriber (for the formats this server can read).
	if known, speech, err := audioHasSpeech(req.Audio); err != nil {
		return ExchangeResult{}, err
	} else if known && !speech {
		return ExchangeResult{}, ErrNoSpeech
	}
	var history []historyEntry
	conv := req.ConversationID
	if conv != "" {
		msgs, err := t.conversationHistory(ctx, req.UserID, req.MembershipID, conv)
		if err != nil {
			return ExchangeResult{}, err
		}
		history = msgs
	} else {
		c, err := t.NewConversation(ctx, req.UserID, req.MembershipID, "rest")
		if err != nil {
			return ExchangeResult{}, err
		}
		conv = c.ID
	}
	res := ExchangeResult{ConversationID: conv}

	// Store the upload while it is transcribed.
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		id, err := t.store.SaveAudio(gctx, req.UserID, req.Mime, req.Audio.Data)
		res.UserAudioID = id
		return err
	})
	g.Go(func() error {
		sttStart := time.Now()
		text, err := t.transcribe(gctx, req.Audio)
		res.Metrics.STTMs = ms(time.Since(sttStart))
		res.UserText = text
		if err == nil && text == "" {
			err = ErrNoSpeech
		}
		return err
	})
	if err := g.Wait(); err != nil {
		return ExchangeResult{}, err
	}

	charge, err := t.store.ChargeChatUse(ctx, req.UserID, req.MembershipID, "rest chat")
	if err != nil {
		return ExchangeResult{}, err
	}
	res.Remaining = charge.Remaining

	reply, pcm, err := t.replyAndSpeech(ctx, buildChat(history, sessionSettings{Level: defaultLevel}, res.UserText), req.Voice, &res.Metrics)
	if err != nil {
		rctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
		defer cancel()
		if remaining, rerr := t.store.RefundChatUse(rctx, charge.ID, "provider_error"); rerr != nil {
			t.logger.Error("refund failed", "charge", charge.ID, "err", rerr)
		} else {
			res.Remaining = remaining
			t.metrics.refunds.Inc()
		}
		t.saveExchange(rctx, &res, store.TurnFailed, &charge, start)
		t.observeChannel("rest", store.TurnFailed, res.Metrics)
		return ExchangeResult{}, err
	}
	res.AssistantText = reply
	id, err := t.store.SaveAudio(ctx, req.UserID, "audio/wav", WAV(pcm, OutputSampleRate))
	if err != nil {
		return ExchangeResult{}, err
	}
	res.TTSAudioID = id
	res.Metrics.TotalMs = ms(time.Since(start))
	t.saveExchange(ctx, &res, store.TurnDone, &charge, start)
	t.observeChannel("rest", store.TurnDone, res.Metrics)
	return res, nil
}

// conversationHistory loads a REST conversation's turns for the chat model.
func (t *Tutor) conversationHistory(ctx context.Context, userID, membershipID, conversationID string) ([]historyEntry, error) {
	c, err := t.store.ConversationByID(ctx, conversationID)
	if err != nil {
		return nil, err
	}
	if c.UserID != userID {
		return nil, store.ErrForbidden
	}
	if c.MembershipID != membershipID {
		return nil, fmt.Errorf("%w: conversation %s belongs to another membership", ErrConversationMismatch, conversationID)
	}
	msgs, err := t.store.Messages(ctx, conversationID)
	if err != nil {
		return nil, err
	}
	if len(msgs) > maxHistory {
		msgs = msgs[len(msgs)-maxHistory:]
	}
	h := make([]historyEntry, 0, len(msgs))
	for _, m := range msgs {
		if m.Status != store.TurnFailed {
			h = append(h, historyEntry{turnID: m.TurnID, user: m.UserText, assistant: m.TutorText})
		}
	}
	return h, nil
}

// replyAndSpeech streams the chat reply and synthesizes each sentence as soon as it is
// complete, up to maxParallelTTS at once; it returns the reply and its whole speech in order.
func (t *Tutor) replyAndSpeech(ctx context.Context, req ChatRequest, voice string, m *Metrics) (string, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(maxParallelTTS + 1)
	var parts []*[]byte // each sentence's speech, in order
	synth := func(sentence string) {
		part := new([]byte)
		first := len(parts) == 0
		parts = append(parts, part)
		requested := time.Now()
		g.Go(func() error {
			pcm, err := t.synthesizeAll(gctx, sentence, voice)
			if first {
				m.TTSFirstByteMs = ms(time.Since(requested)) // the whole first sentence, on this route
			}
			*part = pcm
			return err
		})
	}
	chatStart := time.Now()
	stream, err := t.providers.Chat.StreamChat(gctx, req)
	if err != nil {
		return "", nil, providerError("chat", gctx, err)
	}
	defer stream.Close()
	var reply strings.Builder
	var split Splitter
	for {
		delta, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if werr := g.Wait(); werr != nil {
				return "", nil, werr // a synthesis failed and cancelled the chat
			}
			return "", nil, providerError("chat", gctx, err)
		}
		if delta != "" && m.ChatFirstTokenMs == nil {
			m.ChatFirstTokenMs = ms(time.Since(chatStart))
		}
		reply.WriteString(delta)
		for _, s := range split.Push(delta) {
			if m.FirstSentenceMs == nil {
				m.FirstSentenceMs = ms(time.Since(chatStart))
			}
			synth(s)
		}
	}
	if rest := split.Flush(); rest != "" {
		synth(rest)
	}
	if err := g.Wait(); err != nil {
		return "", nil, err
	}
	if len(parts) == 0 {
		return "", nil, fmt.Errorf("%w: chat: the model returned an empty reply", ErrProvider)
	}
	var pcm []byte
	for _, p := range parts {
		pcm = append(pcm, *p...)
	}
	return strings.TrimSpace(reply.String()), pcm, nil
}

func (t *Tutor) saveExchange(ctx context.Context, res *ExchangeResult, status string, charge *store.Charge, start time.Time) {
	msg := &store.Message{
		ConversationID: res.ConversationID, TurnID: "rest_" + randomID()[:12],
		UserText: res.UserText, TutorText: res.AssistantText, Status: status,
		STTMs: res.Metrics.STTMs, ChatFirstTokenMs: res.Metrics.ChatFirstTokenMs,
		FirstSentenceMs: res.Metrics.FirstSentenceMs, TTSFirstByteMs: res.Metrics.TTSFirstByteMs,
		TotalMs: ms(time.Since(start)), ChargeID: &charge.ID,
	}
	if res.UserAudioID != "" {
		msg.UserAudioID = &res.UserAudioID
	}
	if res.TTSAudioID != "" {
		msg.TutorAudioID = &res.TTSAudioID
	}
	if err := t.store.AddMessage(ctx, msg); err != nil {
		t.logger.Error("saving turn", "conversation", res.ConversationID, "err", err)
	}
}
