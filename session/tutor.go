// Package session runs the tutor's conversations: one live conversation per WebSocket (wire
// protocol v1, reader and writer goroutines, turn detection, the streaming STT → chat → TTS
// pipeline, barge-in, quota charging) and the upload-and-wait turns of the REST routes. It does
// not import echo; the server hands it upgraded connections.
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

	"github.com/aitutor/aitutor/store"
)

// TutorConfig configures the turn engine.
type TutorConfig struct {
	Providers      Providers
	Store          *store.Store
	Logger         *slog.Logger
	Voice          string        // default TTS voice
	AudioRetention time.Duration // stored audio lives this long (greeting audio is reused for half of it)
	Registerer     prometheus.Registerer
}

// Tutor is the turn engine shared by WebSocket sessions and the REST routes.
type Tutor struct {
	providers Providers
	store     *store.Store
	logger    *slog.Logger
	voice     string
	retention time.Duration
	metrics   *tutorMetrics

	greetMu  sync.Mutex
	greeting map[string]cachedClip // voice + text → stored greeting audio
}

type cachedClip struct {
	id      string
	created time.Time
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
		logger:    cfg.Logger,
		voice:     cfg.Voice,
		retention: cfg.AudioRetention,
		metrics:   newTutorMetrics(cfg.Registerer),
		greeting:  map[string]cachedClip{},
	}, nil
}

// ProviderName names the engines in use, for logs.
func (t *Tutor) ProviderName() string { return t.providers.Name }

// transcribe runs speech recognition with a timeout.
func (t *Tutor) transcribe(ctx context.Context, a Audio) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, sttTimeout)
	defer cancel()
	text, err := t.providers.STT.Transcribe(ctx, a)
	if err != nil {
		if errors.Is(err, ErrUnsupportedAudio) || errors.Is(err, ErrNoSpeech) {
			return "", err
		}
		return "", providerError("stt", ctx, err)
	}
	return strings.TrimSpace(text), nil
}

// synthesize starts speech synthesis of one sentence.
func (t *Tutor) synthesize(ctx context.Context, text, voice string) (io.ReadCloser, error) {
	if voice == "" {
		voice = t.voice
	}
	return t.providers.TTS.Synthesize(ctx, text, voice)
}

// synthesizeAll returns the whole speech of text as 24 kHz PCM.
func (t *Tutor) synthesizeAll(ctx context.Context, text, voice string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	rc, err := t.synthesize(ctx, text, voice)
	if err != nil {
		return nil, providerError("tts", ctx, err)
	}
	defer rc.Close()
	pcm, err := io.ReadAll(rc)
	if err != nil {
		return nil, providerError("tts", ctx, err)
	}
	return pcm[:len(pcm)&^1], nil
}

// GreetingResult is what POST /api/tutor/init answers.
type GreetingResult struct {
	Text    string
	AudioID string
}

// Greet returns the tutor's greeting (or text, when given) and its stored speech. The standard
// greeting's audio is synthesized once per voice and reused.
func (t *Tutor) Greet(ctx context.Context, userID, text, voice string) (GreetingResult, error) {
	if voice == "" {
		voice = t.voice
	}
	custom := text != ""
	if !custom {
		text = Greeting("")
	}
	key := voice + "\x00" + text
	if !custom {
		t.greetMu.Lock()
		c, ok := t.greeting[key]
		t.greetMu.Unlock()
		if ok && time.Since(c.created) < t.retention/2 {
			return GreetingResult{Text: text, AudioID: c.id}, nil
		}
	}
	pcm, err := t.synthesizeAll(ctx, text, voice)
	if err != nil {
		return GreetingResult{}, err
	}
	owner := userID
	if !custom {
		owner = "" // shared by everyone
	}
	id, err := t.store.SaveAudio(ctx, owner, "audio/wav", WAV(pcm, OutputSampleRate))
	if err != nil {
		return GreetingResult{}, err
	}
	if !custom {
		t.greetMu.Lock()
		t.greeting[key] = cachedClip{id: id, created: time.Now()}
		t.greetMu.Unlock()
	}
	return GreetingResult{Text: text, AudioID: id}, nil
}

// NewConversation starts a conversation for a WebSocket session or a REST turn.
func (t *Tutor) NewConversation(ctx context.Context, userID, membershipID, channel string) (store.Conversation, error) {
	return t.store.CreateConversation(ctx, userID, membershipID, channel, defaultLevel, "")
}

type tutorMetrics struct {
	stages   *prometheus.HistogramVec
	turns    *prometheus.CounterVec
	refunds  prometheus.Counter
	sessions prometheus.Gauge
	closes   *prometheus.CounterVec
	frames   prometheus.Counter
}

func newTutorMetrics(reg prometheus.Registerer) *tutorMetrics {
	m := &tutorMetrics{
		stages: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "aitutor_turn_stage_seconds",
			Help:    "Latency of each stage of a tutor turn (endpoint, stt, charge, chat_first_token, first_sentence, tts_first_byte, first_audio, total).",
			Buckets: []float64{.01, .025, .05, .1, .2, .3, .5, .75, 1, 1.5, 2, 3, 5, 8, 13, 20, 30},
		}, []string{"channel", "stage"}),
		turns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "aitutor_turns_total",
			Help: "Tutor turns by channel and outcome (done, cancelled, failed).",
		}, []string{"channel", "status"}),
		refunds: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "aitutor_chat_refunds_total",
			Help: "Chat uses refunded after a provider failure.",
		}),
		sessions: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "aitutor_sessions_active",
			Help: "Live WebSocket sessions.",
		}),
		closes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "aitutor_sessions_closed_total",
			Help: "Closed WebSocket sessions by close code.",
		}, []string{"code"}),
		frames: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "aitutor_audio_frames_total",
			Help: "Audio frames received from learners and run through turn detection.",
		}),
	}
	reg.MustRegister(m.stages, m.turns, m.refunds, m.sessions, m.closes, m.frames)
	return m
}

func (t *Tutor) observe(status string, m Metrics) { t.observeChannel("ws", status, m) }

func (t *Tutor) observeChannel(channel, status string, m Metrics) {
	t.metrics.turns.WithLabelValues(channel, status).Inc()
	for stage, v := range map[string]*float64{
		"endpoint": m.EndpointMs, "stt": m.STTMs, "chat_first_token": m.ChatFirstTokenMs,
		"first_sentence": m.FirstSentenceMs, "tts_first_byte": m.TTSFirstByteMs,
		"first_audio": m.FirstAudioMs, "total": m.TotalMs,
	} {
		if v != nil {
			t.metrics.stages.WithLabelValues(channel, stage).Observe(*v / 1000)
		}
	}
}

// errString keeps provider messages short in events.
func errString(err error) string { return truncateString(fmt.Sprint(err), 300) }
