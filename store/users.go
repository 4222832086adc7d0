package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
)

// Customer types and roles.
const (
	B2C       = "B2C"
	B2B       = "B2B"
	RoleUser  = "user"
	RoleAdmin = "admin"
)

// User is an account. PasswordHash is never serialised.
type User struct {
	ID           string    `db:"id" json:"id"`
	Name         string    `db:"name" json:"name"`
	Email        string    `db:"email" json:"email"`
	PasswordHash *string   `db:"password_hash" json:"-"`
	Region       *string   `db:"region" json:"region"`
	ProfileImage *string   `db:"profile_image" json:"profileImage"`
	CustomerType string    `db:"customer_type" json:"customerType"`
	Role         string    `db:"role" json:"role"`
	CreatedAt    time.Time `db:"created_at" json:"createdAt"`
	// CompanyID is the company the user belongs to (then CustomerType is B2B), or nil.
	CompanyID *string `db:"company_id" json:"companyId"`
}

// NewUser is what CreateUser needs.
type NewUser struct {
	Name         string
	Email        string
	PasswordHash string // empty: no password (an account that signs in elsewhere)
	Region       string
	CustomerType string // B2C when empty
	Role         string // user when empty
}

const userColumns = `id, name, email, password_hash, region, profile_image, customer_type, role, created_at, company_id`

const createUserSQL = `
INSERT INTO users (name, email, password_hash, region, customer_type, role)
VALUES ($1, $2, NULLIF($3, ''), NULLIF($4, ''), $5, $6)
RETURNING ` + userColumns

// CreateUser inserts a user. A taken e-mail (case-insensitive) is ErrEmailTaken.
func (s *Store) CreateUser(ctx context.Context, u NewUser) (User, error) {
	if u.CustomerType == "" {
		u.CustomerType = B2C
	}
	if u.Role == "" {
		u.Role = RoleUser
	}
	var out User
	err := s.get(ctx, &out, createUserSQL, u.Name, u.Email, u.PasswordHash, u.Region, u.CustomerType, u.Role)
	if isUniqueViolation(err, "users_email_key") {
		return User{}, ErrEmailTaken
	}
	if err != nil {
		return User{}, fmt.Errorf("store: create user: %w", err)
	}
	return out, nil
}

const upsertUserSQL = `
INSERT INTO users (name, email, password_hash, customer_type, role)
VALUES ($1, $2, NULLIF($3, ''), $4, $5)
ON CONFLICT (lower(email)) DO UPDATE SET role = EXCLUDED.role
RETURNING ` + userColumns

// EnsureUser creates the user unless one with that e-mail exists; either way it returns the
// stored row with the given role (used by seed).
func (s *Store) EnsureUser(ctx context.Context, u NewUser) (User, error) {
	var out User
	if err := s.get(ctx, &out, upsertUserSQL, u.Name, u.Email, u.PasswordHash, u.CustomerType, u.Role); err != nil {
		return User{}, fmt.Errorf("store: ensure user %s: %w", u.Email, err)
	}
	return out, nil
}

const userByIDSQL = `SELECT ` + userColumns + ` FROM users WHERE id = $1`

// UserByID returns the user or ErrNotFound.
func (s *Store) UserByID(ctx context.Context, id string) (User, error) {
	var u User
	if err := s.get(ctx, &u, userByIDSQL, id); err != nil {
		if isInvalidInput(err) {
			return User{}, ErrNotFound
		}
		return User{}, notFound(err)
	}
	return u, nil
}

const userByEmailSQL = `SELECT ` + userColumns + ` FROM users WHERE lower(email) = lower($1)`

// UserByEmail returns the user with that e-mail (case-insensitive) or ErrNotFound.
func (s *Store) UserByEmail(ctx context.Context, email string) (User, error) {
	var u User
	if err := s.get(ctx, &u, userByEmailSQL, email); err != nil {
		return User{}, notFound(err)
	}
	return u, nil
}

const listUsersSQL = `
SELECT ` + userColumns + ` FROM users
WHERE $1 = '' OR name ILIKE '%' || $1 || '%' OR email ILIKE '%' || $1 || '%'
ORDER BY created_at DESC, id
LIMIT $2 OFFSET $3`

// ListUsers returns users whose name or e-mail contains q (all when q is empty), newest first.
func (s *Store) ListUsers(ctx context.Context, q string, limit, offset int) ([]User, error) {
	users := []User{}
	if err := s.sel(ctx, &users, listUsersSQL, escapeLike(q), limit, offset); err != nil {
		return nil, fmt.Errorf("store: list users: %w", err)
	}
	return users, nil
}

// escapeLike escapes the LIKE wildcards of a search term.
func escapeLike(q string) string {
	out := make([]rune, 0, len(q))
	for _, r := range q {
		if r == '%' || r == '_' || r == '\\' {
			out = append(out, '\\')
		}
		out = append(out, r)
	}
	return string(out)
}

// getter is what *sqlx.DB and *sqlx.Tx share.
type getter interface {
	GetContext(ctx context.Context, dest any, query string, args ...any) error
	SelectContext(ctx context.Context, dest any, query string, args ...any) error
}

var (
	_ getter = (*sqlx.DB)(nil)
	_ getter = (*sqlx.Tx)(nil)
)
