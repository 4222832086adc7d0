package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// Membership is a user's right to use the tutor under a plan. Remaining counts nil mean
// unlimited. Status is derived: active, expired, revoked or exhausted.
type Membership struct {
	ID                    string     `db:"id" json:"id"`
	UserID                string     `db:"user_id" json:"userId"`
	PlanID                string     `db:"plan_id" json:"planId"`
	StartedAt             time.Time  `db:"started_at" json:"startedAt"`
	ExpiresAt             time.Time  `db:"expires_at" json:"expiresAt"`
	RemainingChatUses     *int       `db:"remaining_chat_uses" json:"remainingChatUses"`
	RemainingAnalysisUses *int       `db:"remaining_analysis_uses" json:"remainingAnalysisUses"`
	GrantedByAdmin        bool       `db:"granted_by_admin" json:"grantedByAdmin"`
	IsExpired             bool       `db:"is_expired" json:"isExpired"`
	RevokedAt             *time.Time `db:"revoked_at" json:"revokedAt"`
	CreatedAt             time.Time  `db:"created_at" json:"createdAt"`
	// CompanyID: the company the membership came through (a company plan bought, or a plan
	// granted to the company's members), or nil.
	CompanyID *string `db:"company_id" json:"companyId"`
	Plan      Plan    `db:"plan" json:"plan"`
	Status    string  `db:"-" json:"status"`
}

// Membership statuses.
const (
	StatusActive    = "active"
	StatusExpired   = "expired"
	StatusRevoked   = "revoked"
	StatusExhausted = "exhausted"
)

// Usable says why the membership cannot pay for a chat turn at now, or nil when it can.
func (m *Membership) Usable(now time.Time) error {
	switch {
	case m.RevokedAt != nil:
		return ErrMembershipRevoked
	case m.IsExpired || !m.ExpiresAt.After(now):
		return ErrMembershipExpired
	case m.RemainingChatUses != nil && *m.RemainingChatUses <= 0:
		return ErrQuotaExhausted
	}
	return nil
}

func (m *Membership) fill(now time.Time) {
	m.Plan.fill()
	switch m.Usable(now) {
	case nil:
		m.Status = StatusActive
	case ErrMembershipRevoked:
		m.Status = StatusRevoked
	case ErrMembershipExpired:
		m.Status = StatusExpired
	default:
		m.Status = StatusExhausted
	}
}

const membershipSelect = `
SELECT m.id, m.user_id, m.plan_id, m.started_at, m.expires_at, m.remaining_chat_uses,
       m.remaining_analysis_uses, m.granted_by_admin, m.is_expired, m.revoked_at, m.created_at, m.company_id,
       p.id AS "plan.id", p.name AS "plan.name", p.description AS "plan.description",
       p.duration_days AS "plan.duration_days", p.chat_uses AS "plan.chat_uses",
       p.analysis_uses AS "plan.analysis_uses", p.target AS "plan.target", p.price AS "plan.price",
       p.currency AS "plan.currency", p.created_at AS "plan.created_at", p.deleted_at AS "plan.deleted_at",
       p.company_id AS "plan.company_id", p.once_per_user AS "plan.once_per_user"
FROM memberships m JOIN membership_plans p ON p.id = m.plan_id`

const membershipsByUserSQL = membershipSelect + `
WHERE m.user_id = $1
ORDER BY m.created_at DESC, m.id`

// MembershipsByUser returns all of the user's memberships with their plans, newest first.
func (s *Store) MembershipsByUser(ctx context.Context, userID string) ([]Membership, error) {
	ms := []Membership{}
	if err := s.sel(ctx, &ms, membershipsByUserSQL, userID); err != nil {
		return nil, fmt.Errorf("store: memberships of %s: %w", userID, err)
	}
	now := s.now()
	for i := range ms {
		ms[i].fill(now)
	}
	return ms, nil
}

const membershipByIDSQL = membershipSelect + ` WHERE m.id = $1`

func (s *Store) membershipByID(ctx context.Context, q getter, id string) (Membership, error) {
	var m Membership
	if err := q.GetContext(ctx, &m, membershipByIDSQL, id); err != nil {
		if isInvalidInput(err) {
			return Membership{}, ErrNotFound
		}
		return Membership{}, notFound(err)
	}
	m.fill(s.now())
	return m, nil
}

// UserMembership returns the membership when it is the user's: ErrNotFound when it does not
// exist, ErrForbidden when it is someone else's.
func (s *Store) UserMembership(ctx context.Context, userID, membershipID string) (Membership, error) {
	m, err := s.membershipByID(ctx, s.prepared(), membershipID)
	if err != nil {
		return Membership{}, err
	}
	if m.UserID != userID {
		return Membership{}, ErrForbidden
	}
	return m, nil
}

// PurchaseResult is a bought membership; Replayed is set when an earlier request with the same
// idempotency key had already bought it.
type PurchaseResult struct {
	Membership Membership
	Replayed   bool
}

const purchaseLockSQL = `SELECT pg_try_advisory_xact_lock(hashtextextended('aitutor.purchase:' || $1 || ':' || $2, 0))`

const purchaseByKeySQL = `SELECT membership_id, request_hash FROM purchases WHERE user_id = $1 AND idempotency_key = $2`

const purchaseInsertSQL = `
INSERT INTO purchases (user_id, plan_id, membership_id, price, currency, idempotency_key, request_hash, once_per_user)
VALUES ($1, $2, $3, $4, $5, NULLIF($6, ''), $7, $8)`

const planUsedSQL = `SELECT EXISTS (SELECT 1 FROM purchases WHERE user_id = $1 AND plan_id = $2 AND once_per_user)`

// Purchase buys planID for userID: one transaction creates the membership and the purchase row.
// With an idempotency key, a retry returns the first purchase's membership (Replayed), the same
// key for another plan is ErrIdempotencyReused, and a retry while the first is still running is
// ErrIdempotencyBusy. Plans the user may not buy are refused as Plan.SoldTo says
// (ErrPlanNotForSale, ErrPlanTarget, ErrPlanOtherCompany); a once-per-user plan bought before is
// ErrPlanAlreadyUsed (checked here, and held by the unique index purchases_once_per_user when two
// purchases race).
func (s *Store) Purchase(ctx context.Context, userID, planID, idempotencyKey string) (PurchaseResult, error) {
	requestHash := "plan:" + planID
	var res PurchaseResult
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		if idempotencyKey != "" {
			var locked bool
			if err := tx.GetContext(ctx, &locked, purchaseLockSQL, userID, idempotencyKey); err != nil {
				return err
			}
			if !locked {
				return ErrIdempotencyBusy
			}
			var prev struct {
				MembershipID string `db:"membership_id"`
				RequestHash  string `db:"request_hash"`
			}
			err := tx.GetContext(ctx, &prev, purchaseByKeySQL, userID, idempotencyKey)
			switch {
			case err == nil:
				if prev.RequestHash != requestHash {
					return ErrIdempotencyReused
				}
				m, err := s.membershipByID(ctx, tx, prev.MembershipID)
				res = PurchaseResult{Membership: m, Replayed: true}
				return err
			case !errors.Is(notFound(err), ErrNotFound):
				return err
			}
		}
		// The user's row is shared-locked so that they cannot join or leave a company while they
		// buy: the rule is checked against what is committed with the purchase.
		var user User
		if err := tx.GetContext(ctx, &user, userByIDSQL+` FOR SHARE`, userID); err != nil {
			return notFound(err)
		}
		var plan Plan
		if err := tx.GetContext(ctx, &plan, planByIDSQL+` FOR SHARE`, planID); err != nil {
			if isInvalidInput(err) {
				return ErrNotFound
			}
			return notFound(err)
		}
		if err := plan.SoldTo(user); err != nil {
			return err
		}
		if plan.OncePerUser {
			var used bool
			if err := tx.GetContext(ctx, &used, planUsedSQL, userID, plan.ID); err != nil {
				return err
			}
			if used {
				return ErrPlanAlreadyUsed
			}
		}
		id, err := s.insertMembership(ctx, tx, userID, plan, "", plan.CompanyID)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, purchaseInsertSQL, userID, plan.ID, id, plan.Price, plan.Currency, idempotencyKey, requestHash, plan.OncePerUser); err != nil {
			switch {
			case isUniqueViolation(err, "purchases_idempotency_key"):
				return ErrIdempotencyBusy
			case isUniqueViolation(err, "purchases_once_per_user"):
				return ErrPlanAlreadyUsed // a concurrent purchase of the same trial won
			}
			return err
		}
		m, err := s.membershipByID(ctx, tx, id)
		res = PurchaseResult{Membership: m}
		return err
	})
	if err != nil {
		return PurchaseResult{}, fmt.Errorf("store: purchase plan %s: %w", planID, err)
	}
	return res, nil
}

const insertMembershipSQL = `
INSERT INTO memberships (user_id, plan_id, started_at, expires_at, remaining_chat_uses,
                         remaining_analysis_uses, granted_by_admin, granted_by, company_id)
VALUES ($1, $2, $3, $4, $5, $6, $7 <> '', NULLIF($7, '')::uuid, $8::uuid)
RETURNING id`

// insertMembership starts a membership of plan now; grantedBy is the admin's id, or empty for a
// purchase; companyID is the company it comes through, or nil.
func (s *Store) insertMembership(ctx context.Context, tx *sqlx.Tx, userID string, plan Plan, grantedBy string, companyID *string) (string, error) {
	start := s.now()
	end := start.AddDate(0, 0, plan.DurationDays)
	var id string
	err := tx.GetContext(ctx, &id, insertMembershipSQL, userID, plan.ID, start, end, plan.ChatUses, plan.AnalysisUses, grantedBy, companyID)
	return id, err
}

// AssignPlan grants planID to userID on behalf of adminID, whatever the plan's target, company
// or once-per-user flag (administrators may grant a trial again; grants are not purchases).
// Deleted plans are ErrPlanNotForSale.
func (s *Store) AssignPlan(ctx context.Context, adminID, userID, planID string) (Membership, error) {
	var m Membership
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		var exists bool
		if err := tx.GetContext(ctx, &exists, `SELECT EXISTS (SELECT 1 FROM users WHERE id = $1)`, userID); err != nil {
			return err
		}
		if !exists {
			return ErrNotFound
		}
		var plan Plan
		if err := tx.GetContext(ctx, &plan, planByIDSQL+` FOR SHARE`, planID); err != nil {
			return notFound(err)
		}
		if plan.DeletedAt != nil {
			return ErrPlanNotForSale
		}
		id, err := s.insertMembership(ctx, tx, userID, plan, adminID, plan.CompanyID)
		if err != nil {
			return err
		}
		m, err = s.membershipByID(ctx, tx, id)
		return err
	})
	if err != nil {
		return Membership{}, fmt.Errorf("store: assign plan %s to %s: %w", planID, userID, err)
	}
	return m, nil
}

const revokeSQL = `
UPDATE memberships SET revoked_at = COALESCE(revoked_at, $3), revoked_by = COALESCE(revoked_by, $4)
WHERE id = $1 AND user_id = $2
RETURNING id`

// RevokeMembership soft-deletes the user's membership on behalf of adminID: it stops paying for
// turns, and its history stays. Revoking twice keeps the first revocation.
func (s *Store) RevokeMembership(ctx context.Context, adminID, userID, membershipID string) (Membership, error) {
	var id string
	if err := s.get(ctx, &id, revokeSQL, membershipID, userID, s.now(), adminID); err != nil {
		if isInvalidInput(err) {
			return Membership{}, ErrNotFound
		}
		return Membership{}, fmt.Errorf("store: revoke membership %s: %w", membershipID, notFound(err))
	}
	return s.membershipByID(ctx, s.prepared(), id)
}

// Expired is a membership that ExpireMemberships marked.
type Expired struct {
	ID        string    `db:"id"`
	UserID    string    `db:"user_id"`
	ExpiresAt time.Time `db:"expires_at"`
}

const expireSQL = `
UPDATE memberships SET is_expired = true
WHERE NOT is_expired AND expires_at <= $1
RETURNING id, user_id, expires_at`

// ExpireMemberships marks every membership whose expiry is at or before now as expired and
// returns those it changed. Running it again changes nothing.
func (s *Store) ExpireMemberships(ctx context.Context, now time.Time) ([]Expired, error) {
	out := []Expired{}
	if err := s.sel(ctx, &out, expireSQL, now); err != nil {
		return nil, fmt.Errorf("store: expire memberships: %w", err)
	}
	return out, nil
}

const membershipsByUsersSQL = membershipSelect + `
WHERE m.user_id = ANY($1::uuid[])
ORDER BY m.created_at DESC, m.id`

// MembershipsByUsers returns the memberships of several users, keyed by user id.
func (s *Store) MembershipsByUsers(ctx context.Context, userIDs []string) (map[string][]Membership, error) {
	ms := []Membership{}
	if err := s.sel(ctx, &ms, membershipsByUsersSQL, pq.Array(userIDs)); err != nil {
		return nil, fmt.Errorf("store: memberships of %d users: %w", len(userIDs), err)
	}
	now := s.now()
	out := make(map[string][]Membership, len(userIDs))
	for _, m := range ms {
		m.fill(now)
		out[m.UserID] = append(out[m.UserID], m)
	}
	return out, nil
}
