package session

import (
	"context"
	"time"

	"github.com/aitutor/aitutor/store"
)

// Storage is what sessions and REST turns need of the database. *store.Store implements it;
// the session tests use an in-memory fake with the same rules.
type Storage interface {
	Ledger
	Conversations
	ReviewStore
	// UserMembership returns the user's membership (store.ErrNotFound, store.ErrForbidden).
	UserMembership(ctx context.Context, userID, membershipID string) (store.Membership, error)
	// SaveAudioAs stores a clip under id (a random UUID made by the caller).
	SaveAudioAs(ctx context.Context, id, userID, mime string, data []byte) (string, error)
	// Now is the database's clock of membership expiry.
	Now() time.Time
}

// Ledger charges chat uses and settles them: every charge ends answered or refunded.
type Ledger interface {
	// ChargeChatUse takes one use, or says why it cannot (store.ErrQuotaExhausted, ...).
	ChargeChatUse(ctx context.Context, userID, membershipID, reason string) (store.Charge, error)
	// RefundChatUse settles an unsettled charge as refunded and returns the remaining uses.
	RefundChatUse(ctx context.Context, chargeID int64, reason string) (*int, error)
	// RecordTurn stores a finished turn and settles its charge in one transaction.
	RecordTurn(ctx context.Context, rec store.TurnRecord) (store.Settlement, error)
}

// Conversations stores conversations and their turns.
type Conversations interface {
	CreateConversation(ctx context.Context, userID, membershipID, channel, level, topic string) (store.Conversation, error)
	// UserConversation returns the user's conversation; another user's is store.ErrNotFound.
	UserConversation(ctx context.Context, userID, id string) (store.Conversation, error)
	// RecentMessages returns the last limit turns of a conversation, in order.
	RecentMessages(ctx context.Context, conversationID string, limit int) ([]store.Message, error)
	TruncateMessage(ctx context.Context, conversationID, turnID, tutorText string) error
	SetTurnAudio(ctx context.Context, conversationID, turnID string, userAudioID, tutorAudioID *string) error
}
