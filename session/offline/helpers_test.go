package offline

import (
	"bytes"
	"context"
	"log/slog"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/aitutor/aitutor/session"
)

// Test helpers. The tests run the real engines: espeak-ng and pocketsphinx must be installed
// (InstallCommand); when they are not, the tests fail and say how to install them.

// testVoice and testSpeed speak the learner's side in tests. pocketsphinx's generic US-English
// model is weak on espeak-ng's voices; of those tried (en-us with variants f2–f5, m1–m7, klatt
// 1–6, Andrea, Annie, belinda; en-gb+f3; 120 to 185 words a minute) it recognises en-us+klatt
// at 175 best: 21 of 23 key words in nine everyday sentences, against 6 to 9 for en-us+f3.
const (
	testVoice = "en-us+klatt"
	testSpeed = 175
)

// newEngines starts the engines for a test and closes them at its end.
func newEngines(t testing.TB, cfg Config) *Engines {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(testLog{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	e, err := New(cfg)
	if err != nil {
		t.Fatalf("offline engines: %v", err)
	}
	t.Cleanup(func() {
		if err := e.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return e
}

type testLog struct{ t testing.TB }

func (w testLog) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}

// speak returns text spoken by espeak-ng (run directly, not through the engines) as samples at
// rate, and espeak-ng's own WAV file.
func speak(t testing.TB, text, voice string, speed, rate int) ([]int16, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "espeak-ng", "-v", voice, "-s", strconv.Itoa(speed), "--stdout", "--", text).Output()
	if err != nil {
		t.Fatalf("espeak-ng (install it with: %s): %v", InstallCommand, err)
	}
	samples, from, err := session.ParseWAV(out)
	if err != nil {
		t.Fatalf("espeak-ng output: %v", err)
	}
	return session.ResampleAll(samples, from, rate), out
}
