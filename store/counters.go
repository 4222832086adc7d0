package store

import (
	"context"
	"fmt"
	"time"
)

// ErrLimitReached: a daily limit is used up.
var ErrLimitReached = fmt.Errorf("daily limit reached")

const takeDailySQL = `
INSERT INTO daily_counters (user_id, counter, day, n) VALUES ($1, $2, $3, 1)
ON CONFLICT (user_id, counter, day) DO UPDATE SET n = daily_counters.n + 1
WHERE daily_counters.n < $4
RETURNING n`

// TakeDaily counts one use of counter for the user today (UTC) when fewer than limit were
// counted, in one statement (so concurrent requests and instances never exceed it); otherwise it
// is ErrLimitReached.
func (s *Store) TakeDaily(ctx context.Context, userID, counter string, limit int) error {
	if limit <= 0 {
		return ErrLimitReached
	}
	var n int
	err := s.get(ctx, &n, takeDailySQL, userID, counter, s.now().UTC().Truncate(24*time.Hour), limit)
	if err = notFound(err); err == ErrNotFound {
		return ErrLimitReached
	}
	if err != nil {
		return fmt.Errorf("store: daily %s of %s: %w", counter, userID, err)
	}
	return nil
}

const pruneDailySQL = `DELETE FROM daily_counters WHERE day < $1`

// PruneDaily forgets counters of days before before.
func (s *Store) PruneDaily(ctx context.Context, before time.Time) error {
	if _, err := s.db.ExecContext(ctx, pruneDailySQL, before.UTC()); err != nil {
		return fmt.Errorf("store: prune daily counters: %w", err)
	}
	return nil
}

const returnDailySQL = `
UPDATE daily_counters SET n = n - 1
WHERE user_id = $1 AND counter = $2 AND day = $3 AND n > 0`

// ReturnDaily gives back one use of counter taken today by TakeDaily, for limits that count only
// failures: an attempt takes a use first (so concurrent attempts never exceed the limit) and
// returns it when it succeeds.
func (s *Store) ReturnDaily(ctx context.Context, userID, counter string) error {
	if _, err := s.db.ExecContext(ctx, returnDailySQL, userID, counter, s.now().UTC().Truncate(24*time.Hour)); err != nil {
		return fmt.Errorf("store: return daily %s of %s: %w", counter, userID, err)
	}
	return nil
}
