package session

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"runtime/debug"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// The writer goroutine is the only one that writes to the socket or sets write deadlines
// (gorilla/websocket allows one concurrent writer). Producers hand it messages through a queue
// bounded in bytes and never block: when the queue is full the client is not keeping up, and
// the session is closed with CloseSlowClient rather than growing memory. The writer runs only
// while there is something to write: an idle session has its reader goroutine and a timer
// (keepalive.go), which keeps 10,000 idle sessions small.

const (
	writeWait     = 10 * time.Second // deadline of every write
	closeGrace    = 1 * time.Second  // how long to wait for the client's close reply
	queueMessages = 1024             // messages waiting for the writer
	queueBytes    = 4 << 20          // bytes waiting for the writer
	audioChunk    = 8192             // bytes of reply audio per frame at most (~170 ms)
	maxTextLen    = 2000             // characters of a typed turn
	readBuffer    = 1024             // the connection's read buffer; frames larger than it are read in pieces
	writeBufSz    = audioChunk + 16  // one audio frame and its header fit in one write buffer
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

// msgKind tells the writer what an outMsg is.
type msgKind uint8

const (
	kindEvent msgKind = iota // an event, encoded by the session's wire
	kindAudio                // reply audio of turn
	kindFlush                // closes flush when the writer reaches it
	kindPing                 // a WebSocket ping
	kindClose                // the session ends: flush text, send the close frame, close the socket
)

// outMsg is one item of the send queue.
type outMsg struct {
	kind   msgKind
	event  any // kindEvent
	data   []byte
	turn   *turn         // the reply an audio frame belongs to
	offset int64         // the frame's offset in that reply's audio
	flush  chan struct{} // kindFlush: closed when the writer reaches it
}

// writePool lends gorilla/websocket its write buffers only while a message is being written, so
// idle connections hold none.
var writePool = &sync.Pool{}

// upgrader returns the upgrader for protocol v1 sessions: small read buffers and pooled write
// buffers keep an idle connection small. checkOrigin decides which browser origins may connect.
func upgrader(checkOrigin func(origin, host string) bool, subprotocols ...string) *websocket.Upgrader {
	return &websocket.Upgrader{
		ReadBufferSize:  readBuffer,
		WriteBufferSize: writeBufSz,
		WriteBufferPool: writePool,
		Subprotocols:    subprotocols,
		CheckOrigin: func(r *http.Request) bool {
			origin := r.Header.Get("Origin")
			return origin == "" || checkOrigin(origin, r.Host)
		},
		HandshakeTimeout: 10 * time.Second,
	}
}

// sendQueue is a session's bounded send queue. An idle session's queue holds no memory, and no
// writer goroutine runs for it: the first message starts one, which ends when the queue is
// empty.
type sendQueue struct {
	mu      sync.Mutex
	items   []outMsg
	bytes   int  // data bytes waiting
	running bool // a writer goroutine is draining the queue
	closed  bool // the close message was taken: nothing more is written
}

// len is the number of waiting messages.
func (q *sendQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items)
}

// eventBytes is what a queued event counts towards the queue's byte bound (it is encoded by
// the writer).
const eventBytes = 256

// send queues an event. It never blocks; a full queue closes the session.
func (s *Session) send(v any) {
	s.enqueue(outMsg{kind: kindEvent, event: v})
}

// enqueue queues m and starts the writer when none runs. Messages are refused once the session
// has ended (they are released), and a full queue closes it.
func (s *Session) enqueue(m outMsg) bool {
	if s.ctx.Err() != nil && m.kind != kindClose {
		m.release()
		return false
	}
	q := s.out
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		m.release()
		return false
	}
	size := len(m.data)
	if m.kind == kindEvent {
		size = eventBytes
	}
	if (len(q.items) >= queueMessages || q.bytes+size > queueBytes) && m.kind != kindClose {
		q.mu.Unlock()
		m.release()
		s.closeWith(&CloseReason{Code: CloseSlowClient, Reason: "client too slow: send queue full"})
		return false
	}
	q.items = append(q.items, m)
	q.bytes += size
	start := !q.running
	if start {
		// Counted while the queue is open: the reader waits for the writer only after it has
		// queued the close message, so this never races with that wait.
		q.running = true
		s.wg.Add(1)
	}
	q.mu.Unlock()
	if start {
		go s.writeLoop()
	}
	return true
}

func (m *outMsg) release() {
	m.data, m.event = nil, nil
	if m.kind == kindFlush && m.flush != nil {
		close(m.flush) // written or not, whoever waits may go on
		m.flush = nil
	}
}

// writeLoop is the writer goroutine: it writes what is queued and ends when the queue is empty,
// or after the close message.
func (s *Session) writeLoop() {
	defer s.wg.Done()
	defer s.recoverWriter()
	broken := false // a write failed: nothing more can be written
	q := s.out
	for {
		q.mu.Lock()
		batch := q.items
		q.items, q.bytes = nil, 0
		if len(batch) == 0 {
			q.running = false
			q.mu.Unlock()
			return
		}
		q.mu.Unlock()
		for i := range batch {
			m := &batch[i]
			if m.kind == kindClose {
				s.finishWriting(batch[i+1:], broken)
				return
			}
			if broken {
				m.release()
				continue
			}
			if err := s.write(m); err != nil {
				broken = true
				s.closeWith(writeCloseReason(err))
			}
		}
	}
}

// write sends one queued message and releases it.
func (s *Session) write(m *outMsg) error {
	defer m.release()
	s.conn.SetWriteDeadline(time.Now().Add(writeWait)) //nolint:errcheck
	switch m.kind {
	case kindFlush:
		return nil // release wakes the waiter
	case kindPing:
		return s.conn.WriteMessage(websocket.PingMessage, nil)
	case kindAudio:
		if !m.turn.writable() {
			return nil // the learner talked over it or stopped it: this audio is never sent
		}
		if err := s.writeFrames(s.wire.audio(m.turn, m.data)); err != nil {
			return err
		}
		m.turn.audioWritten(m.offset, len(m.data))
		return nil
	default:
		return s.writeFrames(s.wire.event(m.event))
	}
}

func (s *Session) writeFrames(frames []frame) error {
	for _, f := range frames {
		mt := websocket.TextMessage
		if f.binary {
			mt = websocket.BinaryMessage
		}
		if err := s.conn.WriteMessage(mt, f.data); err != nil {
			return err
		}
	}
	return nil
}

// finishWriting ends the session's writing: it closes the queue, writes the text messages still
// queued (a fatal error event is often last) unless the socket broke, then the close frame,
// waits briefly for the client's answer and closes the socket.
func (s *Session) finishWriting(rest []outMsg, broken bool) {
	q := s.out
	q.mu.Lock()
	q.closed, q.running = true, false
	rest = append(rest, q.items...)
	q.items, q.bytes = nil, 0
	q.mu.Unlock()
	reason := s.reason()
	deadline := time.Now().Add(writeWait)
	for i := range rest {
		if broken || reason.sent || rest[i].kind != kindEvent || time.Now().After(deadline) {
			rest[i].release()
			continue
		}
		if s.write(&rest[i]) != nil {
			broken = true
		}
	}
	if !reason.sent && !broken {
		msg := websocket.FormatCloseMessage(reason.Code, truncateReason(reason.Reason))
		if err := s.conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(writeWait)); err == nil {
			select {
			case <-s.readerDone:
			case <-time.After(closeGrace):
			}
		}
	}
	s.conn.Close()
}

// recoverWriter ends the session at once when the writer panics: nothing can be written after
// it (it was the only writer), so the socket is closed, which ends the reader too.
func (s *Session) recoverWriter() {
	r := recover()
	if r == nil {
		return
	}
	s.logger.Error("panic in session", "where", "writer", "panic", r, "stack", string(debug.Stack()))
	q := s.out
	q.mu.Lock()
	q.closed, q.running = true, false
	rest := q.items
	q.items, q.bytes = nil, 0
	q.mu.Unlock()
	for i := range rest {
		rest[i].release()
	}
	s.closeWith(&CloseReason{Code: CloseInternal, Reason: "internal error; reconnect to go on", sent: true})
	s.conn.Close()
}

// writeCloseReason classifies a write error: a client that does not read in time is too slow.
func writeCloseReason(err error) *CloseReason {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return &CloseReason{Code: CloseSlowClient, Reason: "client too slow: write timed out", sent: true}
	}
	return &CloseReason{Code: CloseNormal, Reason: "write failed: " + err.Error(), sent: true}
}

// flush waits until the writer has passed what is queued now (or the session ended).
func (s *Session) flush() {
	done := make(chan struct{})
	if s.enqueue(outMsg{kind: kindFlush, flush: done}) {
		select {
		case <-done:
		case <-s.ctx.Done():
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
