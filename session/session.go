package session

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"regexp"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"

	"github.com/aitutor/aitutor/store"
)

// Session is one live conversation on one WebSocket. Its reader goroutine reads the socket,
// detects turns and starts them; its writer goroutine writes the socket; each turn runs in its
// own goroutines. All of them end when the socket closes (ctx is cancelled with the reason).
type Session struct {
	id             string
	hub            *Hub
	tutor          *Tutor
	conn           *websocket.Conn
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
	wg         sync.WaitGroup // writer and turns

	lastActivity atomic.Int64 // unix nanoseconds of the last speech or message
	lastPing     atomic.Int64 // unix nanoseconds of the last ping queued

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

	mu        sync.Mutex // guards what follows
	settings  sessionSettings
	current   *turn // the latest turn, running or finished
	history   []historyEntry
	remaining *int
	draining  bool
	// pendingTruncate is a response.truncate for the turn that is finishing.
	pendingTruncate *pendingTruncate
}

// historyEntry is one finished turn, as the chat model will see it.
type historyEntry struct {
	turnID    string
	user      string
	assistant string
	// segments map the reply's audio to its text, for response.truncate.
	segments []segment
	// saved is closed once the turn is in the database.
	saved <-chan struct{}
}

const (
	maxUtterance   = 60 * time.Second       // longest utterance; longer ones end the turn
	prerollWindow  = 300 * time.Millisecond // audio kept before the detected start of speech
	tailWindow     = 250 * time.Millisecond // audio kept after the detected end of speech
	quietBuffer    = time.Second            // audio kept while nobody speaks
	maxHistory     = 20                     // turns given to the chat model
	minInputRate   = 8000
	maxInputRate   = 48000
	defaultLevel   = "intermediate"
	manualTurns    = "manual"
	serverTurns    = "server"
	maxTopicLength = 120
)

var voiceRe = regexp.MustCompile(`^[A-Za-z0-9_+\-]{1,40}$`)

// Params are what the server knows about a session before the upgrade.
type Params struct {
	User           store.User
	Membership     store.Membership
	ConversationID string
	Logger         *slog.Logger
}

func newSession(h *Hub, conn *websocket.Conn, p Params) *Session {
	ctx, cancel := context.WithCancelCause(context.Background())
	id := "sess_" + randomID()
	s := &Session{
		id:             id,
		hub:            h,
		tutor:          h.tutor,
		conn:           conn,
		logger:         p.Logger.With("session", id, "user", p.User.ID),
		userID:         p.User.ID,
		membershipID:   p.Membership.ID,
		conversationID: p.ConversationID,
		started:        time.Now(),
		ctx:            ctx,
		cancel:         cancel,
		out:            &sendQueue{},
		readerDone:     make(chan struct{}),
		inputRate:      DetectorRate,
		detector:       NewDetector(DetectConfig{}),
		remaining:      p.Membership.RemainingChatUses,
	}
	cfg := s.detector.Config()
	s.settings = sessionSettings{
		Voice:         h.tutor.voice,
		Level:         defaultLevel,
		TurnDetection: serverTurns,
		SilenceMs:     int(cfg.Silence / time.Millisecond),
		MinSpeechMs:   int(cfg.MinSpeech / time.Millisecond),
		BargeInMs:     int(cfg.BargeIn / time.Millisecond),
	}
	s.touch()
	return s
}

// run starts the session's goroutines; it returns at once.
func (s *Session) run() {
	s.send(sessionCreated{
		Type: TypeSessionCreated, SessionID: s.id, ConversationID: s.conversationID,
		InputSampleRate: s.inputRate, OutputSampleRate: OutputSampleRate,
		RemainingChatUses: s.remaining, sessionSettings: s.settings,
	})
	s.lastPing.Store(time.Now().UnixNano())
	go s.readLoop()
}

// closeWith ends the session with reason (the first reason wins): its goroutines learn of it
// through the context, and the writer writes the close frame after what is queued.
func (s *Session) closeWith(reason *CloseReason) {
	s.closeOnce.Do(func() {
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
func (s *Session) fail(code int, errCode, msg string) {
	s.send(errorEvent{Type: TypeError, Code: errCode, Message: msg, Fatal: true})
	s.closeWith(&CloseReason{Code: code, Reason: msg})
}

// sendError sends a non-fatal error event.
func (s *Session) sendError(code, msg, turnID string) {
	s.send(errorEvent{Type: TypeError, Code: code, Message: msg, TurnID: turnID})
}

func (s *Session) touch() { s.lastActivity.Store(time.Now().UnixNano()) }

// checkLimits says whether the session has been idle or open too long (checked by the writer on
// every ping tick; a running turn is never cut).
func (s *Session) checkLimits() (*CloseReason, string) {
	s.mu.Lock()
	busy := s.current != nil && !s.current.finished()
	s.mu.Unlock()
	if busy {
		return nil, ""
	}
	if time.Since(s.started) > s.hub.cfg.MaxDuration {
		return &CloseReason{Code: CloseMaxDuration, Reason: "session time limit reached; reconnect to go on"}, "session_time_limit"
	}
	if time.Since(time.Unix(0, s.lastActivity.Load())) > s.hub.cfg.IdleTimeout {
		return &CloseReason{Code: CloseIdle, Reason: "closed after a period without speech or messages"}, "idle_timeout"
	}
	return nil, ""
}

func (s *Session) recoverPanic(where string) {
	if r := recover(); r != nil {
		s.logger.Error("panic in session", "where", where, "panic", r, "stack", string(debug.Stack()))
		s.fail(CloseInternal, "internal", "internal error; reconnect to go on")
	}
}

// readLoop is the reader goroutine. When it ends it waits for the session's other goroutines
// and leaves the hub.
func (s *Session) readLoop() {
	defer func() {
		close(s.readerDone)
		s.closeWith(&CloseReason{Code: CloseNormal, Reason: "closed", sent: true}) // a no-op when a reason is set
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

	s.conn.SetReadLimit(MaxFrameBytes)
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
		switch mt {
		case websocket.BinaryMessage:
			err = s.readAudio(r)
		case websocket.TextMessage:
			var data []byte
			if data, err = io.ReadAll(r); err == nil {
				s.handleText(data)
			}
		}
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

// framePool holds buffers for incoming audio frames; a session holds one only while reading.
var framePool = sync.Pool{New: func() any { b := make([]byte, MaxFrameBytes); return &b }}

// readAudio reads one binary frame of PCM and feeds it to turn detection.
func (s *Session) readAudio(r io.Reader) error {
	bp := framePool.Get().(*[]byte)
	defer framePool.Put(bp)
	buf := *bp
	n := 0
	for {
		m, err := r.Read(buf[n:])
		n += m
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if n == len(buf) {
			// A frame may arrive in fragments: reading on makes gorilla check the read limit on
			// the next one (and close with 1009) instead of silently dropping the rest.
			var probe [1]byte
			if m, err := r.Read(probe[:]); m > 0 || (err != nil && err != io.EOF) {
				if err == nil {
					err = websocket.ErrReadLimit
				}
				return err
			}
			break
		}
	}
	if n == 0 {
		return nil
	}
	if n%2 != 0 {
		s.sendError("invalid_audio", "audio frames must hold whole 16-bit samples (an even number of bytes); frame dropped", "")
		return nil
	}
	s.samples = DecodePCM16(s.samples[:0], buf[:n])
	in := s.samples
	if s.inputRate != DetectorRate {
		s.resampled = s.resampler.Resample(s.resampled[:0], in)
		in = s.resampled
	}
	s.onSamples(in)
	s.tutor.metrics.frames.Inc()
	return nil
}

// onSamples runs turn detection over 16 kHz samples and keeps the utterance's audio.
func (s *Session) onSamples(in []int16) {
	manual := s.turnDetection() == manualTurns
	for len(in) > 0 {
		s.detector.TutorSpeaking = s.tutorSpeaking()
		ev, n := s.detector.Push(in)
		s.utter = append(s.utter, in[:n]...)
		in = in[n:]
		if v := s.detector.LastVoicedEnd(); v != s.lastVoiced {
			s.lastVoiced, s.lastVoiceAt = v, time.Now()
		}
		if manual {
			if len(s.utter) > int(maxUtterance.Seconds())*DetectorRate {
				s.commit("utterance reached the 60 s limit")
			}
			continue
		}
		switch ev {
		case SpeechStarted:
			s.touch()
			s.keepFrom(s.detector.StartPos - int64(prerollWindow.Seconds()*DetectorRate))
			s.send(simpleEvent{Type: TypeSpeechStarted})
			s.bargeIn()
		case SpeechStopped:
			s.send(simpleEvent{Type: TypeSpeechStopped})
			end := s.detector.EndPos + int64(tailWindow.Seconds()*DetectorRate)
			s.startAudioTurn(s.cut(end), s.lastVoiceAt)
		case NoEvent:
			if s.detector.Speaking() {
				if len(s.utter) > int(maxUtterance.Seconds())*DetectorRate {
					s.send(simpleEvent{Type: TypeSpeechStopped})
					s.startAudioTurn(s.cut(s.detector.Pos()), time.Now())
					s.detector.Reset()
					s.utterStart = 0
				}
			} else {
				s.trimQuiet()
			}
		}
	}
}

// trimQuiet bounds the audio kept while nobody speaks to quietBuffer. It trims in steps of
// half that, so that a streaming session moves its buffer once every 25 frames, not on every
// frame.
func (s *Session) trimQuiet() {
	keep := int64(quietBuffer.Seconds() * DetectorRate)
	if int64(len(s.utter)) > keep+keep/2 {
		s.keepFrom(s.detector.Pos() - keep)
	}
}

// keepFrom drops buffered audio before detector position pos.
func (s *Session) keepFrom(pos int64) {
	if drop := pos - s.utterStart; drop > 0 {
		drop = min(drop, int64(len(s.utter)))
		s.utter = append(s.utter[:0], s.utter[drop:]...)
		s.utterStart += drop
	}
}

// cut returns the buffered audio up to detector position end as a new slice and keeps the rest.
func (s *Session) cut(end int64) []int16 {
	n := min(max(end-s.utterStart, 0), int64(len(s.utter)))
	audio := make([]int16, n)
	copy(audio, s.utter[:n])
	s.utter = append(s.utter[:0], s.utter[n:]...)
	s.utterStart += n
	return audio
}

// commit ends the utterance now (input.commit, or the length limit in manual mode). In manual
// mode the buffer must hold MinSpeech of voiced audio; in server mode the learner must be
// speaking. Otherwise nothing is transcribed.
func (s *Session) commit(why string) {
	s.touch()
	manual := s.turnDetection() == manualTurns
	if (manual && s.detector.VoicedMs() < int(s.detector.Config().MinSpeech/time.Millisecond)) || (!manual && !s.detector.Speaking()) {
		s.sendError("no_speech", "no speech was heard in the committed audio; nothing was sent to the tutor", "")
		if manual {
			s.clearInput()
		}
		return
	}
	audio := s.cut(s.detector.Pos())
	if why != "" {
		s.logger.Debug("utterance committed", "why", why)
	}
	if !manual {
		s.send(simpleEvent{Type: TypeSpeechStopped})
	}
	s.clearInput()
	s.startAudioTurn(audio, time.Now())
}

// clearInput drops buffered audio and the detector's speech state.
func (s *Session) clearInput() {
	s.utter = s.utter[:0]
	s.utterStart = 0
	s.lastVoiced = 0
	s.detector.Reset()
}

func (s *Session) turnDetection() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.settings.TurnDetection
}

// handleText handles one client → server JSON message.
func (s *Session) handleText(data []byte) {
	var m clientMessage
	if err := json.Unmarshal(data, &m); err != nil {
		s.sendError("invalid_json", "message is not a JSON object: "+err.Error(), "")
		return
	}
	switch m.Type {
	case TypeSessionUpdate:
		s.touch()
		s.update(&m)
	case TypeInputCommit:
		s.commit("")
	case TypeInputClear:
		s.touch()
		s.clearInput()
	case TypeTextInput:
		s.touch()
		text := ""
		if m.Text != nil {
			text = strings.TrimSpace(*m.Text)
		}
		if text == "" || utf8.RuneCountInString(text) > maxTextLen {
			s.sendError("invalid_request", fmt.Sprintf("text.input needs a text of 1 to %d characters", maxTextLen), "")
			return
		}
		s.startTextTurn(text)
	case TypeResponseCancel:
		s.touch()
		s.cancelCurrent(ReasonClientCancel)
	case TypeResponseTruncate:
		s.touch()
		if m.TurnID == "" || m.AudioEndMs == nil || *m.AudioEndMs < 0 {
			s.sendError("invalid_request", "response.truncate needs a turnId and audioEndMs ≥ 0", "")
			return
		}
		if !s.truncate(m.TurnID, *m.AudioEndMs) {
			s.sendError("unknown_turn", "no turn "+m.TurnID+" in this session", m.TurnID)
		}
	case "":
		s.sendError("invalid_request", "message has no type", "")
	default:
		s.sendError("unknown_type", fmt.Sprintf("unknown message type %q", truncateString(m.Type, 40)), "")
	}
}

// update applies a session.update; an invalid field rejects the whole update.
func (s *Session) update(m *clientMessage) {
	s.mu.Lock()
	next := s.settings
	s.mu.Unlock()
	rate := s.inputRate
	var problems []string
	if m.InputSampleRate != nil {
		if *m.InputSampleRate < minInputRate || *m.InputSampleRate > maxInputRate {
			problems = append(problems, fmt.Sprintf("inputSampleRate must be from %d to %d", minInputRate, maxInputRate))
		}
		rate = *m.InputSampleRate
	}
	if m.Voice != nil {
		if !voiceRe.MatchString(*m.Voice) {
			problems = append(problems, "voice must be a voice name such as nova")
		}
		next.Voice = *m.Voice
	}
	if m.Level != nil {
		switch *m.Level {
		case "beginner", "intermediate", "advanced":
		default:
			problems = append(problems, "level must be beginner, intermediate or advanced")
		}
		next.Level = *m.Level
	}
	if m.Topic != nil {
		topic := strings.Join(strings.Fields(*m.Topic), " ")
		if utf8.RuneCountInString(topic) > maxTopicLength {
			problems = append(problems, fmt.Sprintf("topic is at most %d characters", maxTopicLength))
		}
		next.Topic = topic
	}
	if m.TurnDetection != nil {
		if *m.TurnDetection != serverTurns && *m.TurnDetection != manualTurns {
			problems = append(problems, "turnDetection must be server or manual")
		}
		next.TurnDetection = *m.TurnDetection
	}
	checkMs := func(name string, v *int, lo, hi int, dst *int) {
		if v == nil {
			return
		}
		if *v < lo || *v > hi {
			problems = append(problems, fmt.Sprintf("%s must be from %d to %d", name, lo, hi))
		}
		*dst = *v
	}
	checkMs("silenceMs", m.SilenceMs, 200, 5000, &next.SilenceMs)
	checkMs("minSpeechMs", m.MinSpeechMs, 100, 2000, &next.MinSpeechMs)
	checkMs("bargeInMs", m.BargeInMs, 100, 3000, &next.BargeInMs)
	if len(problems) > 0 {
		s.sendError("invalid_request", "session.update rejected: "+strings.Join(problems, "; "), "")
		return
	}
	if rate != s.inputRate {
		s.inputRate = rate
		s.resampler = NewResampler(rate, DetectorRate)
		s.clearInput()
	}
	s.detector.SetConfig(DetectConfig{
		MinSpeech: time.Duration(next.MinSpeechMs) * time.Millisecond,
		Silence:   time.Duration(next.SilenceMs) * time.Millisecond,
		BargeIn:   time.Duration(next.BargeInMs) * time.Millisecond,
	})
	s.mu.Lock()
	if next.TurnDetection != s.settings.TurnDetection {
		s.clearInput()
	}
	s.settings = next
	s.mu.Unlock()
	s.send(sessionUpdated{Type: TypeSessionUpdated, InputSampleRate: rate, sessionSettings: next})
}

// tutorSpeaking reports whether a reply is being produced or is still playing at the client.
func (s *Session) tutorSpeaking() bool {
	s.mu.Lock()
	t := s.current
	s.mu.Unlock()
	return t != nil && (!t.finished() || time.Now().Before(t.playbackEnd()))
}

// bargeIn stops the current reply because the learner started speaking.
func (s *Session) bargeIn() { s.cancelCurrent(ReasonBargeIn) }

func (s *Session) cancelCurrent(reason string) {
	s.mu.Lock()
	t := s.current
	s.mu.Unlock()
	if t != nil {
		t.stop(reason)
	}
}

// drain asks the session to end after its current turn (server shutdown).
func (s *Session) drain() {
	s.mu.Lock()
	s.draining = true
	busy := s.current != nil && !s.current.finished()
	s.mu.Unlock()
	if !busy {
		s.fail(CloseGoingAway, "shutting_down", "the server is restarting; reconnect in a moment")
	}
}

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
