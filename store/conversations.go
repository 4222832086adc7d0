package store

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"time"
)

// Conversation is one tutoring conversation: the turns of one or more WebSocket sessions (a
// learner who reconnects continues it), or a learner's upload-and-wait turns. It is paid by one
// membership.
type Conversation struct {
	ID           string    `db:"id" json:"id"`
	UserID       string    `db:"user_id" json:"userId"`
	MembershipID string    `db:"membership_id" json:"membershipId"`
	Channel      string    `db:"channel" json:"channel"`
	Level        string    `db:"level" json:"level"`
	Topic        string    `db:"topic" json:"topic"`
	CreatedAt    time.Time `db:"created_at" json:"createdAt"`
	UpdatedAt    time.Time `db:"updated_at" json:"updatedAt"`
}

const conversationColumns = `id, user_id, membership_id, channel, level, topic, created_at, updated_at`

const createConversationSQL = `
INSERT INTO conversations (user_id, membership_id, channel, level, topic)
VALUES ($1, $2, $3, $4, $5)
RETURNING ` + conversationColumns

// CreateConversation starts a conversation; channel is "ws" or "rest".
func (s *Store) CreateConversation(ctx context.Context, userID, membershipID, channel, level, topic string) (Conversation, error) {
	var c Conversation
	if err := s.get(ctx, &c, createConversationSQL, userID, membershipID, channel, level, topic); err != nil {
		return Conversation{}, fmt.Errorf("store: create conversation: %w", err)
	}
	return c, nil
}

const conversationByIDSQL = `SELECT ` + conversationColumns + ` FROM conversations WHERE id = $1`

// ConversationByID returns the conversation or ErrNotFound.
func (s *Store) ConversationByID(ctx context.Context, id string) (Conversation, error) {
	var c Conversation
	if err := s.get(ctx, &c, conversationByIDSQL, id); err != nil {
		if isInvalidInput(err) {
			return Conversation{}, ErrNotFound
		}
		return Conversation{}, notFound(err)
	}
	return c, nil
}

// UserConversation returns the user's conversation; someone else's is ErrNotFound too, so that
// ids of other learners' conversations cannot be probed.
func (s *Store) UserConversation(ctx context.Context, userID, id string) (Conversation, error) {
	c, err := s.ConversationByID(ctx, id)
	if err != nil {
		return Conversation{}, fmt.Errorf("store: conversation %s: %w", id, err)
	}
	if c.UserID != userID {
		return Conversation{}, fmt.Errorf("store: conversation %s: %w", id, ErrNotFound)
	}
	return c, nil
}

// ConversationSummary is a conversation in a learner's list: its plan, how many turns it has and
// the learner's first words.
type ConversationSummary struct {
	Conversation
	PlanName string `db:"plan_name" json:"planName"`
	Turns    int    `db:"turns" json:"turns"`
	Preview  string `db:"preview" json:"preview"`
}

// conversationsByUserSQL lists conversations with at least one turn, most recently active first,
// after the cursor ($2, $3).
const conversationsByUserSQL = `
SELECT c.id, c.user_id, c.membership_id, c.channel, c.level, c.topic, c.created_at, c.updated_at,
       p.name AS plan_name, t.turns, t.preview
FROM conversations c
JOIN memberships ms ON ms.id = c.membership_id
JOIN membership_plans p ON p.id = ms.plan_id
CROSS JOIN LATERAL (
    SELECT count(*) AS turns,
           COALESCE((SELECT left(m1.user_text, 160) FROM messages m1
                     WHERE m1.conversation_id = c.id ORDER BY m1.id LIMIT 1), '') AS preview
    FROM messages m WHERE m.conversation_id = c.id
) t
WHERE c.user_id = $1 AND t.turns > 0 AND (c.updated_at, c.id) < ($2, $3::uuid)
ORDER BY c.updated_at DESC, c.id DESC
LIMIT $4`

// ConversationPage is one page of a learner's conversations; Next is the cursor of the next page
// ("" on the last one).
type ConversationPage struct {
	Conversations []ConversationSummary `json:"conversations"`
	Next          string                `json:"nextCursor"`
}

// ConversationsByUser returns a page of the user's conversations that have turns, the most
// recently active first. cursor is "" for the first page, then the Next of the previous page.
func (s *Store) ConversationsByUser(ctx context.Context, userID string, limit int, cursor string) (ConversationPage, error) {
	before, beforeID := time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC), "ffffffff-ffff-ffff-ffff-ffffffffffff"
	if cursor != "" {
		var err error
		if before, beforeID, err = decodeCursor(cursor); err != nil {
			return ConversationPage{}, err
		}
	}
	page := ConversationPage{Conversations: []ConversationSummary{}}
	if err := s.sel(ctx, &page.Conversations, conversationsByUserSQL, userID, before, beforeID, limit+1); err != nil {
		if isInvalidInput(err) {
			return ConversationPage{}, ErrBadCursor
		}
		return ConversationPage{}, fmt.Errorf("store: conversations of %s: %w", userID, err)
	}
	if len(page.Conversations) > limit {
		page.Conversations = page.Conversations[:limit]
		last := page.Conversations[limit-1]
		page.Next = encodeCursor(last.UpdatedAt, last.ID)
	}
	return page, nil
}

func encodeCursor(t time.Time, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(t.UTC().Format(time.RFC3339Nano) + "|" + id))
}

func decodeCursor(c string) (time.Time, string, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return time.Time{}, "", ErrBadCursor
	}
	ts, id, ok := strings.Cut(string(b), "|")
	t, err := time.Parse(time.RFC3339Nano, ts)
	if !ok || err != nil || len(id) != 36 {
		return time.Time{}, "", ErrBadCursor
	}
	return t, id, nil
}
