package session

import (
	"math"
	"time"
)

// Turn detection on the learner's 16 kHz PCM. Every 10 ms window is classed as voiced or not
// from its energy against an adaptive noise floor and its zero-crossing rate (white noise and
// hiss cross zero far more often than voiced speech; mains hum far less). Speech starts after
// MinSpeech of voiced windows (short gaps allowed) and ends after Silence without them. While
// the tutor is speaking, starting needs BargeIn instead, so that a cough or a short "yeah" does
// not cut the reply.

// DetectorRate is the sample rate the detector and the transcribers work at.
const DetectorRate = 16000

const (
	windowSamples = DetectorRate / 100 // 10 ms
	windowMs      = 10
)

// DetectConfig tunes turn detection; zero fields take the defaults of DESIGN.md.
type DetectConfig struct {
	MinSpeech time.Duration // speech must last this long to count (250 ms)
	Silence   time.Duration // the turn ends after this much silence (700 ms)
	BargeIn   time.Duration // speech needed to interrupt the tutor (400 ms)
}

func (c DetectConfig) withDefaults() DetectConfig {
	if c.MinSpeech <= 0 {
		c.MinSpeech = 250 * time.Millisecond
	}
	if c.Silence <= 0 {
		c.Silence = 700 * time.Millisecond
	}
	if c.BargeIn <= 0 {
		c.BargeIn = 400 * time.Millisecond
	}
	return c
}

// DetectEvent is what Push reports.
type DetectEvent int

// Detector events.
const (
	NoEvent DetectEvent = iota
	SpeechStarted
	SpeechStopped
)

const (
	minVoiceDB     = -50.0 // quieter windows are never speech (dBFS)
	floorMarginDB  = 10.0  // a voiced window is this much above the noise floor
	initialFloorDB = -65.0
	maxGapMs       = 120 // unvoiced gaps this short do not break a starting run of speech
)

// Detector finds the start and end of speech. Positions are sample offsets since the detector
// was created or reset.
type Detector struct {
	cfg DetectConfig

	pending  []int16 // samples of an incomplete window
	pos      int64   // samples consumed in whole windows
	floorDB  float64
	speaking bool
	// TutorSpeaking raises the bar to BargeIn.
	TutorSpeaking bool

	runMs, gapMs  int   // while quiet: voiced run length and the gap inside it
	runStart      int64 // sample offset where the run began
	silenceMs     int   // while speaking: silence so far
	silenceStart  int64 // sample offset where the silence began
	lastVoicedEnd int64 // end of the last voiced window
	voicedMs      int   // voiced time since the last reset (manual turns check it)

	// StartPos and EndPos are the start of the speech and the end of the speech (before the
	// silence that ended it) of the last SpeechStarted / SpeechStopped.
	StartPos, EndPos int64
}

// NewDetector returns a detector with cfg (zero fields take defaults).
func NewDetector(cfg DetectConfig) *Detector {
	return &Detector{cfg: cfg.withDefaults(), floorDB: initialFloorDB}
}

// Config returns the detector's settings.
func (d *Detector) Config() DetectConfig { return d.cfg }

// SetConfig changes the settings (zero fields take defaults).
func (d *Detector) SetConfig(cfg DetectConfig) { d.cfg = cfg.withDefaults() }

// Speaking reports whether the learner is speaking.
func (d *Detector) Speaking() bool { return d.speaking }

// Pos is the number of samples consumed.
func (d *Detector) Pos() int64 { return d.pos + int64(len(d.pending)) }

// VoicedMs is how much voiced audio was seen since the last Reset.
func (d *Detector) VoicedMs() int { return d.voicedMs }

// LastVoicedEnd is the sample offset where the last voiced window ended.
func (d *Detector) LastVoicedEnd() int64 { return d.lastVoicedEnd }

// SilenceMs is how long the learner has been silent while speaking (0 while voiced, or when
// not speaking).
func (d *Detector) SilenceMs() int {
	if !d.speaking {
		return 0
	}
	return d.silenceMs
}

// SilenceStart is the sample offset where the current silence began (valid while SilenceMs > 0).
func (d *Detector) SilenceStart() int64 { return d.silenceStart }

// EndSpeech ends the current speech now, as SpeechStopped would after Silence: the session
// decided the end of the turn earlier (endofturn.go). EndPos is where the silence began.
func (d *Detector) EndSpeech() {
	if !d.speaking {
		return
	}
	d.speaking, d.runMs, d.gapMs = false, 0, 0
	d.EndPos = d.pos
	if d.silenceMs > 0 {
		d.EndPos = d.silenceStart
	}
	d.silenceMs = 0
}

// Reset forgets the current speech state (not the noise floor) and restarts positions at 0.
func (d *Detector) Reset() {
	floor := d.floorDB
	cfg := d.cfg
	tutor := d.TutorSpeaking
	*d = Detector{cfg: cfg, floorDB: floor, TutorSpeaking: tutor, pending: d.pending[:0]}
}

// Push feeds samples until the first event they cause and returns it with the number of
// samples consumed; call it again with the rest. Without an event it consumes everything.
func (d *Detector) Push(samples []int16) (DetectEvent, int) {
	consumed := 0
	for consumed < len(samples) {
		rest := samples[consumed:]
		if len(d.pending) > 0 || len(rest) < windowSamples {
			need := min(windowSamples-len(d.pending), len(rest))
			d.pending = append(d.pending, rest[:need]...)
			consumed += need
			if len(d.pending) < windowSamples {
				break
			}
			ev := d.window(d.pending)
			d.pending = d.pending[:0]
			if ev != NoEvent {
				return ev, consumed
			}
			continue
		}
		consumed += windowSamples
		if ev := d.window(rest[:windowSamples]); ev != NoEvent {
			return ev, consumed
		}
	}
	return NoEvent, consumed
}

func (d *Detector) window(w []int16) DetectEvent {
	start := d.pos
	d.pos += windowSamples
	voiced := d.classify(w)
	if voiced {
		d.voicedMs += windowMs
		d.lastVoicedEnd = d.pos
	}
	return d.advance(start, voiced)
}

// classify says whether a 10 ms window is voiced and moves the noise floor.
func (d *Detector) classify(w []int16) bool {
	db, zcr := windowStats(w)
	voiced := db > minVoiceDB && db > d.floorDB+floorMarginDB && zcr > 0.009 && zcr < 0.30
	if !voiced {
		// The floor follows quiet windows down at once and louder non-speech up slowly
		// (about 6 dB a second), so steady noise stops counting after a while.
		if db < d.floorDB {
			d.floorDB = db
		} else {
			d.floorDB += math.Min(0.06, db-d.floorDB)
		}
		if d.floorDB < -90 {
			d.floorDB = -90
		}
	}
	return voiced
}

// advance moves the speech state by one window that starts at start.
func (d *Detector) advance(start int64, voiced bool) DetectEvent {
	if !d.speaking {
		need := int(d.cfg.MinSpeech / time.Millisecond)
		if d.TutorSpeaking {
			need = int(d.cfg.BargeIn / time.Millisecond)
		}
		switch {
		case voiced:
			if d.runMs == 0 {
				d.runStart = start
			}
			d.runMs += windowMs
			d.gapMs = 0
			if d.runMs >= need {
				d.speaking, d.silenceMs = true, 0
				d.StartPos = d.runStart
				return SpeechStarted
			}
		case d.runMs > 0:
			d.gapMs += windowMs
			if d.gapMs > maxGapMs {
				d.runMs, d.gapMs = 0, 0
			}
		}
		return NoEvent
	}
	if voiced {
		d.silenceMs = 0
		return NoEvent
	}
	if d.silenceMs == 0 {
		d.silenceStart = start
	}
	d.silenceMs += windowMs
	if d.silenceMs >= int(d.cfg.Silence/time.Millisecond) {
		d.speaking, d.runMs, d.gapMs = false, 0, 0
		d.EndPos = d.silenceStart
		return SpeechStopped
	}
	return NoEvent
}

// windowStats returns the window's level in dBFS and its zero-crossing rate (crossings per
// sample), ignoring crossings inside a small dead band around zero so that near-silence does
// not look like noise.
func windowStats(w []int16) (db, zcr float64) {
	var sum float64
	crossings := 0
	prevSign := 0
	for _, s := range w {
		v := float64(s)
		sum += v * v
		sign := 0
		if s > 64 {
			sign = 1
		} else if s < -64 {
			sign = -1
		}
		if sign != 0 {
			if prevSign != 0 && sign != prevSign {
				crossings++
			}
			prevSign = sign
		}
	}
	rms := math.Sqrt(sum / float64(len(w)))
	if rms < 1 {
		return -96, 0
	}
	return 20 * math.Log10(rms/32768), float64(crossings) / float64(len(w))
}

// ContainsSpeech reports whether 16 kHz samples hold at least MinSpeech of speech by the default
// turn detection, so that silence and noise are never sent to a transcriber.
func ContainsSpeech(samples []int16) bool {
	d := NewDetector(DetectConfig{})
	for len(samples) > 0 {
		ev, n := d.Push(samples)
		if ev == SpeechStarted {
			return true
		}
		samples = samples[n:]
	}
	return false
}
