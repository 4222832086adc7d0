package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/google/uuid"
)

// Stored clips: the learners' recordings and the tutor's replies. Each clip has a row in
// audio_clips (id, owner, media type, size, time) that is its capability and its retention;
// its bytes live in the row (AUDIO_STORE=postgres) or in the object store (AUDIO_STORE=s3, the
// row then holds the object's key). Reads stream either way, in pieces: a Range request for
// the last second of a clip reads that second, not the clip.

// Audio is a stored clip. Body reads its bytes and must be closed.
type Audio struct {
	ID        string
	UserID    string // "" for clips owned by nobody (greetings)
	Mime      string
	Size      int64
	CreatedAt time.Time
	Key       string // the object's key; "" when the bytes are in PostgreSQL
	Body      io.ReadSeekCloser
}

// WithObjects keeps the bytes of new clips in the object store (AUDIO_STORE=s3). Clips already
// in PostgreSQL stay readable there until `aitutor migrate-audio` moves them.
func WithObjects(o *Objects) Option { return func(s *Store) { s.objects = o } }

// Objects is the object store of AUDIO_STORE=s3, or nil.
func (s *Store) Objects() *Objects { return s.objects }

// objectKey is where a clip's bytes go in the bucket: under the UTC day it was made, so that
// the purge job can sweep whole days past the retention for objects that lost their row.
func objectKey(id string, created time.Time) string {
	return "audio/" + created.UTC().Format("2006/01/02") + "/" + id
}

const saveAudioSQL = `
INSERT INTO audio_clips (id, user_id, mime, size, data)
VALUES (COALESCE(NULLIF($1, '')::uuid, gen_random_uuid()), NULLIF($2, '')::uuid, $3, $4, $5)
RETURNING id`

const saveAudioObjectSQL = `
INSERT INTO audio_clips (id, user_id, mime, size, object_key)
VALUES ($1, NULLIF($2, '')::uuid, $3, $4, $5)
RETURNING id`

// SaveAudio stores a clip and returns its id: a random UUID, so that the id is the capability
// to fetch it.
func (s *Store) SaveAudio(ctx context.Context, userID, mime string, data []byte) (string, error) {
	return s.SaveAudioAs(ctx, "", userID, mime, data)
}

// SaveAudioAs stores a clip under id, a random UUID that the caller made so that it could hand
// out the clip's URL before the write ("" makes one). In PostgreSQL, large writes go through a
// small pool of their own. With an object store the bytes are put first and the row written
// after, so that a row always has its object; an object whose row could not be written is
// removed, or swept by the purge job after the retention when even that fails.
func (s *Store) SaveAudioAs(ctx context.Context, id, userID, mime string, data []byte) (string, error) {
	if s.objects == nil {
		if data == nil {
			data = []byte{} // not NULL: the bytes are here
		}
		var out string
		if err := s.bulk.GetContext(ctx, &out, saveAudioSQL, id, userID, mime, len(data), data); err != nil {
			return "", fmt.Errorf("store: save audio: %w", err)
		}
		return out, nil
	}
	if id == "" {
		id = uuid.NewString()
	} else if _, err := uuid.Parse(id); err != nil {
		return "", fmt.Errorf("store: save audio: id %q: %w", id, err)
	}
	key := objectKey(id, s.now())
	if err := s.objects.Put(ctx, key, bytes.NewReader(data), int64(len(data)), mime); err != nil {
		return "", fmt.Errorf("store: save audio %s: %w", id, err)
	}
	var out string
	if err := s.get(ctx, &out, saveAudioObjectSQL, id, userID, mime, len(data), key); err != nil {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		s.objects.Remove(rctx, []string{key}) //nolint:errcheck // the sweep removes it otherwise
		return "", fmt.Errorf("store: save audio %s: %w", id, err)
	}
	return out, nil
}

// dbChunk is how much of a clip held in PostgreSQL one read fetches.
const dbChunk = 512 << 10

type audioRow struct {
	ID        string    `db:"id"`
	UserID    string    `db:"user_id"`
	Mime      string    `db:"mime"`
	Size      int64     `db:"size"`
	Key       string    `db:"object_key"`
	CreatedAt time.Time `db:"created_at"`
	Head      []byte    `db:"head"`
}

const audioSQL = `
SELECT id, COALESCE(user_id::text, '') AS user_id, mime, COALESCE(size, octet_length(data)) AS size,
       COALESCE(object_key, '') AS object_key, created_at, substring(data FROM 1 FOR $3) AS head
FROM audio_clips WHERE id = $1 AND created_at > $2`

// Audio returns a clip younger than notBefore, or ErrNotFound, with its Body ready to read:
// from PostgreSQL its first piece is read with the row, from the object store its GET is
// started, so that a store that does not answer is an error here (ErrAudioUnavailable) and not
// in the middle of an answer.
func (s *Store) Audio(ctx context.Context, id string, notBefore time.Time) (Audio, error) {
	var r audioRow
	if err := s.get(ctx, &r, audioSQL, id, notBefore, dbChunk); err != nil {
		if isInvalidInput(err) {
			return Audio{}, ErrNotFound
		}
		return Audio{}, notFound(err)
	}
	a := Audio{ID: r.ID, UserID: r.UserID, Mime: r.Mime, Size: r.Size, CreatedAt: r.CreatedAt, Key: r.Key}
	if r.Key == "" {
		a.Body = &dbClip{s: s, ctx: ctx, id: r.ID, size: r.Size, buf: r.Head}
		return a, nil
	}
	body, err := s.openObject(ctx, r.ID, r.Key, r.Size, 0)
	if err != nil {
		return Audio{}, err
	}
	a.Body = body
	return a, nil
}

// openObject starts reading a clip's object at off.
func (s *Store) openObject(ctx context.Context, id, key string, size, off int64) (*objectClip, error) {
	if s.objects == nil {
		return nil, fmt.Errorf("store: audio %s is in the object store, and AUDIO_STORE is not s3: %w", id, ErrAudioUnavailable)
	}
	c := &objectClip{o: s.objects, ctx: ctx, key: key, size: size, off: off}
	if off < size {
		if err := c.open(); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// dbClip reads a clip held in PostgreSQL, dbChunk bytes a query (substring of an uncompressed
// out-of-line value reads only the TOAST chunks it needs). When the clip moves to the object
// store while it is read (aitutor migrate-audio), it goes on from there.
type dbClip struct {
	s      *Store
	ctx    context.Context
	id     string
	size   int64
	off    int64
	buf    []byte
	bufOff int64
	moved  *objectClip
}

const audioChunkSQL = `SELECT substring(data FROM $2 FOR $3) AS head, COALESCE(object_key, '') AS object_key FROM audio_clips WHERE id = $1`

func (c *dbClip) Read(p []byte) (int, error) {
	if c.moved != nil {
		n, err := c.moved.Read(p)
		c.off = c.moved.off
		return n, err
	}
	if c.off >= c.size {
		return 0, io.EOF
	}
	if c.off < c.bufOff || c.off >= c.bufOff+int64(len(c.buf)) {
		var r audioRow
		if err := c.s.get(c.ctx, &r, audioChunkSQL, c.id, c.off+1, dbChunk); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return 0, fmt.Errorf("store: audio %s was deleted while it was read: %w", c.id, ErrNotFound)
			}
			return 0, fmt.Errorf("store: read audio %s: %w", c.id, err)
		}
		if r.Head == nil && r.Key != "" {
			moved, err := c.s.openObject(c.ctx, c.id, r.Key, c.size, c.off)
			if err != nil {
				return 0, err
			}
			c.moved, c.buf = moved, nil
			return c.Read(p)
		}
		if len(r.Head) == 0 {
			return 0, io.ErrUnexpectedEOF
		}
		c.buf, c.bufOff = r.Head, c.off
	}
	n := copy(p, c.buf[c.off-c.bufOff:])
	c.off += int64(n)
	return n, nil
}

func (c *dbClip) Seek(offset int64, whence int) (int64, error) {
	off, err := seekTo(c.off, c.size, offset, whence)
	if err != nil {
		return c.off, err
	}
	c.off = off
	if c.moved != nil {
		return c.moved.Seek(off, io.SeekStart)
	}
	return off, nil
}

func (c *dbClip) Close() error {
	c.buf = nil
	if c.moved != nil {
		return c.moved.Close()
	}
	return nil
}

// objectClip reads a clip's object: one GET from the offset of the first read, streamed; a
// seek elsewhere closes it and the next read starts another GET there.
type objectClip struct {
	o       *Objects
	ctx     context.Context
	key     string
	size    int64
	off     int64
	body    io.ReadCloser
	bodyOff int64
}

func (c *objectClip) open() error {
	body, err := c.o.Open(c.ctx, c.key, c.off)
	if err != nil {
		return err
	}
	c.body, c.bodyOff = body, c.off
	return nil
}

func (c *objectClip) Read(p []byte) (int, error) {
	if c.off >= c.size {
		return 0, io.EOF
	}
	if c.body != nil && c.bodyOff != c.off {
		c.body.Close()
		c.body = nil
	}
	if c.body == nil {
		if err := c.open(); err != nil {
			return 0, err
		}
	}
	if max := c.size - c.off; int64(len(p)) > max {
		p = p[:max]
	}
	n, err := c.body.Read(p)
	c.off += int64(n)
	c.bodyOff += int64(n)
	if err == io.EOF && c.off < c.size {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

func (c *objectClip) Seek(offset int64, whence int) (int64, error) {
	off, err := seekTo(c.off, c.size, offset, whence)
	if err != nil {
		return c.off, err
	}
	c.off = off
	return off, nil
}

func (c *objectClip) Close() error {
	if c.body == nil {
		return nil
	}
	err := c.body.Close()
	c.body = nil
	return err
}

func seekTo(cur, size, offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += cur
	case io.SeekEnd:
		offset += size
	default:
		return 0, errors.New("store: seek: invalid whence")
	}
	if offset < 0 {
		return 0, errors.New("store: seek: negative position")
	}
	return offset, nil
}
