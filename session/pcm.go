package session

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
)

// PCM helpers: 16-bit little-endian mono samples, WAV files, resampling.

// Bytes per millisecond of the reply audio (16-bit mono at 24 kHz).
const outputBytesPerMs = OutputSampleRate * 2 / 1000

// DecodePCM16 appends the little-endian samples of b (even length) to dst.
func DecodePCM16(dst []int16, b []byte) []int16 {
	n := len(b) / 2
	if cap(dst)-len(dst) < n {
		grown := make([]int16, len(dst), len(dst)+n)
		copy(grown, dst)
		dst = grown
	}
	for i := 0; i < n; i++ {
		dst = append(dst, int16(binary.LittleEndian.Uint16(b[2*i:])))
	}
	return dst
}

// EncodePCM16 appends samples to dst as little-endian bytes.
func EncodePCM16(dst []byte, samples []int16) []byte {
	for _, s := range samples {
		dst = binary.LittleEndian.AppendUint16(dst, uint16(s))
	}
	return dst
}

// Resampler converts a stream of samples from one rate to another by linear interpolation. It
// keeps its phase between calls, so a stream can be fed in frames of any size. Speech-band
// content (below 4 kHz) survives the 8–48 kHz conversions that this server needs.
type Resampler struct {
	from, to int
	pos      float64 // position of the next output sample, in input samples, relative to prev
	prev     int16
	primed   bool
}

// NewResampler returns a resampler from rate from to rate to.
func NewResampler(from, to int) *Resampler { return &Resampler{from: from, to: to} }

// Resample appends the resampled in to dst.
func (r *Resampler) Resample(dst, in []int16) []int16 {
	if r.from == r.to {
		return append(dst, in...)
	}
	if len(in) == 0 {
		return dst
	}
	step := float64(r.from) / float64(r.to)
	if !r.primed {
		r.prev, r.primed, r.pos = in[0], true, 0
		in = in[1:]
	}
	// Samples: index -1 is r.prev, 0..len(in)-1 are in. Output at r.pos-1 … (pos measured from prev).
	for {
		i := int(r.pos) // between sample i-1 and i (i-1 == -1 means prev)
		if i >= len(in) {
			break
		}
		frac := r.pos - float64(i)
		a := r.prev
		if i > 0 {
			a = in[i-1]
		}
		b := in[i]
		v := float64(a) + (float64(b)-float64(a))*frac
		dst = append(dst, int16(math.Round(v)))
		r.pos += step
	}
	r.pos -= float64(len(in))
	if len(in) > 0 {
		r.prev = in[len(in)-1]
	}
	return dst
}

// ResampleAll converts a whole clip.
func ResampleAll(in []int16, from, to int) []int16 {
	if from == to {
		return in
	}
	out := make([]int16, 0, int(int64(len(in))*int64(to)/int64(from))+2)
	return NewResampler(from, to).Resample(out, in)
}

// WAVHeaderSize is the size of the header that WAV writes.
const WAVHeaderSize = 44

// WAVHeader returns a 44-byte header for dataLen bytes of 16-bit mono PCM at rate. A dataLen of
// 0xFFFFFFFF marks a stream of unknown length.
func WAVHeader(rate int, dataLen uint32) []byte {
	h := make([]byte, 0, WAVHeaderSize)
	riff := dataLen + 36
	if dataLen == math.MaxUint32 {
		riff = math.MaxUint32
	}
	h = append(h, "RIFF"...)
	h = binary.LittleEndian.AppendUint32(h, riff)
	h = append(h, "WAVEfmt "...)
	h = binary.LittleEndian.AppendUint32(h, 16)
	h = binary.LittleEndian.AppendUint16(h, 1) // PCM
	h = binary.LittleEndian.AppendUint16(h, 1) // mono
	h = binary.LittleEndian.AppendUint32(h, uint32(rate))
	h = binary.LittleEndian.AppendUint32(h, uint32(rate*2))
	h = binary.LittleEndian.AppendUint16(h, 2)
	h = binary.LittleEndian.AppendUint16(h, 16)
	h = append(h, "data"...)
	h = binary.LittleEndian.AppendUint32(h, dataLen)
	return h
}

// WAV wraps 16-bit mono PCM bytes in a WAV file.
func WAV(pcm []byte, rate int) []byte {
	out := make([]byte, 0, WAVHeaderSize+len(pcm))
	out = append(out, WAVHeader(rate, uint32(len(pcm)))...)
	return append(out, pcm...)
}

// ErrBadWAV: the data is not a WAV file this server reads.
var ErrBadWAV = errors.New("not a 16-bit PCM WAV file")

// ParseWAV returns the samples of a PCM WAV file as mono 16-bit (channels are averaged; 8, 24
// and 32-bit integer samples are converted) and its sample rate.
func ParseWAV(data []byte) ([]int16, int, error) {
	r := bytes.NewReader(data)
	var riff [12]byte
	if _, err := io.ReadFull(r, riff[:]); err != nil || string(riff[0:4]) != "RIFF" || string(riff[8:12]) != "WAVE" {
		return nil, 0, ErrBadWAV
	}
	var format, channels, bits uint16
	var rate uint32
	for {
		var hdr [8]byte
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return nil, 0, fmt.Errorf("%w: no data chunk", ErrBadWAV)
		}
		size := binary.LittleEndian.Uint32(hdr[4:])
		switch string(hdr[0:4]) {
		case "fmt ":
			if size < 16 || int64(size) > int64(r.Len()) {
				return nil, 0, ErrBadWAV
			}
			b := make([]byte, size)
			io.ReadFull(r, b) //nolint:errcheck // length checked
			format = binary.LittleEndian.Uint16(b[0:])
			channels = binary.LittleEndian.Uint16(b[2:])
			rate = binary.LittleEndian.Uint32(b[4:])
			bits = binary.LittleEndian.Uint16(b[14:])
			if format == 0xFFFE && size >= 26 { // WAVE_FORMAT_EXTENSIBLE: the sub-format decides
				format = binary.LittleEndian.Uint16(b[24:])
			}
		case "data":
			if format != 1 || channels == 0 || rate == 0 || (bits != 8 && bits != 16 && bits != 24 && bits != 32) {
				return nil, 0, fmt.Errorf("%w: format %d, %d channels, %d bits", ErrBadWAV, format, channels, bits)
			}
			if int64(size) > int64(r.Len()) || size == math.MaxUint32 {
				size = uint32(r.Len()) // streamed WAVs carry a placeholder length
			}
			raw := make([]byte, size)
			io.ReadFull(r, raw) //nolint:errcheck // length checked
			return wavSamples(raw, int(channels), int(bits)), int(rate), nil
		default:
			if int64(size) > int64(r.Len()) {
				return nil, 0, ErrBadWAV
			}
			r.Seek(int64(size+size%2), io.SeekCurrent) //nolint:errcheck // chunks are word-aligned
		}
	}
}

func wavSamples(raw []byte, channels, bits int) []int16 {
	width := bits / 8
	frame := width * channels
	out := make([]int16, 0, len(raw)/frame)
	for off := 0; off+frame <= len(raw); off += frame {
		var sum int
		for ch := 0; ch < channels; ch++ {
			b := raw[off+ch*width:]
			var v int
			switch bits {
			case 8:
				v = (int(b[0]) - 128) << 8
			case 16:
				v = int(int16(binary.LittleEndian.Uint16(b)))
			case 24:
				v = int(int32(uint32(b[0])<<8|uint32(b[1])<<16|uint32(b[2])<<24) >> 16)
			case 32:
				v = int(int32(binary.LittleEndian.Uint32(b)) >> 16)
			}
			sum += v
		}
		out = append(out, int16(sum/channels))
	}
	return out
}
