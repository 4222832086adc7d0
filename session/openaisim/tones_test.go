package openaisim

import (
	"testing"
	"time"

	"github.com/aitutor/aitutor/session"
	"github.com/aitutor/aitutor/session/client"
)

func TestTonesRoundTrip(t *testing.T) {
	silence := func(ms int) []int16 { return client.Silence(time.Duration(ms)*time.Millisecond, 16000) }
	for _, c := range []struct {
		name  string
		audio []int16
		want  string
	}{
		{"sentence", client.Join(silence(300), SpeakTones("I would like to order a coffee with milk.", 16000), silence(250)),
			"I would like to order a coffee with milk."},
		{"words before a pause", client.Join(silence(300), SpeakTones("i would like to", 16000), silence(200)), "I would like to"},
		{"a pause inside", client.Join(SpeakTones("i would like to", 16000), silence(1200), SpeakTones("order a coffee?", 16000)),
			"I would like to order a coffee?"},
		{"resampled through 24 kHz", session.ResampleAll(session.ResampleAll(client.Join(silence(100), SpeakTones("where are you from?", 16000)), 16000, 24000), 24000, 16000),
			"Where are you from?"},
	} {
		got, ok := HearTones(c.audio, 16000)
		if !ok || got != c.want {
			t.Errorf("%s: heard %q (%v), want %q", c.name, got, ok, c.want)
		}
	}
	for name, audio := range map[string][]int16{
		"synthetic voice": client.Voice(1200*time.Millisecond, 16000),
		"silence":         silence(500),
	} {
		if got, ok := HearTones(audio, 16000); ok {
			t.Errorf("%s heard as tones: %q", name, got)
		}
	}
}

func TestTonesAreSpeechToTurnDetection(t *testing.T) {
	if !session.ContainsSpeech(SpeakTones("hello there", 16000)) {
		t.Fatal("turn detection does not hear tone speech")
	}
}
