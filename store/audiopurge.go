package store

import (
	"context"
	"fmt"
	"time"

	"github.com/lib/pq"
)

// Retention of stored clips (AUDIO_RETENTION, the hourly purge job). A clip in the object store
// loses its object first and its row after: a crash in between leaves rows whose objects are
// gone, which nobody can fetch (they are past the retention) and which the next run deletes
// (removing an absent object is no error). Objects that never got a row — the server died
// between the object's put and the row's insert — are swept by whole days past the retention.

// purgeBatch is how many clips of the object store one round of the purge deletes.
const purgeBatch = 500

type purgeRow struct {
	ID  string `db:"id"`
	Key string `db:"object_key"`
}

const expiredObjectsSQL = `
SELECT id, object_key FROM audio_clips
WHERE created_at < $1 AND object_key IS NOT NULL
ORDER BY created_at LIMIT $2`

const deleteClipsSQL = `DELETE FROM audio_clips WHERE id = ANY($1::uuid[])`

const purgeAudioSQL = `DELETE FROM audio_clips WHERE created_at < $1 AND object_key IS NULL`

// PurgeAudio deletes clips created before before, objects and rows, and returns how many.
func (s *Store) PurgeAudio(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	for {
		var rows []purgeRow
		if err := s.sel(ctx, &rows, expiredObjectsSQL, before, purgeBatch); err != nil {
			return n, fmt.Errorf("store: purge audio: %w", err)
		}
		if len(rows) == 0 {
			break
		}
		if s.objects == nil {
			return n, fmt.Errorf("store: purge audio: %d clips past the retention are in the object store, and AUDIO_STORE is not s3: %w", len(rows), ErrAudioUnavailable)
		}
		ids, keys := make([]string, len(rows)), make([]string, len(rows))
		for i, r := range rows {
			ids[i], keys[i] = r.ID, r.Key
		}
		if err := s.objects.Remove(ctx, keys); err != nil {
			return n, fmt.Errorf("store: purge audio: %w", err)
		}
		res, err := s.db.ExecContext(ctx, deleteClipsSQL, pq.Array(ids))
		if err != nil {
			return n, fmt.Errorf("store: purge audio: %w", err)
		}
		deleted, _ := res.RowsAffected()
		n += deleted
		if len(rows) < purgeBatch {
			break
		}
	}
	res, err := s.db.ExecContext(ctx, purgeAudioSQL, before)
	if err != nil {
		return n, fmt.Errorf("store: purge audio: %w", err)
	}
	deleted, _ := res.RowsAffected()
	return n + deleted, nil
}

// sweepDays is how many whole days past the retention SweepAudioObjects looks at: the purge job
// runs hourly, so a week covers any stop of the jobs shorter than that.
const sweepDays = 7

// SweepAudioObjects removes the objects of the days that ended at least a day before before
// (and sweepDays before that): every clip of those days is past the retention and its row was
// purged, so what is left there lost its row in a crash. It returns how many it removed; with
// AUDIO_STORE=postgres it does nothing.
func (s *Store) SweepAudioObjects(ctx context.Context, before time.Time) (int, error) {
	if s.objects == nil {
		return 0, nil
	}
	last := before.UTC().Add(-48 * time.Hour).Truncate(24 * time.Hour)
	removed := 0
	for d := 0; d < sweepDays; d++ {
		day := last.AddDate(0, 0, -d)
		var keys []string
		err := s.objects.List(ctx, "audio/"+day.Format("2006/01/02")+"/", func(key string) error {
			keys = append(keys, key)
			return nil
		})
		if err != nil {
			return removed, fmt.Errorf("store: sweep audio objects: %w", err)
		}
		for len(keys) > 0 {
			batch := keys[:min(len(keys), 1000)]
			keys = keys[len(batch):]
			if err := s.objects.Remove(ctx, batch); err != nil {
				return removed, fmt.Errorf("store: sweep audio objects of %s: %w", day.Format(time.DateOnly), err)
			}
			removed += len(batch)
		}
	}
	return removed, nil
}
