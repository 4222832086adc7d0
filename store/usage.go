package store

import (
	"context"
	"database/sql"
	"errors"
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

// chargeAnalysisSQL takes one analysis use (a conversation review) by the same rules.
const chargeAnalysisSQL = `
WITH m AS (
    UPDATE memberships SET remaining_analysis_uses = remaining_analysis_uses - 1
    WHERE id = $1 AND user_id = $2 AND NOT is_expired AND expires_at > $3 AND revoked_at IS NULL
      AND (remaining_analysis_uses IS NULL OR remaining_analysis_uses > 0)
    RETURNING id, user_id, remaining_analysis_uses
)
INSERT INTO usage_ledger (membership_id, user_id, kind, delta, remaining_after, reason, resource)
SELECT id, user_id, 'charge', -1, remaining_analysis_uses, $4, 'analysis' FROM m
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

// Outcomes of a settled charge.
const (
	OutcomeAnswered = "answered" // the learner got the answer: the use stays spent
	OutcomeRefunded = "refunded" // the use was given back
)

// refundSQL settles an unsettled charge as refunded and gives its use back (a chat or an
// analysis use, whichever it took), in one statement. The charge's row is updated only while it
// is unsettled, so a charge that was answered can never be refunded, and the unique refund_of
// index backs the rule that a use is given back once.
const refundSQL = `
WITH c AS (
    UPDATE usage_ledger SET settled_at = $3, outcome = 'refunded'
    WHERE id = $1 AND kind = 'charge' AND settled_at IS NULL
    RETURNING id, membership_id, user_id, resource
), m AS (
    UPDATE memberships SET
        remaining_chat_uses = CASE WHEN c.resource = 'chat' THEN remaining_chat_uses + 1 ELSE remaining_chat_uses END,
        remaining_analysis_uses = CASE WHEN c.resource = 'analysis' THEN remaining_analysis_uses + 1 ELSE remaining_analysis_uses END
    FROM c WHERE memberships.id = c.membership_id
    RETURNING CASE WHEN c.resource = 'chat' THEN memberships.remaining_chat_uses ELSE memberships.remaining_analysis_uses END AS remaining
)
INSERT INTO usage_ledger (membership_id, user_id, kind, delta, remaining_after, refund_of, reason, resource)
SELECT c.membership_id, c.user_id, 'refund', 1, m.remaining, c.id, $2, c.resource FROM c, m
RETURNING remaining_after`

// ChargeAnalysisUse takes one analysis use from the user's membership (a conversation review).
// When it cannot, the error says why: ErrNotFound, ErrForbidden, ErrMembershipRevoked,
// ErrMembershipExpired or ErrAnalysisExhausted.
func (s *Store) ChargeAnalysisUse(ctx context.Context, userID, membershipID, reason string) (Charge, error) {
	c, err := s.chargeAnalysis(ctx, s.prepared(), userID, membershipID, reason)
	if err != nil {
		return Charge{}, fmt.Errorf("store: charge analysis of membership %s: %w", membershipID, err)
	}
	return c, nil
}

func (s *Store) chargeAnalysis(ctx context.Context, q getter, userID, membershipID, reason string) (Charge, error) {
	now := s.now()
	var c Charge
	err := q.GetContext(ctx, &c, chargeAnalysisSQL, membershipID, userID, now, reason)
	if err == nil {
		return c, nil
	}
	if err = notFound(err); err != ErrNotFound {
		if isInvalidInput(err) {
			err = ErrNotFound
		}
		return Charge{}, err
	}
	m, err := s.membershipByID(ctx, q, membershipID)
	switch {
	case err != nil:
		return Charge{}, err
	case m.UserID != userID:
		return Charge{}, ErrForbidden
	}
	if err := m.Usable(now); err != nil && err != ErrQuotaExhausted {
		return Charge{}, err
	}
	return Charge{}, ErrAnalysisExhausted
}

// RefundChatUse settles charge chargeID as refunded and gives its use back; it returns the
// remaining count. A charge already refunded is ErrAlreadyRefunded, one already answered
// ErrAlreadySettled, an unknown one ErrNotFound.
func (s *Store) RefundChatUse(ctx context.Context, chargeID int64, reason string) (*int, error) {
	var remaining *int
	err := s.get(ctx, &remaining, refundSQL, chargeID, reason, s.now())
	if isUniqueViolation(err, "") {
		err = ErrAlreadyRefunded
	}
	if errors.Is(err, sql.ErrNoRows) {
		err = s.settledAs(ctx, s.prepared(), chargeID)
	}
	if err != nil {
		return nil, fmt.Errorf("store: refund charge %d: %w", chargeID, err)
	}
	return remaining, nil
}

const settleAnsweredSQL = `
UPDATE usage_ledger SET settled_at = $2, outcome = 'answered'
WHERE id = $1 AND kind = 'charge' AND settled_at IS NULL
RETURNING id`

// SettleAnswered settles charge chargeID as answered: the learner got the answer and the use
// stays spent. Settling it so twice is not an error; a refunded charge is ErrAlreadyRefunded.
func (s *Store) SettleAnswered(ctx context.Context, chargeID int64) error {
	err := s.settleAnswered(ctx, s.prepared(), chargeID)
	if err != nil {
		return fmt.Errorf("store: settle charge %d: %w", chargeID, err)
	}
	return nil
}

func (s *Store) settleAnswered(ctx context.Context, q getter, chargeID int64) error {
	var id int64
	err := q.GetContext(ctx, &id, settleAnsweredSQL, chargeID, s.now())
	if errors.Is(err, sql.ErrNoRows) {
		if err = s.settledAs(ctx, q, chargeID); errors.Is(err, ErrAlreadySettled) {
			return nil // answered before: settling is idempotent
		}
	}
	return err
}

const chargeOutcomeSQL = `SELECT COALESCE(outcome, '') FROM usage_ledger WHERE id = $1 AND kind = 'charge'`

// settledAs explains why a charge could not be settled: ErrNotFound, ErrAlreadyRefunded or
// ErrAlreadySettled (answered).
func (s *Store) settledAs(ctx context.Context, q getter, chargeID int64) error {
	var outcome string
	if err := q.GetContext(ctx, &outcome, chargeOutcomeSQL, chargeID); err != nil {
		return notFound(err)
	}
	switch outcome {
	case OutcomeRefunded:
		return ErrAlreadyRefunded
	case OutcomeAnswered:
		return ErrAlreadySettled
	}
	return fmt.Errorf("charge %d is unsettled but could not be settled", chargeID)
}

// Unsettled is a charge that no answer and no refund settled yet.
type Unsettled struct {
	ID           int64     `db:"id"`
	MembershipID string    `db:"membership_id"`
	Resource     string    `db:"resource"`
	CreatedAt    time.Time `db:"created_at"`
}

const unsettledSQL = `
SELECT id, membership_id, resource, created_at FROM usage_ledger
WHERE kind = 'charge' AND settled_at IS NULL AND created_at < $1
ORDER BY created_at LIMIT $2`

// UnsettledCharges returns up to limit charges made before before that are still unsettled,
// oldest first.
func (s *Store) UnsettledCharges(ctx context.Context, before time.Time, limit int) ([]Unsettled, error) {
	out := []Unsettled{}
	if err := s.sel(ctx, &out, unsettledSQL, before, limit); err != nil {
		return nil, fmt.Errorf("store: unsettled charges: %w", err)
	}
	return out, nil
}

// LedgerEntry is one charge or refund, for the usage history of learners and admins. UserText
// and ConversationID come from the turn the charge paid for (empty when no turn was recorded:
// nothing was heard, or the charge was refused before the tutor answered).
type LedgerEntry struct {
	ID             int64      `db:"id" json:"id"`
	MembershipID   string     `db:"membership_id" json:"membershipId"`
	PlanName       string     `db:"plan_name" json:"planName"`
	Kind           string     `db:"kind" json:"kind"`
	Resource       string     `db:"resource" json:"resource"` // chat or analysis
	Delta          int        `db:"delta" json:"delta"`
	RemainingAfter *int       `db:"remaining_after" json:"remainingAfter"`
	RefundOf       *int64     `db:"refund_of" json:"refundOf,omitempty"`
	Reason         string     `db:"reason" json:"reason"`
	Outcome        *string    `db:"outcome" json:"outcome,omitempty"`
	SettledAt      *time.Time `db:"settled_at" json:"settledAt,omitempty"`
	UserText       string     `db:"user_text" json:"userText,omitempty"`
	TurnStatus     string     `db:"turn_status" json:"turnStatus,omitempty"`
	ConversationID *string    `db:"conversation_id" json:"conversationId,omitempty"`
	CreatedAt      time.Time  `db:"created_at" json:"createdAt"`
}

// ledgerColumns joins each row with the turn its charge paid for.
const ledgerColumns = `
SELECT l.id, l.membership_id, p.name AS plan_name, l.kind, l.resource, l.delta, l.remaining_after, l.refund_of,
       l.reason, l.outcome, l.settled_at, COALESCE(t.user_text, '') AS user_text,
       COALESCE(t.status, '') AS turn_status, t.conversation_id, l.created_at
FROM usage_ledger l
JOIN memberships m ON m.id = l.membership_id
JOIN membership_plans p ON p.id = m.plan_id
LEFT JOIN LATERAL (
    SELECT msg.user_text, msg.status, msg.conversation_id FROM messages msg
    WHERE msg.charge_id = COALESCE(l.refund_of, l.id) LIMIT 1
) t ON true`

const ledgerByUserSQL = ledgerColumns + `
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

const ledgerByMembershipSQL = ledgerColumns + ` WHERE l.membership_id = $1 ORDER BY l.id`

// LedgerByMembership returns every charge and refund of a membership, oldest first.
func (s *Store) LedgerByMembership(ctx context.Context, membershipID string) ([]LedgerEntry, error) {
	out := []LedgerEntry{}
	if err := s.sel(ctx, &out, ledgerByMembershipSQL, membershipID); err != nil {
		return nil, fmt.Errorf("store: ledger of membership %s: %w", membershipID, err)
	}
	return out, nil
}

// UsageSummary counts a user's chat uses.
// The chat use counts: Net is charges minus refunds; Answered counts the charges settled by an
// answer and Pending those not settled yet (a turn in progress). Analysis* count the analysis
// uses (reviews) the same way.
type UsageSummary struct {
	Charges         int `db:"charges" json:"charges"`
	Refunds         int `db:"refunds" json:"refunds"`
	Net             int `db:"net" json:"net"`
	Answered        int `db:"answered" json:"answered"`
	Pending         int `db:"pending" json:"pending"`
	AnalysisCharges int `db:"analysis_charges" json:"analysisCharges"`
	AnalysisRefunds int `db:"analysis_refunds" json:"analysisRefunds"`
	AnalysisNet     int `db:"analysis_net" json:"analysisNet"`
}

const usageSummarySQL = `
SELECT count(*) FILTER (WHERE resource = 'chat' AND kind = 'charge') AS charges,
       count(*) FILTER (WHERE resource = 'chat' AND kind = 'refund') AS refunds,
       COALESCE(-sum(delta) FILTER (WHERE resource = 'chat'), 0) AS net,
       count(*) FILTER (WHERE resource = 'chat' AND kind = 'charge' AND outcome = 'answered') AS answered,
       count(*) FILTER (WHERE resource = 'chat' AND kind = 'charge' AND settled_at IS NULL) AS pending,
       count(*) FILTER (WHERE resource = 'analysis' AND kind = 'charge') AS analysis_charges,
       count(*) FILTER (WHERE resource = 'analysis' AND kind = 'refund') AS analysis_refunds,
       COALESCE(-sum(delta) FILTER (WHERE resource = 'analysis'), 0) AS analysis_net
FROM usage_ledger WHERE user_id = $1`

// UsageSummaryByUser totals the user's ledger.
func (s *Store) UsageSummaryByUser(ctx context.Context, userID string) (UsageSummary, error) {
	var u UsageSummary
	if err := s.get(ctx, &u, usageSummarySQL, userID); err != nil {
		return UsageSummary{}, fmt.Errorf("store: usage of %s: %w", userID, err)
	}
	return u, nil
}
