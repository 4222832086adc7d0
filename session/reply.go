package session

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// reply is the tutor's answer as it is produced: the chat model's sentences, in order, and the
// speech of each. The producer (produce) adds to it; a sink reads it while it grows (the live
// session streams each sentence's audio as it arrives) or once it is complete (the REST turn).
type reply struct {
	mu        sync.Mutex
	changed   chan struct{} // closed and replaced whenever something is added
	sentences []*spokenSentence
	complete  bool  // nothing more will be added
	err       error // the failure that ended it early, if any
	raw       strings.Builder

	// Latencies from the chat request (the producer writes them; read them once complete).
	chatFirstToken, firstSentence, ttsFirstByte time.Duration
}

// spokenSentence is one sentence of the reply and its speech as synthesized so far.
type spokenSentence struct {
	text  string
	audio []byte // 24 kHz 16-bit mono PCM; only ever appended to
	done  bool   // its synthesis finished
}

func newReply() *reply { return &reply{changed: make(chan struct{})} }

// notify wakes the readers; r.mu is held.
func (r *reply) notify() {
	close(r.changed)
	r.changed = make(chan struct{})
}

// state returns the sentences so far, whether the reply is complete, its error, and a channel
// that is closed when something changes.
func (r *reply) state() ([]*spokenSentence, bool, error, <-chan struct{}) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.sentences, r.complete, r.err, r.changed
}

// sentence returns the text, the audio so far and the done flag of sentence i.
func (r *reply) sentence(i int) (string, []byte, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.sentences[i]
	return s.text, s.audio, s.done
}

func (r *reply) add(text string) *spokenSentence {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := &spokenSentence{text: text}
	r.sentences = append(r.sentences, s)
	r.notify()
	return s
}

// fail ends the reply with err (the first failure wins).
func (r *reply) fail(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err == nil && !r.complete {
		r.err = err
	}
	r.complete = true
	r.notify()
}

func (r *reply) finish() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.complete = true
	r.notify()
}

// text is the reply's sentences joined, as the learner hears them.
func (r *reply) text() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	parts := make([]string, len(r.sentences))
	for i, s := range r.sentences {
		parts[i] = s.text
	}
	return strings.Join(parts, " ")
}

// audio returns the whole speech, concatenated.
func (r *reply) audio() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, s := range r.sentences {
		n += len(s.audio)
	}
	out := make([]byte, 0, n)
	for _, s := range r.sentences {
		out = append(out, s.audio...)
	}
	return out
}

// segments maps the reply's audio to its sentences: each sentence's text and the byte range of
// its speech (end is -1 while its synthesis is not complete; have is what was produced).
func (r *reply) segments() []segment {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]segment, 0, len(r.sentences))
	var at int64
	for _, s := range r.sentences {
		seg := segment{text: s.text, start: at, end: at + int64(len(s.audio)), have: int64(len(s.audio))}
		if !s.done {
			seg.end = -1
		}
		out = append(out, seg)
		at += int64(len(s.audio))
	}
	return out
}

// produce streams the chat reply into r and synthesizes each sentence as soon as it is
// complete, in order, at most prefetch at a time (so that the next sentence's speech is ready
// when the current one ends). Every stage has a time limit: the chat's first token and the gaps
// between tokens, each synthesis's first byte and the gaps between reads. It returns when the
// reply is complete, failed or ctx ended; every goroutine it started has ended by then. With a
// gate, only the first sentence is synthesized until the gate is closed (a speculative answer,
// speculate.go, prepares no more than its first sentence's speech before the turn commits).
func (e *Tutor) produce(ctx context.Context, req ChatRequest, voice string, prefetch int, r *reply, gate <-chan struct{}) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	fail := func(err error) {
		r.fail(err)
		cancel(err)
	}
	var wg sync.WaitGroup
	defer wg.Wait()

	// The dispatcher starts the syntheses in order, prefetch at a time.
	todo := make(chan *spokenSentence, maxSentences)
	slots := make(chan struct{}, max(prefetch, 1))
	start := time.Now()
	wg.Add(1)
	go func() {
		defer wg.Done()
		var synth sync.WaitGroup
		defer synth.Wait()
		first := true
		for s := range todo {
			if !first && gate != nil {
				select {
				case <-gate:
				case <-ctx.Done():
					continue
				}
			}
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				continue // drain until the chat loop closes todo
			}
			synth.Add(1)
			go func(s *spokenSentence, first bool) {
				defer synth.Done()
				defer func() { <-slots }()
				if err := e.synthesizeInto(ctx, s, voice, r, first); err != nil {
					fail(err)
				}
			}(s, first)
			first = false
		}
	}()

	err := e.streamChat(ctx, req, start, r, todo)
	close(todo)
	if err != nil {
		fail(err)
		return
	}
	wg.Wait()
	if ctx.Err() != nil {
		fail(providerError("chat", ctx, ctx.Err()))
		return
	}
	r.finish()
}

// maxSentences bounds the sentences of one reply (the chat request's MaxTokens keeps replies far
// shorter).
const maxSentences = 256

// streamChat reads the chat stream into r and hands each complete sentence to todo.
func (e *Tutor) streamChat(ctx context.Context, req ChatRequest, start time.Time, r *reply, todo chan<- *spokenSentence) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	to := e.timeouts
	watchdog := time.AfterFunc(to.ChatFirstToken, func() {
		cancel(fmt.Errorf("%w: chat: no first token within %v", ErrProviderTimeout, to.ChatFirstToken))
	})
	defer watchdog.Stop()

	stream, err := e.providers.Chat.StreamChat(ctx, req)
	if err != nil {
		return providerError("chat", ctx, err)
	}
	defer stream.Close()
	var split Splitter
	n := 0
	emit := func(text string) error {
		if n == 0 {
			r.mu.Lock()
			r.firstSentence = time.Since(start)
			r.mu.Unlock()
		}
		if n++; n > maxSentences {
			return fmt.Errorf("%w: chat: the reply has more than %d sentences", ErrProvider, maxSentences)
		}
		todo <- r.add(text)
		return nil
	}
	gotToken := false
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
		watchdog.Reset(to.ChatIdle)
		r.mu.Lock()
		if !gotToken {
			gotToken = true
			r.chatFirstToken = time.Since(start)
		}
		r.raw.WriteString(delta)
		r.mu.Unlock()
		for _, sentence := range split.Push(delta) {
			if err := emit(sentence); err != nil {
				return err
			}
		}
	}
	if rest := split.Flush(); rest != "" {
		if err := emit(rest); err != nil {
			return err
		}
	}
	if n == 0 {
		return fmt.Errorf("%w: chat: the model returned an empty reply", ErrProvider)
	}
	return nil
}

// synthesizeInto synthesizes s and appends its speech as it arrives.
func (e *Tutor) synthesizeInto(ctx context.Context, s *spokenSentence, voice string, r *reply, first bool) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	to := e.timeouts
	watchdog := time.AfterFunc(to.TTSFirstByte, func() {
		cancel(fmt.Errorf("%w: speech: no audio within %v", ErrProviderTimeout, to.TTSFirstByte))
	})
	defer watchdog.Stop()
	requested := time.Now()
	audio, err := e.synthesize(ctx, s.text, voice)
	if err != nil {
		return providerError("tts", ctx, err)
	}
	defer audio.Close()
	buf := make([]byte, audioChunk)
	carry := 0 // an odd byte left at the start of buf
	got := false
	for {
		n, err := audio.Read(buf[carry:])
		n += carry
		if n > carry {
			watchdog.Reset(to.TTSIdle)
			whole := n &^ 1
			r.mu.Lock()
			if !got && first {
				r.ttsFirstByte = time.Since(requested)
			}
			s.audio = append(s.audio, buf[:whole]...)
			r.notify()
			r.mu.Unlock()
			got = true
			carry = copy(buf, buf[whole:n])
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return providerError("tts", ctx, err)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(s.audio) == 0 {
		return fmt.Errorf("%w: speech: no audio for a sentence of %d characters", ErrProvider, len(s.text))
	}
	s.done = true
	r.notify()
	return nil
}
