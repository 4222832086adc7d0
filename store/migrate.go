package store

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/aitutor/aitutor/migrations"
)

// migrationLockID is the advisory lock that serialises migration runs of every instance.
const migrationLockID = 0x61697475746f72 // "aitutor"

// MigrateResult says what Migrate did.
type MigrateResult struct {
	From, To int64
	Applied  []string
}

// Migrate applies the embedded migrations, each in its own transaction, under a PostgreSQL
// advisory lock so that several instances starting at once do not race. It refuses to run
// against a database whose schema is newer than this binary.
func (s *Store) Migrate(ctx context.Context, logger *slog.Logger) (MigrateResult, error) {
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(migrationLockID))
	if err != nil {
		return MigrateResult{}, fmt.Errorf("store: migrate: %w", err)
	}
	// Out of order: a migration numbered below the database's version (work that landed after
	// a later-numbered one, as 00006 after 00007) is applied rather than refused. Migrations
	// are written to be independent of their neighbours' order.
	opts := []goose.ProviderOption{goose.WithSessionLocker(locker), goose.WithDisableGlobalRegistry(true), goose.WithAllowOutofOrder(true)}
	if logger != nil {
		opts = append(opts, goose.WithSlog(logger))
	}
	p, err := goose.NewProvider(goose.DialectPostgres, s.db.DB, migrations.FS, opts...)
	if err != nil {
		return MigrateResult{}, fmt.Errorf("store: migrate: %w", err)
	}
	current, target, err := p.GetVersions(ctx)
	if err != nil {
		return MigrateResult{}, fmt.Errorf("store: migrate: read schema version: %w", err)
	}
	if current > target {
		return MigrateResult{}, fmt.Errorf("store: migrate: database schema version %d is newer than this binary's %d; upgrade aitutor", current, target)
	}
	results, err := p.Up(ctx)
	if err != nil {
		return MigrateResult{}, fmt.Errorf("store: migrate: %w", err)
	}
	res := MigrateResult{From: current, To: current}
	for _, r := range results {
		res.Applied = append(res.Applied, r.Source.Path)
		res.To = r.Source.Version
	}
	return res, nil
}
