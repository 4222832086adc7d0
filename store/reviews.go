package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
)

// JSONB is a jsonb column that may be NULL (nil).
type JSONB []byte

// Value writes the JSON (NULL for nil).
func (j JSONB) Value() (driver.Value, error) {
	if j == nil {
		return nil, nil
	}
	return []byte(j), nil
}

// Scan reads the JSON (nil for NULL).
func (j *JSONB) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*j = nil
	case []byte:
		*j = append((*j)[:0], v...)
	case string:
		*j = JSONB(v)
	default:
		return fmt.Errorf("store: jsonb from %T", src)
	}
	return nil
}

// MarshalJSON writes the JSON as it is (null for nil).
func (j JSONB) MarshalJSON() ([]byte, error) {
	if j == nil {
		return []byte("null"), nil
	}
	return j, nil
}

// Review is a review of a conversation as it was up to message UptoMessageID. Body and Fluency
// are JSON the session package writes and reads.
type Review struct {
	ID             string     `db:"id" json:"id"`
	ConversationID string     `db:"conversation_id" json:"conversationId"`
	UserID         string     `db:"user_id" json:"-"`
	MembershipID   string     `db:"membership_id" json:"membershipId"`
	UptoMessageID  int64      `db:"upto_message_id" json:"-"`
	ChargeID       *int64     `db:"charge_id" json:"-"`
	Status         string     `db:"status" json:"-"`
	CEFR           *string    `db:"cefr" json:"cefr"`
	Body           JSONB      `db:"body" json:"-"`
	Fluency        JSONB      `db:"fluency" json:"-"`
	Engine         string     `db:"engine" json:"engine"`
	CreatedAt      time.Time  `db:"created_at" json:"createdAt"`
	CompletedAt    *time.Time `db:"completed_at" json:"completedAt"`
}

// Review statuses.
const (
	ReviewPending = "pending"
	ReviewDone    = "done"
)

const reviewColumns = `id, conversation_id, user_id, membership_id, upto_message_id, charge_id, status,
       cefr, body, fluency, engine, created_at, completed_at`

const reviewByStateSQL = `SELECT ` + reviewColumns + ` FROM reviews WHERE conversation_id = $1 AND upto_message_id = $2`

const claimReviewSQL = `
INSERT INTO reviews (conversation_id, user_id, membership_id, upto_message_id, charge_id)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (conversation_id, upto_message_id) DO NOTHING
RETURNING ` + reviewColumns

// ClaimReview starts the review of a conversation as it is up to message upto: in one
// transaction it takes one analysis use from membershipID and records a pending review, so that
// a conversation state is charged once. When a review of that state exists it is returned with
// claimed false and nothing is charged (ErrReviewPending when it is still being written).
// Refusals of the charge are ErrAnalysisExhausted, ErrMembershipExpired, ...
func (s *Store) ClaimReview(ctx context.Context, userID, membershipID, conversationID string, upto int64) (r Review, claimed bool, err error) {
	err = s.inTx(ctx, func(tx *sqlx.Tx) error {
		// One claim at a time per conversation: the others wait here, then find its row.
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('aitutor.review:' || $1, 0))`, conversationID); err != nil {
			return err
		}
		err := tx.GetContext(ctx, &r, reviewByStateSQL, conversationID, upto)
		if err == nil {
			if r.Status == ReviewPending {
				return ErrReviewPending
			}
			return nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		c, err := s.chargeAnalysis(ctx, tx, userID, membershipID, "review")
		if err != nil {
			return err
		}
		if err := tx.GetContext(ctx, &r, claimReviewSQL, conversationID, userID, membershipID, upto, c.ID); err != nil {
			return err
		}
		claimed = true
		return nil
	})
	if err != nil {
		return Review{}, false, fmt.Errorf("store: claim review of %s: %w", conversationID, err)
	}
	return r, claimed, nil
}

const completeReviewSQL = `
UPDATE reviews SET status = 'done', cefr = $2, body = $3, fluency = $4, engine = $5, completed_at = $6
WHERE id = $1 AND status = 'pending'
RETURNING ` + reviewColumns

// CompleteReview stores a claimed review's content and settles its analysis use as answered, in
// one transaction.
func (s *Store) CompleteReview(ctx context.Context, id, cefr string, body, fluency json.RawMessage, engine string) (Review, error) {
	b, f := JSONB(body), JSONB(fluency)
	var r Review
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		if err := tx.GetContext(ctx, &r, completeReviewSQL, id, cefr, b, f, engine, s.now()); err != nil {
			return notFound(err)
		}
		if r.ChargeID != nil {
			return s.settleAnswered(ctx, tx, *r.ChargeID)
		}
		return nil
	})
	if err != nil {
		return Review{}, fmt.Errorf("store: complete review %s: %w", id, err)
	}
	return r, nil
}

// AbandonReview removes a claimed review that could not be written and refunds its analysis
// use, in one transaction.
func (s *Store) AbandonReview(ctx context.Context, id, reason string) error {
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		var chargeID *int64
		if err := tx.GetContext(ctx, &chargeID, `DELETE FROM reviews WHERE id = $1 AND status = 'pending' RETURNING charge_id`, id); err != nil {
			return notFound(err)
		}
		if chargeID == nil {
			return nil
		}
		var remaining *int
		err := tx.GetContext(ctx, &remaining, refundSQL, *chargeID, reason, s.now())
		if errors.Is(err, sql.ErrNoRows) {
			return nil // refunded by the reconciler already
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("store: abandon review %s: %w", id, err)
	}
	return nil
}

const latestReviewSQL = `SELECT ` + reviewColumns + ` FROM reviews
WHERE conversation_id = $1 AND status = 'done' ORDER BY upto_message_id DESC LIMIT 1`

// LatestReview returns the newest finished review of a conversation, or ErrNotFound.
func (s *Store) LatestReview(ctx context.Context, conversationID string) (Review, error) {
	var r Review
	if err := s.get(ctx, &r, latestReviewSQL, conversationID); err != nil {
		return Review{}, fmt.Errorf("store: review of %s: %w", conversationID, notFound(err))
	}
	return r, nil
}

const reviewsByUserSQL = `SELECT ` + reviewColumns + ` FROM reviews
WHERE user_id = $1 AND status = 'done' ORDER BY completed_at DESC LIMIT $2`

// ReviewsByUser returns the user's finished reviews, newest first.
func (s *Store) ReviewsByUser(ctx context.Context, userID string, limit int) ([]Review, error) {
	out := []Review{}
	if err := s.sel(ctx, &out, reviewsByUserSQL, userID, limit); err != nil {
		return nil, fmt.Errorf("store: reviews of %s: %w", userID, err)
	}
	return out, nil
}

const staleReviewsSQL = `DELETE FROM reviews WHERE status = 'pending' AND created_at < $1 RETURNING id`

// DeleteStaleReviews removes pending reviews claimed before before (their writer crashed; the
// reconciler refunds their charges).
func (s *Store) DeleteStaleReviews(ctx context.Context, before time.Time) (int, error) {
	var ids []string
	if err := s.db.SelectContext(ctx, &ids, staleReviewsSQL, before); err != nil {
		return 0, fmt.Errorf("store: stale reviews: %w", err)
	}
	return len(ids), nil
}

// Profile is what the tutor remembers of a learner across conversations: their level, their
// recurring mistakes, the topics they talked about and their goals (JSON the session package
// writes), fed by their reviews.
type Profile struct {
	UserID    string    `db:"user_id" json:"-"`
	Level     string    `db:"level" json:"level"`
	Mistakes  JSONB     `db:"mistakes" json:"mistakes"`
	Topics    JSONB     `db:"topics" json:"topics"`
	Goals     JSONB     `db:"goals" json:"goals"`
	Reviews   int       `db:"reviews" json:"reviews"`
	UpdatedAt time.Time `db:"updated_at" json:"updatedAt"`
}

const profileSQL = `SELECT user_id, level, mistakes, topics, goals, reviews, updated_at FROM learner_profiles WHERE user_id = $1`

// LearnerProfile returns the user's profile, or ErrNotFound.
func (s *Store) LearnerProfile(ctx context.Context, userID string) (Profile, error) {
	var p Profile
	if err := s.get(ctx, &p, profileSQL, userID); err != nil {
		return Profile{}, fmt.Errorf("store: profile of %s: %w", userID, notFound(err))
	}
	return p, nil
}

const saveProfileSQL = `
INSERT INTO learner_profiles (user_id, level, mistakes, topics, goals, reviews, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (user_id) DO UPDATE SET level = $2, mistakes = $3, topics = $4, goals = $5, reviews = $6, updated_at = $7`

// SaveLearnerProfile writes the user's profile.
func (s *Store) SaveLearnerProfile(ctx context.Context, p Profile) error {
	if _, err := s.db.ExecContext(ctx, saveProfileSQL, p.UserID, p.Level, p.Mistakes, p.Topics, p.Goals, p.Reviews, s.now()); err != nil {
		return fmt.Errorf("store: save profile of %s: %w", p.UserID, err)
	}
	return nil
}

// DeleteLearnerProfile forgets the user's profile (reviews stay).
func (s *Store) DeleteLearnerProfile(ctx context.Context, userID string) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM learner_profiles WHERE user_id = $1`, userID); err != nil {
		return fmt.Errorf("store: delete profile of %s: %w", userID, err)
	}
	return nil
}

// ReviewByState returns the review of a conversation up to message upto, or ErrNotFound.
func (s *Store) ReviewByState(ctx context.Context, conversationID string, upto int64) (Review, error) {
	var r Review
	if err := s.get(ctx, &r, reviewByStateSQL, conversationID, upto); err != nil {
		return Review{}, fmt.Errorf("store: review of %s: %w", conversationID, notFound(err))
	}
	return r, nil
}
