package session

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// Hot paths of a session, benchstat-friendly (go test -bench . -benchmem -count 10).

// BenchmarkFrameDecode is what the reader does with a 20 ms frame of 16 kHz PCM before turn
// detection: bytes to samples.
func BenchmarkFrameDecode(b *testing.B) {
	frame := EncodePCM16(nil, voice(20*time.Millisecond, 0.3))
	var samples []int16
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		samples = DecodePCM16(samples[:0], frame)
	}
}

// BenchmarkFrameResample48k converts a 20 ms frame from a 48 kHz microphone to 16 kHz.
func BenchmarkFrameResample48k(b *testing.B) {
	in := ResampleAll(voice(20*time.Millisecond, 0.3), 16000, 48000)
	r := NewResampler(48000, 16000)
	var out []int16
	b.ReportAllocs()
	b.SetBytes(int64(2 * len(in)))
	for b.Loop() {
		out = r.Resample(out[:0], in)
	}
}

// BenchmarkFrameReadAndDetect is a whole 20 ms frame through the session's audio path:
// decode, turn detection and the utterance buffer (quiet-room noise: no turn starts).
func BenchmarkFrameReadAndDetect(b *testing.B) {
	s := &Session{inputRate: DetectorRate, detector: NewDetector(DetectConfig{}), hub: &Hub{}, settings: sessionSettings{TurnDetection: serverTurns}}
	frame := EncodePCM16(nil, whiteNoise(20*time.Millisecond, 0.005))
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		s.samples = DecodePCM16(s.samples[:0], frame)
		s.onSamples(s.samples)
	}
}

// BenchmarkWriterAudioFrame is one reply audio frame (8 KiB) from the send queue through the
// writer goroutine and a real WebSocket to a reading client on loopback.
func BenchmarkWriterAudioFrame(b *testing.B) {
	s, clientConn := writerPair(b)
	t := newTurn(context.Background(), "turn_")
	frame := make([]byte, audioChunk)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			if _, _, err := clientConn.NextReader(); err != nil {
				return
			}
		}
	}()
	b.ReportAllocs()
	b.SetBytes(audioChunk)
	for b.Loop() {
		for s.out.len() > 128 { // a producer that respects the writer's pace
			runtime.Gosched()
		}
		if !s.enqueue(outMsg{kind: kindAudio, data: frame, turn: t}) {
			b.Fatal("queue full")
		}
	}
	flush := make(chan struct{})
	s.enqueue(outMsg{kind: kindFlush, flush: flush})
	<-flush
	s.closeWith(&CloseReason{Code: CloseNormal, Reason: "done"})
	clientConn.Close()
	<-done
}

// BenchmarkWriterEvent is one JSON event (a text delta) from send to the client.
func BenchmarkWriterEvent(b *testing.B) {
	s, clientConn := writerPair(b)
	b.ReportAllocs()
	for b.Loop() {
		s.send(deltaEvent{Type: TypeResponseTextDelta, TurnID: "turn_0123456789ab", Delta: " word"})
		if _, _, err := clientConn.ReadMessage(); err != nil {
			b.Fatal(err)
		}
	}
	s.closeWith(&CloseReason{Code: CloseNormal, Reason: "done"})
}

// writerPair runs a session's writer goroutine on a real WebSocket and returns the session and
// the client's end.
func writerPair(b *testing.B) (*Session, *websocket.Conn) {
	b.Helper()
	serverConn := make(chan *websocket.Conn, 1)
	up := upgrader(func(string, string) bool { return true }, Subprotocol)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			b.Error(err)
			return
		}
		serverConn <- c
	}))
	b.Cleanup(srv.Close)
	cc, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cc.Close() })
	ctx, cancel := context.WithCancelCause(context.Background())
	s := &Session{
		hub:        &Hub{cfg: HubConfig{IdleTimeout: time.Hour, MaxDuration: time.Hour}},
		conn:       <-serverConn,
		wire:       v1Wire{},
		logger:     slog.New(slog.NewTextHandler(io.Discard, nil)),
		ctx:        ctx,
		cancel:     cancel,
		out:        &sendQueue{},
		readerDone: make(chan struct{}),
		started:    time.Now(),
	}
	close(s.readerDone)
	s.touch()
	b.Cleanup(func() {
		s.closeWith(&CloseReason{Code: CloseNormal, Reason: "done"})
		s.wg.Wait()
	})
	return s, cc
}
