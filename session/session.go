package session

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/aitutor/aitutor/store"
)

// Session is one live conversation on one WebSocket. Its reader goroutine reads the socket,
// detects turns and starts them (input.go, control.go); the writer writes the socket
// (writer.go); each turn runs the pipeline in its own goroutine (pipeline.go, stream.go); a
// timer keeps the connection alive (keepalive.go). All of them end when the socket closes: the
// context is cancelled with the reason.
type Session struct {
	id             string
	hub            *Hub
	tutor          *Tutor
	conn           *websocket.Conn
	wire           wire
	logger         *slog.Logger
	userID         string
	membershipID   string
	conversationID string
	started        time.Time

	ctx        context.Context
	cancel     context.CancelCauseFunc
	closeOnce  sync.Once
	out        *sendQueue
	readerDone chan struct{}
	wg         sync.WaitGroup // writer, turns and their helpers

	lastActivity atomic.Int64 // unix nanoseconds of the last speech or message
	keepalive    atomic.Pointer[time.Timer]

	// Owned by the reader goroutine.
	inputRate   int
	resampler   *Resampler
	detector    *Detector
	samples     []int16 // scratch: the frame's samples
	resampled   []int16 // scratch: the frame at 16 kHz
	utter       []int16 // audio of the current utterance (or of the pre-roll while quiet)
	utterStart  int64   // detector position of utter[0]
	lastVoiced  int64   // detector's last voiced position seen …
	lastVoiceAt time.Time
	speechAt    time.Time // when the learner began the utterance being heard
	// inputSamples counts the learner's 16 kHz samples since the session began.
	inputSamples int64
	// holdTurns keeps committed speech in held until the app asks for a response, and
	// noBargeIn lets speech not interrupt replies (Realtime turn_detection create_response and
	// interrupt_response false).
	holdTurns bool
	noBargeIn bool
	held      []int16
	// spec is the work on the learner's current pause (speculate.go).
	spec *speculation
	// inputMu guards the learner's input — the detector, the utterance buffer, spec — between
	// the reader, which holds it while it handles a message, and the speculation that judges a
	// pause when its words arrive (afterWords).
	inputMu sync.Mutex

	mu        sync.Mutex // guards what follows
	settings  sessionSettings
	current   *turn // the latest turn, running or finished
	history   []historyEntry
	remaining *int
	draining  bool
	profile   string // what the tutor remembers of the learner, for its instructions
	// pendingTruncate is a response.truncate for the turn that is finishing.
	pendingTruncate *pendingTruncate
	// truncateSeen: the client has sent a truncate; truncateMissed: a wait for one ran out
	// before it ever did; truncated is closed when one arrives (awaitTruncate, history.go).
	truncateSeen   bool
	truncateMissed bool
	truncated      chan struct{}
}

const (
	maxUtterance   = 60 * time.Second       // longest utterance; longer ones end the turn
	prerollWindow  = 300 * time.Millisecond // audio kept before the detected start of speech
	tailWindow     = 250 * time.Millisecond // audio kept after the detected end of speech
	quietBuffer    = time.Second            // audio kept while nobody speaks
	minInputRate   = 8000
	maxInputRate   = 48000
	defaultLevel   = "intermediate"
	manualTurns    = "manual"
	serverTurns    = "server"
	maxTopicLength = 120
	livePrefetch   = 2 // sentences synthesized at once on a live session
)

// Params are what the server knows about a session before the upgrade.
type Params struct {
	User       store.User
	Membership store.Membership
	// ConversationID continues one of the user's conversations; empty starts one.
	ConversationID string
	Logger         *slog.Logger
	// Realtime speaks the OpenAI Realtime events (realtime.go) instead of protocol v1; Model is
	// the model the client asked for, reported back in the Realtime session.
	Realtime bool
	Model    string
}

func newSession(h *Hub, conn *websocket.Conn, id string, p Params, conv store.Conversation, history []historyEntry) *Session {
	ctx, cancel := context.WithCancelCause(context.Background())
	s := &Session{
		id:             id,
		hub:            h,
		tutor:          h.tutor,
		conn:           conn,
		wire:           v1Wire{},
		logger:         p.Logger.With("session", id, "user", p.User.ID),
		userID:         p.User.ID,
		membershipID:   p.Membership.ID,
		conversationID: conv.ID,
		started:        time.Now(),
		ctx:            ctx,
		cancel:         cancel,
		out:            &sendQueue{},
		readerDone:     make(chan struct{}),
		inputRate:      DetectorRate,
		detector:       NewDetector(DetectConfig{}),
		remaining:      p.Membership.RemainingChatUses,
		history:        history,
	}
	cfg := s.detector.Config()
	s.settings = sessionSettings{
		Voice:         h.tutor.voice,
		Level:         defaultLevel,
		TurnDetection: serverTurns,
		SilenceMs:     int(cfg.Silence / time.Millisecond),
		MinSpeechMs:   int(cfg.MinSpeech / time.Millisecond),
		BargeInMs:     int(cfg.BargeIn / time.Millisecond),
		EndOfTurn:     endOfTurnSmart,
	}
	if conv.Level != "" {
		s.settings.Level = conv.Level
	}
	if p.Realtime {
		// The Realtime API's defaults: 24 kHz PCM in, server VAD that answers and interrupts.
		s.wire = newRealtimeWire(p.Model, p.Membership.RemainingChatUses)
		s.inputRate = 24000
		s.resampler = NewResampler(s.inputRate, DetectorRate)
		s.settings.EndOfTurn = endOfTurnSilence // server_vad
	}
	s.configureDetector(s.settings)
	s.profile = h.tutor.profileSummary(context.Background(), p.User.ID)
	s.settings.Topic = conv.Topic
	s.touch()
	return s
}

// run starts the session's goroutines; it returns at once.
func (s *Session) run(resumed bool) {
	s.send(sessionCreated{
		Type: TypeSessionCreated, SessionID: s.id, ConversationID: s.conversationID, Resumed: resumed,
		Turns: len(s.history), InputSampleRate: s.inputRate, OutputSampleRate: OutputSampleRate,
		RemainingChatUses: s.remaining, sessionSettings: s.settings,
	})
	s.startKeepalive()
	go s.readLoop()
}

// closeWith ends the session with reason (the first reason wins): a running turn stops (for
// billing, as a lost connection), the goroutines learn of the end through the context, and the
// writer writes the close frame after what is queued.
func (s *Session) closeWith(reason *CloseReason) {
	s.closeOnce.Do(func() {
		if t := s.currentTurn(); t != nil {
			t.stop(ReasonDisconnect, time.Now())
		}
		s.cancel(reason)
		s.enqueue(outMsg{kind: kindClose})
	})
}

// reason is why the session ended.
func (s *Session) reason() *CloseReason {
	var r *CloseReason
	if errors.As(context.Cause(s.ctx), &r) {
		return r
	}
	return &CloseReason{Code: CloseNormal, Reason: "closed"}
}

// fail sends a fatal error event and closes the session with code.
func (s *Session) fail(code int, e errorEvent) {
	e.Fatal = true
	s.sendError(e)
	s.closeWith(&CloseReason{Code: code, Reason: e.Message})
}

// sendError sends an error event.
func (s *Session) sendError(e errorEvent) {
	e.Type = TypeError
	s.send(e)
}

func (s *Session) touch() { s.lastActivity.Store(time.Now().UnixNano()) }

func (s *Session) recoverPanic(where string) {
	if r := recover(); r != nil {
		s.logger.Error("panic in session", "where", where, "panic", r, "stack", string(debug.Stack()))
		s.fail(CloseInternal, errorEvent{Code: "internal", Message: "internal error; reconnect to go on", Retryable: true})
	}
}

// readLoop is the reader goroutine. When it ends it waits for the session's other goroutines
// and leaves the hub.
func (s *Session) readLoop() {
	defer func() {
		s.inputMu.Lock()
		s.dropSpeculation()
		s.inputMu.Unlock()
		close(s.readerDone)
		s.closeWith(&CloseReason{Code: CloseNormal, Reason: "closed", sent: true}) // a no-op when a reason is set
		s.stopKeepalive()
		s.wg.Wait()
		s.conn.Close()
		s.hub.remove(s)
		r := s.reason()
		if r.Code != CloseNormal && r.Code != CloseGoingAway {
			s.logger.Info("session closed", "code", r.Code, "reason", r.Reason)
		} else {
			s.logger.Debug("session closed", "code", r.Code, "reason", r.Reason)
		}
	}()
	defer s.recoverPanic("reader")

	pongWait := s.hub.cfg.PongWait
	if _, rt := s.wire.(*realtimeWire); rt {
		s.conn.SetReadLimit(realtimeMaxFrame)
	} else {
		s.conn.SetReadLimit(MaxFrameBytes)
	}
	s.conn.SetReadDeadline(time.Now().Add(pongWait)) //nolint:errcheck
	s.conn.SetPongHandler(func(string) error {
		return s.conn.SetReadDeadline(time.Now().Add(pongWait))
	})
	for {
		mt, r, err := s.conn.NextReader()
		if err != nil {
			s.closeWith(readCloseReason(err))
			return
		}
		s.conn.SetReadDeadline(time.Now().Add(pongWait)) //nolint:errcheck
		s.inputMu.Lock()
		err = s.wire.read(s, mt, r)
		s.inputMu.Unlock()
		if err != nil {
			s.closeWith(readCloseReason(err))
			return
		}
		if s.ctx.Err() != nil {
			return
		}
	}
}

// readCloseReason classifies a read error.
func readCloseReason(err error) *CloseReason {
	var ce *websocket.CloseError
	var ne net.Error
	switch {
	case isCloseSent(err):
		return &CloseReason{Code: CloseTooBig, Reason: fmt.Sprintf("frame larger than %d bytes", MaxFrameBytes), sent: true}
	case errors.As(err, &ce):
		return &CloseReason{Code: CloseNormal, Reason: "client closed the connection", sent: true}
	case errors.As(err, &ne) && ne.Timeout():
		return &CloseReason{Code: ClosePolicy, Reason: "no pong from client"}
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		return &CloseReason{Code: CloseNormal, Reason: "connection lost", sent: true}
	}
	return &CloseReason{Code: ClosePolicy, Reason: "protocol error: " + err.Error()}
}

// startTurn starts a turn. A reply that is running stops, unless the learner's speech paused it
// (input.go): then this turn's words decide whether it stops or goes on.
func (s *Session) startTurn(in turnInput) {
	s.mu.Lock()
	if s.draining {
		s.mu.Unlock()
		if in.spec != nil {
			in.spec.release()
		}
		s.sendError(errorEvent{Code: "shutting_down", Message: "the server is restarting; reconnect in a moment", Retryable: true})
		return
	}
	prev := s.current
	t := newTurn(s.ctx, "turn_")
	t.userID, t.membershipID, t.conversationID = s.userID, s.membershipID, s.conversationID
	t.in, t.prefetch, t.logger = in, livePrefetch, s.logger
	s.current = t
	s.mu.Unlock()
	if prev != nil && !prev.finished() {
		switch {
		case in.speech != nil && prev.isPaused():
			t.interrupting = prev
		case in.speech != nil && prev.interrupting != nil && prev.interrupting.isPaused():
			// An earlier interruption was still being heard: this speech takes its place.
			t.interrupting = prev.interrupting
			prev.stop(ReasonBargeIn, time.Now())
		default:
			if prev.interrupting != nil {
				prev.interrupting.stop(ReasonBargeIn, time.Now())
			}
			prev.stop(ReasonBargeIn, time.Now())
		}
	}
	s.wg.Add(1)
	go s.runTurn(t, prev)
}

// runTurn is a turn's goroutine.
func (s *Session) runTurn(t *turn, prev *turn) {
	defer s.wg.Done()
	defer close(t.done)
	defer s.recoverPanic("turn")
	if spec := t.in.spec; spec != nil {
		defer spec.release() // an answer it prepared that the turn did not take
	}
	if prev != nil && t.interrupting != prev {
		// The earlier turn settles first and puts its reply in the history.
		select {
		case <-prev.done:
		case <-s.ctx.Done():
			return
		}
	}
	if in := t.in; in.speech != nil {
		t.metrics.EndpointMs = ms(max(in.decided.Sub(in.endOfSpeech), 0))
	}
	s.tutor.runTurn(t, s)
	s.mu.Lock()
	draining := s.draining && s.current == t
	s.mu.Unlock()
	if draining {
		s.goAway()
	}
}

// currentTurn is the latest turn.
func (s *Session) currentTurn() *turn {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.current
}

// cancelCurrent stops the running reply at once (response.cancel).
func (s *Session) cancelCurrent(reason string) {
	if t := s.currentTurn(); t != nil && !t.finished() {
		if t.interrupting != nil {
			t.interrupting.stop(reason, time.Now())
		}
		t.stop(reason, time.Now())
	}
}

// tutorSpeaking reports whether a reply is being produced or is still playing at the client.
func (s *Session) tutorSpeaking() bool {
	t := s.currentTurn()
	return t != nil && (!t.finished() || time.Now().Before(t.playbackEnd()))
}

// drain asks the session to end after its current turn (server shutdown).
func (s *Session) drain() {
	s.mu.Lock()
	s.draining = true
	busy := s.current != nil && !s.current.finished()
	s.mu.Unlock()
	if !busy {
		s.goAway()
	}
}

// goAway closes the session because the server is shutting down: a retryable error event,
// then 1001. Clients reconnect with the same conversationId and go on.
func (s *Session) goAway() {
	s.fail(CloseGoingAway, errorEvent{
		Code: "shutting_down", Message: "the server is restarting; reconnect in a moment to continue this conversation",
		Retryable: true, RetryAfterMs: 1000,
	})
}

func (s *Session) settingsSnapshot() sessionSettings {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.settings
}

func (s *Session) setRemaining(n *int) {
	s.mu.Lock()
	s.remaining = n
	s.mu.Unlock()
}

func (s *Session) getRemaining() *int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.remaining
}

func intPtr(n int) *int { return &n }

func randomID() string {
	b := make([]byte, 9)
	rand.Read(b) //nolint:errcheck // crypto/rand does not fail
	return hex.EncodeToString(b)
}

func truncateString(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// errString keeps provider messages short in events.
func errString(err error) string { return truncateString(fmt.Sprint(err), 300) }
