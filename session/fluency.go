package session

import (
	"strings"
	"unicode"

	"github.com/aitutor/aitutor/store"
)

// Fluency figures of a review are computed by the server from the learner's audio, not guessed
// by a model. Each spoken turn is measured when it is heard (measureSpeech, on the same 10 ms
// windows as turn detection) and stored with the turn; a review sums them up (computeFluency).

// minPauseMs is the shortest silence inside an utterance that counts as a pause (shorter gaps
// are stops and breaths inside words and phrases).
const minPauseMs = 250

// measureSpeech measures one utterance of 16 kHz samples: from its first voiced window to its
// last, the voiced time and the pauses inside it.
func measureSpeech(samples []int16) store.SpeechStats {
	d := NewDetector(DetectConfig{})
	first, last := -1, -1
	var pauses []int
	gap := 0
	for i := 0; i+windowSamples <= len(samples); i += windowSamples {
		w := i / windowSamples
		if !d.classify(samples[i : i+windowSamples]) {
			gap += windowMs
			continue
		}
		if first < 0 {
			first = w
		} else if gap >= minPauseMs {
			pauses = append(pauses, gap)
		}
		last, gap = w, 0
	}
	st := store.SpeechStats{PausesMs: pauses}
	if first < 0 {
		return st
	}
	st.UtteranceMs = (last - first + 1) * windowMs
	voiced := st.UtteranceMs
	for _, p := range pauses {
		voiced -= p
	}
	st.VoicedMs = voiced
	return st
}

// fillers are hesitation sounds and phrases counted by fluency.
var fillers = map[string]bool{"um": true, "umm": true, "uh": true, "uhm": true, "er": true, "erm": true, "ah": true, "eh": true, "hmm": true, "mm": true}

// countWords returns the words and the fillers of a transcript.
func countWords(text string) (words, filler int) {
	fields := strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '\''
	})
	for i, w := range fields {
		words++
		if fillers[w] || (w == "know" && i > 0 && fields[i-1] == "you") {
			filler++
		}
	}
	return words, filler
}

// Fluency sums up the learner's spoken turns of a conversation. Figures that cannot be
// computed (no spoken turn, no reply before a turn) are nil.
type Fluency struct {
	SpokenTurns      int      `json:"spokenTurns"`
	Words            int      `json:"words"`
	SpeakingMs       int      `json:"speakingMs"`       // from each utterance's first sound to its last
	WordsPerMinute   *float64 `json:"wordsPerMinute"`   // while speaking
	PauseRatio       *float64 `json:"pauseRatio"`       // share of speaking time in pauses
	MeanPauseMs      *float64 `json:"meanPauseMs"`      // pauses of 250 ms or more
	LongestPauseMs   *int     `json:"longestPauseMs"`   //
	FillersPerMinute *float64 `json:"fillersPerMinute"` // um, uh, er, "you know", ...
	ResponseTimeMs   *float64 `json:"responseTimeMs"`   // mean time from the tutor's last sound to the learner's first
	TalkTimeShare    *float64 `json:"talkTimeShare"`    // the learner's speaking time over theirs and the tutor's
}

// spokenTurn is what computeFluency needs of a turn.
type spokenTurn struct {
	text   string
	speech store.SpeechStats
}

func computeFluency(turns []spokenTurn) Fluency {
	var f Fluency
	var pauses, fillerCount, tutorMs, responses int
	var pauseSum, responseSum int
	longest := 0
	for _, t := range turns {
		tutorMs += t.speech.TutorMs
		if t.speech.UtteranceMs <= 0 {
			continue // a typed turn
		}
		f.SpokenTurns++
		words, fill := countWords(t.text)
		f.Words += words
		fillerCount += fill
		f.SpeakingMs += t.speech.UtteranceMs
		for _, p := range t.speech.PausesMs {
			pauses++
			pauseSum += p
			longest = max(longest, p)
		}
		if r := t.speech.ResponseMs; r != nil && *r >= 0 {
			responses++
			responseSum += *r
		}
	}
	if f.SpeakingMs > 0 {
		minutes := float64(f.SpeakingMs) / 60000
		f.WordsPerMinute = round1(float64(f.Words) / minutes)
		f.PauseRatio = round3(float64(pauseSum) / float64(f.SpeakingMs))
		f.FillersPerMinute = round1(float64(fillerCount) / minutes)
		f.TalkTimeShare = round3(float64(f.SpeakingMs) / float64(f.SpeakingMs+tutorMs))
		f.LongestPauseMs = &longest
		if pauses > 0 {
			f.MeanPauseMs = round1(float64(pauseSum) / float64(pauses))
		} else {
			zero := 0.0
			f.MeanPauseMs = &zero
		}
	}
	if responses > 0 {
		f.ResponseTimeMs = round1(float64(responseSum) / float64(responses))
	}
	return f
}

func round1(v float64) *float64 {
	r := float64(int64(v*10+0.5)) / 10
	return &r
}

func round3(v float64) *float64 {
	r := float64(int64(v*1000+0.5)) / 1000
	return &r
}
