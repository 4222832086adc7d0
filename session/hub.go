package session

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/aitutor/aitutor/store"
)

// HubConfig limits sessions.
type HubConfig struct {
	IdleTimeout        time.Duration // close after this long without speech or messages (5m)
	MaxDuration        time.Duration // close after this long in all (1h)
	MaxSessions        int           // refuse new sessions beyond this many (20000)
	MaxSessionsPerUser int           // refuse a user's sessions beyond this many (4)
	PongWait           time.Duration // the client must answer a ping within this (60s)
	PingPeriod         time.Duration // how often a session is pinged (20s; below PongWait)
	// CheckOrigin decides which browser origins may connect (requests without Origin pass).
	CheckOrigin func(origin, host string) bool
	// Registry shares the live sessions of all instances on one database, so that
	// MaxSessionsPerUser holds across a cluster; nil counts this instance's sessions only.
	Registry Registry
	// Instance names this instance in the Registry.
	Instance string
}

// Registry records the live sessions of every instance; *store.Store implements it.
type Registry interface {
	// AdmitSession records a session unless the user has limit live sessions (not counting
	// those not seen for staleAfter); then it is store.ErrTooManySessions.
	AdmitSession(ctx context.Context, sessionID, userID, instance string, limit int, staleAfter time.Duration) error
	LeaveSession(ctx context.Context, sessionID string) error
	// SeeSessions is an instance's heartbeat: its live sessions are these.
	SeeSessions(ctx context.Context, instance string, ids []string) error
}

// registryBeat is how often an instance refreshes its sessions in the Registry; sessions not
// seen for three beats are an instance's that died.
const registryBeat = 30 * time.Second

// Hub tracks the live sessions of this instance: it admits them (Open), and lets their turns
// finish and closes them on shutdown (HTTP server shutdown does not wait for hijacked
// connections).
type Hub struct {
	tutor      *Tutor
	cfg        HubConfig
	upgrader   *websocket.Upgrader // protocol v1
	rtUpgrader *websocket.Upgrader // the Realtime events

	mu       sync.Mutex
	sessions map[*Session]struct{}
	perUser  map[string]int // live and reserved sessions by user
	reserved int
	closed   bool
	empty    chan struct{} // closed when the last session leaves after shutdown began

	stopBeat chan struct{}
	beatDone chan struct{}
}

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
	if cfg.MaxSessionsPerUser <= 0 {
		cfg.MaxSessionsPerUser = 4
	}
	if cfg.PongWait <= 0 {
		cfg.PongWait = defaultPongWait
	}
	if cfg.PingPeriod <= 0 {
		cfg.PingPeriod = defaultPingPeriod
	}
	// Ping well within the read deadline, and often enough to check the limits within a quarter
	// of their length.
	cfg.PingPeriod = max(min(cfg.PingPeriod, cfg.PongWait/3, cfg.IdleTimeout/4, cfg.MaxDuration/4), 10*time.Millisecond)
	if cfg.CheckOrigin == nil {
		cfg.CheckOrigin = func(string, string) bool { return false }
	}
	if cfg.Instance == "" {
		cfg.Instance = "instance_" + randomID()
	}
	h := &Hub{
		tutor: t, cfg: cfg, upgrader: upgrader(cfg.CheckOrigin, Subprotocol), rtUpgrader: upgrader(cfg.CheckOrigin, RealtimeSubprotocol),
		sessions: map[*Session]struct{}{}, perUser: map[string]int{},
		stopBeat: make(chan struct{}), beatDone: make(chan struct{}),
	}
	if cfg.Registry != nil {
		go h.heartbeat()
	} else {
		close(h.beatDone)
	}
	return h
}

// heartbeat refreshes this instance's sessions in the Registry until Shutdown.
func (h *Hub) heartbeat() {
	defer close(h.beatDone)
	t := time.NewTicker(registryBeat)
	defer t.Stop()
	for {
		select {
		case <-h.stopBeat:
			return
		case <-t.C:
		}
		h.mu.Lock()
		ids := make([]string, 0, len(h.sessions))
		for s := range h.sessions {
			ids = append(ids, s.id)
		}
		h.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := h.cfg.Registry.SeeSessions(ctx, h.cfg.Instance, ids); err != nil {
			h.tutor.logger.Warn("session heartbeat", "err", err)
		}
		cancel()
	}
}

// reserve takes a place for a session of user that is about to be upgraded; release gives it
// back when the upgrade does not happen.
func (h *Hub) reserve(userID string) (release func(), err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case h.closed:
		return nil, ErrHubClosed
	case len(h.sessions)+h.reserved >= h.cfg.MaxSessions:
		return nil, ErrHubFull
	case h.perUser[userID] >= h.cfg.MaxSessionsPerUser:
		return nil, ErrTooManySessions
	}
	h.reserved++
	h.perUser[userID]++
	var once sync.Once
	return func() {
		once.Do(func() {
			h.mu.Lock()
			h.reserved--
			h.leave(userID)
			h.mu.Unlock()
		})
	}, nil
}

// leave counts a user's session out; h.mu is held.
func (h *Hub) leave(userID string) {
	if h.perUser[userID]--; h.perUser[userID] <= 0 {
		delete(h.perUser, userID)
	}
}

// Open is the whole handshake of a tutor session: it takes a place on this instance, finds the
// conversation (a new one, or one of the user's own to continue, with its recent history),
// upgrades the connection and starts the session. The caller has checked the token, the Origin
// and the membership. An error before the upgrade is for the caller to answer as HTTP (a
// store.ErrNotFound conversation, ErrConversationMismatch, ErrTooManySessions, ErrHubFull,
// ErrHubClosed); after a failed upgrade the upgrader has answered and the response is committed.
func (h *Hub) Open(w http.ResponseWriter, r *http.Request, p Params) error {
	release, err := h.reserve(p.User.ID)
	if err != nil {
		return err
	}
	started := false
	defer func() {
		if !started {
			release()
		}
	}()
	ctx := r.Context()
	st := h.tutor.store
	id := "sess_" + randomID()
	if reg := h.cfg.Registry; reg != nil {
		err := reg.AdmitSession(ctx, id, p.User.ID, h.cfg.Instance, h.cfg.MaxSessionsPerUser, 3*registryBeat)
		if errors.Is(err, store.ErrTooManySessions) {
			return ErrTooManySessions
		}
		if err != nil {
			return err
		}
		defer func() {
			if !started {
				h.leaveRegistry(id)
			}
		}()
	}
	var conv store.Conversation
	var history []historyEntry
	resumed := p.ConversationID != ""
	if resumed {
		if conv, err = st.UserConversation(ctx, p.User.ID, p.ConversationID); err != nil {
			return err
		}
		if conv.MembershipID != p.Membership.ID {
			return ErrConversationMismatch
		}
		if history, err = loadHistory(ctx, st, conv.ID); err != nil {
			return err
		}
	} else if conv, err = st.CreateConversation(ctx, p.User.ID, p.Membership.ID, "ws", defaultLevel, ""); err != nil {
		return err
	}
	up := h.upgrader
	if p.Realtime {
		up = h.rtUpgrader
	}
	conn, err := up.Upgrade(w, r, nil)
	if err != nil {
		return err // the upgrader has answered
	}
	s := newSession(h, conn, id, p, conv, history)
	started = true // the place is the session's now
	h.mu.Lock()
	h.reserved--
	h.sessions[s] = struct{}{}
	closed := h.closed
	h.mu.Unlock()
	h.tutor.metrics.sessions.Inc()
	s.logger.Debug("session started", "membership", p.Membership.ID, "conversation", conv.ID, "resumed", resumed)
	s.run(resumed)
	if closed {
		s.drain()
	}
	return nil
}

func (h *Hub) remove(s *Session) {
	h.tutor.metrics.sessions.Dec()
	h.tutor.metrics.closes.WithLabelValues(strconv.Itoa(s.reason().Code)).Inc()
	h.leaveRegistry(s.id)
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.sessions, s)
	h.leave(s.userID)
	if h.closed && len(h.sessions) == 0 && h.empty != nil {
		close(h.empty)
		h.empty = nil
	}
}

// leaveRegistry forgets a session in the Registry (the heartbeat forgets it if this fails).
func (h *Hub) leaveRegistry(id string) {
	if h.cfg.Registry == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := h.cfg.Registry.LeaveSession(ctx, id); err != nil {
		h.tutor.logger.Warn("leaving the session registry", "session", id, "err", err)
	}
}

// Live is the number of live sessions.
func (h *Hub) Live() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.sessions)
}

// Shutdown refuses new sessions, lets live turns finish and then closes every session with
// 1001 and a retryable error event (clients reconnect and continue their conversation); when
// ctx ends first, the rest are closed at once. It returns when all have ended.
func (h *Hub) Shutdown(ctx context.Context) error {
	h.mu.Lock()
	if !h.closed {
		close(h.stopBeat)
	}
	h.closed = true
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
	defer func() { <-h.beatDone }()
	select {
	case <-empty:
		return nil
	case <-ctx.Done():
	}
	for _, s := range live {
		s.goAway()
	}
	select {
	case <-empty:
		return nil
	case <-time.After(5 * time.Second):
		return errors.New("session: sessions did not end in time")
	}
}

// Draining reports whether the hub is shutting down (readiness answers 503 then, so that a load
// balancer sends new sessions to other instances).
func (h *Hub) Draining() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.closed
}
