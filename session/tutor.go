// Package session runs the tutor's conversations: one live conversation per WebSocket (wire
// protocol v1, reader and writer goroutines, turn detection, barge-in) and the upload-and-wait
// turns of the REST routes, both on one turn pipeline (pipeline.go) with one billing rule
// (billing.go). It does not import echo; the server hands it requests to upgrade (Hub.Open) and
// uploads to answer (Tutor.Exchange). It depends on the interfaces it defines: the providers
// (provider.go) and the database (storage.go).
package session

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Timeouts bound every provider stage; a stage that takes longer ends the turn with a
// provider_timeout error and a refund.
type Timeouts struct {
	STT            time.Duration // a whole transcription (30s)
	ChatFirstToken time.Duration // until the chat model's first token (20s)
	ChatIdle       time.Duration // between tokens (15s)
	TTSFirstByte   time.Duration // until a sentence's first audio byte (15s)
	TTSIdle        time.Duration // between audio reads (10s)
}

func (t Timeouts) withDefaults() Timeouts {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&t.STT, 30*time.Second)
	def(&t.ChatFirstToken, 20*time.Second)
	def(&t.ChatIdle, 15*time.Second)
	def(&t.TTSFirstByte, 15*time.Second)
	def(&t.TTSIdle, 10*time.Second)
	return t
}

// TutorConfig configures the turn engine.
type TutorConfig struct {
	Providers      Providers
	Store          Storage
	Logger         *slog.Logger
	Voice          string        // default TTS voice
	AudioRetention time.Duration // stored audio lives this long (greeting audio is reused for half of it)
	Timeouts       Timeouts
	Registerer     prometheus.Registerer
}

// Tutor is the turn engine shared by WebSocket sessions and the REST routes.
type Tutor struct {
	providers Providers
	store     Storage
	reviews   ReviewStore
	logger    *slog.Logger
	voice     string
	retention time.Duration
	timeouts  Timeouts
	metrics   *tutorMetrics

	// background holds the writes that outlive their turn (clips, settlement retries).
	background sync.WaitGroup
	stopping   chan struct{}
	stopOnce   sync.Once

	greetings *speechCache
}

// NewTutor returns the turn engine.
func NewTutor(cfg TutorConfig) (*Tutor, error) {
	if cfg.Providers.STT == nil || cfg.Providers.Chat == nil || cfg.Providers.TTS == nil {
		return nil, errors.New("session: the STT, chat and TTS providers are required")
	}
	if cfg.Store == nil || cfg.Logger == nil {
		return nil, errors.New("session: Store and Logger are required")
	}
	if cfg.Voice == "" {
		cfg.Voice = "nova"
	}
	if cfg.AudioRetention <= 0 {
		cfg.AudioRetention = 720 * time.Hour
	}
	if cfg.Registerer == nil {
		cfg.Registerer = prometheus.NewRegistry()
	}
	return &Tutor{
		providers: cfg.Providers,
		store:     cfg.Store,
		reviews:   cfg.Store,
		logger:    cfg.Logger,
		voice:     cfg.Voice,
		retention: cfg.AudioRetention,
		timeouts:  cfg.Timeouts.withDefaults(),
		metrics:   newTutorMetrics(cfg.Registerer),
		stopping:  make(chan struct{}),
		greetings: newSpeechCache(greetingCacheSize, cfg.AudioRetention/2),
	}, nil
}

// ProviderName names the engines in use, for logs.
func (e *Tutor) ProviderName() string { return e.providers.Name }

// Close waits (until ctx ends) for the writes that outlive their turns; settlements still
// retrying are left to the reconciler.
func (e *Tutor) Close(ctx context.Context) error {
	e.stopOnce.Do(func() { close(e.stopping) })
	done := make(chan struct{})
	go func() {
		e.background.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return errors.New("session: background writes did not finish in time")
	}
}

// transcribe runs speech recognition within its time limit.
func (e *Tutor) transcribe(ctx context.Context, a Audio) (string, error) {
	ctx, cancel := context.WithTimeoutCause(ctx, e.timeouts.STT,
		fmt.Errorf("%w: stt: no transcript within %v", ErrProviderTimeout, e.timeouts.STT))
	defer cancel()
	text, err := e.providers.STT.Transcribe(ctx, a)
	if err != nil {
		if errors.Is(err, ErrUnsupportedAudio) || errors.Is(err, ErrNoSpeech) {
			return "", err
		}
		return "", providerError("stt", ctx, err)
	}
	return strings.TrimSpace(text), nil
}

// synthesize starts speech synthesis of one sentence.
func (e *Tutor) synthesize(ctx context.Context, text, voice string) (io.ReadCloser, error) {
	if voice == "" {
		voice = e.voice
	}
	return e.providers.TTS.Synthesize(ctx, text, voice)
}

// synthesizeAll returns the whole speech of text as 24 kHz PCM.
func (e *Tutor) synthesizeAll(ctx context.Context, text, voice string) ([]byte, error) {
	r := newReply()
	s := r.add(text)
	if err := e.synthesizeInto(ctx, s, voice, r, true); err != nil {
		return nil, err
	}
	return s.audio, nil
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
	return fmt.Errorf("%s: %w: %v", stage, ErrProvider, err)
}
