package store

import (
	"context"
	"fmt"
	"time"
)

// Charge is one chat use taken from a membership. Remaining is the count left afterwards (nil:
// unlimited).
type Charge struct {
	ID           int64  `db:"id"`
	MembershipID string `db:"membership_id"`
	Remaining    *int   `db:"remaining_after"`
}

// chargeSQL takes one use in a single statement: the UPDATE only matches while the membership is
// the caller's, not expired, not revoked and has uses left (NULL is unlimited and stays NULL),
// and the ledger row is written by the same statement. Concurrent charges serialise on the row
// lock and re-check the conditions, so a membership never goes below zero.
const chargeSQL = `
WITH m AS (
    UPDATE memberships SET remaining_chat_uses = remaining_chat_uses - 1
    WHERE id = $1 AND user_id = $2 AND NOT is_expired AND expires_at > $3 AND revoked_at IS NULL
      AND (remaining_chat_uses IS NULL OR remaining_chat_uses > 0)
    RETURNING id, user_id, remaining_chat_uses
)
INSERT INTO usage_ledger (membership_id, user_id, kind, delta, remaining_after, reason)
SELECT id, user_id, 'charge', -1, remaining_chat_uses, $4 FROM m
RETURNING id, membership_id, remaining_after`

// ChargeChatUse takes one chat use from the user's membership. When it cannot, the error says
// why: ErrNotFound, ErrForbidden (someone else's), ErrMembershipRevoked, ErrMembershipExpired or
// ErrQuotaExhausted.
func (s *Store) ChargeChatUse(ctx context.Context, userID, membershipID, reason string) (Charge, error) {
	now := s.now()
	var c Charge
	err := s.get(ctx, &c, chargeSQL, membershipID, userID, now, reason)
	if err == nil {
		return c, nil
	}
	if err = notFound(err); err != ErrNotFound {
		if isInvalidInput(err) {
			err = ErrNotFound
		}
		return Charge{}, fmt.Errorf("store: charge membership %s: %w", membershipID, err)
	}
	// Nothing was charged: say why.
	m, err := s.UserMembership(ctx, userID, membershipID)
	if err == nil {
		err = m.Usable(now)
		if err == nil { // it changed between the two statements; report the state seen first
			err = ErrQuotaExhausted
		}
	}
	return Charge{}, fmt.Errorf("store: charge membership %s: %w", membershipID, err)
}

// refundSQL gives a charge's use back in a single statement. The unique refund_of index makes a
// second refund of the same charge fail the whole statement, so a use is never given back twice.
const refundSQL = `
WITH c AS (
    SELECT id, membership_id, user_id FROM usage_ledger WHERE id = $1 AND kind = 'charge'
), m AS (
    UPDATE memberships SET remaining_chat_uses = remaining_chat_uses + 1
    FROM c WHERE memberships.id = c.membership_id
    RETURNING memberships.remaining_chat_uses
)
INSERT INTO usage_ledger (membership_id, user_id, kind, delta, remaining_after, refund_of, reason)
SELECT c.membership_id, c.user_id, 'refund', 1, m.remaining_chat_uses, c.id, $2 FROM c, m
RETURNING remaining_after`

// RefundChatUse gives back the use taken by charge chargeID. A second refund of the same charge
// is ErrAlreadyRefunded; an unknown charge is ErrNotFound. It returns the remaining count.
func (s *Store) RefundChatUse(ctx context.Context, chargeID int64, reason string) (*int, error) {
	var remaining *int
	err := s.get(ctx, &remaining, refundSQL, chargeID, reason)
	if isUniqueViolation(err, "") {
		err = ErrAlreadyRefunded
	}
	if err != nil {
		return nil, fmt.Errorf("store: refund charge %d: %w", chargeID, notFound(err))
	}
	return remaining, nil
}

// LedgerEntry is one charge or refund, for the admin's usage view.
type LedgerEntry struct {
	ID             int64     `db:"id" json:"id"`
	MembershipID   string    `db:"membership_id" json:"membershipId"`
	PlanName       string    `db:"plan_name" json:"planName"`
	Kind           string    `db:"kind" json:"kind"`
	Delta          int       `db:"delta" json:"delta"`
	RemainingAfter *int      `db:"remaining_after" json:"remainingAfter"`
	RefundOf       *int64    `db:"refund_of" json:"refundOf,omitempty"`
	Reason         string    `db:"reason" json:"reason"`
	CreatedAt      time.Time `db:"created_at" json:"createdAt"`
}

const ledgerByUserSQL = `
SELECT l.id, l.membership_id, p.name AS plan_name, l.kind, l.delta, l.remaining_after, l.refund_of,
       l.reason, l.created_at
FROM usage_ledger l
JOIN memberships m ON m.id = l.membership_id
JOIN membership_plans p ON p.id = m.plan_id
WHERE l.user_id = $1
ORDER BY l.id DESC
LIMIT $2`

// LedgerByUser returns the user's latest charges and refunds, newest first.
func (s *Store) LedgerByUser(ctx context.Context, userID string, limit int) ([]LedgerEntry, error) {
	out := []LedgerEntry{}
	if err := s.sel(ctx, &out, ledgerByUserSQL, userID, limit); err != nil {
		return nil, fmt.Errorf("store: ledger of %s: %w", userID, err)
	}
	return out, nil
}

const ledgerByMembershipSQL = `
SELECT l.id, l.membership_id, '' AS plan_name, l.kind, l.delta, l.remaining_after, l.refund_of,
       l.reason, l.created_at
FROM usage_ledger l WHERE l.membership_id = $1 ORDER BY l.id`

// LedgerByMembership returns every charge and refund of a membership, oldest first.
func (s *Store) LedgerByMembership(ctx context.Context, membershipID string) ([]LedgerEntry, error) {
	out := []LedgerEntry{}
	if err := s.sel(ctx, &out, ledgerByMembershipSQL, membershipID); err != nil {
		return nil, fmt.Errorf("store: ledger of membership %s: %w", membershipID, err)
	}
	return out, nil
}

// UsageSummary counts a user's chat uses.
type UsageSummary struct {
	Charges int `db:"charges" json:"charges"`
	Refunds int `db:"refunds" json:"refunds"`
	Net     int `db:"net" json:"net"`
}

const usageSummarySQL = `
SELECT count(*) FILTER (WHERE kind = 'charge') AS charges,
       count(*) FILTER (WHERE kind = 'refund') AS refunds,
       COALESCE(-sum(delta), 0) AS net
FROM usage_ledger WHERE user_id = $1`

// UsageSummaryByUser totals the user's ledger.
func (s *Store) UsageSummaryByUser(ctx context.Context, userID string) (UsageSummary, error) {
	var u UsageSummary
	if err := s.get(ctx, &u, usageSummarySQL, userID); err != nil {
		return UsageSummary{}, fmt.Errorf("store: usage of %s: %w", userID, err)
	}
	return u, nil
}
