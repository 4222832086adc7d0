package session

import (
	"io"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// The learner's audio: frames of PCM are decoded, resampled to 16 kHz and run through turn
// detection (detect.go); the utterance's audio is kept with a little before and after it. In
// server mode a detected end of speech starts a turn; in manual mode input.commit does. Speech
// that begins while the tutor is talking pauses the reply (a barge-in): the turn made of that
// speech decides whether the reply stops or goes on (stream.go).

// framePool holds buffers for incoming audio frames; a session holds one only while reading.
var framePool = sync.Pool{New: func() any { b := make([]byte, MaxFrameBytes); return &b }}

// readAudio reads one binary frame of PCM and feeds it to turn detection.
func (s *Session) readAudio(r io.Reader) error {
	bp := framePool.Get().(*[]byte)
	defer framePool.Put(bp)
	buf := *bp
	n := 0
	for {
		m, err := r.Read(buf[n:])
		n += m
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if n == len(buf) {
			// A frame may arrive in fragments: reading on makes gorilla check the read limit on
			// the next one (and close with 1009) instead of silently dropping the rest.
			var probe [1]byte
			if m, err := r.Read(probe[:]); m > 0 || (err != nil && err != io.EOF) {
				if err == nil {
					err = websocket.ErrReadLimit
				}
				return err
			}
			break
		}
	}
	if n == 0 {
		return nil
	}
	if n%2 != 0 {
		s.sendError(errorEvent{Code: "invalid_audio", Message: "audio frames must hold whole 16-bit samples (an even number of bytes); frame dropped"})
		return nil
	}
	s.samples = DecodePCM16(s.samples[:0], buf[:n])
	in := s.samples
	if s.inputRate != DetectorRate {
		s.resampled = s.resampler.Resample(s.resampled[:0], in)
		in = s.resampled
	}
	s.onSamples(in)
	s.tutor.metrics.frames.Inc()
	return nil
}

// onSamples runs turn detection over 16 kHz samples and keeps the utterance's audio.
func (s *Session) onSamples(in []int16) {
	manual := s.turnDetection() == manualTurns
	for len(in) > 0 {
		s.detector.TutorSpeaking = s.tutorSpeaking()
		ev, n := s.detector.Push(in)
		s.utter = append(s.utter, in[:n]...)
		in = in[n:]
		s.inputSamples += int64(n)
		if v := s.detector.LastVoicedEnd(); v != s.lastVoiced {
			s.lastVoiced, s.lastVoiceAt = v, time.Now()
		}
		if manual {
			if len(s.utter) > int(maxUtterance.Seconds())*DetectorRate {
				s.commit("utterance reached the 60 s limit")
			}
			continue
		}
		switch ev {
		case SpeechStarted:
			s.touch()
			// The learner began speaking when the detected speech began, not now.
			s.speechAt = time.Now().Add(-time.Duration(s.detector.Pos()-s.detector.StartPos) * time.Second / DetectorRate)
			s.keepFrom(s.detector.StartPos - int64(prerollWindow.Seconds()*DetectorRate))
			s.bargeIn(s.speechAt)
			s.send(simpleEvent{Type: TypeSpeechStarted, atMs: s.inputMs(s.detector.StartPos)})
		case SpeechStopped:
			// The detector's silence: silenceMs with endOfTurn silence, the long bound with smart.
			verdict := endOfTurnSilence
			if s.settingsSnapshot().EndOfTurn != endOfTurnSilence {
				v := verdictUnknown
				if s.spec != nil {
					v, _ = s.spec.wordsVerdict()
				}
				verdict = v.String()
			}
			s.endUtterance(verdict)
		case NoEvent:
			if s.detector.Speaking() {
				if len(s.utter) > int(maxUtterance.Seconds())*DetectorRate {
					s.dropSpeculation()
					s.send(simpleEvent{Type: TypeSpeechStopped, EndOfTurn: "limit"})
					s.tutor.metrics.endOfTurn.WithLabelValues("limit").Inc()
					s.startAudioTurn(s.cut(s.detector.Pos()), time.Now(), nil)
					s.detector.Reset()
					s.utterStart = 0
				} else {
					s.judgePause()
				}
			} else {
				s.trimQuiet()
			}
		}
	}
}

// judgePause follows the learner's silence while they speak: after probeSilence the words so
// far are transcribed and the answer prepared (speculate.go, "speech.paused" tells the client
// that the pause is being judged); speech drops that work ("speech.resumed"); enough silence for
// the words' verdict ends the turn (endofturn.go).
func (s *Session) judgePause() {
	d := s.detector
	silence := time.Duration(d.SilenceMs()) * time.Millisecond
	switch {
	case silence == 0:
		if s.spec != nil {
			s.dropSpeculation()
			s.send(simpleEvent{Type: TypeSpeechResumed})
		}
	case s.spec == nil:
		if silence < probeSilence {
			return
		}
		if !s.holdTurns && s.maySpeculate() {
			// The speech so far, with the silence heard after it (at most the usual tail).
			end := d.SilenceStart() + int64(min(silence, tailWindow).Seconds()*DetectorRate)
			n := min(max(end-s.utterStart, 0), int64(len(s.utter)))
			s.spec = s.speculate(append([]int16(nil), s.utter[:n]...))
			s.send(simpleEvent{Type: TypeSpeechPaused, atMs: s.inputMs(d.SilenceStart())})
			return
		}
		// No words to judge by: the turn ends after silenceMs.
		if settings := s.settingsSnapshot(); settings.EndOfTurn != endOfTurnSilence && silence >= time.Duration(settings.SilenceMs)*time.Millisecond {
			d.EndSpeech()
			s.endUtterance(verdictUnknown.String())
		}
	default:
		settings := s.settingsSnapshot()
		if settings.EndOfTurn == endOfTurnSilence {
			return // the detector ends the turn after silenceMs
		}
		v, known := s.spec.wordsVerdict()
		if known && silence >= endOfTurnBounds(settings.SilenceMs, settings.Level).silenceNeeded(v) {
			d.EndSpeech()
			s.endUtterance(v.String())
		}
	}
}

// endUtterance ends the learner's utterance at the detector's EndPos (the start of the
// silence) and starts its turn, with the speculation on its last pause.
func (s *Session) endUtterance(verdict string) {
	s.tutor.metrics.endOfTurn.WithLabelValues(verdict).Inc()
	silence := int((s.detector.Pos() - s.detector.EndPos) * 1000 / DetectorRate)
	s.send(simpleEvent{Type: TypeSpeechStopped, EndOfTurn: verdict, SilenceMs: &silence, atMs: s.inputMs(s.detector.EndPos)})
	end := s.detector.EndPos + int64(tailWindow.Seconds()*DetectorRate)
	spec := s.spec
	s.spec = nil
	s.startAudioTurn(s.cut(end), s.lastVoiceAt, spec)
}

// dropSpeculation cancels the work on a pause that no turn takes.
func (s *Session) dropSpeculation() {
	if s.spec != nil {
		s.spec.drop()
		s.spec = nil
	}
}

// configureDetector sets turn detection from settings: with endOfTurn smart the detector ends
// speech only after the long bound, and the session ends the turn earlier when the words are
// complete (judgePause).
func (s *Session) configureDetector(settings sessionSettings) {
	silence := time.Duration(settings.SilenceMs) * time.Millisecond
	if settings.EndOfTurn != endOfTurnSilence {
		silence = endOfTurnBounds(settings.SilenceMs, settings.Level).long
	}
	s.detector.SetConfig(DetectConfig{
		MinSpeech: time.Duration(settings.MinSpeechMs) * time.Millisecond,
		Silence:   silence,
		BargeIn:   time.Duration(settings.BargeInMs) * time.Millisecond,
	})
}

// inputMs is where detector position pos is in the learner's audio since the session began.
func (s *Session) inputMs(pos int64) int {
	return int((s.inputSamples - (s.detector.Pos() - pos)) * 1000 / DetectorRate)
}

// bargeIn pauses the reply the learner started talking over at time at.
func (s *Session) bargeIn(at time.Time) {
	if s.noBargeIn {
		return // the app asked that speech does not interrupt replies
	}
	if t := s.currentTurn(); t != nil && !t.finished() {
		if t.interrupting != nil && t.interrupting.isPaused() {
			return // the reply is paused already; this speech is heard by a new turn
		}
		t.pause(at)
	}
}

// trimQuiet bounds the audio kept while nobody speaks to quietBuffer. It trims in steps of
// half that, so that a streaming session moves its buffer once every 25 frames, not on every
// frame.
func (s *Session) trimQuiet() {
	keep := int64(quietBuffer.Seconds() * DetectorRate)
	if int64(len(s.utter)) > keep+keep/2 {
		s.keepFrom(s.detector.Pos() - keep)
	}
}

// keepFrom drops buffered audio before detector position pos.
func (s *Session) keepFrom(pos int64) {
	if drop := pos - s.utterStart; drop > 0 {
		drop = min(drop, int64(len(s.utter)))
		s.utter = append(s.utter[:0], s.utter[drop:]...)
		s.utterStart += drop
	}
}

// cut returns the buffered audio up to detector position end as a new slice and keeps the rest.
func (s *Session) cut(end int64) []int16 {
	n := min(max(end-s.utterStart, 0), int64(len(s.utter)))
	audio := make([]int16, n)
	copy(audio, s.utter[:n])
	s.utter = append(s.utter[:0], s.utter[n:]...)
	s.utterStart += n
	return audio
}

// commit ends the utterance now (input.commit, or the length limit in manual mode). In manual
// mode the buffer must hold MinSpeech of voiced audio; in server mode the learner must be
// speaking. Otherwise nothing is transcribed.
func (s *Session) commit(why string) {
	s.touch()
	manual := s.turnDetection() == manualTurns
	if (manual && s.detector.VoicedMs() < int(s.detector.Config().MinSpeech/time.Millisecond)) || (!manual && !s.detector.Speaking()) {
		s.sendError(errorEvent{Code: "no_speech", Message: "no speech was heard in the committed audio; nothing was sent to the tutor"})
		if manual {
			s.clearInput()
		}
		return
	}
	audio := s.cut(s.detector.Pos())
	if why != "" {
		s.logger.Debug("utterance committed", "why", why)
	}
	if !manual {
		s.send(simpleEvent{Type: TypeSpeechStopped, EndOfTurn: "commit"})
		s.tutor.metrics.endOfTurn.WithLabelValues("commit").Inc()
	}
	s.clearInput()
	s.startAudioTurn(audio, time.Now(), nil)
}

// clearInput drops buffered audio and the detector's speech state. A reply paused by speech
// that is now dropped goes on.
func (s *Session) clearInput() {
	s.dropSpeculation()
	s.utter = s.utter[:0]
	s.utterStart = 0
	s.lastVoiced = 0
	s.detector.Reset()
	if t := s.currentTurn(); t != nil && t.isPaused() {
		s.resumeTurn(t)
	}
}

// resumeTurn lets a paused reply go on.
func (s *Session) resumeTurn(t *turn) {
	if t.resume() {
		s.mu.Lock()
		if p := s.pendingTruncate; p != nil && p.turnID == t.id {
			s.pendingTruncate = nil // the learner hears the rest after all
		}
		s.mu.Unlock()
	}
}

func (s *Session) startAudioTurn(audio []int16, endOfSpeech time.Time, spec *speculation) {
	if s.holdTurns {
		// The app answers with response.create (Realtime create_response false).
		if spec != nil {
			spec.drop()
		}
		s.held = append(s.held, audio...)
		return
	}
	if spec != nil {
		spec.adopt()
	}
	stats := measureSpeech(audio)
	// The learner's response time: from the end of the tutor's last reply to their first sound.
	if prev := s.currentTurn(); prev != nil && prev.finished() && !s.speechAt.IsZero() {
		if end := prev.playbackEnd(); !end.IsZero() && s.speechAt.After(end) {
			ms := int(s.speechAt.Sub(end) / time.Millisecond)
			stats.ResponseMs = &ms
		}
	}
	s.speechAt = time.Time{}
	s.startTurn(turnInput{speech: audio, speechStats: &stats, channel: ChannelVoice, endOfSpeech: endOfSpeech, decided: time.Now(), spec: spec})
}

func (s *Session) startTextTurn(text string) {
	now := time.Now()
	s.startTurn(turnInput{text: text, channel: ChannelText, endOfSpeech: now, decided: now})
}

func (s *Session) turnDetection() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.settings.TurnDetection
}
