package store

import (
	"context"
	"fmt"
	"time"
)

// Conversation is one tutoring session (a WebSocket session, or a learner's upload-and-wait
// turns).
type Conversation struct {
	ID           string    `db:"id" json:"id"`
	UserID       string    `db:"user_id" json:"userId"`
	MembershipID string    `db:"membership_id" json:"membershipId"`
	Channel      string    `db:"channel" json:"channel"`
	Level        string    `db:"level" json:"level"`
	Topic        string    `db:"topic" json:"topic"`
	CreatedAt    time.Time `db:"created_at" json:"createdAt"`
}

const createConversationSQL = `
INSERT INTO conversations (user_id, membership_id, channel, level, topic)
VALUES ($1, $2, $3, $4, $5)
RETURNING id, user_id, membership_id, channel, level, topic, created_at`

// CreateConversation starts a conversation; channel is "ws" or "rest".
func (s *Store) CreateConversation(ctx context.Context, userID, membershipID, channel, level, topic string) (Conversation, error) {
	var c Conversation
	if err := s.get(ctx, &c, createConversationSQL, userID, membershipID, channel, level, topic); err != nil {
		return Conversation{}, fmt.Errorf("store: create conversation: %w", err)
	}
	return c, nil
}

// Message is one turn of a conversation. Latencies are milliseconds; nil when the stage did not
// run.
type Message struct {
	ID               int64     `db:"id" json:"id"`
	ConversationID   string    `db:"conversation_id" json:"conversationId"`
	TurnID           string    `db:"turn_id" json:"turnId"`
	UserText         string    `db:"user_text" json:"userText"`
	TutorText        string    `db:"tutor_text" json:"tutorText"`
	Status           string    `db:"status" json:"status"`
	UserAudioID      *string   `db:"user_audio_id" json:"userAudioId"`
	TutorAudioID     *string   `db:"tutor_audio_id" json:"tutorAudioId"`
	ChargeID         *int64    `db:"charge_id" json:"-"`
	EndpointMs       *float64  `db:"endpoint_ms" json:"endpointMs"`
	STTMs            *float64  `db:"stt_ms" json:"sttMs"`
	ChatFirstTokenMs *float64  `db:"chat_first_token_ms" json:"chatFirstTokenMs"`
	FirstSentenceMs  *float64  `db:"first_sentence_ms" json:"firstSentenceMs"`
	TTSFirstByteMs   *float64  `db:"tts_first_byte_ms" json:"ttsFirstByteMs"`
	FirstAudioMs     *float64  `db:"first_audio_ms" json:"firstAudioMs"`
	TotalMs          *float64  `db:"total_ms" json:"totalMs"`
	CreatedAt        time.Time `db:"created_at" json:"createdAt"`
}

// Message statuses.
const (
	TurnDone      = "done"
	TurnCancelled = "cancelled"
	TurnFailed    = "failed"
)

const addMessageSQL = `
INSERT INTO messages (conversation_id, turn_id, user_text, tutor_text, status, user_audio_id,
                      tutor_audio_id, charge_id, endpoint_ms, stt_ms, chat_first_token_ms,
                      first_sentence_ms, tts_first_byte_ms, first_audio_ms, total_ms)
VALUES (:conversation_id, :turn_id, :user_text, :tutor_text, :status, :user_audio_id,
        :tutor_audio_id, :charge_id, :endpoint_ms, :stt_ms, :chat_first_token_ms,
        :first_sentence_ms, :tts_first_byte_ms, :first_audio_ms, :total_ms)
RETURNING id, created_at`

// AddMessage stores a turn and fills in its id and creation time.
func (s *Store) AddMessage(ctx context.Context, m *Message) error {
	rows, err := s.db.NamedQueryContext(ctx, addMessageSQL, m)
	if err != nil {
		return fmt.Errorf("store: add message: %w", err)
	}
	defer rows.Close()
	if rows.Next() {
		if err := rows.Scan(&m.ID, &m.CreatedAt); err != nil {
			return fmt.Errorf("store: add message: %w", err)
		}
	}
	return rows.Err()
}

const truncateMessageSQL = `
UPDATE messages SET tutor_text = $3
WHERE conversation_id = $1 AND turn_id = $2`

// TruncateMessage replaces the tutor text of a turn with what the learner actually heard.
func (s *Store) TruncateMessage(ctx context.Context, conversationID, turnID, tutorText string) error {
	res, err := s.db.ExecContext(ctx, truncateMessageSQL, conversationID, turnID, tutorText)
	if err != nil {
		return fmt.Errorf("store: truncate turn %s: %w", turnID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("store: truncate turn %s: %w", turnID, ErrNotFound)
	}
	return nil
}

const messagesSQL = `
SELECT id, conversation_id, turn_id, user_text, tutor_text, status, user_audio_id, tutor_audio_id,
       charge_id, endpoint_ms, stt_ms, chat_first_token_ms, first_sentence_ms, tts_first_byte_ms,
       first_audio_ms, total_ms, created_at
FROM messages WHERE conversation_id = $1 ORDER BY id`

// Messages returns a conversation's turns in order.
func (s *Store) Messages(ctx context.Context, conversationID string) ([]Message, error) {
	out := []Message{}
	if err := s.sel(ctx, &out, messagesSQL, conversationID); err != nil {
		return nil, fmt.Errorf("store: messages of %s: %w", conversationID, err)
	}
	return out, nil
}

// DayMetrics summarises one day of turns for the admin dashboard.
type DayMetrics struct {
	Day             time.Time `db:"day" json:"day"`
	Turns           int       `db:"turns" json:"turns"`
	Cancelled       int       `db:"cancelled" json:"cancelled"`
	Failed          int       `db:"failed" json:"failed"`
	FirstAudioP50   *float64  `db:"first_audio_p50" json:"firstAudioP50"`
	FirstAudioP95   *float64  `db:"first_audio_p95" json:"firstAudioP95"`
	AvgSTTMs        *float64  `db:"avg_stt_ms" json:"avgSttMs"`
	AvgFirstToken   *float64  `db:"avg_first_token_ms" json:"avgChatFirstTokenMs"`
	AvgTTSFirstByte *float64  `db:"avg_tts_first_byte_ms" json:"avgTtsFirstByteMs"`
}

const turnMetricsSQL = `
SELECT date_trunc('day', created_at AT TIME ZONE 'UTC') AS day,
       count(*) AS turns,
       count(*) FILTER (WHERE status = 'cancelled') AS cancelled,
       count(*) FILTER (WHERE status = 'failed') AS failed,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY first_audio_ms) AS first_audio_p50,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY first_audio_ms) AS first_audio_p95,
       avg(stt_ms) AS avg_stt_ms,
       avg(chat_first_token_ms) AS avg_first_token_ms,
       avg(tts_first_byte_ms) AS avg_tts_first_byte_ms
FROM messages
WHERE created_at >= $1
GROUP BY 1 ORDER BY 1`

// TurnMetrics returns per-day turn counts and first-audio percentiles since since.
func (s *Store) TurnMetrics(ctx context.Context, since time.Time) ([]DayMetrics, error) {
	out := []DayMetrics{}
	if err := s.sel(ctx, &out, turnMetricsSQL, since); err != nil {
		return nil, fmt.Errorf("store: turn metrics: %w", err)
	}
	return out, nil
}

const conversationByIDSQL = `SELECT id, user_id, membership_id, channel, level, topic, created_at FROM conversations WHERE id = $1`

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
