// Package storetest gives tests a real PostgreSQL database of their own. It needs
// TEST_DATABASE_URL (make test starts a throwaway cluster and sets it). Each call creates a
// fresh database from a migrated template, so tests can run in parallel, and drops it when the
// test ends.
package storetest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq" // driver

	"github.com/aitutor/aitutor/migrations"
	"github.com/aitutor/aitutor/store"
)

var (
	templateOnce sync.Once
	templateName string
	templateErr  error
)

// URL returns the server URL of the test cluster, failing the test when it is not set.
func URL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("TEST_DATABASE_URL")
	if u == "" {
		t.Fatal("TEST_DATABASE_URL is not set: run `make test` (it starts a throwaway PostgreSQL) or point it at a PostgreSQL server whose user may create databases")
	}
	return u
}

// New returns a Store on a fresh, migrated database that is dropped when the test ends.
func New(t testing.TB, opts ...store.Option) *store.Store {
	t.Helper()
	dbURL := NewDatabase(t)
	ctx := context.Background()
	s, err := store.Open(ctx, dbURL, opts...)
	if err != nil {
		t.Fatalf("storetest: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// NewDatabase creates a fresh, migrated database and returns its URL; it is dropped when the
// test ends.
func NewDatabase(t testing.TB) string {
	t.Helper()
	base := URL(t)
	templateOnce.Do(func() { templateName, templateErr = ensureTemplate(base) })
	if templateErr != nil {
		t.Fatalf("storetest: template database: %v", templateErr)
	}
	admin, err := sqlx.Open("postgres", base)
	if err != nil {
		t.Fatalf("storetest: %v", err)
	}
	defer admin.Close()
	name := "t_" + randomHex(8)
	var lastErr error
	for attempt := 0; attempt < 20; attempt++ { // CREATE DATABASE can collide with another copy of the template
		if _, lastErr = admin.Exec(fmt.Sprintf(`CREATE DATABASE %s TEMPLATE %s`, name, templateName)); lastErr == nil {
			break
		}
		time.Sleep(time.Duration(50+attempt*20) * time.Millisecond)
	}
	if lastErr != nil {
		t.Fatalf("storetest: create database: %v", lastErr)
	}
	t.Cleanup(func() {
		admin, err := sqlx.Open("postgres", base)
		if err != nil {
			return
		}
		defer admin.Close()
		admin.Exec(fmt.Sprintf(`DROP DATABASE IF EXISTS %s WITH (FORCE)`, name)) //nolint:errcheck
	})
	return withDatabase(base, name)
}

// ensureTemplate creates (once per cluster and migration set) a database with every migration
// applied, under an advisory lock so that parallel test binaries do not race.
func ensureTemplate(base string) (string, error) {
	name := "tmpl_" + migrationsHash()
	admin, err := sqlx.Open("postgres", base)
	if err != nil {
		return "", err
	}
	defer admin.Close()
	ctx := context.Background()
	conn, err := admin.Connx(ctx)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock(7243)`); err != nil {
		return "", err
	}
	defer conn.ExecContext(ctx, `SELECT pg_advisory_unlock(7243)`) //nolint:errcheck
	var exists bool
	if err := conn.GetContext(ctx, &exists, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name); err != nil {
		return "", err
	}
	if exists {
		return name, nil
	}
	building := name + "_build"
	conn.ExecContext(ctx, fmt.Sprintf(`DROP DATABASE IF EXISTS %s WITH (FORCE)`, building)) //nolint:errcheck
	if _, err := conn.ExecContext(ctx, fmt.Sprintf(`CREATE DATABASE %s`, building)); err != nil {
		return "", err
	}
	s, err := store.Open(ctx, withDatabase(base, building))
	if err != nil {
		return "", err
	}
	_, err = s.Migrate(ctx, nil)
	s.Close()
	if err != nil {
		return "", err
	}
	if _, err := conn.ExecContext(ctx, fmt.Sprintf(`ALTER DATABASE %s RENAME TO %s`, building, name)); err != nil {
		return "", err
	}
	return name, nil
}

func migrationsHash() string {
	h := sha256.New()
	fs.WalkDir(migrations.FS, ".", func(path string, d fs.DirEntry, err error) error { //nolint:errcheck
		if err != nil || d.IsDir() {
			return err
		}
		b, _ := fs.ReadFile(migrations.FS, path)
		h.Write([]byte(path))
		h.Write(b)
		return nil
	})
	return hex.EncodeToString(h.Sum(nil))[:12]
}

func withDatabase(base, name string) string {
	u, err := url.Parse(base)
	if err != nil {
		return base
	}
	u.Path = "/" + name
	return u.String()
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b) //nolint:errcheck
	return hex.EncodeToString(b)
}
