package offline

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that no test leaves a goroutine behind (espeak-ng and pocketsphinx processes
// are waited for by goroutines of os/exec, so a leaked process shows up here too).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestNewProviders(t *testing.T) {
	var logs bytes.Buffer
	e := newEngines(t, Config{Voice: "en-us+f3", Speed: 150, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	p := e.Providers()
	if p.Name != "offline" || p.STT == nil || p.Chat == nil || p.TTS == nil || p.Review == nil {
		t.Fatalf("Providers() = %+v, want offline with STT, chat, TTS and reviews", p)
	}
	// New logs which speech recognizer this build uses.
	want := "per-turn process"
	if !needsPocketsphinxBinary {
		want = "cgo decoder pool"
	}
	if !strings.Contains(logs.String(), "offline speech recognition") || !strings.Contains(logs.String(), want) {
		t.Errorf("start-up log does not name the recognizer %q:\n%s", want, logs.String())
	}
}

func TestNewDefaults(t *testing.T) {
	e := newEngines(t, Config{})
	if e.tts.voice != DefaultVoice || e.tts.speed != DefaultSpeed {
		t.Errorf("defaults: voice %q speed %d, want %q %d", e.tts.voice, e.tts.speed, DefaultVoice, DefaultSpeed)
	}
	if e.chat.firstDelay != DefaultFirstTokenDelay || e.chat.delay != DefaultTokenDelay {
		t.Errorf("defaults: token delays %v %v", e.chat.firstDelay, e.chat.delay)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil { // twice is fine
		t.Fatal(err)
	}
}

func TestNewMissingEngines(t *testing.T) {
	missingModel := t.TempDir()
	tests := []struct {
		name  string
		cfg   Config
		wants []string
	}{
		{"espeak-ng", Config{EspeakPath: "espeak-ng-not-installed"}, []string{"espeak-ng (espeak-ng-not-installed not found)"}},
		{"model", Config{ModelDir: missingModel}, []string{"pocketsphinx US-English model", missingModel + "/en-us.lm.bin"}},
		{"both", Config{EspeakPath: "/nonexistent/espeak-ng", ModelDir: missingModel}, []string{"espeak-ng", "model"}},
	}
	if needsPocketsphinxBinary {
		tests = append(tests, struct {
			name  string
			cfg   Config
			wants []string
		}{"pocketsphinx_continuous", Config{PocketsphinxPath: "pocketsphinx-not-installed"}, []string{"pocketsphinx (pocketsphinx-not-installed not found)"}})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := New(tt.cfg)
			if err == nil {
				e.Close()
				t.Fatal("New succeeded with an engine missing")
			}
			if !errors.Is(err, ErrNotInstalled) {
				t.Errorf("error %v is not ErrNotInstalled", err)
			}
			msg := err.Error()
			for _, w := range tt.wants {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not name %q", msg, w)
				}
			}
			install := InstallCommand
			if os.Geteuid() != 0 {
				install = "sudo " + install
			}
			if !strings.Contains(msg, install) {
				t.Errorf("error %q does not give the install line %q", msg, install)
			}
			if strings.Count(msg, "apt-get") != 1 {
				t.Errorf("error %q should be one message with one install line", msg)
			}
		})
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"unknown voice", Config{Voice: "xx-klingon"}, `"xx-klingon" is not an espeak-ng voice`},
		{"unknown variant", Config{Voice: "en-us+nosuch"}, `"en-us+nosuch" is not an espeak-ng voice`},
		{"speed", Config{Speed: 1000}, "speed 1000"},
		{"ffmpeg", Config{FFmpegPath: "/nonexistent/ffmpeg"}, "ffmpeg"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := New(tt.cfg)
			if err == nil {
				e.Close()
				t.Fatal("New accepted a bad configuration")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
		})
	}
}
