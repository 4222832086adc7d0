package offline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"

	"github.com/aitutor/aitutor/session"
)

// Speech synthesis with espeak-ng: one process per sentence, whose WAV output (22050 Hz) is
// parsed and resampled to 24 kHz as it arrives. The text goes to the process's standard input,
// never through a shell or the argument list, so no text can be taken for an option.

// speaker implements session.Synthesizer.
type speaker struct {
	bin    string // espeak-ng
	voice  string // Config.Voice, canonical
	speed  int
	voices voiceCatalog
}

// errStreamClosed is what Read returns after Close.
var errStreamClosed = errors.New("offline: speech stream closed")

// Synthesize starts espeak-ng on text and returns its speech as it is produced.
func (s *speaker) Synthesize(ctx context.Context, text, voice string) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	text = speakable(text)
	if text == "" {
		return io.NopCloser(strings.NewReader("")), nil
	}
	// -b 1: the input is UTF-8. --stdin: the text is read from standard input.
	cmd := exec.CommandContext(ctx, s.bin, "-b", "1", "-v", s.voices.resolve(voice, s.voice),
		"-s", strconv.Itoa(s.speed), "--stdout", "--stdin")
	cmd.Stdin = strings.NewReader(text)
	stderr := &limitedBuffer{max: 512}
	cmd.Stderr = stderr
	cmd.WaitDelay = 2 * time.Second
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("offline: espeak-ng: %w: %w", session.ErrProvider, err)
	}
	if err := cmd.Start(); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("offline: start espeak-ng: %w: %w", session.ErrProvider, err)
	}
	return &espeakStream{ctx: ctx, cmd: cmd, wav: newWAVStream(out), stderr: stderr}, nil
}

// speakable makes text one line of plain text: control characters and line breaks (espeak-ng
// pauses at each) become spaces.
func speakable(text string) string {
	text = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.IsSpace(r) {
			return ' '
		}
		return r
	}, text)
	return strings.Join(strings.Fields(text), " ")
}

// espeakStream is one sentence's speech. Close kills the process; a cancelled context kills it
// too (exec.CommandContext) and Read then returns the context's error.
type espeakStream struct {
	ctx    context.Context
	cmd    *exec.Cmd
	stderr *limitedBuffer
	closed atomic.Bool

	mu      sync.Mutex // guards what follows; Read holds it while it reads the pipe
	wav     *wavStream
	waited  bool
	waitErr error
	err     error // sticky: the stream has ended
}

// Read returns the next piece of 24 kHz PCM.
func (s *espeakStream) Read(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return 0, s.err
	}
	if s.closed.Load() {
		return 0, s.end(errStreamClosed)
	}
	if err := s.ctx.Err(); err != nil {
		s.kill()
		return 0, s.end(err)
	}
	n, err := s.wav.Read(p)
	if err == nil {
		return n, nil
	}
	return n, s.end(err)
}

// end reaps the process and decides the stream's final error: a cancellation stays a
// cancellation, a clean exit after the last sample is io.EOF, anything else is a provider
// failure. s.mu is held.
func (s *espeakStream) end(readErr error) error {
	if errors.Is(readErr, io.EOF) {
		// The data chunk is complete; let the process write whatever follows it, or it could
		// block on a full pipe and never exit.
		io.Copy(io.Discard, s.wav.r) //nolint:errcheck // only draining
	}
	waitErr := s.wait()
	switch {
	case s.closed.Load():
		s.err = errStreamClosed
	case s.ctx.Err() != nil:
		s.err = s.ctx.Err()
	case waitErr != nil:
		s.err = fmt.Errorf("offline: espeak-ng: %w: %w: %s", session.ErrProvider, waitErr, s.stderr.String())
	case errors.Is(readErr, io.EOF):
		s.err = io.EOF
	default:
		s.err = fmt.Errorf("offline: espeak-ng output: %w: %w", session.ErrProvider, readErr)
	}
	return s.err
}

// wait reaps the process once. s.mu is held.
func (s *espeakStream) wait() error {
	if !s.waited {
		s.waited = true
		s.waitErr = s.cmd.Wait()
	}
	return s.waitErr
}

func (s *espeakStream) kill() {
	s.cmd.Process.Kill() //nolint:errcheck // it may have exited already
}

// Close stops the synthesis: it kills the process (a Read blocked on its output returns) and
// reaps it.
func (s *espeakStream) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	s.kill()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.wait() //nolint:errcheck // killed on purpose
	if s.err == nil {
		s.err = errStreamClosed
	}
	return nil
}

// limitedBuffer keeps the first max bytes written to it (a process's error message).
type limitedBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *limitedBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if room := t.max - len(t.b); room > 0 {
		t.b = append(t.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (t *limitedBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(string(t.b))
}
