// Package store is aitutor's PostgreSQL storage. Every SQL statement of the project lives in this
// package, next to the method that runs it. Money and quota changes are single statements or one
// transaction, and the schema enforces the invariants as well (see migrations/).
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// Domain errors. The server maps them to HTTP statuses and error codes in one place.
var (
	ErrNotFound          = errors.New("not found")
	ErrEmailTaken        = errors.New("email already registered")
	ErrForbidden         = errors.New("not allowed")
	ErrQuotaExhausted    = errors.New("no chat uses left on this membership")
	ErrMembershipExpired = errors.New("membership expired")
	ErrMembershipRevoked = errors.New("membership revoked")
	ErrPlanNotForSale    = errors.New("plan is not for sale")
	ErrPlanTarget        = errors.New("plan is not sold to this customer type")
	ErrIdempotencyReused = errors.New("idempotency key was used with a different request")
	ErrIdempotencyBusy   = errors.New("a request with this idempotency key is still in flight")
	ErrAlreadyRefunded   = errors.New("charge already refunded")
	ErrAlreadySettled    = errors.New("charge already settled")
	ErrBadCursor         = errors.New("malformed page cursor")
	ErrAnalysisExhausted = errors.New("no analysis uses left on this membership")
	ErrReviewPending     = errors.New("a review of this conversation is being written")
	ErrAlreadyRevoked    = errors.New("membership already revoked")
	ErrPlanOtherCompany  = errors.New("plan is sold to the members of another company")
	ErrPlanAlreadyUsed   = errors.New("plan can be bought once per user and was bought already")
)

// Store is the PostgreSQL storage. It is safe for concurrent use.
type Store struct {
	db *sqlx.DB
	// bulk is a one-connection pool for large writes (stored audio): they never take the
	// connections that charges and reads need, and PostgreSQL writes one clip at a time
	// instead of bursts that slow everything else on the machine (docs/PERFORMANCE.md).
	bulk *sqlx.DB
	// objects holds the bytes of new clips when AUDIO_STORE=s3 (nil: PostgreSQL does).
	objects *Objects
	now     func() time.Time
	// stmts caches prepared statements by query: PostgreSQL parses and plans each query once
	// per connection, and a query takes one round trip instead of two.
	stmts sync.Map
}

// Option configures a Store.
type Option func(*Store)

// WithClock makes the store use now instead of time.Now for the times it writes and compares
// (membership start and expiry, charges). Tests drive it with a fake clock.
func WithClock(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// Pool sizes the connection pool.
func Pool(maxOpen int) Option {
	return func(s *Store) {
		s.db.SetMaxOpenConns(maxOpen)
		s.db.SetMaxIdleConns(maxOpen)
	}
}

// Open connects to the database at url and checks that it answers.
func Open(ctx context.Context, url string, opts ...Option) (*Store, error) {
	db, err := sqlx.Open("postgres", url)
	if err != nil {
		return nil, fmt.Errorf("store: open: %w", err)
	}
	db.SetMaxOpenConns(32)
	db.SetMaxIdleConns(32)
	db.SetConnMaxIdleTime(5 * time.Minute)
	bulk, err := sqlx.Open("postgres", withBinaryParameters(url))
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("store: open: %w", err)
	}
	bulk.SetMaxOpenConns(1)
	bulk.SetMaxIdleConns(1)
	bulk.SetConnMaxIdleTime(time.Minute)
	s := &Store{db: db, bulk: bulk, now: time.Now}
	for _, o := range opts {
		o(s)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.PingContext(pingCtx); err != nil {
		s.Close()
		return nil, fmt.Errorf("store: connect: %w", err)
	}
	return s, nil
}

// withBinaryParameters makes lib/pq send []byte parameters as they are instead of hex text,
// which would double a megabyte of audio and cost CPU on both sides.
func withBinaryParameters(url string) string {
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	if strings.HasPrefix(url, "postgres://") || strings.HasPrefix(url, "postgresql://") {
		return url + sep + "binary_parameters=yes"
	}
	return url + " binary_parameters=yes" // key=value connection strings
}

// Close closes the connection pools.
func (s *Store) Close() error {
	s.stmts.Range(func(_, st any) bool {
		st.(*sqlx.Stmt).Close()
		return true
	})
	return errors.Join(s.db.Close(), s.bulk.Close())
}

// stmt returns the prepared statement of query, preparing it on first use.
func (s *Store) stmt(ctx context.Context, query string) (*sqlx.Stmt, error) {
	if st, ok := s.stmts.Load(query); ok {
		return st.(*sqlx.Stmt), nil
	}
	st, err := s.db.PreparexContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if prev, loaded := s.stmts.LoadOrStore(query, st); loaded {
		st.Close()
		return prev.(*sqlx.Stmt), nil
	}
	return st, nil
}

// get runs a prepared query that returns one row into dest.
func (s *Store) get(ctx context.Context, dest any, query string, args ...any) error {
	st, err := s.stmt(ctx, query)
	if err != nil {
		return err
	}
	return st.GetContext(ctx, dest, args...)
}

// sel runs a prepared query that returns rows into dest, a pointer to a slice.
func (s *Store) sel(ctx context.Context, dest any, query string, args ...any) error {
	st, err := s.stmt(ctx, query)
	if err != nil {
		return err
	}
	return st.SelectContext(ctx, dest, args...)
}

// Ping checks that the database answers (readiness).
func (s *Store) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

// DB exposes the pool to the migration runner and to tests.
func (s *Store) DB() *sqlx.DB { return s.db }

// Now is the store's clock.
func (s *Store) Now() time.Time { return s.now() }

// inTx runs fn in a transaction, committing when it returns nil and rolling back otherwise.
func (s *Store) inTx(ctx context.Context, fn func(tx *sqlx.Tx) error) error {
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// notFound turns sql.ErrNoRows into ErrNotFound.
func notFound(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	return err
}

// isUniqueViolation reports whether err is a unique_violation on the named constraint or index
// (any, when name is empty).
func isUniqueViolation(err error, name string) bool {
	var pqErr *pq.Error
	if errors.As(err, &pqErr) && pqErr.Code == "23505" {
		return name == "" || pqErr.Constraint == name
	}
	return false
}

// isForeignKeyViolation reports whether err is a foreign_key_violation of the named constraint.
func isForeignKeyViolation(err error, name string) bool {
	var pqErr *pq.Error
	return errors.As(err, &pqErr) && pqErr.Code == "23503" && pqErr.Constraint == name
}

// isCheckViolation reports whether err is a check_violation of the named constraint.
func isCheckViolation(err error, name string) bool {
	var pqErr *pq.Error
	return errors.As(err, &pqErr) && pqErr.Code == "23514" && pqErr.Constraint == name
}

// isInvalidInput reports whether err is PostgreSQL refusing a value: a malformed uuid (22P02) or
// a violated CHECK constraint (23514).
func isInvalidInput(err error) bool {
	var pqErr *pq.Error
	return errors.As(err, &pqErr) && (pqErr.Code == "22P02" || pqErr.Code == "23514")
}

// prepared is the getter of the pool with prepared statements (a *sqlx.Tx is the other one).
type prepared struct{ s *Store }

func (s *Store) prepared() getter { return prepared{s} }

func (p prepared) GetContext(ctx context.Context, dest any, query string, args ...any) error {
	return p.s.get(ctx, dest, query, args...)
}

func (p prepared) SelectContext(ctx context.Context, dest any, query string, args ...any) error {
	return p.s.sel(ctx, dest, query, args...)
}
