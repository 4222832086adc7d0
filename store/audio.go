package store

import (
	"context"
	"fmt"
	"time"
)

// Audio is a stored clip: a learner's upload or a tutor's reply.
type Audio struct {
	ID        string    `db:"id"`
	Mime      string    `db:"mime"`
	Data      []byte    `db:"data"`
	CreatedAt time.Time `db:"created_at"`
}

const saveAudioSQL = `
INSERT INTO audio_clips (id, user_id, mime, data)
VALUES (COALESCE(NULLIF($1, '')::uuid, gen_random_uuid()), NULLIF($2, '')::uuid, $3, $4)
RETURNING id`

// SaveAudio stores a clip and returns its id: a random UUID, so that the id is the capability
// to fetch it.
func (s *Store) SaveAudio(ctx context.Context, userID, mime string, data []byte) (string, error) {
	return s.SaveAudioAs(ctx, "", userID, mime, data)
}

// SaveAudioAs stores a clip under id, a random UUID that the caller made so that it could hand
// out the clip's URL before the write ("" makes one). Large writes go through a small pool of
// their own.
func (s *Store) SaveAudioAs(ctx context.Context, id, userID, mime string, data []byte) (string, error) {
	var out string
	if err := s.bulk.GetContext(ctx, &out, saveAudioSQL, id, userID, mime, data); err != nil {
		return "", fmt.Errorf("store: save audio: %w", err)
	}
	return out, nil
}

const audioSQL = `SELECT id, mime, data, created_at FROM audio_clips WHERE id = $1 AND created_at > $2`

// Audio returns a clip younger than notBefore, or ErrNotFound.
func (s *Store) Audio(ctx context.Context, id string, notBefore time.Time) (Audio, error) {
	var a Audio
	if err := s.get(ctx, &a, audioSQL, id, notBefore); err != nil {
		if isInvalidInput(err) {
			return Audio{}, ErrNotFound
		}
		return Audio{}, notFound(err)
	}
	return a, nil
}

const purgeAudioSQL = `DELETE FROM audio_clips WHERE created_at < $1`

// PurgeAudio deletes clips created before before and returns how many.
func (s *Store) PurgeAudio(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.db.ExecContext(ctx, purgeAudioSQL, before)
	if err != nil {
		return 0, fmt.Errorf("store: purge audio: %w", err)
	}
	return res.RowsAffected()
}
