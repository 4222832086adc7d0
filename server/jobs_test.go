package server

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/lib/pq"

	"github.com/aitutor/aitutor/session/openai"
	"github.com/aitutor/aitutor/store"
	"github.com/aitutor/aitutor/store/storetest"
)

// syncBuffer is a log sink shared by a scheduler's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) count(substr string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Count(s.b.String(), substr)
}

// testServer builds a server on st whose providers are never called.
func testServer(t *testing.T, st *store.Store, logs *syncBuffer) *Server {
	t.Helper()
	cfg, err := Load(func(k string) string {
		return map[string]string{"APP_ENV": "test", "JWT_SECRET": strings.Repeat("s", 40), "AI_PROVIDER": "sim"}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	srv, err := New(cfg, Deps{Store: st, Logger: logger, Providers: openai.New(openai.Config{BaseURL: "http://127.0.0.1:1/v1"}).Providers("unused")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close) // its session hub beats until closed
	return srv
}

func TestExpiryJobRunsOncePerTickAcrossInstances(t *testing.T) {
	t.Parallel()
	clock := clockwork.NewFakeClockAt(time.Date(2026, 1, 1, 10, 30, 0, 0, time.UTC))
	st := storetest.New(t, store.WithClock(clock.Now))
	ctx := context.Background()
	u, _ := st.CreateUser(ctx, store.NewUser{Name: "Ann", Email: "ann@example.com"})
	day, _ := st.CreatePlan(ctx, store.NewPlan{Name: "Day", DurationDays: 1, Target: store.B2C})
	month, _ := st.CreatePlan(ctx, store.NewPlan{Name: "Month", DurationDays: 30, Target: store.B2C})
	buy := func(p store.Plan) string {
		r, err := st.Purchase(ctx, u.ID, p.ID, "")
		if err != nil {
			t.Fatal(err)
		}
		return r.Membership.ID
	}
	first := buy(day) // expires Jan 2 10:30
	clock.Advance(time.Hour)
	second := buy(day) // expires Jan 2 11:30
	long := buy(month)

	// Two instances on one database, one clock, started a minute before a tick.
	clock.Advance(time.Date(2026, 1, 2, 10, 59, 0, 0, time.UTC).Sub(clock.Now()))
	var logs [2]syncBuffer
	for i := range logs {
		sched, err := testServer(t, st, &logs[i]).startJobs(clock)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { sched.Shutdown() }) //nolint:errcheck
	}
	expired := func() map[string]bool {
		ms, _ := st.MembershipsByUser(ctx, u.ID)
		out := map[string]bool{}
		for _, m := range ms {
			out[m.ID] = m.IsExpired
		}
		return out
	}
	runs := func() int { return logs[0].count("expiry job ran") + logs[1].count("expiry job ran") }
	tick := func(to time.Time, wantRuns int) {
		t.Helper()
		bctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := clock.BlockUntilContext(bctx, 4); err != nil { // 2 jobs × 2 schedulers waiting
			t.Fatalf("schedulers did not arm their timers: %v", err)
		}
		clock.Advance(to.Sub(clock.Now()))
		deadline := time.Now().Add(10 * time.Second)
		for runs() < wantRuns && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		time.Sleep(200 * time.Millisecond) // a second run would show up by now
		if got := runs(); got != wantRuns {
			t.Fatalf("after the tick at %s the job ran %d times in all, want %d\n%s\n%s", to.Format(time.TimeOnly), got, wantRuns, logs[0].b.String(), logs[1].b.String())
		}
	}

	tick(time.Date(2026, 1, 2, 11, 0, 0, 0, time.UTC), 1)
	if e := expired(); !e[first] || e[second] || e[long] {
		t.Fatalf("at 11:00: %v (want only %s)", e, first)
	}
	tick(time.Date(2026, 1, 2, 12, 0, 0, 0, time.UTC), 2)
	if e := expired(); !e[first] || !e[second] || e[long] {
		t.Fatalf("at 12:00: %v", e)
	}
	// The run says what it changed.
	if logs[0].count("expired=1")+logs[1].count("expired=1") != 2 {
		t.Fatalf("logs do not report the changes:\n%s\n%s", logs[0].b.String(), logs[1].b.String())
	}
}

// TestAudioPurgeJobRemovesObjects: the hourly purge deletes the clips past AUDIO_RETENTION,
// their objects first, and sweeps objects that lost their row; younger clips stay.
func TestAudioPurgeJobRemovesObjects(t *testing.T) {
	t.Parallel()
	objects := storetest.Objects(t)
	st := storetest.New(t, store.WithObjects(objects))
	ctx := context.Background()
	var logs syncBuffer
	srv := testServer(t, st, &logs)
	var old []string
	for i := 0; i < 3; i++ {
		id, err := st.SaveAudio(ctx, "", "audio/wav", []byte("RIFF-old"))
		if err != nil {
			t.Fatal(err)
		}
		old = append(old, id)
	}
	if _, err := st.DB().Exec(`UPDATE audio_clips SET created_at = now() - interval '31 days' WHERE id = ANY($1::uuid[])`, pq.Array(old)); err != nil {
		t.Fatal(err)
	}
	young, err := st.SaveAudio(ctx, "", "audio/wav", []byte("RIFF-young"))
	if err != nil {
		t.Fatal(err)
	}
	orphan := "audio/" + time.Now().UTC().AddDate(0, 0, -35).Format("2006/01/02") + "/lost-its-row"
	if err := objects.Put(ctx, orphan, strings.NewReader("x"), 1, "audio/wav"); err != nil {
		t.Fatal(err)
	}

	srv.purgeAudio(ctx, time.Now())

	var keys []string
	if err := objects.List(ctx, "", func(k string) error { keys = append(keys, k); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || !strings.HasSuffix(keys[0], young) {
		t.Fatalf("objects after the purge: %v (want only %s)", keys, young)
	}
	var rows int
	st.DB().Get(&rows, `SELECT count(*) FROM audio_clips`) //nolint:errcheck
	if rows != 1 || logs.count("audio purge ran") != 1 || logs.count("deleted=3") != 1 || logs.count("objects=1") != 1 {
		t.Fatalf("%d rows left; logs:\n%s", rows, logs.b.String())
	}
}
