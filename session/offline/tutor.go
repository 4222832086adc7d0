package offline

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/aitutor/aitutor/session"
)

// The scripted tutor stands in for the chat model: it reads the level and topic from the system
// prompt and the learner's last message (script.go), writes a reply of one to three sentences,
// and streams it in word pieces with a model's pace, so that sentence splitting, early speech
// and barge-in work as they do with a real model.

// scriptedTutor implements session.Chatter.
type scriptedTutor struct {
	firstDelay, delay time.Duration // < 0: none
}

// errChatClosed is what Recv returns after Close.
var errChatClosed = errors.New("offline: chat stream closed")

// StreamChat writes the reply to req and streams it.
func (t *scriptedTutor) StreamChat(ctx context.Context, req session.ChatRequest) (session.ChatStream, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	pieces := splitPieces(reply(readConversation(req.Messages)))
	if req.MaxTokens > 0 && len(pieces) > req.MaxTokens {
		pieces = pieces[:req.MaxTokens]
	}
	return &chatStream{ctx: ctx, pieces: pieces, firstDelay: t.firstDelay, delay: t.delay, done: make(chan struct{})}, nil
}

// chatStream hands out the pieces of a reply, each after its delay. It starts no goroutine.
type chatStream struct {
	ctx               context.Context
	pieces            []string
	next              int
	firstDelay, delay time.Duration
	timer             *time.Timer
	done              chan struct{}
	closeOnce         sync.Once
}

// Recv returns the next piece, io.EOF after the last; the context's error once it is cancelled.
func (s *chatStream) Recv() (string, error) {
	select {
	case <-s.done:
		return "", errChatClosed
	default:
	}
	if err := s.ctx.Err(); err != nil {
		return "", err
	}
	if s.next >= len(s.pieces) {
		return "", io.EOF
	}
	wait := s.delay
	if s.next == 0 {
		wait = s.firstDelay
	}
	if wait > 0 {
		if s.timer == nil {
			s.timer = time.NewTimer(wait)
		} else {
			s.timer.Reset(wait)
		}
		select {
		case <-s.timer.C:
		case <-s.ctx.Done():
			s.timer.Stop()
			return "", s.ctx.Err()
		case <-s.done:
			s.timer.Stop()
			return "", errChatClosed
		}
	}
	p := s.pieces[s.next]
	s.next++
	return p, nil
}

// Close stops the stream; a Recv waiting for its piece returns at once.
func (s *chatStream) Close() error {
	s.closeOnce.Do(func() { close(s.done) })
	return nil
}

// splitPieces cuts text into pieces the way a model's tokenizer does: words with their leading
// space, long words in two, punctuation on its own.
func splitPieces(text string) []string {
	var pieces []string
	for i, word := range strings.Fields(text) {
		lead := " "
		if i == 0 {
			lead = ""
		}
		// Trailing punctuation is a piece of its own: "friends" then "?".
		end := len(word)
		for end > 0 {
			r, size := utf8.DecodeLastRuneInString(word[:end])
			if !unicode.IsPunct(r) || end-size == 0 {
				break
			}
			end -= size
		}
		core, punct := word[:end], word[end:]
		if n := utf8.RuneCountInString(core); n > 7 && isLetters(core) {
			half := len(string([]rune(core)[:n/2]))
			pieces = append(pieces, lead+core[:half], core[half:])
		} else {
			pieces = append(pieces, lead+core)
		}
		if punct != "" {
			pieces = append(pieces, punct)
		}
	}
	return pieces
}

func isLetters(s string) bool {
	for _, r := range s {
		if !unicode.IsLetter(r) {
			return false
		}
	}
	return true
}
