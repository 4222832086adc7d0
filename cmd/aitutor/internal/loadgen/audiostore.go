package loadgen

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/lib/pq"
)

// Stored audio in the object store (AUDIO_STORE=s3): the server overhead with 200 talking
// sessions whose clips go to the object store, and what each turn writes to PostgreSQL with
// either home for the audio. Both need a second server on the same database that keeps its
// audio in the object store (Config.S3URL); scripts/bench.sh starts it with SeaweedFS.

// AudioWrites is what a spoken turn (the learner's recording and the reply, stored) writes, with
// the audio in PostgreSQL and in the object store.
type AudioWrites struct {
	Sessions int              `json:"sessions"`
	Turns    int              `json:"turns"` // per home
	Postgres AudioWriteFigure `json:"postgres"`
	S3       AudioWriteFigure `json:"s3"`
}

// AudioWriteFigure is per turn.
type AudioWriteFigure struct {
	WALBytes    float64 `json:"walBytesPerTurn"`    // PostgreSQL's write-ahead log
	TableBytes  float64 `json:"tableBytesPerTurn"`  // growth of audio_clips: heap, TOAST and indexes
	ObjectBytes float64 `json:"objectBytesPerTurn"` // put in the object store
	ClipBytes   float64 `json:"clipBytesPerTurn"`   // both clips' size, wherever they went
	// Transactions committed in the database per turn (pg_stat_database), the load generator's
	// own reads left out: the turn's charge, settlement and message, its clips, the sessions'
	// admission and registry.
	Transactions float64 `json:"transactionsPerTurn"`
}

// on is e driving another server (same database, same learners' plan).
func (e *env) on(url string, pid int) *env {
	cfg := e.cfg
	cfg.URL, cfg.ServerPID = url, pid
	return &env{cfg: cfg, store: e.store, tokens: e.tokens, http: e.http, plan: e.plan}
}

func (e *env) needS3Server() error {
	if e.cfg.S3URL == "" {
		return errors.New("needs a second server with AUDIO_STORE=s3 on the same database (-s3-url; make bench starts one)")
	}
	resp, err := http.Get(e.cfg.S3URL + "/readyz")
	if err != nil {
		return fmt.Errorf("the AUDIO_STORE=s3 server: %w", err)
	}
	resp.Body.Close()
	return nil
}

// overheadS3 is the concurrent overhead run against the AUDIO_STORE=s3 server.
func (e *env) overheadS3(ctx context.Context, rep *Report) error {
	if err := e.needS3Server(); err != nil {
		return err
	}
	limit := time.Duration(float64(rep.ProviderLimit) * float64(time.Millisecond))
	o := &Overhead{Sessions: e.cfg.OverheadSessions}
	rep.OverheadS3 = o
	return e.on(e.cfg.S3URL, e.cfg.S3ServerPID).concurrentOverhead(ctx, o, limit)
}

// audioWrites runs the same spoken turns against the postgres server and the s3 server, one
// after the other, and divides what PostgreSQL wrote meanwhile by the turns.
func (e *env) audioWrites(ctx context.Context, rep *Report) error {
	if err := e.needS3Server(); err != nil {
		return err
	}
	const sessions, turnsEach = 10, 3
	w := &AudioWrites{Sessions: sessions, Turns: sessions * turnsEach}
	rep.AudioWrites = w
	var err error
	if w.Postgres, err = e.writesPerTurn(ctx, sessions, turnsEach); err != nil {
		return fmt.Errorf("AUDIO_STORE=postgres: %w", err)
	}
	if w.S3, err = e.on(e.cfg.S3URL, e.cfg.S3ServerPID).writesPerTurn(ctx, sessions, turnsEach); err != nil {
		return fmt.Errorf("AUDIO_STORE=s3: %w", err)
	}
	return nil
}

type dbWrites struct {
	WAL         int64 `db:"wal"`
	Table       int64 `db:"tbl"`
	Clips       int64 `db:"clips"`
	ObjectBytes int64 `db:"object_bytes"`
	ClipBytes   int64 `db:"clip_bytes"`
	Xacts       int64 `db:"xacts"`
}

// dbWritesSQL reads the database's WAL position and transaction count, and the clips of the
// run's learners ($1): other clips (an earlier item's, still being stored) are not counted.
const dbWritesSQL = `
SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint AS wal,
       pg_total_relation_size('audio_clips') AS tbl,
       (SELECT count(*) FROM audio_clips WHERE user_id = ANY($1::uuid[])) AS clips,
       (SELECT COALESCE(sum(size), 0) FROM audio_clips WHERE user_id = ANY($1::uuid[]) AND object_key IS NOT NULL)::bigint AS object_bytes,
       (SELECT COALESCE(sum(COALESCE(size, octet_length(data))), 0) FROM audio_clips WHERE user_id = ANY($1::uuid[]))::bigint AS clip_bytes,
       (SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()) AS xacts`

func (e *env) readWrites(ctx context.Context, ls []learner) (dbWrites, error) {
	ids := make([]string, len(ls))
	for i, l := range ls {
		ids[i] = l.user.ID
	}
	var d dbWrites
	err := e.store.DB().GetContext(ctx, &d, dbWritesSQL, pq.Array(ids))
	return d, err
}

// quiet waits until no audio clip has been stored for 3 s: the WAL and the transactions
// counted next are this item's, not the end of an earlier item's turns.
func (e *env) quiet(ctx context.Context) error {
	var last, n int64 = -1, 0
	still := time.Now()
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); {
		if err := e.store.DB().GetContext(ctx, &n, `SELECT count(*) FROM audio_clips`); err != nil {
			return err
		}
		if n != last {
			last, still = n, time.Now()
		} else if time.Since(still) >= 3*time.Second {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
	return fmt.Errorf("audio clips were still being stored after 2 minutes")
}

// writesPerTurn: sessions talking at once, turns each, until every turn's two clips are
// stored; the deltas per turn.
func (e *env) writesPerTurn(ctx context.Context, sessions, turns int) (AudioWriteFigure, error) {
	ls, err := e.learners(ctx, sessions)
	if err != nil {
		return AudioWriteFigure{}, err
	}
	if err := e.quiet(ctx); err != nil {
		return AudioWriteFigure{}, err
	}
	before, err := e.readWrites(ctx, ls)
	if err != nil {
		return AudioWriteFigure{}, err
	}
	var wg sync.WaitGroup
	errs := make(chan error, sessions)
	for _, l := range ls {
		wg.Add(1)
		go func(l learner) {
			defer wg.Done()
			c, err := e.dialManual(ctx, l, 8192)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			for i := 0; i < turns; i++ {
				if _, _, err := e.spokenTurn(ctx, c); err != nil {
					errs <- err
					return
				}
			}
		}(l)
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return AudioWriteFigure{}, err
	}
	// Clips are written just after each turn: wait until all of them are in.
	total := sessions * turns
	var after dbWrites
	reads := 1 // this generator's own transactions since before, each one read
	for deadline := time.Now().Add(30 * time.Second); ; reads++ {
		if after, err = e.readWrites(ctx, ls); err != nil {
			return AudioWriteFigure{}, err
		}
		if after.Clips >= before.Clips+int64(2*total) {
			break
		}
		if time.Now().After(deadline) {
			return AudioWriteFigure{}, fmt.Errorf("%d of %d clips stored after 30 s", after.Clips-before.Clips, 2*total)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// PostgreSQL publishes other connections' transaction counts when they have been idle for
	// up to 10 s: read the count once more after that.
	select {
	case <-ctx.Done():
		return AudioWriteFigure{}, ctx.Err()
	case <-time.After(11 * time.Second):
	}
	var counted dbWrites
	if counted, err = e.readWrites(ctx, ls); err != nil {
		return AudioWriteFigure{}, err
	}
	reads++
	n := float64(total)
	return AudioWriteFigure{
		Transactions: float64(counted.Xacts-before.Xacts-int64(reads)) / n,
		WALBytes:     float64(after.WAL-before.WAL) / n,
		TableBytes:   float64(after.Table-before.Table) / n,
		ObjectBytes:  float64(after.ObjectBytes-before.ObjectBytes) / n,
		ClipBytes:    float64(after.ClipBytes-before.ClipBytes) / n,
	}, nil
}
