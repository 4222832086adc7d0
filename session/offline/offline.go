// Package offline implements the session providers without any API key: espeak-ng speech,
// pocketsphinx recognition, a scripted tutor and a rule-based reviewer of conversations (its
// correction rules, the server's fluency figures and a level heuristic; review.go). It is the
// default when no OpenAI key is set, so that a fresh checkout gives a tutor that listens,
// speaks and reviews.
//
// Speech recognition has two builds. With the build tag pocketsphinx (cgo and libpocketsphinx,
// found with pkg-config pocketsphinx sphinxbase) a small pool of decoders keeps the model
// loaded between turns. Without it, every turn runs pocketsphinx_continuous on a temporary WAV
// file, which loads the model each time (measured on a 3 s utterance: about 1.2 s a turn,
// against 0.8 s with the decoder pool).
package offline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/aitutor/aitutor/session"
)

// Defaults of Config.
const (
	DefaultVoice           = "en-us+f3"
	DefaultSpeed           = 150 // words per minute
	DefaultModelDir        = "/usr/share/pocketsphinx/model/en-us"
	DefaultDecoders        = 2
	DefaultFirstTokenDelay = 40 * time.Millisecond
	DefaultTokenDelay      = 25 * time.Millisecond
)

// InstallCommand installs the offline engines on Debian and Ubuntu.
const InstallCommand = "apt-get install -y espeak-ng pocketsphinx pocketsphinx-en-us"

// ErrNotInstalled: an engine binary or the speech model is missing.
var ErrNotInstalled = errors.New("voice engines not installed")

// Config configures the offline engines. Voice, Speed and Logger are what the server sets; the
// other fields default to Debian's packages and the scripted tutor's usual pace.
type Config struct {
	Voice  string // espeak-ng voice of the default voice (nova) and of unknown names; default en-us+f3
	Speed  int    // speaking rate in words per minute (80–450); default 150
	Logger *slog.Logger

	// ModelDir holds the pocketsphinx US-English model: the acoustic model en-us/, the language
	// model en-us.lm.bin and the dictionary cmudict-en-us.dict. Default DefaultModelDir.
	ModelDir string
	// Decoders is how many pocketsphinx decoders the cgo build keeps loaded (each holds the
	// model: about 95 MB, 0.3 s to load); turns beyond that wait for a free one. Default 2.
	Decoders int
	// FirstTokenDelay and TokenDelay pace the scripted tutor's stream like a chat model's: the
	// wait before the first piece and between pieces. Zero takes the defaults (40 ms, 25 ms);
	// a negative value means no delay.
	FirstTokenDelay time.Duration
	TokenDelay      time.Duration

	// EspeakPath and PocketsphinxPath are the engine binaries: a path, or a name looked up on
	// PATH. Defaults espeak-ng and pocketsphinx_continuous (the latter only without the
	// pocketsphinx build tag).
	EspeakPath       string
	PocketsphinxPath string
	// FFmpegPath converts webm, ogg, mp3, m4a and flac uploads for recognition: "" looks for
	// ffmpeg on PATH (it is optional), "off" disables the conversion.
	FFmpegPath string
}

func (c Config) withDefaults() Config {
	if c.Voice == "" {
		c.Voice = DefaultVoice
	}
	if c.Speed == 0 {
		c.Speed = DefaultSpeed
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.ModelDir == "" {
		c.ModelDir = DefaultModelDir
	}
	if c.Decoders <= 0 {
		c.Decoders = DefaultDecoders
	}
	if c.FirstTokenDelay == 0 {
		c.FirstTokenDelay = DefaultFirstTokenDelay
	}
	if c.TokenDelay == 0 {
		c.TokenDelay = DefaultTokenDelay
	}
	if c.EspeakPath == "" {
		c.EspeakPath = "espeak-ng"
	}
	if c.PocketsphinxPath == "" {
		c.PocketsphinxPath = "pocketsphinx_continuous"
	}
	return c
}

// Engines are the offline providers. They are safe for concurrent use by many sessions.
type Engines struct {
	tts  *speaker
	stt  *listener
	chat *scriptedTutor

	closeOnce sync.Once
	closeErr  error
}

// New checks that espeak-ng, pocketsphinx and its model are installed and returns the engines.
// When something is missing, the error (ErrNotInstalled) names it and the line that installs
// it.
func New(cfg Config) (*Engines, error) {
	cfg = cfg.withDefaults()
	if cfg.Speed < 80 || cfg.Speed > 450 {
		return nil, fmt.Errorf("offline: speed %d is outside espeak-ng's 80–450 words per minute", cfg.Speed)
	}
	model := sphinxModel{
		hmm:  filepath.Join(cfg.ModelDir, "en-us"),
		lm:   filepath.Join(cfg.ModelDir, "en-us.lm.bin"),
		dict: filepath.Join(cfg.ModelDir, "cmudict-en-us.dict"),
	}
	espeak, missing := findEngines(&cfg, model)
	if len(missing) > 0 {
		return nil, notInstalled(missing)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	voices, err := loadVoices(ctx, espeak)
	if err != nil {
		return nil, err
	}
	defVoice, ok := voices.lookup(cfg.Voice)
	if !ok {
		return nil, fmt.Errorf("offline: %q is not an espeak-ng voice (list them with: espeak-ng --voices=en; variants: espeak-ng --voices=variant)", cfg.Voice)
	}
	ffmpeg := ""
	if cfg.FFmpegPath != "off" {
		name := cfg.FFmpegPath
		if name == "" {
			name = "ffmpeg"
		}
		if p, err := exec.LookPath(name); err == nil {
			ffmpeg = p
		} else if cfg.FFmpegPath != "" {
			return nil, fmt.Errorf("offline: ffmpeg %q: %w", cfg.FFmpegPath, err)
		}
	}
	rec, err := newRecognizer(cfg, model)
	if err != nil {
		return nil, err
	}
	uploads := "WAV and raw PCM (install ffmpeg to add webm, ogg, mp3, m4a and flac)"
	if ffmpeg != "" {
		uploads = "WAV, raw PCM, and through " + ffmpeg + " webm, ogg, mp3, m4a and flac"
	}
	cfg.Logger.Info("offline speech recognition", "path", rec.describe(), "model", cfg.ModelDir, "reads", uploads)
	cfg.Logger.Info("offline speech synthesis", "engine", espeak, "voice", defVoice, "speed", cfg.Speed)
	return &Engines{
		tts:  &speaker{bin: espeak, voice: defVoice, speed: cfg.Speed, voices: voices},
		stt:  &listener{rec: rec, ffmpeg: ffmpeg},
		chat: &scriptedTutor{firstDelay: cfg.FirstTokenDelay, delay: cfg.TokenDelay},
	}, nil
}

// findEngines looks up the binaries and model files; it returns espeak-ng's path and what is
// missing. PocketsphinxPath is resolved in place.
func findEngines(cfg *Config, model sphinxModel) (string, []string) {
	var missing []string
	espeak, err := exec.LookPath(cfg.EspeakPath)
	if err != nil {
		missing = append(missing, fmt.Sprintf("espeak-ng (%s not found)", cfg.EspeakPath))
	}
	if needsPocketsphinxBinary {
		p, err := exec.LookPath(cfg.PocketsphinxPath)
		if err != nil {
			missing = append(missing, fmt.Sprintf("pocketsphinx (%s not found)", cfg.PocketsphinxPath))
		}
		cfg.PocketsphinxPath = p
	}
	var absent []string
	for _, f := range []string{filepath.Join(model.hmm, "mdef"), model.lm, model.dict} {
		if _, err := os.Stat(f); err != nil {
			absent = append(absent, f)
		}
	}
	if len(absent) > 0 {
		missing = append(missing, fmt.Sprintf("the pocketsphinx US-English model (pocketsphinx-en-us: %s not found)", strings.Join(absent, ", ")))
	}
	return espeak, missing
}

// notInstalled is the one error New returns for missing engines.
func notInstalled(missing []string) error {
	install := InstallCommand
	if os.Geteuid() != 0 {
		install = "sudo " + install // apt-get needs root
	}
	list := strings.Join(missing, ", ")
	if n := len(missing); n > 1 {
		list = strings.Join(missing[:n-1], ", ") + " and " + missing[n-1]
	}
	return fmt.Errorf("offline: %w: missing %s; install them with: %s", ErrNotInstalled, list, install)
}

// Providers returns the session providers.
func (e *Engines) Providers() session.Providers {
	return session.Providers{Name: "offline", STT: e.stt, Chat: e.chat, TTS: e.tts, Review: reviewer{}}
}

// Close releases the engines: the cgo build frees its decoders once the turns using them end.
// Syntheses and transcriptions still running are not interrupted; their contexts do that.
func (e *Engines) Close() error {
	e.closeOnce.Do(func() { e.closeErr = e.stt.rec.close() })
	return e.closeErr
}
