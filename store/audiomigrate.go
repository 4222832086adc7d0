package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
)

// Moving clips from PostgreSQL to the object store (aitutor migrate-audio). Each clip is moved
// on its own: its bytes are put under a key made from its id and day, then one UPDATE points
// the row at the object and drops the bytes, only while the row still holds them. So a run can
// stop at any moment and start again (resumable), moving a clip twice puts the same object
// twice and changes the row once (idempotent), and the server serves every clip throughout
// (a clip read while it moves goes on from the object store; see dbClip).

// AudioMigration counts what MigrateAudio did.
type AudioMigration struct {
	Moved    int   // clips whose bytes are now in the object store
	Bytes    int64 // their size
	Vanished int   // clips purged or moved by another run while this one worked
}

// MigrateOptions tune MigrateAudio.
type MigrateOptions struct {
	NotBefore time.Time // clips older than this are left to the purge (past the retention)
	Batch     int       // clips listed per query (default 100)
	Workers   int       // clips moved at once (default 4)
	// Progress, when set, is called after each batch with the totals so far.
	Progress func(AudioMigration)
}

type clipToMove struct {
	ID        string    `db:"id"`
	Mime      string    `db:"mime"`
	CreatedAt time.Time `db:"created_at"`
}

const clipsToMoveSQL = `
SELECT id, mime, created_at FROM audio_clips
WHERE object_key IS NULL AND created_at > $1 AND id > $2
ORDER BY id LIMIT $3`

const clipBytesSQL = `SELECT data FROM audio_clips WHERE id = $1 AND object_key IS NULL`

const pointClipSQL = `
UPDATE audio_clips SET object_key = $2, size = octet_length(data), data = NULL
WHERE id = $1 AND object_key IS NULL`

const clipKeySQL = `SELECT COALESCE(object_key, '') FROM audio_clips WHERE id = $1`

// MigrateAudio moves the clips held in PostgreSQL to the object store, in batches, until none
// is left (or ctx ends). It needs the object store (WithObjects).
func (s *Store) MigrateAudio(ctx context.Context, opts MigrateOptions) (AudioMigration, error) {
	if s.objects == nil {
		return AudioMigration{}, errors.New("store: migrate audio: no object store (set AUDIO_STORE=s3 and S3_*)")
	}
	if opts.Batch <= 0 {
		opts.Batch = 100
	}
	if opts.Workers <= 0 {
		opts.Workers = 4
	}
	var (
		mu    sync.Mutex
		total AudioMigration
	)
	after := "00000000-0000-0000-0000-000000000000"
	for {
		var clips []clipToMove
		if err := s.db.SelectContext(ctx, &clips, clipsToMoveSQL, opts.NotBefore, after, opts.Batch); err != nil {
			return total, fmt.Errorf("store: migrate audio: list clips: %w", err)
		}
		if len(clips) == 0 {
			return total, nil
		}
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(opts.Workers)
		for _, c := range clips {
			g.Go(func() error {
				size, moved, err := s.moveClip(gctx, c)
				if err != nil {
					return err
				}
				mu.Lock()
				defer mu.Unlock()
				if moved {
					total.Moved++
					total.Bytes += size
				} else {
					total.Vanished++
				}
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			return total, fmt.Errorf("store: migrate audio: %w", err)
		}
		after = clips[len(clips)-1].ID
		if opts.Progress != nil {
			opts.Progress(total)
		}
	}
}

// moveClip moves one clip; moved is false when it was gone or moved already.
func (s *Store) moveClip(ctx context.Context, c clipToMove) (size int64, moved bool, err error) {
	var data []byte
	if err := s.bulk.GetContext(ctx, &data, clipBytesSQL, c.ID); err != nil {
		if errors.Is(notFound(err), ErrNotFound) {
			return 0, false, nil
		}
		return 0, false, fmt.Errorf("read clip %s: %w", c.ID, err)
	}
	key := objectKey(c.ID, c.CreatedAt)
	if err := s.objects.Put(ctx, key, bytes.NewReader(data), int64(len(data)), c.Mime); err != nil {
		return 0, false, err
	}
	res, err := s.db.ExecContext(ctx, pointClipSQL, c.ID, key)
	if err != nil {
		return 0, false, fmt.Errorf("point clip %s at its object: %w", c.ID, err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return int64(len(data)), true, nil
	}
	// Purged meanwhile, or moved by another run: the object stays only if a row points at it.
	var current string
	if err := s.db.GetContext(ctx, &current, clipKeySQL, c.ID); err != nil && !errors.Is(notFound(err), ErrNotFound) {
		return 0, false, fmt.Errorf("clip %s: %w", c.ID, err)
	}
	if current != key {
		if err := s.objects.Remove(ctx, []string{key}); err != nil {
			return 0, false, err
		}
	}
	return 0, false, nil
}

const audioInDatabaseSQL = `
SELECT count(*) AS n, COALESCE(sum(COALESCE(size, octet_length(data))), 0)::bigint AS size
FROM audio_clips WHERE object_key IS NULL AND created_at > $1`

// AudioInDatabase counts the clips younger than notBefore whose bytes are in PostgreSQL, and
// their size.
func (s *Store) AudioInDatabase(ctx context.Context, notBefore time.Time) (clips int, size int64, err error) {
	var r struct {
		N    int   `db:"n"`
		Size int64 `db:"size"`
	}
	err = s.db.GetContext(ctx, &r, audioInDatabaseSQL, notBefore)
	if err != nil {
		return 0, 0, fmt.Errorf("store: count audio in the database: %w", err)
	}
	return r.N, r.Size, nil
}
