package session

import (
	"testing"
	"time"

	"github.com/aitutor/aitutor/session/client"
	"github.com/aitutor/aitutor/store"
)

// Fluency figures on synthetic speech with known timings.

func TestMeasureSpeech(t *testing.T) {
	v := func(ms int) []int16 { return client.Voice(time.Duration(ms)*time.Millisecond, DetectorRate) }
	q := func(ms int) []int16 { return client.Silence(time.Duration(ms)*time.Millisecond, DetectorRate) }
	for _, tc := range []struct {
		name       string
		audio      []int16
		utterance  int   // ms, within 40 ms
		pauses     []int // ms each, within 40 ms
		voicedOver int   // voiced ms at least
	}{
		{"one phrase", client.Join(q(300), v(1200), q(250)), 1200, nil, 1100},
		{"a hesitation", client.Join(q(300), v(800), q(900), v(700), q(250)), 2400, []int{900}, 1400},
		{"two pauses", client.Join(q(300), v(500), q(400), v(500), q(1200), v(600), q(250)), 3200, []int{400, 1200}, 1500},
		{"a short gap is no pause", client.Join(q(300), v(600), q(150), v(600), q(250)), 1350, nil, 1200},
		{"silence", q(1000), 0, nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := measureSpeech(tc.audio)
			if d := st.UtteranceMs - tc.utterance; d < -40 || d > 40 {
				t.Fatalf("utterance %d ms, want about %d", st.UtteranceMs, tc.utterance)
			}
			if len(st.PausesMs) != len(tc.pauses) {
				t.Fatalf("pauses %v, want about %v", st.PausesMs, tc.pauses)
			}
			for i, p := range tc.pauses {
				if d := st.PausesMs[i] - p; d < -40 || d > 40 {
					t.Fatalf("pause %d: %d ms, want about %d", i, st.PausesMs[i], p)
				}
			}
			if st.VoicedMs < tc.voicedOver || st.VoicedMs > st.UtteranceMs {
				t.Fatalf("voiced %d ms of %d, want at least %d", st.VoicedMs, st.UtteranceMs, tc.voicedOver)
			}
		})
	}
}

func TestComputeFluency(t *testing.T) {
	ms := func(n int) *int { return &n }
	turns := []spokenTurn{
		// 10 words in 4 s with a 1 s pause, answered 800 ms after the tutor stopped.
		{text: "Um I went to the park with my uh dog", speech: store.SpeechStats{UtteranceMs: 4000, VoicedMs: 3000, PausesMs: []int{1000}, ResponseMs: ms(800), TutorMs: 6000}},
		// 8 words in 2 s, no pause, answered after 1.2 s.
		{text: "It was sunny and we played ball together", speech: store.SpeechStats{UtteranceMs: 2000, VoicedMs: 2000, ResponseMs: ms(1200), TutorMs: 4000}},
		// A typed turn: not spoken, does not count.
		{text: "typed words here"},
	}
	f := computeFluency(turns)
	check := func(name string, got *float64, want float64) {
		t.Helper()
		if got == nil || *got < want-0.05 || *got > want+0.05 {
			t.Fatalf("%s = %v, want %v", name, got, want)
		}
	}
	if f.SpokenTurns != 2 || f.Words != 18 || f.SpeakingMs != 6000 {
		t.Fatalf("%+v", f)
	}
	check("wordsPerMinute", f.WordsPerMinute, 180)    // 18 words in 6 s
	check("pauseRatio", f.PauseRatio, 0.167)          // 1 s of 6 s
	check("meanPauseMs", f.MeanPauseMs, 1000)         //
	check("fillersPerMinute", f.FillersPerMinute, 20) // um, uh in 6 s
	check("responseTimeMs", f.ResponseTimeMs, 1000)   // (800 + 1200) / 2
	check("talkTimeShare", f.TalkTimeShare, 0.375)    // 6 s of 6 + 10 s
	if f.LongestPauseMs == nil || *f.LongestPauseMs != 1000 {
		t.Fatalf("longest pause %v", f.LongestPauseMs)
	}
	if empty := computeFluency(nil); empty.WordsPerMinute != nil || empty.ResponseTimeMs != nil {
		t.Fatalf("no spoken turn: %+v", empty)
	}
}

func TestCountWords(t *testing.T) {
	for _, tc := range []struct {
		text           string
		words, fillers int
	}{
		{"Um, I don't know, you know?", 6, 2},
		{"", 0, 0},
		{"Hmm... er, well.", 3, 2},
	} {
		if w, f := countWords(tc.text); w != tc.words || f != tc.fillers {
			t.Errorf("%q: %d words %d fillers, want %d and %d", tc.text, w, f, tc.words, tc.fillers)
		}
	}
}
