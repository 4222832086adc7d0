package loadgen

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/aitutor/aitutor/session/client"
)

// Memory is the server's memory per session.
type Memory struct {
	IdleSessions         int     `json:"idleSessions"`
	IdleRSSPerSession    float64 `json:"idleRssBytesPerSession"`
	IdleGoPerSession     float64 `json:"idleGoBytesPerSession"` // heap in use + stacks
	TalkingSessions      int     `json:"talkingSessions"`
	TalkingRSSPerSession float64 `json:"talkingRssBytesPerSession"`
	TalkingGoPerSession  float64 `json:"talkingGoBytesPerSession"`
	BaselineRSS          int64   `json:"baselineRssBytes"`
}

func (e *env) memory(ctx context.Context, rep *Report) error {
	m := &Memory{IdleSessions: e.cfg.IdleSessions}
	rep.Memory = m
	// One idle session per learner, as in a school: a learner's sessions are limited
	// (MAX_SESSIONS_PER_USER), across instances.
	many, err := e.learners(ctx, e.cfg.IdleSessions)
	if err != nil {
		return err
	}
	base, err := e.memory1(ctx, true)
	if err != nil {
		return err
	}
	m.BaselineRSS = base.RSS
	clients, err := e.dialMany(ctx, many, client.Options{EventsBuffer: 4})
	if err != nil {
		for _, c := range clients {
			c.Abort()
		}
		return fmt.Errorf("%d of %d idle sessions connected: %w", len(clients), len(many), err)
	}
	time.Sleep(2 * time.Second)
	idle, err := e.memory1(ctx, true)
	for _, c := range clients {
		c.Abort()
	}
	if err != nil {
		return err
	}
	n := float64(len(clients))
	m.IdleRSSPerSession = float64(idle.RSS-base.RSS) / n
	m.IdleGoPerSession = float64(idle.GoMemory-base.GoMemory) / n
	time.Sleep(3 * time.Second) // let the server close them

	// Talking sessions: connected and idle first, then all mid-turn.
	talkers, err := e.learners(ctx, e.cfg.OverheadSessions)
	if err != nil {
		return err
	}
	tc, err := e.dialManyManual(ctx, talkers)
	defer func() {
		for _, c := range tc {
			c.Abort()
		}
	}()
	if err != nil {
		return err
	}
	m.TalkingSessions = len(tc)
	quiet, err := e.memory1(ctx, true)
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	for _, c := range tc {
		wg.Add(1)
		go func(c *client.Client) {
			defer wg.Done()
			e.spokenTurn(ctx, c) //nolint:errcheck // measured below
		}(c)
	}
	// Sample while the replies stream (TTS runs for seconds at four times real time).
	var peak memSample
	for i := 0; i < 6; i++ {
		time.Sleep(700 * time.Millisecond)
		s, err := e.memory1(ctx, true)
		if err == nil && s.GoMemory > peak.GoMemory {
			peak = s
		}
	}
	wg.Wait()
	t := float64(len(tc))
	m.TalkingRSSPerSession = float64(peak.RSS-quiet.RSS)/t + m.IdleRSSPerSession
	m.TalkingGoPerSession = float64(peak.GoMemory-quiet.GoMemory)/t + m.IdleGoPerSession
	return nil
}

func (e *env) dialManyManual(ctx context.Context, ls []learner) ([]*client.Client, error) {
	return dialAll(ls, 32, func(l learner) (*client.Client, error) { return e.dialManual(ctx, l, 8192) })
}
