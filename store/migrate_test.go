package store_test

import (
	"context"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/pressly/goose/v3"

	"github.com/aitutor/aitutor/migrations"
	"github.com/aitutor/aitutor/store/storetest"
)

// TestMigrateAppliesAMissingEarlierMigration: a database that took 00007 before 00006 landed
// (as a development database following main did) gets 00006 on the next start instead of a
// refusal.
func TestMigrateAppliesAMissingEarlierMigration(t *testing.T) {
	t.Parallel()
	s := storetest.New(t)
	ctx := context.Background()
	all, err := goose.NewProvider(goose.DialectPostgres, s.DB().DB, migrations.FS, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := all.DownTo(ctx, 5); err != nil {
		t.Fatal(err)
	}
	without := fstest.MapFS{}
	err = fs.WalkDir(migrations.FS, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".sql") || strings.HasPrefix(path, "00006") {
			return err
		}
		data, err := fs.ReadFile(migrations.FS, path)
		without[path] = &fstest.MapFile{Data: data}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	partial, err := goose.NewProvider(goose.DialectPostgres, s.DB().DB, without, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := partial.Up(ctx); err != nil {
		t.Fatalf("up without 00006: %v", err)
	}
	r, err := s.Migrate(ctx, nil)
	if err != nil {
		t.Fatalf("migrate with 00006 missing below the version: %v", err)
	}
	if len(r.Applied) != 1 || !strings.HasPrefix(r.Applied[0], "00006") {
		t.Fatalf("applied %v", r.Applied)
	}
	var n int
	if err := s.DB().Get(&n, `SELECT count(*) FROM companies`); err != nil {
		t.Fatalf("the companies table: %v", err)
	}
}
