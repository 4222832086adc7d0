package store_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/aitutor/aitutor/store"
	"github.com/aitutor/aitutor/store/storetest"
)

// Stored audio in both homes: PostgreSQL (AUDIO_STORE=postgres) and a real S3-compatible object
// store (SeaweedFS, AUDIO_STORE=s3).

var backends = []string{"postgres", "s3"}

// audioStore opens a store on a fresh database, with a fresh bucket for "s3".
func audioStore(t *testing.T, backend string) *store.Store {
	t.Helper()
	if backend == "s3" {
		return storetest.New(t, store.WithObjects(storetest.Objects(t)))
	}
	return storetest.New(t)
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// bucketKeys lists the keys in the store's bucket.
func bucketKeys(t *testing.T, o *store.Objects) []string {
	t.Helper()
	var keys []string
	if err := o.List(context.Background(), "", func(k string) error { keys = append(keys, k); return nil }); err != nil {
		t.Fatal(err)
	}
	sort.Strings(keys)
	return keys
}

func readAll(t *testing.T, a store.Audio) []byte {
	t.Helper()
	defer a.Body.Close()
	b, err := io.ReadAll(a.Body)
	if err != nil {
		t.Fatalf("reading %s: %v", a.ID, err)
	}
	return b
}

func TestAudioRoundTripAndRanges(t *testing.T) {
	t.Parallel()
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			s := audioStore(t, backend)
			ctx := context.Background()
			u := newUser(t, s, "audio-"+backend+"@example.com")
			// Larger than one PostgreSQL read (512 KiB), so that ranges cross pieces.
			data := randomBytes(t, 1300*1024+7)
			id, err := s.SaveAudio(ctx, u.ID, "audio/wav", data)
			if err != nil {
				t.Fatal(err)
			}
			a, err := s.Audio(ctx, id, time.Now().Add(-time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			if a.Mime != "audio/wav" || a.Size != int64(len(data)) || a.UserID != u.ID || (a.Key != "") != (backend == "s3") {
				t.Fatalf("clip metadata: %+v", a)
			}
			if got := readAll(t, a); !bytes.Equal(got, data) {
				t.Fatalf("read %d bytes, not the %d stored", len(got), len(data))
			}

			// Ranges as http.ServeContent asks for them: the size from the end, then a seek to the
			// range's start and a read of its length.
			for _, r := range []struct{ off, n int64 }{
				{0, 10}, {100, 5000}, {512*1024 - 3, 10}, {600_000, 700_000}, {int64(len(data)) - 1, 1}, {1024 * 1024, int64(len(data)) - 1024*1024},
			} {
				a, err := s.Audio(ctx, id, time.Now().Add(-time.Hour))
				if err != nil {
					t.Fatal(err)
				}
				if end, err := a.Body.Seek(0, io.SeekEnd); err != nil || end != int64(len(data)) {
					t.Fatalf("seek to the end: %d %v", end, err)
				}
				if _, err := a.Body.Seek(r.off, io.SeekStart); err != nil {
					t.Fatal(err)
				}
				got := make([]byte, r.n)
				if _, err := io.ReadFull(a.Body, got); err != nil {
					t.Fatalf("range %d+%d: %v", r.off, r.n, err)
				}
				if !bytes.Equal(got, data[r.off:r.off+r.n]) {
					t.Fatalf("range %d+%d: wrong bytes", r.off, r.n)
				}
				// Back to an earlier place in the same reader.
				if _, err := a.Body.Seek(5, io.SeekStart); err != nil {
					t.Fatal(err)
				}
				b := make([]byte, 3)
				if _, err := io.ReadFull(a.Body, b); err != nil || !bytes.Equal(b, data[5:8]) {
					t.Fatalf("seek back: %v", err)
				}
				if _, err := a.Body.Seek(0, io.SeekEnd); err != nil {
					t.Fatal(err)
				}
				if n, err := a.Body.Read(b); n != 0 || err != io.EOF {
					t.Fatalf("read at the end: %d %v", n, err)
				}
				a.Body.Close()
			}

			// An empty clip, a clip owned by nobody, unknown and malformed ids, retention.
			empty, err := s.SaveAudioAs(ctx, "", "", "audio/wav", nil)
			if err != nil {
				t.Fatal(err)
			}
			if a, err := s.Audio(ctx, empty, time.Now().Add(-time.Hour)); err != nil || a.Size != 0 || a.UserID != "" || len(readAll(t, a)) != 0 {
				t.Fatalf("empty clip: %+v %v", a, err)
			}
			for _, bad := range []string{"00000000-0000-0000-0000-000000000000", "not-a-uuid"} {
				if _, err := s.Audio(ctx, bad, time.Now().Add(-time.Hour)); !errors.Is(err, store.ErrNotFound) {
					t.Fatalf("%s: %v", bad, err)
				}
			}
			if _, err := s.Audio(ctx, id, time.Now().Add(time.Hour)); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("past the retention: %v", err)
			}
			if _, err := s.SaveAudioAs(ctx, "not-a-uuid", "", "audio/wav", data[:10]); err == nil {
				t.Fatal("a malformed id was accepted")
			}
			if backend == "s3" {
				if keys := bucketKeys(t, s.Objects()); len(keys) != 2 {
					t.Fatalf("objects in the bucket: %v", keys)
				}
			}
		})
	}
}

// ageClip makes a clip look created days ago.
func ageClip(t *testing.T, s *store.Store, id string, days int) {
	t.Helper()
	if _, err := s.DB().Exec(`UPDATE audio_clips SET created_at = now() - make_interval(days => $2) WHERE id = $1`, id, days); err != nil {
		t.Fatal(err)
	}
}

func countClips(t *testing.T, s *store.Store) int {
	t.Helper()
	var n int
	if err := s.DB().Get(&n, `SELECT count(*) FROM audio_clips`); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestAudioRetention(t *testing.T) {
	t.Parallel()
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			s := audioStore(t, backend)
			ctx := context.Background()
			var old []string
			for i := 0; i < 3; i++ {
				id, err := s.SaveAudio(ctx, "", "audio/wav", randomBytes(t, 2000))
				if err != nil {
					t.Fatal(err)
				}
				ageClip(t, s, id, 40)
				old = append(old, id)
			}
			keep, err := s.SaveAudio(ctx, "", "audio/wav", []byte("RIFF-recent"))
			if err != nil {
				t.Fatal(err)
			}
			if backend == "s3" {
				// A crash between an object's removal and its row's: the row is left without object.
				a, err := s.Audio(ctx, old[0], time.Now().Add(-50*24*time.Hour))
				if err != nil {
					t.Fatal(err)
				}
				a.Body.Close()
				if err := s.Objects().Remove(ctx, []string{a.Key}); err != nil {
					t.Fatal(err)
				}
			}
			n, err := s.PurgeAudio(ctx, time.Now().Add(-30*24*time.Hour))
			if err != nil || n != 3 {
				t.Fatalf("purged %d: %v", n, err)
			}
			if c := countClips(t, s); c != 1 {
				t.Fatalf("%d rows left", c)
			}
			if a, err := s.Audio(ctx, keep, time.Now().Add(-time.Hour)); err != nil || string(readAll(t, a)) != "RIFF-recent" {
				t.Fatalf("the recent clip: %v", err)
			}
			if backend == "s3" {
				keys := bucketKeys(t, s.Objects())
				if len(keys) != 1 {
					t.Fatalf("objects left after the purge: %v", keys)
				}
			}
			if n, err := s.PurgeAudio(ctx, time.Now().Add(-30*24*time.Hour)); err != nil || n != 0 {
				t.Fatalf("second purge: %d %v", n, err)
			}
		})
	}
}

// TestSweepRemovesObjectsWithoutRows: objects whose row was never written (a crash between the
// put and the insert) are removed once their day is past the retention; younger ones and those
// with rows stay.
func TestSweepRemovesObjectsWithoutRows(t *testing.T) {
	t.Parallel()
	s := audioStore(t, "s3")
	ctx := context.Background()
	o := s.Objects()
	now := time.Now().UTC()
	put := func(key string) {
		if err := o.Put(ctx, key, bytes.NewReader([]byte("x")), 1, "audio/wav"); err != nil {
			t.Fatal(err)
		}
	}
	day := func(d int) string { return "audio/" + now.AddDate(0, 0, -d).Format("2006/01/02") + "/" }
	put(day(33) + "orphan-1")
	put(day(36) + "orphan-2")
	put(day(31) + "young-orphan") // its day is not a whole day past the retention yet
	put(day(5) + "recent-orphan")
	live, err := s.SaveAudio(ctx, "", "audio/wav", []byte("live"))
	if err != nil {
		t.Fatal(err)
	}
	n, err := s.SweepAudioObjects(ctx, now.Add(-30*24*time.Hour))
	if err != nil || n != 2 {
		t.Fatalf("swept %d: %v", n, err)
	}
	keys := bucketKeys(t, o)
	want := []string{day(31) + "young-orphan", day(5) + "recent-orphan", day(0) + live}
	sort.Strings(want)
	if len(keys) != 3 || keys[0] != want[0] || keys[1] != want[1] || keys[2] != want[2] {
		t.Fatalf("left %v, want %v", keys, want)
	}
	// With AUDIO_STORE=postgres there is nothing to sweep.
	if n, err := storetest.New(t).SweepAudioObjects(ctx, now); err != nil || n != 0 {
		t.Fatalf("postgres sweep: %d %v", n, err)
	}
}

// downObjects is an object store where nothing listens.
func downObjects(t *testing.T) *store.Objects {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	o, err := store.NewObjects(store.S3Config{
		Endpoint: "http://127.0.0.1:" + strconv.Itoa(port), Bucket: "down", Region: "us-east-1",
		AccessKey: "k", SecretKey: "s", Timeout: 2 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// TestObjectStoreDown: a store that does not answer fails saves and reads quickly with
// ErrAudioUnavailable, writes no row, and the purge keeps rows whose objects it could not
// remove.
func TestObjectStoreDown(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dbURL := storetest.NewDatabase(t)
	up, err := store.Open(ctx, dbURL, store.WithObjects(storetest.Objects(t)))
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close()
	down, err := store.Open(ctx, dbURL, store.WithObjects(downObjects(t)))
	if err != nil {
		t.Fatal(err)
	}
	defer down.Close()

	start := time.Now()
	_, err = down.SaveAudio(ctx, "", "audio/wav", []byte("RIFF"))
	if !errors.Is(err, store.ErrAudioUnavailable) {
		t.Fatalf("save: %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("the failed save took %s", d)
	}
	t.Logf("save with the store down: %v (after %s)", err, time.Since(start).Round(time.Millisecond))
	if c := countClips(t, down); c != 0 {
		t.Fatalf("%d rows written for a failed save", c)
	}
	if err := down.Objects().Ensure(ctx); !errors.Is(err, store.ErrAudioUnavailable) {
		t.Fatalf("ensure: %v", err)
	}

	id, err := up.SaveAudio(ctx, "", "audio/wav", []byte("RIFF"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := down.Audio(ctx, id, time.Now().Add(-time.Hour)); !errors.Is(err, store.ErrAudioUnavailable) {
		t.Fatalf("read: %v", err)
	}
	ageClip(t, up, id, 40)
	if n, err := down.PurgeAudio(ctx, time.Now().Add(-30*24*time.Hour)); !errors.Is(err, store.ErrAudioUnavailable) || n != 0 {
		t.Fatalf("purge: %d %v", n, err)
	}
	if c := countClips(t, up); c != 1 {
		t.Fatalf("the purge deleted a row whose object it could not remove (%d rows)", c)
	}
	if n, err := up.PurgeAudio(ctx, time.Now().Add(-30*24*time.Hour)); err != nil || n != 1 {
		t.Fatalf("purge once the store is back: %d %v", n, err)
	}
	if keys := bucketKeys(t, up.Objects()); len(keys) != 0 {
		t.Fatalf("objects left: %v", keys)
	}

	// A store without an object store cannot read or purge clips that are in one.
	id, err = up.SaveAudio(ctx, "", "audio/wav", []byte("RIFF"))
	if err != nil {
		t.Fatal(err)
	}
	plain, err := store.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if _, err := plain.Audio(ctx, id, time.Now().Add(-time.Hour)); !errors.Is(err, store.ErrAudioUnavailable) {
		t.Fatalf("read without an object store: %v", err)
	}
}

// TestMigrateAudio moves clips from PostgreSQL to the object store while one is being read,
// stops after the first batch and goes on when run again, and changes nothing the third time.
func TestMigrateAudio(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dbURL := storetest.NewDatabase(t)
	pg, err := store.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	s3, err := store.Open(ctx, dbURL, store.WithObjects(storetest.Objects(t)))
	if err != nil {
		t.Fatal(err)
	}
	defer s3.Close()

	clips := map[string][]byte{}
	for i := 0; i < 7; i++ {
		data := randomBytes(t, 1000+i*300_000) // up to 1.8 MB: several pieces in PostgreSQL
		id, err := pg.SaveAudio(ctx, "", "audio/wav", data)
		if err != nil {
			t.Fatal(err)
		}
		clips[id] = data
	}
	expired, err := pg.SaveAudio(ctx, "", "audio/wav", []byte("old"))
	if err != nil {
		t.Fatal(err)
	}
	ageClip(t, pg, expired, 40)
	notBefore := time.Now().Add(-30 * 24 * time.Hour)

	// A reader in the middle of the largest clip when it moves.
	var bigID string
	for id, d := range clips {
		if bigID == "" || len(d) > len(clips[bigID]) {
			bigID = id
		}
	}
	reading, err := s3.Audio(ctx, bigID, notBefore)
	if err != nil || reading.Key != "" {
		t.Fatalf("before the move: %+v %v", reading, err)
	}
	first := make([]byte, 100_000)
	if _, err := io.ReadFull(reading.Body, first); err != nil {
		t.Fatal(err)
	}

	// The first run stops after its first batch of 3.
	runCtx, stop := context.WithCancel(ctx)
	res, err := s3.MigrateAudio(runCtx, store.MigrateOptions{NotBefore: notBefore, Batch: 3, Workers: 2, Progress: func(store.AudioMigration) { stop() }})
	stop()
	if err == nil || res.Moved != 3 {
		t.Fatalf("stopped run: %+v %v", res, err)
	}
	if n, _, err := s3.AudioInDatabase(ctx, notBefore); err != nil || n != 4 {
		t.Fatalf("left in the database after the stopped run: %d %v", n, err)
	}
	res, err = s3.MigrateAudio(ctx, store.MigrateOptions{NotBefore: notBefore, Batch: 3, Workers: 2})
	if err != nil || res.Moved != 4 {
		t.Fatalf("second run: %+v %v", res, err)
	}
	res, err = s3.MigrateAudio(ctx, store.MigrateOptions{NotBefore: notBefore})
	if err != nil || res.Moved != 0 || res.Vanished != 0 {
		t.Fatalf("third run: %+v %v", res, err)
	}

	// The reader goes on from the object store.
	rest, err := io.ReadAll(reading.Body)
	reading.Body.Close()
	if err != nil || !bytes.Equal(append(first, rest...), clips[bigID]) {
		t.Fatalf("the clip read across its move: %d bytes, %v", len(first)+len(rest), err)
	}
	for id, data := range clips {
		a, err := s3.Audio(ctx, id, notBefore)
		if err != nil || a.Key == "" || a.Size != int64(len(data)) {
			t.Fatalf("%s after the move: %+v %v", id, a, err)
		}
		if got := readAll(t, a); !bytes.Equal(got, data) {
			t.Fatalf("%s: wrong bytes after the move", id)
		}
	}
	var inDB int
	if err := pg.DB().Get(&inDB, `SELECT count(*) FROM audio_clips WHERE data IS NOT NULL`); err != nil || inDB != 1 {
		t.Fatalf("rows still holding bytes: %d %v (only the expired clip)", inDB, err)
	}
	if keys := bucketKeys(t, s3.Objects()); len(keys) != len(clips) {
		t.Fatalf("%d objects for %d clips", len(keys), len(clips))
	}
	// Retention works on moved clips.
	if n, err := s3.PurgeAudio(ctx, time.Now().Add(time.Hour)); err != nil || n != int64(len(clips))+1 {
		t.Fatalf("purge: %d %v", n, err)
	}
	if keys := bucketKeys(t, s3.Objects()); len(keys) != 0 {
		t.Fatalf("objects left after the purge: %v", keys)
	}
	// Without an object store there is nowhere to move to.
	if _, err := pg.MigrateAudio(ctx, store.MigrateOptions{}); err == nil {
		t.Fatal("migrated without an object store")
	}
}
