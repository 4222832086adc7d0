package web_test

import (
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// The fake microphone: Chromium plays a WAV file as the microphone and loops it. The tests
// write one: a synthetic voice — a gliding 150 Hz harmonic series with formant-like weights,
// in syllables of 220 ms — and silences in between. It passes Chromium's audio processing
// (echo cancellation, noise suppression, gain control) and the server's speech detector like
// a person speaking; the simulator transcribes any audio as the same sentence.

const wavRate = 48000

// segment is a stretch of the fake microphone: a voice or a silence.
type segment struct {
	voice bool
	d     time.Duration
}

func speech(d time.Duration) segment  { return segment{voice: true, d: d} }
func silence(d time.Duration) segment { return segment{d: d} }

// writeMicWAV writes the segments as a 16-bit mono WAV file in a temporary directory.
func writeMicWAV(t testing.TB, name string, segments ...segment) string {
	t.Helper()
	var samples []int16
	for _, s := range segments {
		n := int(s.d.Seconds() * wavRate)
		if s.voice {
			samples = append(samples, voice(n)...)
		} else {
			samples = append(samples, make([]int16, n)...)
		}
	}
	data := make([]byte, 44+2*len(samples))
	copy(data, "RIFF")
	binary.LittleEndian.PutUint32(data[4:], uint32(36+2*len(samples)))
	copy(data[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(data[16:], 16)
	binary.LittleEndian.PutUint16(data[20:], 1) // PCM
	binary.LittleEndian.PutUint16(data[22:], 1) // mono
	binary.LittleEndian.PutUint32(data[24:], wavRate)
	binary.LittleEndian.PutUint32(data[28:], wavRate*2)
	binary.LittleEndian.PutUint16(data[32:], 2)
	binary.LittleEndian.PutUint16(data[34:], 16)
	copy(data[36:], "data")
	binary.LittleEndian.PutUint32(data[40:], uint32(2*len(samples)))
	for i, s := range samples {
		binary.LittleEndian.PutUint16(data[44+2*i:], uint16(s))
	}
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// voice synthesizes n samples of a voiced, speech-like sound.
func voice(n int) []int16 {
	const syllable = 0.22 // seconds
	out := make([]float64, n)
	phase := 0.0
	peak := 0.0
	for i := range out {
		t := float64(i) / wavRate
		f0 := 150 + 40*math.Sin(2*math.Pi*0.7*t) + 15*math.Sin(2*math.Pi*3.1*t)
		phase += 2 * math.Pi * f0 / wavRate
		v := 0.0
		for k := 1; float64(k)*f0 < 3800; k++ {
			fk := float64(k) * f0
			w := 1/float64(k) + 0.8*math.Exp(-sq((fk-600)/250)) + 0.5*math.Exp(-sq((fk-1700)/400))
			v += w * math.Sin(float64(k)*phase)
		}
		pos := math.Mod(t, syllable) / syllable
		v *= 0.25 + 0.75*math.Pow(math.Sin(math.Pi*pos), 0.6)
		out[i] = v
		peak = max(peak, math.Abs(v))
	}
	samples := make([]int16, n)
	for i, v := range out {
		samples[i] = int16(v / peak * 0.6 * math.MaxInt16)
	}
	return samples
}

func sq(x float64) float64 { return x * x }
