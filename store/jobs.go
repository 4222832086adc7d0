package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
)

// Errors of ClaimTick.
var (
	ErrJobRunning = errors.New("job is running on another instance")
	ErrTickTaken  = errors.New("job already ran for this tick")
)

// TickClaim is a claimed run of a scheduled job. Its transaction holds a PostgreSQL advisory
// lock for the job; Release commits it, which records the tick and frees the lock. If the
// instance dies, PostgreSQL drops the transaction and the lock with it.
type TickClaim struct {
	tx *sqlx.Tx
}

const jobLockSQL = `SELECT pg_try_advisory_xact_lock(hashtextextended('aitutor.job:' || $1, 0))`

const claimTickSQL = `INSERT INTO job_runs (job, tick) VALUES ($1, $2) ON CONFLICT DO NOTHING`

// ClaimTick claims the run of job for tick. Several instances on one database run the job once
// per tick: the one that gets the advisory lock and records the tick first wins; the others get
// ErrJobRunning or ErrTickTaken.
func (s *Store) ClaimTick(ctx context.Context, job string, tick time.Time) (*TickClaim, error) {
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("store: claim %s: %w", job, err)
	}
	var locked bool
	if err := tx.GetContext(ctx, &locked, jobLockSQL, job); err != nil {
		tx.Rollback() //nolint:errcheck
		return nil, fmt.Errorf("store: claim %s: %w", job, err)
	}
	if !locked {
		tx.Rollback() //nolint:errcheck
		return nil, ErrJobRunning
	}
	res, err := tx.ExecContext(ctx, claimTickSQL, job, tick)
	if err != nil {
		tx.Rollback() //nolint:errcheck
		return nil, fmt.Errorf("store: claim %s: %w", job, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		tx.Rollback() //nolint:errcheck
		return nil, ErrTickTaken
	}
	return &TickClaim{tx: tx}, nil
}

// Release records the tick and frees the lock.
func (c *TickClaim) Release() error {
	if err := c.tx.Commit(); err != nil {
		return fmt.Errorf("store: release job lock: %w", err)
	}
	return nil
}

const pruneJobRunsSQL = `DELETE FROM job_runs WHERE tick < $1`

// PruneJobRuns forgets ticks older than before.
func (s *Store) PruneJobRuns(ctx context.Context, before time.Time) error {
	if _, err := s.db.ExecContext(ctx, pruneJobRunsSQL, before); err != nil {
		return fmt.Errorf("store: prune job runs: %w", err)
	}
	return nil
}
