package offline

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aitutor/aitutor/session"
)

// learnerSentences are spoken by espeak-ng and recognised by pocketsphinx in the tests, with
// the words that must come through. pocketsphinx's generic model is weak on espeak-ng's voice;
// these are words it gets reliably (on both recognizers) in testVoice at testSpeed.
var learnerSentences = []struct {
	text string
	keys []string
}{
	{"I like to play football with my friends on the weekend", []string{"football", "friends", "weekend"}},
	{"I work in a hospital as a doctor", []string{"hospital", "doctor"}},
	{"I love music and I play the guitar", []string{"music", "guitar"}},
	{"I went to the beach with my family", []string{"beach", "family"}},
	{"I read a book every night before bed", []string{"book", "night"}},
	{"I want to travel to London next summer", []string{"travel", "summer"}},
}

// missingWords returns the keys that text lacks (whole words, or their plural).
func missingWords(text string, keys []string) []string {
	var missing []string
	for _, k := range keys {
		if !regexp.MustCompile(`(?i)\b` + regexp.QuoteMeta(k) + `s?\b`).MatchString(text) {
			missing = append(missing, k)
		}
	}
	return missing
}

func TestTranscribeSpokenSentences(t *testing.T) {
	e := newEngines(t, Config{})
	for _, s := range learnerSentences {
		t.Run(s.text, func(t *testing.T) {
			t.Parallel()
			pcm, _ := speak(t, s.text, testVoice, testSpeed, 16000)
			got, err := e.stt.Transcribe(context.Background(), session.Audio{Data: session.EncodePCM16(nil, pcm), Format: session.FormatPCM16, SampleRate: 16000})
			if err != nil {
				t.Fatal(err)
			}
			if missing := missingWords(got, s.keys); len(missing) > 0 {
				t.Errorf("recognised %q: missing %v", got, missing)
			}
			if got != "" && (got[0] < 'A' || got[0] > 'Z') {
				t.Errorf("transcript %q does not start with a capital", got)
			}
		})
	}
}

// TestTranscribeFormats feeds one utterance as raw PCM at several rates and as espeak-ng's own
// WAV file (22050 Hz, with placeholder sizes).
func TestTranscribeFormats(t *testing.T) {
	e := newEngines(t, Config{})
	s := learnerSentences[0]
	_, wav := speak(t, s.text, testVoice, testSpeed, 16000)
	pcm24, _ := speak(t, s.text, testVoice, testSpeed, 24000)
	pcm48, _ := speak(t, s.text, testVoice, testSpeed, 48000)
	tests := []struct {
		name  string
		audio session.Audio
	}{
		{"wav 22050 Hz", session.Audio{Data: wav, Format: session.FormatWAV}},
		{"WAV upper case", session.Audio{Data: wav, Format: "WAV"}},
		{"pcm16 24 kHz", session.Audio{Data: session.EncodePCM16(nil, pcm24), Format: session.FormatPCM16, SampleRate: 24000}},
		{"pcm16 48 kHz", session.Audio{Data: session.EncodePCM16(nil, pcm48), Format: session.FormatPCM16, SampleRate: 48000}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := e.stt.Transcribe(context.Background(), tt.audio)
			if err != nil {
				t.Fatal(err)
			}
			if missing := missingWords(got, s.keys); len(missing) > 0 {
				t.Errorf("recognised %q: missing %v", got, missing)
			}
		})
	}
}

func TestTranscribeSilence(t *testing.T) {
	e := newEngines(t, Config{})
	rng := rand.New(rand.NewPCG(1, 2))
	hiss := make([]int16, 2*16000)
	hum := make([]int16, 2*16000)
	for i := range hiss {
		hiss[i] = int16(rng.IntN(41) - 20)                             // -60 dBFS: not decoded at all
		hum[i] = int16(1000 * math.Sin(float64(i)*2*math.Pi*50/16000)) // mains hum: decoded, no words
	}
	tests := []struct {
		name    string
		samples []int16
	}{
		{"digital silence", make([]int16, 2*16000)},
		{"quiet hiss", hiss},
		{"mains hum", hum},
		{"a click", []int16{0, 3000, -3000, 0}},
		{"nothing", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, a := range []session.Audio{
				{Data: session.EncodePCM16(nil, tt.samples), Format: session.FormatPCM16, SampleRate: 16000},
				{Data: session.WAV(session.EncodePCM16(nil, tt.samples), 16000), Format: session.FormatWAV},
			} {
				got, err := e.stt.Transcribe(context.Background(), a)
				if err != nil || got != "" {
					t.Errorf("%s: %q, %v; want no words", a.Format, got, err)
				}
			}
		})
	}
}

func TestTranscribeUnsupported(t *testing.T) {
	e := newEngines(t, Config{FFmpegPath: "off"})
	tests := []struct {
		name  string
		audio session.Audio
		want  string
	}{
		{"webm", session.Audio{Data: []byte("\x1aE\xdf\xa3 not really webm"), Format: "webm"}, "offline recognition reads WAV or raw PCM; installing ffmpeg adds webm, ogg, mp3 and m4a"},
		{"mp3", session.Audio{Data: []byte("ID3"), Format: "mp3"}, "installing ffmpeg"},
		{"no format", session.Audio{Data: []byte("RIFF")}, "WAV or raw PCM"},
		{"float wav", session.Audio{Data: floatWAV(), Format: "wav"}, "integer PCM WAV"},
		{"not a wav", session.Audio{Data: []byte("hello"), Format: "wav"}, "integer PCM WAV"},
		{"pcm without rate", session.Audio{Data: make([]byte, 3200), Format: session.FormatPCM16}, "sample rate"},
		{"pcm at 1 Hz", session.Audio{Data: make([]byte, 3200), Format: session.FormatPCM16, SampleRate: 1}, "sample rate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := e.stt.Transcribe(context.Background(), tt.audio)
			if !errors.Is(err, session.ErrUnsupportedAudio) {
				t.Fatalf("Transcribe = %q, %v; want ErrUnsupportedAudio", got, err)
			}
			if errors.Is(err, session.ErrProvider) {
				t.Errorf("%v: unsupported input is not a provider failure", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
		})
	}
}

// floatWAV is a WAV of 32-bit float samples, which ParseWAV does not read.
func floatWAV() []byte {
	w := session.WAV(make([]byte, 1600), 16000)
	w[20] = 3 // WAVE_FORMAT_IEEE_FLOAT
	w[34] = 32
	return w
}

func TestTranscribeCancel(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp) // the per-turn recognizer's WAV file goes here
	e := newEngines(t, Config{})
	var long []int16
	for range 4 {
		for _, s := range learnerSentences {
			pcm, _ := speak(t, s.text, testVoice, testSpeed, 16000)
			long = append(long, pcm...)
		}
	}
	audio := session.Audio{Data: session.EncodePCM16(nil, long), Format: session.FormatPCM16, SampleRate: 16000}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := e.stt.Transcribe(ctx, audio); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled before: %v, want context.Canceled", err)
	}

	ctx, cancel = context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := e.stt.Transcribe(ctx, audio)
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, session.ErrProvider) {
		t.Errorf("cancelled during recognition: %v, want the context's error", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("recognition of %.0f s of speech took %v to stop after its context ended", float64(len(long))/16000, d)
	}
	files, _ := os.ReadDir(tmp)
	for _, f := range files {
		t.Errorf("temporary file %s left behind", f.Name())
	}
}

// TestTranscribeConcurrent runs more recognitions at once than the cgo build has decoders.
func TestTranscribeConcurrent(t *testing.T) {
	e := newEngines(t, Config{Decoders: 2})
	var wg sync.WaitGroup
	for _, s := range learnerSentences[:4] {
		pcm, _ := speak(t, s.text, testVoice, testSpeed, 16000)
		wg.Go(func() {
			got, err := e.stt.Transcribe(context.Background(), session.Audio{Data: session.EncodePCM16(nil, pcm), Format: session.FormatPCM16, SampleRate: 16000})
			if err != nil {
				t.Error(err)
				return
			}
			if missing := missingWords(got, s.keys); len(missing) > 0 {
				t.Errorf("%q recognised as %q: missing %v", s.text, got, missing)
			}
		})
	}
	wg.Wait()
}

func TestTidyTranscript(t *testing.T) {
	tests := map[string]string{
		"":                                       "",
		"<sil>":                                  "",
		"i like football":                        "I like football",
		"i'm fine and i'll go":                   "I'm fine and I'll go",
		"<s> hello(2) [NOISE] world ++UH++ </s>": "Hello world",
		"what is it":                             "What is it",
	}
	for in, want := range tests {
		if got := tidyTranscript(in); got != want {
			t.Errorf("tidyTranscript(%q) = %q, want %q", in, got, want)
		}
	}
}
