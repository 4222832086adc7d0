package client

import (
	"math"
	"time"
)

// Voice returns d of a synthetic voiced sound at sampleRate: a 140 Hz harmonic series to 3 kHz
// shaped into syllables. Server turn detection hears it as speech; tests and the load generator
// use it where no recording is needed.
func Voice(d time.Duration, sampleRate int) []int16 {
	n := int(d.Seconds() * float64(sampleRate))
	out := make([]int16, n)
	for i := range out {
		t := float64(i) / float64(sampleRate)
		var v float64
		for h := 1; h*140 < 3000; h++ {
			v += math.Sin(2*math.Pi*140*float64(h)*t) / float64(h)
		}
		env := 0.6 + 0.4*math.Sin(2*math.Pi*5*t)
		out[i] = int16(v * env * 0.3 * 16000)
	}
	return out
}

// Silence returns d of silence at sampleRate.
func Silence(d time.Duration, sampleRate int) []int16 {
	return make([]int16, int(d.Seconds()*float64(sampleRate)))
}

// Join concatenates clips.
func Join(clips ...[]int16) []int16 {
	var out []int16
	for _, c := range clips {
		out = append(out, c...)
	}
	return out
}

// EncodeSamples returns samples as little-endian 16-bit PCM bytes.
func EncodeSamples(samples []int16) []byte {
	b := make([]byte, 2*len(samples))
	for i, s := range samples {
		b[2*i], b[2*i+1] = byte(uint16(s)), byte(uint16(s)>>8)
	}
	return b
}
