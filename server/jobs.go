package server

import (
	"context"
	"fmt"
	"time"

	"github.com/go-co-op/gocron/v2"
	"github.com/jonboulle/clockwork"

	"github.com/aitutor/aitutor/store"
)

// Scheduled jobs run on gocron v2. With several instances on one database each job runs once
// per tick: jobLocker claims the tick in PostgreSQL (an advisory lock held by the claim's
// transaction while the job runs, plus a row per job and tick).

const (
	jobExpireMemberships = "expire-memberships"
	jobPurgeAudio        = "purge-audio"
	jobReconcileCharges  = "reconcile-charges"
)

// jobLocker is gocron's distributed locker on store.ClaimTick.
type jobLocker struct {
	store *store.Store
	clock clockwork.Clock
}

type jobLock struct{ claim *store.TickClaim }

func (l jobLock) Unlock(context.Context) error { return l.claim.Release() }

// Lock claims the tick that is due now. Cron ticks fall on whole minutes, so the tick is now
// rounded to the nearest minute: instances whose clocks differ by less than 30 s agree on it.
func (l *jobLocker) Lock(ctx context.Context, key string) (gocron.Lock, error) {
	tick := l.clock.Now().UTC().Round(time.Minute)
	claim, err := l.store.ClaimTick(ctx, key, tick)
	if err != nil {
		return nil, err
	}
	return jobLock{claim}, nil
}

// StartJobs starts the scheduler with the membership expiry and audio purge jobs.
func (s *Server) StartJobs() (gocron.Scheduler, error) {
	return s.startJobs(clockwork.NewRealClock())
}

func (s *Server) startJobs(clock clockwork.Clock) (gocron.Scheduler, error) {
	sched, err := gocron.NewScheduler(
		gocron.WithClock(clock),
		gocron.WithLocation(time.UTC),
		gocron.WithDistributedLocker(&jobLocker{store: s.store, clock: clock}),
		gocron.WithLogger(gocronLogger{s}),
	)
	if err != nil {
		return nil, fmt.Errorf("server: scheduler: %w", err)
	}
	_, err = sched.NewJob(gocron.CronJob(s.cfg.ExpiryCron, false),
		gocron.NewTask(func(ctx context.Context) { s.expireMemberships(ctx, clock.Now()) }),
		gocron.WithName(jobExpireMemberships),
		gocron.WithSingletonMode(gocron.LimitModeReschedule),
	)
	if err != nil {
		return nil, fmt.Errorf("server: MEMBERSHIP_EXPIRY_CRON: %w", err)
	}
	_, err = sched.NewJob(gocron.CronJob("17 * * * *", false),
		gocron.NewTask(func(ctx context.Context) { s.purgeAudio(ctx, clock.Now()) }),
		gocron.WithName(jobPurgeAudio),
		gocron.WithSingletonMode(gocron.LimitModeReschedule),
	)
	if err != nil {
		return nil, fmt.Errorf("server: audio purge job: %w", err)
	}
	_, err = sched.NewJob(gocron.CronJob("*/5 * * * *", false),
		gocron.NewTask(func(ctx context.Context) { s.reconcileCharges(ctx, clock.Now()) }),
		gocron.WithName(jobReconcileCharges),
		gocron.WithSingletonMode(gocron.LimitModeReschedule),
	)
	if err != nil {
		return nil, fmt.Errorf("server: charge reconciler job: %w", err)
	}
	sched.Start()
	return sched, nil
}

// reconcileCharges refunds the charges older than RECONCILE_AFTER that no answer and no refund
// settled: a crash, a killed process or a database outage interrupted their turns.
func (s *Server) reconcileCharges(ctx context.Context, now time.Time) {
	// Reviews whose writer died are removed first; their charges are refunded below.
	if n, err := s.store.DeleteStaleReviews(ctx, now.Add(-s.cfg.ReconcileAfter)); err != nil {
		s.logger.Error("removing stale reviews", "err", err)
	} else if n > 0 {
		s.logger.Warn("removed reviews left unfinished", "reviews", n)
	}
	n, err := s.tutor.Reconcile(ctx, now.Add(-s.cfg.ReconcileAfter))
	if err != nil {
		s.logger.Error("charge reconciler failed", "err", err, "refunded", n)
		return
	}
	if n > 0 {
		s.logger.Warn("charge reconciler refunded unsettled charges", "refunded", n)
	} else {
		s.logger.Debug("charge reconciler ran", "refunded", 0)
	}
}

// expireMemberships marks memberships past their expiry; running it twice changes nothing.
func (s *Server) expireMemberships(ctx context.Context, now time.Time) {
	changed, err := s.store.ExpireMemberships(ctx, now)
	if err != nil {
		s.logger.Error("expiry job failed", "err", err)
		return
	}
	ids := make([]string, len(changed))
	for i, m := range changed {
		ids[i] = m.ID
	}
	s.logger.Info("expiry job ran", "expired", len(changed), "memberships", ids)
	s.store.PruneJobRuns(ctx, now.AddDate(0, 0, -30)) //nolint:errcheck // housekeeping
}

// purgeAudio deletes stored audio older than AUDIO_RETENTION, rows and objects, and sweeps the
// object store for objects that lost their row in a crash.
func (s *Server) purgeAudio(ctx context.Context, now time.Time) {
	before := now.Add(-s.cfg.AudioRetention)
	if n, err := s.store.PurgeAudio(ctx, before); err != nil {
		s.logger.Error("audio purge failed", "err", err, "deleted", n)
	} else {
		s.logger.Info("audio purge ran", "deleted", n)
	}
	if swept, err := s.store.SweepAudioObjects(ctx, before); err != nil {
		s.logger.Error("sweeping the audio object store failed", "err", err, "removed", swept)
	} else if swept > 0 {
		s.logger.Warn("removed audio objects that had no row", "objects", swept)
	}
	s.store.PruneRates(ctx, now.Add(-time.Hour))   //nolint:errcheck // housekeeping
	s.store.PruneDaily(ctx, now.AddDate(0, 0, -7)) //nolint:errcheck
}

// gocronLogger sends gocron's own messages to slog.
type gocronLogger struct{ s *Server }

func (l gocronLogger) Debug(msg string, args ...any) { l.s.logger.Debug("gocron: "+msg, args...) }
func (l gocronLogger) Info(msg string, args ...any)  { l.s.logger.Debug("gocron: "+msg, args...) }
func (l gocronLogger) Warn(msg string, args ...any)  { l.s.logger.Warn("gocron: "+msg, args...) }
func (l gocronLogger) Error(msg string, args ...any) { l.s.logger.Error("gocron: "+msg, args...) }
