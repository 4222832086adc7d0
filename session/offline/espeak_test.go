package offline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/aitutor/aitutor/session"
)

// readAll reads a synthesis to its end and checks it is whole 16-bit samples.
func readAll(t *testing.T, rc io.ReadCloser) []int16 {
	t.Helper()
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("reading speech: %v", err)
	}
	if len(b)%2 != 0 {
		t.Fatalf("speech has %d bytes: not whole 16-bit samples", len(b))
	}
	return session.DecodePCM16(nil, b)
}

func rms(s []int16) float64 {
	var sum float64
	for _, v := range s {
		sum += float64(v) * float64(v)
	}
	return math.Sqrt(sum / float64(max(len(s), 1)))
}

func TestSynthesize(t *testing.T) {
	e := newEngines(t, Config{})
	tests := []struct {
		text  string
		voice string
		speed int
	}{
		{"Hello!", "nova", 150},
		{"The weather is lovely today, so let's go for a walk in the park.", "nova", 150},
		{"The weather is lovely today, so let's go for a walk in the park.", "echo", 150},
		{"What did you do last weekend, and who did you spend it with?", "en-gb", 150},
		{"What did you do last weekend, and who did you spend it with?", "nova", 250},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%d/%s", tt.voice, tt.speed, tt.text), func(t *testing.T) {
			sp := *e.tts
			sp.speed = tt.speed
			rc, err := sp.Synthesize(context.Background(), tt.text, tt.voice)
			if err != nil {
				t.Fatal(err)
			}
			got := readAll(t, rc)
			if rms(got) < 300 {
				t.Errorf("speech is nearly silent (RMS %.0f)", rms(got))
			}
			// 24 kHz: espeak-ng's own 22050 Hz output of the same text, resampled.
			espeakSamples, _ := speak(t, tt.text, e.tts.voices.resolve(tt.voice, e.tts.voice), tt.speed, 22050)
			want := float64(len(espeakSamples)) * session.OutputSampleRate / 22050
			if math.Abs(float64(len(got))-want) > 2 {
				t.Errorf("%d samples, want %.0f: espeak-ng's %d at 22050 Hz resampled to 24 kHz", len(got), want, len(espeakSamples))
			}
			// Plausible length: about as long as the words take at this speed.
			words := len(strings.Fields(tt.text))
			secs := float64(len(got)) / session.OutputSampleRate
			nominal := float64(words) * 60 / float64(tt.speed)
			if secs < 0.4*nominal || secs > 2*nominal+0.5 {
				t.Errorf("%.2f s of speech for %d words at %d wpm (about %.1f s expected)", secs, words, tt.speed, nominal)
			}
		})
	}
}

// longText takes espeak-ng long enough to produce that its output fills the pipe: it cannot
// end before the reader has taken most of it.
func longText() string {
	var b strings.Builder
	for i := range 40 {
		fmt.Fprintf(&b, "This is sentence number %d of a long answer about travel and food. ", i+1)
	}
	return b.String()
}

// processState returns the state letter of a process (R, S, Z, ...) or "" once it is gone.
func processState(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i > 0 && i+2 < len(s) {
		return s[i+2 : i+3]
	}
	return "?"
}

// startLong starts a long synthesis and reads its first bytes.
func startLong(t *testing.T, ctx context.Context, e *Engines) (*espeakStream, int) {
	t.Helper()
	rc, err := e.tts.Synthesize(ctx, longText(), "nova")
	if err != nil {
		t.Fatal(err)
	}
	s := rc.(*espeakStream)
	t.Cleanup(func() { s.Close() })
	buf := make([]byte, 4096)
	n, err := s.Read(buf)
	if err != nil || n == 0 {
		t.Fatalf("first read: %d bytes, %v", n, err)
	}
	return s, s.cmd.Process.Pid
}

func TestSynthesizeStreams(t *testing.T) {
	e := newEngines(t, Config{})
	s, pid := startLong(t, context.Background(), e)
	// The first bytes are here and espeak-ng is still running: it waits for us to read on.
	time.Sleep(200 * time.Millisecond)
	if st := processState(pid); st == "" || st == "Z" {
		t.Fatalf("espeak-ng ended (state %q) before its speech was read: the output is not streamed", st)
	}
	rest, err := io.ReadAll(s)
	if err != nil {
		t.Fatal(err)
	}
	if secs := float64(len(rest)) / 2 / session.OutputSampleRate; secs < 60 {
		t.Errorf("only %.1f s of speech for 40 sentences", secs)
	}
	if st := processState(pid); st != "" {
		t.Errorf("espeak-ng still there (state %q) after the end of its speech", st)
	}
	if n, err := s.Read(make([]byte, 10)); n != 0 || err != io.EOF {
		t.Errorf("read after the end: %d, %v; want 0, EOF", n, err)
	}
}

func TestSynthesizeCloseKills(t *testing.T) {
	e := newEngines(t, Config{})
	s, pid := startLong(t, context.Background(), e)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if st := processState(pid); st != "" {
		t.Fatalf("espeak-ng still there (state %q) after Close", st)
	}
	if _, err := s.Read(make([]byte, 10)); err == nil || err == io.EOF {
		t.Errorf("read after Close: %v, want an error", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestSynthesizeContextCancel(t *testing.T) {
	e := newEngines(t, Config{})
	ctx, cancel := context.WithCancel(context.Background())
	s, pid := startLong(t, ctx, e)
	cancel()
	deadline := time.Now().Add(5 * time.Second)
	var err error
	for err == nil && time.Now().Before(deadline) {
		_, err = s.Read(make([]byte, 4096))
	}
	if !errors.Is(err, context.Canceled) || errors.Is(err, session.ErrProvider) {
		t.Errorf("read after cancel: %v, want context.Canceled and not a provider failure", err)
	}
	if st := processState(pid); st != "" {
		t.Errorf("espeak-ng still there (state %q) after the cancellation", st)
	}

	// Already cancelled: nothing starts.
	if _, err := e.tts.Synthesize(ctx, "Hello.", "nova"); !errors.Is(err, context.Canceled) {
		t.Errorf("Synthesize with a cancelled context: %v", err)
	}
}

func TestSynthesizeTextIsNeverAnOption(t *testing.T) {
	e := newEngines(t, Config{})
	for _, text := range []string{"-v xx --help", "--stdout", "-w /tmp/x.wav hello", "line one\nline two\x00\x07", "  "} {
		rc, err := e.tts.Synthesize(context.Background(), text, "nova")
		if err != nil {
			t.Fatalf("%q: %v", text, err)
		}
		got := readAll(t, rc)
		if strings.TrimSpace(text) != "" && len(got) < session.OutputSampleRate/4 {
			t.Errorf("%q: %d samples: not spoken as text", text, len(got))
		}
		if strings.TrimSpace(text) == "" && len(got) != 0 {
			t.Errorf("blank text gave %d samples", len(got))
		}
	}
	if _, err := os.Stat("/tmp/x.wav"); err == nil {
		t.Error("text was taken as espeak-ng's -w option")
	}
}

func TestWAVStream(t *testing.T) {
	samples := make([]int16, 22050)
	for i := range samples {
		samples[i] = int16(8000 * math.Sin(float64(i)*2*math.Pi*440/22050))
	}
	pcm := session.EncodePCM16(nil, samples)
	want := session.EncodePCM16(nil, session.ResampleAll(samples, 22050, session.OutputSampleRate))
	placeholder := session.WAV(pcm, 22050)
	copy(placeholder[4:8], []byte{0x24, 0xf0, 0xff, 0x7f}) // espeak-ng's streamed sizes
	copy(placeholder[40:44], []byte{0x00, 0xf0, 0xff, 0x7f})
	withList := append(append([]byte(nil), placeholder[:36]...), append([]byte("LIST\x04\x00\x00\x00abcd"), placeholder[36:]...)...)
	tests := []struct {
		name string
		in   io.Reader
	}{
		{"sized", bytes.NewReader(session.WAV(pcm, 22050))},
		{"placeholder sizes, one byte at a time", iotest.OneByteReader(bytes.NewReader(placeholder))},
		{"extra chunk, odd reads", iotest.HalfReader(bytes.NewReader(withList))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := io.ReadAll(newWAVStream(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			// The same as resampling the whole clip at once, up to rounding (the resampler's
			// position is carried between reads).
			g, w := session.DecodePCM16(nil, got), session.DecodePCM16(nil, want)
			if len(g) != len(w) {
				t.Fatalf("got %d samples, want %d", len(g), len(w))
			}
			for i := range g {
				if d := int(g[i]) - int(w[i]); d > 1 || d < -1 {
					t.Fatalf("sample %d is %d, want %d: not the resampled input", i, g[i], w[i])
				}
			}
		})
	}
	for name, in := range map[string][]byte{
		"empty":  nil,
		"text":   []byte("Error: The specified espeak-ng voice does not exist.\n"),
		"stereo": stereoWAV(),
	} {
		if _, err := io.ReadAll(newWAVStream(bytes.NewReader(in))); !errors.Is(err, errBadStream) {
			t.Errorf("%s: %v, want errBadStream", name, err)
		}
	}
}

func stereoWAV() []byte {
	w := session.WAV(make([]byte, 400), 22050)
	w[22] = 2
	return w
}
