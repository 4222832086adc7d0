package offline

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/aitutor/aitutor/session"
)

// Speech recognition: the utterance is brought to 16 kHz mono PCM (raw PCM and WAV directly,
// other containers through ffmpeg when it is installed) and decoded. It is not padded with
// silence: measured on espeak-ng speech, digital silence around the utterance did not help
// recognition, and it made pocketsphinx hear a word ("if") in steady noise.

const (
	sttRate       = session.DetectorRate // pocketsphinx's US-English model is 16 kHz
	minSpeechClip = 100 * time.Millisecond
	// silenceLevel is the peak below which a clip is taken as silence (about -54 dBFS): it is
	// not decoded at all.
	silenceLevel = 64
)

// listener implements session.Transcriber.
type listener struct {
	rec    recognizer
	ffmpeg string // "" when ffmpeg is not installed
}

// Transcribe returns the words pocketsphinx recognises in a ("" for none or for silence).
func (l *listener) Transcribe(ctx context.Context, a session.Audio) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	samples, err := l.samples(ctx, a)
	if err != nil {
		return "", err
	}
	if silent(samples) {
		return "", nil
	}
	hyp, err := l.rec.recognize(ctx, samples)
	if err != nil {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		return "", err
	}
	return tidyTranscript(hyp), nil
}

// samples returns the audio as 16 kHz mono samples.
func (l *listener) samples(ctx context.Context, a session.Audio) ([]int16, error) {
	format := strings.ToLower(a.Format)
	switch format {
	case session.FormatPCM16:
		if a.SampleRate < 8000 || a.SampleRate > 192000 {
			return nil, fmt.Errorf("offline: stt: %w: raw PCM needs a sample rate from 8000 to 192000 Hz, not %d", session.ErrUnsupportedAudio, a.SampleRate)
		}
		s := session.DecodePCM16(nil, a.Data[:len(a.Data)&^1])
		return session.ResampleAll(s, a.SampleRate, sttRate), nil
	case session.FormatWAV, "wave":
		s, rate, err := session.ParseWAV(a.Data)
		if err == nil && (rate < 8000 || rate > 192000) {
			err = fmt.Errorf("sample rate %d Hz", rate)
		}
		if err == nil {
			return session.ResampleAll(s, rate, sttRate), nil
		}
		if l.ffmpeg == "" {
			return nil, fmt.Errorf("offline: stt: %w: %w: offline recognition reads integer PCM WAV (installing ffmpeg adds other encodings)", session.ErrUnsupportedAudio, err)
		}
	}
	if l.ffmpeg == "" {
		return nil, fmt.Errorf("offline: stt: %q audio: %w: offline recognition reads WAV or raw PCM; installing ffmpeg adds webm, ogg, mp3 and m4a", format, session.ErrUnsupportedAudio)
	}
	return decodeWithFFmpeg(ctx, l.ffmpeg, format, a.Data)
}

// silent reports whether a clip is too short or too quiet to hold speech.
func silent(samples []int16) bool {
	if len(samples) < int(minSpeechClip.Seconds()*sttRate) {
		return true
	}
	for _, s := range samples {
		if s > silenceLevel || s < -silenceLevel {
			return false
		}
	}
	return true
}

// tidyTranscript drops pocketsphinx's silence and filler tokens (<sil>, [NOISE], ++UH++) and
// alternative-pronunciation marks (word(2)), and capitalises the first word and "I".
func tidyTranscript(hyp string) string {
	var words []string
	for _, w := range strings.Fields(hyp) {
		if strings.ContainsAny(w[:1], "<[+") {
			continue
		}
		if i := strings.IndexByte(w, '('); i > 0 {
			w = w[:i]
		}
		if w == "i" || strings.HasPrefix(w, "i'") {
			w = "I" + w[1:]
		}
		words = append(words, w)
	}
	if len(words) == 0 {
		return ""
	}
	r, size := utf8.DecodeRuneInString(words[0])
	words[0] = string(unicode.ToUpper(r)) + words[0][size:]
	return strings.Join(words, " ")
}
