package session

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// HubConfig limits sessions.
type HubConfig struct {
	IdleTimeout time.Duration // close after this long without speech or messages
	MaxDuration time.Duration // close after this long in all
	MaxSessions int           // refuse new sessions beyond this many
}

// Hub tracks the live sessions of this instance, so that shutdown can let their turns finish
// and close them (HTTP server shutdown does not wait for hijacked connections).
type Hub struct {
	tutor *Tutor
	cfg   HubConfig
	tick  time.Duration // how often sessions are pinged and their limits checked

	mu       sync.Mutex
	sessions map[*Session]struct{}
	reserved int
	closed   bool
	empty    chan struct{} // closed when the last session leaves after shutdown began
	ticking  bool          // the ticker goroutine runs
	stopTick chan struct{}
	tickDone chan struct{}
}

// ErrHubFull: MaxSessions sessions are live. ErrHubClosed: the server is shutting down.
var (
	ErrHubFull   = errors.New("too many live sessions")
	ErrHubClosed = errors.New("server is shutting down")
)

// NewHub returns an empty hub.
func NewHub(t *Tutor, cfg HubConfig) *Hub {
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 5 * time.Minute
	}
	if cfg.MaxDuration <= 0 {
		cfg.MaxDuration = time.Hour
	}
	if cfg.MaxSessions <= 0 {
		cfg.MaxSessions = 20000
	}
	h := &Hub{tutor: t, cfg: cfg, sessions: map[*Session]struct{}{}, stopTick: make(chan struct{}), tickDone: make(chan struct{})}
	// One ticker for all sessions pings them and checks their limits, often enough to keep the
	// limits within a quarter of their length.
	h.tick = min(pingPeriod, cfg.IdleTimeout/4, cfg.MaxDuration/4)
	h.tick = max(h.tick, 250*time.Millisecond)
	return h
}

// Reservation is a place for a session that is about to be upgraded.
type Reservation struct {
	h    *Hub
	once sync.Once
}

// Release gives the place back when the upgrade does not happen.
func (r *Reservation) Release() {
	r.once.Do(func() {
		r.h.mu.Lock()
		r.h.reserved--
		r.h.mu.Unlock()
	})
}

// Reserve takes a place for a session that is about to be upgraded.
func (h *Hub) Reserve() (*Reservation, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, ErrHubClosed
	}
	if len(h.sessions)+h.reserved >= h.cfg.MaxSessions {
		return nil, ErrHubFull
	}
	h.reserved++
	return &Reservation{h: h}, nil
}

// Start runs a session on an upgraded connection in place of its reservation; it returns at
// once.
func (h *Hub) Start(conn *websocket.Conn, p Params, r *Reservation) {
	s := newSession(h, conn, p)
	h.mu.Lock()
	r.once.Do(func() { h.reserved-- })
	h.sessions[s] = struct{}{}
	closed := h.closed
	if !h.ticking && !closed {
		h.ticking = true
		go h.tickLoop()
	}
	h.mu.Unlock()
	h.tutor.metrics.sessions.Inc()
	s.logger.Debug("session started", "membership", p.Membership.ID, "conversation", p.ConversationID)
	s.run()
	if closed {
		s.drain()
	}
}

// tickLoop pings every session and checks its limits, until Shutdown.
func (h *Hub) tickLoop() {
	defer close(h.tickDone)
	t := time.NewTicker(h.tick)
	defer t.Stop()
	var live []*Session
	for {
		select {
		case <-h.stopTick:
			return
		case <-t.C:
		}
		h.mu.Lock()
		live = live[:0]
		for s := range h.sessions {
			live = append(live, s)
		}
		h.mu.Unlock()
		for _, s := range live {
			s.tick()
		}
		clear(live)
	}
}

func (h *Hub) remove(s *Session) {
	h.tutor.metrics.sessions.Dec()
	h.tutor.metrics.closes.WithLabelValues(strconv.Itoa(s.reason().Code)).Inc()
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.sessions, s)
	if h.closed && len(h.sessions) == 0 && h.empty != nil {
		close(h.empty)
		h.empty = nil
	}
}

// Shutdown refuses new sessions, lets live turns finish and then closes every session with
// 1001; when ctx ends first, the rest are closed at once. It returns when all have ended.
func (h *Hub) Shutdown(ctx context.Context) error {
	h.mu.Lock()
	h.closed = true
	if h.ticking {
		h.ticking = false
		close(h.stopTick)
		defer func() { <-h.tickDone }()
	}
	empty := make(chan struct{})
	if len(h.sessions) == 0 {
		close(empty)
	} else {
		h.empty = empty
	}
	live := make([]*Session, 0, len(h.sessions))
	for s := range h.sessions {
		live = append(live, s)
	}
	h.mu.Unlock()
	for _, s := range live {
		s.drain()
	}
	select {
	case <-empty:
		return nil
	case <-ctx.Done():
	}
	for _, s := range live {
		s.fail(CloseGoingAway, "shutting_down", "the server is restarting; reconnect in a moment")
	}
	select {
	case <-empty:
		return nil
	case <-time.After(5 * time.Second):
		return errors.New("session: sessions did not end in time")
	}
}
