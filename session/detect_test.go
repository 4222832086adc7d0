package session

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// voice returns d of a synthetic voiced sound: a 140 Hz harmonic series to 3 kHz, shaped into
// syllables of about 200 ms, at amplitude amp (0..1).
func voice(d time.Duration, amp float64) []int16 {
	n := int(d.Seconds() * DetectorRate)
	out := make([]int16, n)
	for i := range out {
		t := float64(i) / DetectorRate
		var v float64
		for h := 1; h*140 < 3000; h++ {
			v += math.Sin(2*math.Pi*140*float64(h)*t) / float64(h)
		}
		env := 0.6 + 0.4*math.Sin(2*math.Pi*5*t)
		out[i] = int16(v * env * amp * 16000)
	}
	return out
}

func silence(d time.Duration) []int16 { return make([]int16, int(d.Seconds()*DetectorRate)) }

func whiteNoise(d time.Duration, amp float64) []int16 {
	r := rand.New(rand.NewPCG(1, 2))
	out := make([]int16, int(d.Seconds()*DetectorRate))
	for i := range out {
		out[i] = int16((r.Float64()*2 - 1) * amp * 32767)
	}
	return out
}

func hum(d time.Duration, amp float64) []int16 {
	out := make([]int16, int(d.Seconds()*DetectorRate))
	for i := range out {
		out[i] = int16(math.Sin(2*math.Pi*50*float64(i)/DetectorRate) * amp * 32767)
	}
	return out
}

func concat(parts ...[]int16) []int16 {
	var out []int16
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

type event struct {
	ev  DetectEvent
	at  time.Duration // when it was reported
	pos time.Duration // StartPos or EndPos
}

// feed pushes audio in 20 ms frames, as clients send it, and records events.
func feed(d *Detector, audio []int16) []event {
	var evs []event
	const frame = DetectorRate / 50
	for off := 0; off < len(audio); off += frame {
		end := min(off+frame, len(audio))
		for chunk, done := audio[off:end], off; len(chunk) > 0; {
			ev, n := d.Push(chunk)
			chunk, done = chunk[n:], done+n
			at := time.Duration(done) * time.Second / DetectorRate
			switch ev {
			case SpeechStarted:
				evs = append(evs, event{ev, at, time.Duration(d.StartPos) * time.Second / DetectorRate})
			case SpeechStopped:
				evs = append(evs, event{ev, at, time.Duration(d.EndPos) * time.Second / DetectorRate})
			}
		}
	}
	return evs
}

func near(a, b, tol time.Duration) bool { return a-b < tol && b-a < tol }

func TestDetectorUtterance(t *testing.T) {
	d := NewDetector(DetectConfig{})
	evs := feed(d, concat(silence(500*time.Millisecond), voice(1500*time.Millisecond, 0.3), silence(time.Second)))
	if len(evs) != 2 || evs[0].ev != SpeechStarted || evs[1].ev != SpeechStopped {
		t.Fatalf("events = %+v", evs)
	}
	if !near(evs[0].pos, 500*time.Millisecond, 50*time.Millisecond) || !near(evs[0].at, 750*time.Millisecond, 40*time.Millisecond) {
		t.Errorf("start at %v (pos %v), want reported near 750ms for speech from 500ms", evs[0].at, evs[0].pos)
	}
	if !near(evs[1].pos, 2000*time.Millisecond, 50*time.Millisecond) || !near(evs[1].at, 2700*time.Millisecond, 40*time.Millisecond) {
		t.Errorf("stop at %v (pos %v), want reported near 2.7s for speech ending at 2s", evs[1].at, evs[1].pos)
	}
}

func TestDetectorIgnoresNoise(t *testing.T) {
	cases := map[string][]int16{
		"silence":         silence(5 * time.Second),
		"white noise":     whiteNoise(5*time.Second, 0.1),
		"loud noise":      whiteNoise(5*time.Second, 0.5),
		"mains hum":       hum(5*time.Second, 0.3),
		"short cough":     concat(silence(time.Second), voice(150*time.Millisecond, 0.5), silence(2*time.Second)),
		"two short blips": concat(voice(100*time.Millisecond, 0.5), silence(300*time.Millisecond), voice(100*time.Millisecond, 0.5), silence(time.Second)),
	}
	for name, audio := range cases {
		t.Run(name, func(t *testing.T) {
			d := NewDetector(DetectConfig{})
			if evs := feed(d, audio); len(evs) != 0 {
				t.Fatalf("events = %+v", evs)
			}
		})
	}
}

func TestDetectorSpeechOverNoise(t *testing.T) {
	d := NewDetector(DetectConfig{})
	noise := whiteNoise(4*time.Second, 0.01)
	speech := concat(silence(1500*time.Millisecond), voice(time.Second, 0.4), silence(1500*time.Millisecond))
	mixed := make([]int16, len(noise))
	for i := range mixed {
		mixed[i] = noise[i] + speech[i]
	}
	evs := feed(d, mixed)
	if len(evs) != 2 {
		t.Fatalf("events = %+v", evs)
	}
}

func TestDetectorMidSentencePause(t *testing.T) {
	d := NewDetector(DetectConfig{})
	evs := feed(d, concat(voice(800*time.Millisecond, 0.3), silence(500*time.Millisecond), voice(800*time.Millisecond, 0.3), silence(time.Second)))
	if len(evs) != 2 || evs[1].ev != SpeechStopped || !near(evs[1].pos, 2100*time.Millisecond, 50*time.Millisecond) {
		t.Fatalf("a 500 ms pause ended the turn: %+v", evs)
	}
	// A shorter silence window makes the same pause end it.
	d = NewDetector(DetectConfig{Silence: 300 * time.Millisecond})
	if evs := feed(d, concat(voice(800*time.Millisecond, 0.3), silence(500*time.Millisecond), voice(800*time.Millisecond, 0.3), silence(time.Second))); len(evs) != 4 {
		t.Fatalf("with 300 ms silence window: %+v", evs)
	}
}

func TestDetectorBargeInNeedsLongerSpeech(t *testing.T) {
	d := NewDetector(DetectConfig{})
	d.TutorSpeaking = true
	if evs := feed(d, concat(voice(300*time.Millisecond, 0.4), silence(time.Second))); len(evs) != 0 {
		t.Fatalf("300 ms barged in: %+v", evs)
	}
	evs := feed(d, concat(voice(600*time.Millisecond, 0.4), silence(time.Second)))
	if len(evs) == 0 || evs[0].ev != SpeechStarted {
		t.Fatalf("600 ms did not barge in: %+v", evs)
	}
	if !near(evs[0].at, 400*time.Millisecond, 40*time.Millisecond) {
		t.Fatalf("barge-in after %v of speech, want about 400ms", evs[0].at)
	}
}

func BenchmarkDetector20msFrame(b *testing.B) {
	d := NewDetector(DetectConfig{})
	audio := concat(voice(time.Second, 0.3), silence(time.Second))
	const frame = DetectorRate / 50
	b.ReportAllocs()
	b.SetBytes(frame * 2)
	i := 0
	for b.Loop() {
		off := (i * frame) % (len(audio) - frame)
		d.Push(audio[off : off+frame]) //nolint:errcheck
		i++
	}
}
