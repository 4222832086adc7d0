package offline

import (
	"bytes"
	"context"
	"io"
	"testing"
)

func TestResolveVoice(t *testing.T) {
	voices, err := loadVoices(context.Background(), "espeak-ng")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		voice, def, want string
	}{
		{"", "en-us+f3", "en-us+f3"},
		{"nova", "en-us+f3", "en-us+f3"}, // the product's default voice is Config.Voice
		{"NOVA", "en-us+f3", "en-us+f3"},
		{"nova", "en-gb+m3", "en-gb+m3"},
		{"shimmer", "en-us+f3", "en-us+f4"},
		{"alloy", "en-us+f3", "en-us+f5"},
		{"coral", "en-us+f3", "en-us+f2"},
		{"echo", "en-us+f3", "en-us+m3"},
		{"onyx", "en-us+f3", "en-us+m1"},
		{"fable", "en-us+f3", "en-us+m2"},
		{"shimmer", "en-gb+m3", "en-gb+f4"}, // the language of Config.Voice is kept
		{"echo", "en-gb", "en-gb+m3"},
		{"en-gb", "en-us+f3", "en-gb"}, // espeak-ng voices as they are
		{"en-us+m7", "en-us+f3", "en-us+m7"},
		{"EN-GB+M3", "en-us+f3", "en-gb+m3"},
		{"en-us+alicia", "en-us+f3", "en-us+Alicia"}, // variant names are case-sensitive files
		{"en", "en-us+f3", "en"},
		{"klingon", "en-us+f3", "en-us+f3"}, // anything else: Config.Voice
		{"en-us+nosuch", "en-us+f3", "en-us+f3"},
		{"-v", "en-us+f3", "en-us+f3"},
		{"--stdout", "en-us+f3", "en-us+f3"},
	}
	for _, tt := range tests {
		if got := voices.resolve(tt.voice, tt.def); got != tt.want {
			t.Errorf("resolve(%q, %q) = %q, want %q", tt.voice, tt.def, got, tt.want)
		}
	}
}

// TestVoicesSoundDifferent checks that a mapped voice reaches espeak-ng: a female and a male
// voice give different audio, the same voice the same audio.
func TestVoicesSoundDifferent(t *testing.T) {
	e := newEngines(t, Config{})
	say := func(voice string) []byte {
		t.Helper()
		rc, err := e.tts.Synthesize(context.Background(), "Hello, how are you today?", voice)
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		b, err := io.ReadAll(rc)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	nova, echo, defaultVoice, unknown := say("nova"), say("echo"), say(DefaultVoice), say("no-such-voice")
	if bytes.Equal(nova, echo) {
		t.Error("nova and echo sound the same")
	}
	if !bytes.Equal(nova, defaultVoice) || !bytes.Equal(nova, unknown) {
		t.Error("nova, Config.Voice and an unknown voice should all be Config.Voice")
	}
}

func TestParseVoices(t *testing.T) {
	langs := `Pty Language       Age/Gender VoiceName          File                 Other Languages
 5  en-029          --/M      English_(Caribbean) gmw/en-029           (en 10)
 2  en-us           --/M      English_(America)  gmw/en-US            (en 3)
`
	variants := `Pty Language       Age/Gender VoiceName          File                 Other Languages
 5  variant         --/F      Alicia             !v/Alicia
 5  variant         --/M      Mr serious         !v/Mr serious
 5  variant         --/F      female3            !v/f3
`
	c := parseVoices(langs, variants)
	for name, want := range map[string]string{"en-us": "en-us", "EN-029": "en-029", "en": "en", "en-us+F3": "en-us+f3", "en-us+ALICIA": "en-us+Alicia"} {
		if got, ok := c.lookup(name); !ok || got != want {
			t.Errorf("lookup(%q) = %q, %v; want %q", name, got, ok, want)
		}
	}
	for _, name := range []string{"fr", "en-us+Mr serious", "en-us+", "+f3"} {
		if got, ok := c.lookup(name); ok {
			t.Errorf("lookup(%q) = %q, want not found", name, got)
		}
	}
}
