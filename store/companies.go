package store

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
)

// Errors of companies and their join codes.
var (
	ErrInvalidCode      = errors.New("no company has this code")
	ErrCodeExpired      = errors.New("company code expired")
	ErrCodeDisabled     = errors.New("company code disabled")
	ErrCompanyFull      = errors.New("company has no free seat")
	ErrAlreadyInCompany = errors.New("already a member of another company")
	ErrNotInCompany     = errors.New("not a member of a company")
	ErrCodeTaken        = errors.New("company code already exists")
	ErrCompanyNameTaken = errors.New("a company with this name already exists")
	// ErrPlanOfOtherCompany: an administrator assigned one company's plan to another's members.
	ErrPlanOfOtherCompany = errors.New("plan belongs to another company")
)

// Company is a customer organisation whose members are B2B learners. SeatLimit nil means no
// limit; SeatsUsed is its members now.
type Company struct {
	ID        string    `db:"id" json:"id"`
	Name      string    `db:"name" json:"name"`
	SeatLimit *int      `db:"seat_limit" json:"seatLimit"`
	SeatsUsed int       `db:"seats_used" json:"seatsUsed"`
	CreatedAt time.Time `db:"created_at" json:"createdAt"`
}

// Code statuses.
const (
	CodeActive   = "active"
	CodeExpired  = "expired"
	CodeDisabled = "disabled"
)

// CompanyCode is a join code of a company. Status is derived: active, expired or disabled.
type CompanyCode struct {
	ID         string     `db:"id" json:"id"`
	CompanyID  string     `db:"company_id" json:"companyId"`
	Code       string     `db:"code" json:"code"`
	ExpiresAt  *time.Time `db:"expires_at" json:"expiresAt"`
	DisabledAt *time.Time `db:"disabled_at" json:"disabledAt"`
	CreatedAt  time.Time  `db:"created_at" json:"createdAt"`
	Status     string     `db:"-" json:"status"`
}

// usable says why the code cannot be used to join at now, or nil.
func (c *CompanyCode) usable(now time.Time) error {
	switch {
	case c.DisabledAt != nil:
		return ErrCodeDisabled
	case c.ExpiresAt != nil && !c.ExpiresAt.After(now):
		return ErrCodeExpired
	}
	return nil
}

func (c *CompanyCode) fill(now time.Time) {
	switch c.usable(now) {
	case nil:
		c.Status = CodeActive
	case ErrCodeDisabled:
		c.Status = CodeDisabled
	default:
		c.Status = CodeExpired
	}
}

// CompanyMember is a member of a company and when they joined.
type CompanyMember struct {
	User
	JoinedAt time.Time `db:"company_joined_at" json:"joinedAt"`
}

// CompanyDetail is a company with its codes (newest first), members (in the order they joined)
// and plans (those on sale and those taken off sale).
type CompanyDetail struct {
	Company
	Codes   []CompanyCode   `json:"codes"`
	Members []CompanyMember `json:"members"`
	Plans   []Plan          `json:"plans"`
}

// NewCompanyCode is a code to add; an empty Code is generated.
type NewCompanyCode struct {
	Code      string
	ExpiresAt *time.Time
}

// NewCompany is what CreateCompany needs. Without Codes, one code is generated.
type NewCompany struct {
	Name      string
	SeatLimit *int
	Codes     []NewCompanyCode
	CreatedBy string // the administrator's id, or empty
}

// codeAlphabet has no characters that read alike (0/O, 1/I/L, 5/S are kept apart by leaving out
// 0, O, 1, I and L).
const codeAlphabet = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"

// GeneratedCodeLength is the number of characters of a generated code: 12 of 31 symbols, about
// 59 bits from crypto/rand.
const GeneratedCodeLength = 12

// GenerateCompanyCode returns a new random join code such as "7KQM-X2PA-HRT9".
func GenerateCompanyCode() string {
	out := make([]byte, 0, GeneratedCodeLength+GeneratedCodeLength/4)
	buf := make([]byte, 32)
	for n := 0; n < GeneratedCodeLength; {
		rand.Read(buf) //nolint:errcheck // crypto/rand.Read never fails (Go 1.24+)
		for _, b := range buf {
			// Rejection sampling: 248 = 8 × 31, so every symbol is equally likely.
			if b >= 248 || n == GeneratedCodeLength {
				continue
			}
			if n > 0 && n%4 == 0 {
				out = append(out, '-')
			}
			out = append(out, codeAlphabet[int(b)%len(codeAlphabet)])
			n++
		}
	}
	return string(out)
}

// CodeLookup is the form in which codes are compared: letters and digits only, upper case (the
// column company_codes.lookup computes the same).
func CodeLookup(code string) string {
	var b strings.Builder
	for _, r := range code {
		switch {
		case r >= 'a' && r <= 'z':
			b.WriteRune(r - 'a' + 'A')
		case r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			b.WriteRune(r)
		}
	}
	return b.String()
}

const companyColumns = `id, name, seat_limit, seats_used, created_at`

const createCompanySQL = `
INSERT INTO companies (name, seat_limit, created_by) VALUES ($1, $2, NULLIF($3, '')::uuid)
RETURNING ` + companyColumns

// CreateCompany creates a company with its codes in one transaction. A name in use (whatever its
// case) is ErrCompanyNameTaken, a code in use ErrCodeTaken.
func (s *Store) CreateCompany(ctx context.Context, nc NewCompany) (CompanyDetail, error) {
	var out CompanyDetail
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		if err := tx.GetContext(ctx, &out.Company, createCompanySQL, nc.Name, nc.SeatLimit, nc.CreatedBy); err != nil {
			if isUniqueViolation(err, "companies_name_key") {
				return ErrCompanyNameTaken
			}
			return err
		}
		codes := nc.Codes
		if len(codes) == 0 {
			codes = []NewCompanyCode{{}}
		}
		for _, c := range codes {
			code, err := s.addCode(ctx, tx, out.ID, c, nc.CreatedBy)
			if err != nil {
				return err
			}
			out.Codes = append(out.Codes, code)
		}
		return nil
	})
	if err != nil {
		return CompanyDetail{}, fmt.Errorf("store: create company %q: %w", nc.Name, err)
	}
	out.Members, out.Plans = []CompanyMember{}, []Plan{}
	return out, nil
}

const codeColumns = `id, company_id, code, expires_at, disabled_at, created_at`

// insertCodeSQL adds a code unless its lookup form is taken (then no row).
const insertCodeSQL = `
INSERT INTO company_codes (company_id, code, expires_at, created_by)
VALUES ($1, $2, $3, NULLIF($4, '')::uuid)
ON CONFLICT (lookup) DO NOTHING
RETURNING ` + codeColumns

// addCode inserts a code of the company; an empty code is generated (again on the unlikely
// collision), a code given that is taken is ErrCodeTaken.
func (s *Store) addCode(ctx context.Context, tx *sqlx.Tx, companyID string, c NewCompanyCode, createdBy string) (CompanyCode, error) {
	for attempt := 0; ; attempt++ {
		code := strings.ToUpper(strings.TrimSpace(c.Code))
		if code == "" {
			code = GenerateCompanyCode()
		}
		var out CompanyCode
		err := tx.GetContext(ctx, &out, insertCodeSQL, companyID, code, c.ExpiresAt, createdBy)
		if err == nil {
			out.fill(s.now())
			return out, nil
		}
		if !errors.Is(notFound(err), ErrNotFound) {
			if isForeignKeyViolation(err, "company_codes_company_id_fkey") {
				return CompanyCode{}, ErrNotFound
			}
			return CompanyCode{}, err
		}
		if c.Code != "" || attempt == 5 {
			return CompanyCode{}, ErrCodeTaken
		}
	}
}

// AddCompanyCode adds a join code to the company (generated when c.Code is empty). An unknown
// company is ErrNotFound, a code in use ErrCodeTaken.
func (s *Store) AddCompanyCode(ctx context.Context, companyID string, c NewCompanyCode, createdBy string) (CompanyCode, error) {
	var out CompanyCode
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		var err error
		out, err = s.addCode(ctx, tx, companyID, c, createdBy)
		return err
	})
	if err != nil {
		return CompanyCode{}, fmt.Errorf("store: add code to company %s: %w", companyID, err)
	}
	return out, nil
}

const disableCodeSQL = `
UPDATE company_codes SET disabled_at = COALESCE(disabled_at, $3)
WHERE id = $1 AND company_id = $2
RETURNING ` + codeColumns

// DisableCompanyCode stops the code from letting anyone join; members who joined with it stay.
// Disabling twice keeps the first time. A code of another company is ErrNotFound.
func (s *Store) DisableCompanyCode(ctx context.Context, companyID, codeID string) (CompanyCode, error) {
	var out CompanyCode
	if err := s.get(ctx, &out, disableCodeSQL, codeID, companyID, s.now()); err != nil {
		return CompanyCode{}, fmt.Errorf("store: disable code %s: %w", codeID, notFound(err))
	}
	out.fill(s.now())
	return out, nil
}

const listCompaniesSQL = `SELECT ` + companyColumns + ` FROM companies ORDER BY lower(name), id`

// ListCompanies returns every company by name.
func (s *Store) ListCompanies(ctx context.Context) ([]Company, error) {
	out := []Company{}
	if err := s.sel(ctx, &out, listCompaniesSQL); err != nil {
		return nil, fmt.Errorf("store: list companies: %w", err)
	}
	return out, nil
}

const companyByIDSQL = `SELECT ` + companyColumns + ` FROM companies WHERE id = $1`

// Company returns the company or ErrNotFound.
func (s *Store) Company(ctx context.Context, id string) (Company, error) {
	var c Company
	if err := s.get(ctx, &c, companyByIDSQL, id); err != nil {
		if isInvalidInput(err) {
			return Company{}, ErrNotFound
		}
		return Company{}, notFound(err)
	}
	return c, nil
}

const companyCodesSQL = `SELECT ` + codeColumns + ` FROM company_codes WHERE company_id = $1 ORDER BY created_at DESC, id`

const companyMembersSQL = `
SELECT ` + userColumns + `, company_joined_at FROM users WHERE company_id = $1
ORDER BY company_joined_at, id`

const companyPlansSQL = `
SELECT ` + planColumns + ` FROM membership_plans WHERE company_id = $1
ORDER BY deleted_at IS NOT NULL, price, name, id`

// CompanyDetail returns the company with its codes, members and plans, or ErrNotFound.
func (s *Store) CompanyDetail(ctx context.Context, id string) (CompanyDetail, error) {
	c, err := s.Company(ctx, id)
	if err != nil {
		return CompanyDetail{}, err
	}
	out := CompanyDetail{Company: c, Codes: []CompanyCode{}, Members: []CompanyMember{}, Plans: []Plan{}}
	if err := s.sel(ctx, &out.Codes, companyCodesSQL, id); err != nil {
		return CompanyDetail{}, fmt.Errorf("store: codes of company %s: %w", id, err)
	}
	now := s.now()
	for i := range out.Codes {
		out.Codes[i].fill(now)
	}
	if err := s.sel(ctx, &out.Members, companyMembersSQL, id); err != nil {
		return CompanyDetail{}, fmt.Errorf("store: members of company %s: %w", id, err)
	}
	if err := s.sel(ctx, &out.Plans, companyPlansSQL, id); err != nil {
		return CompanyDetail{}, fmt.Errorf("store: plans of company %s: %w", id, err)
	}
	fillPlans(out.Plans)
	return out, nil
}

const codeByLookupSQL = `
SELECT cc.id, cc.company_id, cc.code, cc.expires_at, cc.disabled_at, cc.created_at
FROM company_codes cc WHERE cc.lookup = $1`

const lockUserSQL = `SELECT ` + userColumns + ` FROM users WHERE id = $1 FOR NO KEY UPDATE`

const joinSQL = `
UPDATE users SET company_id = $2, company_joined_at = $3, customer_type = 'B2B'
WHERE id = $1
RETURNING ` + userColumns

// JoinCompany makes the user a member of the company whose code this is (compared as
// CodeLookup does), and a B2B learner, in one transaction. An unknown code is ErrInvalidCode, an
// expired one ErrCodeExpired, a disabled one ErrCodeDisabled; a company without a free seat is
// ErrCompanyFull (the database's seat check decides among concurrent joins); a member of another
// company is ErrAlreadyInCompany. Joining one's own company again changes nothing.
func (s *Store) JoinCompany(ctx context.Context, userID, code string) (Company, User, error) {
	var company Company
	var user User
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		lookup := CodeLookup(code)
		if lookup == "" {
			return ErrInvalidCode
		}
		var cc CompanyCode
		if err := tx.GetContext(ctx, &cc, codeByLookupSQL, lookup); err != nil {
			if errors.Is(notFound(err), ErrNotFound) {
				return ErrInvalidCode
			}
			return err
		}
		if err := cc.usable(s.now()); err != nil {
			return err
		}
		if err := tx.GetContext(ctx, &user, lockUserSQL, userID); err != nil {
			return notFound(err)
		}
		switch {
		case user.CompanyID != nil && *user.CompanyID == cc.CompanyID:
			return tx.GetContext(ctx, &company, companyByIDSQL, cc.CompanyID)
		case user.CompanyID != nil:
			return ErrAlreadyInCompany
		}
		if err := tx.GetContext(ctx, &user, joinSQL, userID, cc.CompanyID, s.now()); err != nil {
			if isCheckViolation(err, "companies_seats_check") {
				return ErrCompanyFull
			}
			return err
		}
		return tx.GetContext(ctx, &company, companyByIDSQL, cc.CompanyID)
	})
	if err != nil {
		return Company{}, User{}, fmt.Errorf("store: user %s joins a company: %w", userID, err)
	}
	return company, user, nil
}

const leaveSQL = `
UPDATE users SET company_id = NULL, company_joined_at = NULL, customer_type = 'B2C'
WHERE id = $1 AND company_id IS NOT NULL
RETURNING ` + userColumns

// LeaveCompany makes the user leave their company and become a B2C learner again, in one
// statement; their seat is free at once. Memberships that came through the company stay usable
// until they expire. A user in no company is ErrNotInCompany.
func (s *Store) LeaveCompany(ctx context.Context, userID string) (User, error) {
	var u User
	if err := s.get(ctx, &u, leaveSQL, userID); err != nil {
		if errors.Is(notFound(err), ErrNotFound) {
			return User{}, fmt.Errorf("store: user %s leaves their company: %w", userID, ErrNotInCompany)
		}
		return User{}, fmt.Errorf("store: user %s leaves their company: %w", userID, err)
	}
	return u, nil
}

const removeMemberSQL = `
UPDATE users SET company_id = NULL, company_joined_at = NULL, customer_type = 'B2C'
WHERE id = $1 AND company_id = $2
RETURNING ` + userColumns

const revokeCompanyMembershipsSQL = `
UPDATE memberships SET revoked_at = $3, revoked_by = NULLIF($4, '')::uuid
WHERE user_id = $1 AND company_id = $2 AND revoked_at IS NULL`

// RemoveCompanyMember removes the user from the company on behalf of adminID (they become B2C
// and their seat is free), and with revoke also revokes, in the same transaction, their
// memberships that came through the company; it returns the user and how many memberships were
// revoked. A user who is not a member of this company is ErrNotFound.
func (s *Store) RemoveCompanyMember(ctx context.Context, adminID, companyID, userID string, revoke bool) (User, int64, error) {
	var u User
	var revoked int64
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		if err := tx.GetContext(ctx, &u, removeMemberSQL, userID, companyID); err != nil {
			if isInvalidInput(err) {
				return ErrNotFound
			}
			return notFound(err)
		}
		if !revoke {
			return nil
		}
		res, err := tx.ExecContext(ctx, revokeCompanyMembershipsSQL, userID, companyID, s.now(), adminID)
		if err != nil {
			return err
		}
		revoked, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return User{}, 0, fmt.Errorf("store: remove %s from company %s: %w", userID, companyID, err)
	}
	return u, revoked, nil
}

const assignToCompanySQL = `
INSERT INTO memberships (user_id, plan_id, started_at, expires_at, remaining_chat_uses,
                         remaining_analysis_uses, granted_by_admin, granted_by, company_id)
SELECT u.id, $2, $3, $4, $5, $6, true, NULLIF($7, '')::uuid, $1
FROM users u WHERE u.company_id = $1`

// AssignPlanToCompany grants planID, on behalf of adminID, to every member of the company at
// once, in one transaction, and returns how many memberships it created. The memberships come
// through the company. A deleted plan is ErrPlanNotForSale, another company's plan
// ErrPlanOfOtherCompany; any other plan may be granted, once-per-user ones too (administrators
// may grant a trial again).
func (s *Store) AssignPlanToCompany(ctx context.Context, adminID, companyID, planID string) (int64, error) {
	var n int64
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		// Shared locks: the company and the plan stay as they are until the grant commits.
		var c Company
		if err := tx.GetContext(ctx, &c, companyByIDSQL+` FOR SHARE`, companyID); err != nil {
			return notFound(err)
		}
		var plan Plan
		if err := tx.GetContext(ctx, &plan, planByIDSQL+` FOR SHARE`, planID); err != nil {
			return notFound(err)
		}
		switch {
		case plan.DeletedAt != nil:
			return ErrPlanNotForSale
		case plan.CompanyID != nil && *plan.CompanyID != companyID:
			return ErrPlanOfOtherCompany
		}
		start := s.now()
		res, err := tx.ExecContext(ctx, assignToCompanySQL, companyID, plan.ID, start, start.AddDate(0, 0, plan.DurationDays),
			plan.ChatUses, plan.AnalysisUses, adminID)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("store: assign plan %s to company %s: %w", planID, companyID, err)
	}
	return n, nil
}

const ensureCompanySQL = `
WITH created AS (
    INSERT INTO companies (name, seat_limit) VALUES ($1, $2)
    ON CONFLICT (lower(name)) DO NOTHING
    RETURNING ` + companyColumns + `
)
SELECT * FROM created
UNION ALL
SELECT ` + companyColumns + ` FROM companies WHERE lower(name) = lower($1) AND NOT EXISTS (SELECT 1 FROM created)`

// EnsureCompany returns the company with that name (whatever its case), creating it when there
// is none (seed).
func (s *Store) EnsureCompany(ctx context.Context, name string, seatLimit *int) (Company, error) {
	var c Company
	if err := s.get(ctx, &c, ensureCompanySQL, name, seatLimit); err != nil {
		return Company{}, fmt.Errorf("store: ensure company %q: %w", name, err)
	}
	return c, nil
}
