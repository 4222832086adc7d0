package offline

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/aitutor/aitutor/session"
)

// wavStream reads a 16-bit mono PCM WAV file while it is being written and returns its samples
// resampled to session.OutputSampleRate, as little-endian bytes, as soon as they arrive. A
// streamed WAV (espeak-ng --stdout) carries placeholder sizes in its header, so the data chunk
// is read until the end of the input.
type wavStream struct {
	r         *bufio.Reader
	started   bool  // the header has been read
	remaining int64 // data bytes left; -1 until the end of the input
	rs        *session.Resampler
	raw       []byte  // input bytes
	odd       []byte  // a byte of a sample split between reads
	in, out   []int16 // scratch
	buf       []byte  // output bytes
	pending   []byte  // the part of buf not yet returned
}

// errBadStream: the synthesizer's output is not a WAV stream this reader understands.
var errBadStream = errors.New("offline: synthesizer output is not 16-bit mono PCM WAV")

func newWAVStream(r io.Reader) *wavStream {
	return &wavStream{r: bufio.NewReaderSize(r, 4096), raw: make([]byte, 4096)}
}

// header reads up to the start of the data chunk.
func (w *wavStream) header() error {
	var riff [12]byte
	if _, err := io.ReadFull(w.r, riff[:]); err != nil {
		return fmt.Errorf("%w: %w", errBadStream, noEOF(err))
	}
	if string(riff[0:4]) != "RIFF" || string(riff[8:12]) != "WAVE" {
		return fmt.Errorf("%w: no RIFF/WAVE header", errBadStream)
	}
	rate := 0
	for {
		var hdr [8]byte
		if _, err := io.ReadFull(w.r, hdr[:]); err != nil {
			return fmt.Errorf("%w: %w", errBadStream, noEOF(err))
		}
		size := binary.LittleEndian.Uint32(hdr[4:])
		switch string(hdr[0:4]) {
		case "fmt ":
			if size < 16 || size > 1024 {
				return fmt.Errorf("%w: fmt chunk of %d bytes", errBadStream, size)
			}
			b := make([]byte, size+size%2)
			if _, err := io.ReadFull(w.r, b); err != nil {
				return fmt.Errorf("%w: %w", errBadStream, noEOF(err))
			}
			format, channels := binary.LittleEndian.Uint16(b[0:]), binary.LittleEndian.Uint16(b[2:])
			bits := binary.LittleEndian.Uint16(b[14:])
			rate = int(binary.LittleEndian.Uint32(b[4:]))
			if format != 1 || channels != 1 || bits != 16 || rate < 8000 || rate > 192000 {
				return fmt.Errorf("%w: format %d, %d channels, %d bits, %d Hz", errBadStream, format, channels, bits, rate)
			}
		case "data":
			if rate == 0 {
				return fmt.Errorf("%w: data before fmt", errBadStream)
			}
			w.remaining = int64(size)
			if size == 0 || size >= 0x7fff0000 { // a placeholder: read to the end
				w.remaining = -1
			}
			w.rs = session.NewResampler(rate, session.OutputSampleRate)
			return nil
		default:
			if _, err := w.r.Discard(int(size + size%2)); err != nil {
				return fmt.Errorf("%w: %w", errBadStream, noEOF(err))
			}
		}
	}
}

// noEOF turns an end of input inside the header into io.ErrUnexpectedEOF.
func noEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// Read returns converted audio as soon as some input has arrived; io.EOF after the last.
func (w *wavStream) Read(p []byte) (int, error) {
	if !w.started {
		if err := w.header(); err != nil {
			return 0, err
		}
		w.started = true
	}
	for len(w.pending) == 0 {
		if w.remaining == 0 {
			return 0, io.EOF
		}
		buf := w.raw
		if w.remaining > 0 && int64(len(buf)) > w.remaining {
			buf = buf[:w.remaining]
		}
		n, err := w.r.Read(buf)
		if w.remaining > 0 {
			w.remaining -= int64(n)
		}
		w.convert(buf[:n])
		if err != nil && len(w.pending) == 0 {
			return 0, err
		}
		if err != nil {
			break // return what was converted; the error comes back on the next call
		}
	}
	n := copy(p, w.pending)
	w.pending = w.pending[n:]
	return n, nil
}

// convert resamples the input bytes b into pending.
func (w *wavStream) convert(b []byte) {
	if len(b) == 0 {
		return
	}
	if len(w.odd) > 0 {
		w.odd = append(w.odd, b[0])
		w.in = session.DecodePCM16(w.in[:0], w.odd)
		w.odd, b = w.odd[:0], b[1:]
	} else {
		w.in = w.in[:0]
	}
	whole := len(b) &^ 1
	w.in = session.DecodePCM16(w.in, b[:whole])
	w.odd = append(w.odd, b[whole:]...)
	w.out = w.rs.Resample(w.out[:0], w.in)
	w.buf = session.EncodePCM16(w.buf[:0], w.out) // pending is empty: buf is free
	w.pending = w.buf
}
