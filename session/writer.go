package session

import (
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// The writer goroutine is the only one that writes to the socket or sets write deadlines
// (gorilla/websocket allows one concurrent writer). Producers hand it messages through a bounded
// queue and never block: when the queue is full the client is not keeping up, and the session
// is closed with CloseSlowClient rather than growing memory.

const (
	writeWait  = 10 * time.Second  // deadline of every write
	pongWait   = 60 * time.Second  // the client must answer pings within this
	pingPeriod = pongWait * 9 / 10 // how often the writer pings
	closeGrace = 1 * time.Second   // how long to wait for the client's close reply
	queueSize  = 256               // messages waiting for the writer
	audioChunk = 8192              // bytes of reply audio per frame at most (~170 ms)
	maxTextLen = 2000              // characters of a typed turn
	readBuffer = 1024              // the connection's read buffer; frames larger than it are read in pieces
	writeBufSz = audioChunk + 16   // one audio frame and its header fit in one write buffer
)

// CloseReason ends a session: a WebSocket close code and a short reason. It is an error so that
// it can travel as a context cause.
type CloseReason struct {
	Code   int
	Reason string
	// sent is set when the close frame already went out (gorilla answers oversized frames
	// itself).
	sent bool
}

func (c *CloseReason) Error() string { return fmt.Sprintf("websocket close %d: %s", c.Code, c.Reason) }

// Close codes: RFC 6455 ones, and application codes 4000–4999.
const (
	CloseNormal      = websocket.CloseNormalClosure     // 1000
	CloseGoingAway   = websocket.CloseGoingAway         // 1001: server shutdown
	ClosePolicy      = websocket.ClosePolicyViolation   // 1008
	CloseTooBig      = websocket.CloseMessageTooBig     // 1009
	CloseInternal    = websocket.CloseInternalServerErr // 1011
	CloseIdle        = 4000                             // no speech or message for SESSION_IDLE_TIMEOUT
	CloseMaxDuration = 4001                             // SESSION_MAX_DURATION reached
	CloseSlowClient  = 4002                             // the client does not read fast enough
)

var (
	errClientGone = &CloseReason{Code: CloseNormal, Reason: "client closed the connection"}
)

// msgKind tells the writer what an outMsg is.
type msgKind uint8

const (
	kindText msgKind = iota
	kindAudio
	kindFlush
)

// outMsg is one item of the send queue.
type outMsg struct {
	kind  msgKind
	data  []byte
	buf   *[]byte       // pooled audio buffer that data points into
	turn  *turn         // the reply an audio frame belongs to
	flush chan struct{} // kindFlush: closed when the writer reaches it
}

// audioPool holds reply audio frame buffers.
var audioPool = sync.Pool{New: func() any { b := make([]byte, audioChunk); return &b }}

// writePool lends gorilla/websocket its write buffers only while a message is being written, so
// idle connections hold none.
var writePool = &sync.Pool{}

// WriteBufferPool is the write buffer pool for the upgrader.
func WriteBufferPool() websocket.BufferPool { return writePool }

// Upgrader returns the upgrader for protocol v1 sessions: small read buffers and pooled write
// buffers keep an idle connection small. checkOrigin decides which browser origins may connect.
func Upgrader(checkOrigin func(origin, host string) bool) *websocket.Upgrader {
	return &websocket.Upgrader{
		ReadBufferSize:  readBuffer,
		WriteBufferSize: writeBufSz,
		WriteBufferPool: writePool,
		Subprotocols:    []string{Subprotocol},
		CheckOrigin: func(r *http.Request) bool {
			origin := r.Header.Get("Origin")
			return origin == "" || checkOrigin(origin, r.Host)
		},
		HandshakeTimeout: 10 * time.Second,
	}
}

// send queues a text message. It never blocks; a full queue closes the session.
func (s *Session) send(v any) {
	s.enqueue(outMsg{kind: kindText, data: mustJSON(v)})
}

func (s *Session) enqueue(m outMsg) bool {
	if s.ctx.Err() != nil {
		m.release()
		return false
	}
	select {
	case s.out <- m:
		return true
	default:
		m.release()
		s.closeWith(&CloseReason{Code: CloseSlowClient, Reason: "client too slow: send queue full"})
		return false
	}
}

func (m *outMsg) release() {
	if m.buf != nil {
		audioPool.Put(m.buf)
		m.buf, m.data = nil, nil
	}
}

// writeLoop is the writer goroutine.
func (s *Session) writeLoop() {
	defer s.wg.Done()
	defer s.recoverPanic("writer")
	ping := time.NewTicker(s.hub.tick)
	defer ping.Stop()
	for {
		select {
		case m := <-s.out:
			if err := s.write(m); err != nil {
				s.closeWith(&CloseReason{Code: CloseNormal, Reason: "write failed: " + err.Error(), sent: true})
				s.drainQueue()
				s.conn.Close()
				return
			}
		case <-ping.C:
			if reason, code := s.checkLimits(); reason != nil {
				s.fail(reason.Code, code, reason.Reason)
				continue
			}
			s.conn.SetWriteDeadline(time.Now().Add(writeWait)) //nolint:errcheck
			if err := s.conn.WriteMessage(websocket.PingMessage, nil); err != nil {
				s.closeWith(&CloseReason{Code: CloseNormal, Reason: "ping failed", sent: true})
			}
		case <-s.ctx.Done():
			s.finishWriting()
			return
		}
	}
}

// write sends one queued message.
func (s *Session) write(m outMsg) error {
	defer m.release()
	switch m.kind {
	case kindFlush:
		close(m.flush)
		return nil
	case kindAudio:
		if m.turn.cancelled.Load() {
			return nil // the learner barged in: this audio is never sent
		}
		s.conn.SetWriteDeadline(time.Now().Add(writeWait)) //nolint:errcheck
		if err := s.conn.WriteMessage(websocket.BinaryMessage, m.data); err != nil {
			return err
		}
		m.turn.audioWritten(len(m.data))
		return nil
	default:
		s.conn.SetWriteDeadline(time.Now().Add(writeWait)) //nolint:errcheck
		return s.conn.WriteMessage(websocket.TextMessage, m.data)
	}
}

// finishWriting runs when the session ends: it writes what is queued (a fatal error event is
// often last), then the close frame, waits briefly for the client's answer and closes the socket.
func (s *Session) finishWriting() {
	reason := s.reason()
	if reason.Code != CloseNormal || !reason.sent {
		// Flush what is queued, without blocking on a client that does not read.
		deadline := time.Now().Add(writeWait)
	flush:
		for {
			select {
			case m := <-s.out:
				if m.kind == kindAudio || time.Now().After(deadline) {
					m.release()
					if m.kind == kindFlush {
						close(m.flush)
					}
					continue
				}
				if s.write(m) != nil {
					break flush
				}
			default:
				break flush
			}
		}
	}
	if !reason.sent {
		msg := websocket.FormatCloseMessage(reason.Code, truncateReason(reason.Reason))
		if err := s.conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(writeWait)); err == nil {
			select {
			case <-s.readerDone:
			case <-time.After(closeGrace):
			}
		}
	}
	s.drainQueue()
	s.conn.Close()
}

// drainQueue releases what is left in the queue and wakes flush waiters.
func (s *Session) drainQueue() {
	for {
		select {
		case m := <-s.out:
			m.release()
			if m.kind == kindFlush {
				close(m.flush)
			}
		default:
			return
		}
	}
}

// truncateReason keeps a close reason within the 123 bytes a close frame allows.
func truncateReason(r string) string {
	if len(r) <= 120 {
		return r
	}
	return r[:120]
}

// isCloseSent reports whether gorilla already sent the close frame for err.
func isCloseSent(err error) bool {
	return errors.Is(err, websocket.ErrReadLimit)
}
