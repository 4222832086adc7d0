package openaisim

import (
	"math"
	"strings"
	"unicode"
)

// Tone speech: text spoken as a sequence of tones that the simulator's transcription hears back,
// so that what the simulator "recognises" depends on what was said and how much of it — the
// words before a pause, or the whole utterance. The load generator and tests speak with it;
// real speech (or any other sound) is heard as DefaultTranscript, as before.
//
// Each character of toneAlphabet is a 60 ms tone (400 Hz + 40 Hz × its index, up to 1,640 Hz:
// voiced for the server's turn detection) with 4 ms fades; words are separated by the space's
// tone, so a phrase is one continuous sound and a pause is real silence.

const (
	toneAlphabet = " abcdefghijklmnopqrstuvwxyz.,?!'"
	toneMs       = 60
	toneBaseHz   = 400
	toneStepHz   = 40
	toneLevel    = 0.25 // of full scale: −12 dBFS
)

// SpeakTones returns text as tone speech at sampleRate. Characters outside the alphabet are
// left out; letters are lower-cased.
func SpeakTones(text string, sampleRate int) []int16 {
	per := sampleRate * toneMs / 1000
	fade := sampleRate * 4 / 1000
	var out []int16
	for _, r := range strings.ToLower(text) {
		k := strings.IndexRune(toneAlphabet, r)
		if k < 0 {
			continue
		}
		f := float64(toneBaseHz + toneStepHz*k)
		for i := 0; i < per; i++ {
			env := 1.0
			if i < fade {
				env = 0.5 - 0.5*math.Cos(math.Pi*float64(i)/float64(fade))
			} else if i >= per-fade {
				env = 0.5 - 0.5*math.Cos(math.Pi*float64(per-i)/float64(fade))
			}
			v := math.Sin(2*math.Pi*f*float64(i)/float64(sampleRate)) * env * toneLevel
			out = append(out, int16(v*32767))
		}
	}
	return out
}

// HearTones decodes tone speech in samples (any surrounding silence, pauses inside); ok is false
// when the audio holds none (real speech, noise, silence).
func HearTones(samples []int16, sampleRate int) (text string, ok bool) {
	per := sampleRate * toneMs / 1000
	const threshold = 0.02 * 32767 // well below the tones, well above silence
	var phrases []string
	for i := 0; i < len(samples); {
		if math.Abs(float64(samples[i])) < threshold {
			i++
			continue
		}
		// A sound: the fade-in began a little before the first loud sample.
		start := max(i-sampleRate*2/1000, 0)
		end := i
		quiet := 0
		for end < len(samples) && quiet < sampleRate*20/1000 { // 20 ms of quiet ends it
			if math.Abs(float64(samples[end])) < threshold {
				quiet++
			} else {
				quiet = 0
			}
			end++
		}
		end -= quiet
		n := int(math.Round(float64(end-start) / float64(per)))
		var b strings.Builder
		for k := 0; k < n; k++ {
			// The middle 40 ms of each tone.
			from := start + k*per + per/6
			to := min(from+per*2/3, len(samples))
			if to-from < per/3 {
				break
			}
			r, clear := toneOf(samples[from:to], sampleRate)
			if !clear {
				return "", false // not tone speech
			}
			b.WriteByte(r)
		}
		if phrase := strings.TrimSpace(b.String()); phrase != "" {
			phrases = append(phrases, phrase)
		}
		i = end + quiet
	}
	if len(phrases) == 0 {
		return "", false
	}
	text = strings.Join(phrases, " ")
	rs := []rune(text)
	rs[0] = unicode.ToUpper(rs[0])
	text = string(rs)
	return strings.ReplaceAll(" "+text, " i ", " I ")[1:], true
}

// toneOf finds the alphabet's tone in w by the Goertzel power at each tone's frequency; clear is
// false when no tone stands out (the sound is not tone speech).
func toneOf(w []int16, sampleRate int) (byte, bool) {
	best, bestPower, total := 0, 0.0, 0.0
	for k := range len(toneAlphabet) {
		f := float64(toneBaseHz + toneStepHz*k)
		coeff := 2 * math.Cos(2*math.Pi*f/float64(sampleRate))
		var s1, s2 float64
		for _, x := range w {
			s0 := float64(x) + coeff*s1 - s2
			s2, s1 = s1, s0
		}
		p := s1*s1 + s2*s2 - coeff*s1*s2
		total += p
		if p > bestPower {
			best, bestPower = k, p
		}
	}
	// A pure tone puts most of the power of all the bins in its own (its neighbours' leakage
	// is small at 40 Hz spacing over 40 ms); speech spreads it.
	return toneAlphabet[best], total > 0 && bestPower/total > 0.5
}
