package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// What several instances on one database share: the live sessions of each user, and rate-limit
// windows.

// ErrTooManySessions: the user has their limit of live sessions on all instances.
var ErrTooManySessions = fmt.Errorf("too many live sessions for this user")

// AdmitSession records a live session of the user on instance when the user has fewer than limit
// live sessions on all instances (sessions not seen for staleAfter do not count: their instance
// died). One transaction, serialised per user.
func (s *Store) AdmitSession(ctx context.Context, sessionID, userID, instance string, limit int, staleAfter time.Duration) error {
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('aitutor.sessions:' || $1, 0))`, userID); err != nil {
			return err
		}
		now := s.now()
		if _, err := tx.ExecContext(ctx, `DELETE FROM live_sessions WHERE user_id = $1 AND seen_at < $2`, userID, now.Add(-staleAfter)); err != nil {
			return err
		}
		var n int
		if err := tx.GetContext(ctx, &n, `SELECT count(*) FROM live_sessions WHERE user_id = $1`, userID); err != nil {
			return err
		}
		if n >= limit {
			return ErrTooManySessions
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO live_sessions (id, user_id, instance, started_at, seen_at) VALUES ($1, $2, $3, $4, $4)`,
			sessionID, userID, instance, now)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: admit session of %s: %w", userID, err)
	}
	return nil
}

// LeaveSession forgets a live session.
func (s *Store) LeaveSession(ctx context.Context, sessionID string) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM live_sessions WHERE id = $1`, sessionID); err != nil {
		return fmt.Errorf("store: leave session %s: %w", sessionID, err)
	}
	return nil
}

// SeeSessions refreshes the live sessions of an instance (its heartbeat), and forgets its
// sessions that are not among ids (ended while the database could not be reached).
func (s *Store) SeeSessions(ctx context.Context, instance string, ids []string) error {
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE live_sessions SET seen_at = $2 WHERE id = ANY($1)`, pq.Array(ids), s.now()); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM live_sessions WHERE instance = $1 AND NOT (id = ANY($2))`, instance, pq.Array(ids))
		return err
	})
	if err != nil {
		return fmt.Errorf("store: heartbeat of %s: %w", instance, err)
	}
	return nil
}

const takeRateSQL = `
WITH cur AS (
    INSERT INTO rate_windows (key, window_start, n) VALUES ($1, $2, 1)
    ON CONFLICT (key, window_start) DO UPDATE SET n = rate_windows.n + 1
    RETURNING n
)
SELECT cur.n AS cur, COALESCE((SELECT n FROM rate_windows WHERE key = $1 AND window_start = $3), 0) AS prev FROM cur`

// TakeRate counts one request of key and reports whether the requests of the last window are
// within limit. The count is a sliding window over two fixed ones (the previous window weighs
// by how much of it the sliding window still covers), shared by all instances.
func (s *Store) TakeRate(ctx context.Context, key string, window time.Duration, limit int) (bool, error) {
	now := s.now()
	start := now.Truncate(window)
	var n struct {
		Cur  int `db:"cur"`
		Prev int `db:"prev"`
	}
	if err := s.get(ctx, &n, takeRateSQL, key, start, start.Add(-window)); err != nil {
		return false, fmt.Errorf("store: rate of %s: %w", key, err)
	}
	covered := 1 - float64(now.Sub(start))/float64(window)
	return float64(n.Cur)+float64(n.Prev)*covered <= float64(limit), nil
}

// PruneRates forgets rate windows that started before before.
func (s *Store) PruneRates(ctx context.Context, before time.Time) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM rate_windows WHERE window_start < $1`, before); err != nil {
		return fmt.Errorf("store: prune rates: %w", err)
	}
	return nil
}
