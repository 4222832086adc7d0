package session

import "time"

// Keep-alive, per connection. Each session has one timer (no goroutine while it waits): every
// PingPeriod it checks the session's idle and duration limits and queues a ping. PingPeriod is
// well below PongWait, the read deadline that every frame and pong from the client extends, so a
// healthy idle client — a muted learner, someone reading the reply — always answers in time,
// and one that stops answering is closed with 1008 after PongWait.

const (
	defaultPongWait   = 60 * time.Second
	defaultPingPeriod = 20 * time.Second
)

func (s *Session) startKeepalive() {
	s.keepalive.Store(time.AfterFunc(s.hub.cfg.PingPeriod, s.keepaliveTick))
}

func (s *Session) stopKeepalive() {
	if t := s.keepalive.Load(); t != nil {
		t.Stop()
	}
}

// keepaliveTick runs on the session's timer.
func (s *Session) keepaliveTick() {
	if s.ctx.Err() != nil {
		return
	}
	if reason, code := s.checkLimits(); reason != nil {
		s.fail(reason.Code, errorEvent{Code: code, Message: reason.Reason})
		return
	}
	s.enqueue(outMsg{kind: kindPing})
	if t := s.keepalive.Load(); t != nil {
		t.Reset(s.hub.cfg.PingPeriod)
	}
}

// checkLimits says whether the session has been idle or open too long (a running turn is never
// cut).
func (s *Session) checkLimits() (*CloseReason, string) {
	if t := s.currentTurn(); t != nil && !t.finished() {
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
