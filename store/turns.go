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

// SpeechStats is the timing of a spoken turn of the learner, for the fluency figures of reviews.
// Milliseconds; ResponseMs is nil when no reply of the tutor came before the turn.
type SpeechStats struct {
	UtteranceMs int   `json:"utteranceMs"`          // from the first voiced window to the last
	VoicedMs    int   `json:"voicedMs"`             // the utterance without its pauses
	PausesMs    []int `json:"pausesMs,omitempty"`   // silences of 250 ms or more inside it
	ResponseMs  *int  `json:"responseMs,omitempty"` // from the end of the tutor's reply to the learner's first sound
	TutorMs     int   `json:"tutorMs,omitempty"`    // the turn's reply audio the learner heard
}

// Value stores the stats as JSON.
func (s *SpeechStats) Value() (driver.Value, error) {
	if s == nil {
		return nil, nil
	}
	return json.Marshal(s)
}

// Scan reads the stats from JSON.
func (s *SpeechStats) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		return nil
	case []byte:
		return json.Unmarshal(v, s)
	case string:
		return json.Unmarshal([]byte(v), s)
	}
	return fmt.Errorf("store: speech stats from %T", src)
}

// Message is one turn of a conversation. Latencies are milliseconds; nil when the stage did not
// run.
type Message struct {
	ID               int64        `db:"id" json:"id"`
	ConversationID   string       `db:"conversation_id" json:"conversationId"`
	TurnID           string       `db:"turn_id" json:"turnId"`
	UserText         string       `db:"user_text" json:"userText"`
	TutorText        string       `db:"tutor_text" json:"tutorText"`
	Status           string       `db:"status" json:"status"`
	UserAudioID      *string      `db:"user_audio_id" json:"userAudioId"`
	TutorAudioID     *string      `db:"tutor_audio_id" json:"tutorAudioId"`
	ChargeID         *int64       `db:"charge_id" json:"-"`
	EndpointMs       *float64     `db:"endpoint_ms" json:"endpointMs"`
	STTMs            *float64     `db:"stt_ms" json:"sttMs"`
	ChatFirstTokenMs *float64     `db:"chat_first_token_ms" json:"chatFirstTokenMs"`
	FirstSentenceMs  *float64     `db:"first_sentence_ms" json:"firstSentenceMs"`
	TTSFirstByteMs   *float64     `db:"tts_first_byte_ms" json:"ttsFirstByteMs"`
	FirstAudioMs     *float64     `db:"first_audio_ms" json:"firstAudioMs"`
	TotalMs          *float64     `db:"total_ms" json:"totalMs"`
	Speech           *SpeechStats `db:"speech" json:"speech,omitempty"`
	CreatedAt        time.Time    `db:"created_at" json:"createdAt"`
}

// Turn statuses: how a turn ended.
const (
	TurnDone        = "done"        // the whole answer: paid
	TurnInterrupted = "interrupted" // cut after the learner heard its first sentence: paid
	TurnCancelled   = "cancelled"   // stopped before that: refunded
	TurnFailed      = "failed"      // a provider failed: refunded
)

const messageColumns = `id, conversation_id, turn_id, user_text, tutor_text, status, user_audio_id,
       tutor_audio_id, charge_id, endpoint_ms, stt_ms, chat_first_token_ms, first_sentence_ms,
       tts_first_byte_ms, first_audio_ms, total_ms, speech, created_at`

const addMessageSQL = `
INSERT INTO messages (conversation_id, turn_id, user_text, tutor_text, status, user_audio_id,
                      tutor_audio_id, charge_id, endpoint_ms, stt_ms, chat_first_token_ms,
                      first_sentence_ms, tts_first_byte_ms, first_audio_ms, total_ms, speech)
VALUES (:conversation_id, :turn_id, :user_text, :tutor_text, :status, :user_audio_id,
        :tutor_audio_id, :charge_id, :endpoint_ms, :stt_ms, :chat_first_token_ms,
        :first_sentence_ms, :tts_first_byte_ms, :first_audio_ms, :total_ms, :speech)
ON CONFLICT (conversation_id, turn_id) DO NOTHING
RETURNING id, created_at`

const touchConversationSQL = `UPDATE conversations SET updated_at = $2 WHERE id = $1`

// AddMessage stores a turn without a charge to settle (tests and imports); see RecordTurn.
func (s *Store) AddMessage(ctx context.Context, m *Message) error {
	return s.inTx(ctx, func(tx *sqlx.Tx) error { return s.insertMessage(ctx, tx, m) })
}

func (s *Store) insertMessage(ctx context.Context, tx *sqlx.Tx, m *Message) error {
	rows, err := sqlx.NamedQueryContext(ctx, tx, addMessageSQL, m)
	if err != nil {
		return fmt.Errorf("store: add message: %w", err)
	}
	if rows.Next() {
		if err := rows.Scan(&m.ID, &m.CreatedAt); err != nil {
			rows.Close()
			return fmt.Errorf("store: add message: %w", err)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store: add message: %w", err)
	}
	if _, err := tx.ExecContext(ctx, touchConversationSQL, m.ConversationID, s.now()); err != nil {
		return fmt.Errorf("store: add message: %w", err)
	}
	return nil
}

// TurnRecord is a finished turn and how its charge is settled.
type TurnRecord struct {
	Message Message
	// Outcome settles Message.ChargeID: OutcomeAnswered or OutcomeRefunded (with RefundReason).
	Outcome      string
	RefundReason string
}

// Settlement is what RecordTurn did to the turn's charge. Outcome is the charge's outcome, which
// may differ from the one asked for when the charge had been settled before (a reconciler
// refunded it while the database could not be reached).
type Settlement struct {
	Outcome   string
	Remaining *int
}

const membershipRemainingSQL = `SELECT remaining_chat_uses FROM memberships m JOIN usage_ledger l ON l.membership_id = m.id WHERE l.id = $1`

// RecordTurn stores a finished turn and settles its charge in one transaction, so that an
// answer is never recorded without its settlement or the other way round. Running it again for
// the same turn (a retry after an error whose commit went through) changes nothing.
func (s *Store) RecordTurn(ctx context.Context, rec TurnRecord) (Settlement, error) {
	var out Settlement
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		out = Settlement{}
		if id := rec.Message.ChargeID; id != nil {
			var err error
			if out, err = s.settle(ctx, tx, *id, rec.Outcome, rec.RefundReason); err != nil {
				return err
			}
		}
		return s.insertMessage(ctx, tx, &rec.Message)
	})
	if err != nil {
		return Settlement{}, fmt.Errorf("store: record turn %s: %w", rec.Message.TurnID, err)
	}
	return out, nil
}

// settle settles a charge inside tx; a charge settled before keeps its outcome.
func (s *Store) settle(ctx context.Context, tx *sqlx.Tx, chargeID int64, outcome, reason string) (Settlement, error) {
	out := Settlement{Outcome: outcome}
	var err error
	switch outcome {
	case OutcomeRefunded:
		err = tx.GetContext(ctx, &out.Remaining, refundSQL, chargeID, reason, s.now())
		if errors.Is(err, sql.ErrNoRows) {
			err = s.settledAs(ctx, tx, chargeID)
		}
	case OutcomeAnswered:
		err = s.settleAnswered(ctx, tx, chargeID)
	default:
		return Settlement{}, fmt.Errorf("unknown outcome %q", outcome)
	}
	switch {
	case errors.Is(err, ErrAlreadyRefunded):
		out.Outcome, err = OutcomeRefunded, nil
	case errors.Is(err, ErrAlreadySettled):
		out.Outcome, err = OutcomeAnswered, nil
	}
	if err != nil {
		return Settlement{}, err
	}
	if out.Remaining == nil {
		if err := tx.GetContext(ctx, &out.Remaining, membershipRemainingSQL, chargeID); err != nil {
			return Settlement{}, err
		}
	}
	return out, nil
}

const setTurnAudioSQL = `
UPDATE messages SET user_audio_id = COALESCE($3, user_audio_id), tutor_audio_id = COALESCE($4, tutor_audio_id)
WHERE conversation_id = $1 AND turn_id = $2`

// SetTurnAudio links a recorded turn to its stored audio (written after the turn, off the path of
// the next one). A nil id leaves that link as it is.
func (s *Store) SetTurnAudio(ctx context.Context, conversationID, turnID string, userAudioID, tutorAudioID *string) error {
	if _, err := s.db.ExecContext(ctx, setTurnAudioSQL, conversationID, turnID, userAudioID, tutorAudioID); err != nil {
		return fmt.Errorf("store: audio of turn %s: %w", turnID, err)
	}
	return nil
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

const messagesSQL = `SELECT ` + messageColumns + ` FROM messages WHERE conversation_id = $1 ORDER BY id`

// Messages returns a conversation's turns in order.
func (s *Store) Messages(ctx context.Context, conversationID string) ([]Message, error) {
	out := []Message{}
	if err := s.sel(ctx, &out, messagesSQL, conversationID); err != nil {
		return nil, fmt.Errorf("store: messages of %s: %w", conversationID, err)
	}
	return out, nil
}

const recentMessagesSQL = `
SELECT * FROM (SELECT ` + messageColumns + ` FROM messages WHERE conversation_id = $1 ORDER BY id DESC LIMIT $2) r
ORDER BY id`

// RecentMessages returns a conversation's last limit turns, in order.
func (s *Store) RecentMessages(ctx context.Context, conversationID string, limit int) ([]Message, error) {
	out := []Message{}
	if err := s.sel(ctx, &out, recentMessagesSQL, conversationID, limit); err != nil {
		return nil, fmt.Errorf("store: messages of %s: %w", conversationID, err)
	}
	return out, nil
}

// DayMetrics summarises one day of turns for the admin dashboard. Answered counts the chat
// charges that an answer settled, Refunded the chat uses given back, Interrupted the paid turns
// the learner cut after hearing their first sentence; Reviews the conversation reviews written
// and AnalysisUses the analysis uses they spent.
type DayMetrics struct {
	Day             time.Time `db:"day" json:"day"`
	Turns           int       `db:"turns" json:"turns"`
	Answered        int       `db:"answered" json:"answered"`
	Interrupted     int       `db:"interrupted" json:"interrupted"`
	Cancelled       int       `db:"cancelled" json:"cancelled"`
	Failed          int       `db:"failed" json:"failed"`
	Refunded        int       `db:"refunded" json:"refunded"`
	Reviews         int       `db:"reviews" json:"reviews"`
	AnalysisUses    int       `db:"analysis_uses" json:"analysisUses"`
	FirstAudioP50   *float64  `db:"first_audio_p50" json:"firstAudioP50"`
	FirstAudioP95   *float64  `db:"first_audio_p95" json:"firstAudioP95"`
	AvgSTTMs        *float64  `db:"avg_stt_ms" json:"avgSttMs"`
	AvgFirstToken   *float64  `db:"avg_first_token_ms" json:"avgChatFirstTokenMs"`
	AvgTTSFirstByte *float64  `db:"avg_tts_first_byte_ms" json:"avgTtsFirstByteMs"`
}

const turnMetricsSQL = `
WITH t AS (
    SELECT date_trunc('day', created_at AT TIME ZONE 'UTC') AS day,
           count(*) AS turns,
           count(*) FILTER (WHERE status = 'interrupted') AS interrupted,
           count(*) FILTER (WHERE status = 'cancelled') AS cancelled,
           count(*) FILTER (WHERE status = 'failed') AS failed,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY first_audio_ms) AS first_audio_p50,
           percentile_cont(0.95) WITHIN GROUP (ORDER BY first_audio_ms) AS first_audio_p95,
           avg(stt_ms) AS avg_stt_ms,
           avg(chat_first_token_ms) AS avg_first_token_ms,
           avg(tts_first_byte_ms) AS avg_tts_first_byte_ms
    FROM messages WHERE created_at >= $1 GROUP BY 1
), l AS (
    SELECT date_trunc('day', created_at AT TIME ZONE 'UTC') AS day,
           count(*) FILTER (WHERE resource = 'chat' AND kind = 'charge' AND outcome = 'answered') AS answered,
           count(*) FILTER (WHERE resource = 'chat' AND kind = 'refund') AS refunded,
           count(*) FILTER (WHERE resource = 'analysis' AND kind = 'charge' AND outcome = 'answered') AS analysis_uses
    FROM usage_ledger WHERE created_at >= $1 GROUP BY 1
), r AS (
    SELECT date_trunc('day', completed_at AT TIME ZONE 'UTC') AS day, count(*) AS reviews
    FROM reviews WHERE status = 'done' AND completed_at >= $1 GROUP BY 1
), days AS (
    SELECT day FROM t UNION SELECT day FROM l UNION SELECT day FROM r
)
SELECT days.day, COALESCE(t.turns, 0) AS turns,
       COALESCE(l.answered, 0) AS answered, COALESCE(t.interrupted, 0) AS interrupted,
       COALESCE(t.cancelled, 0) AS cancelled, COALESCE(t.failed, 0) AS failed,
       COALESCE(l.refunded, 0) AS refunded, COALESCE(r.reviews, 0) AS reviews,
       COALESCE(l.analysis_uses, 0) AS analysis_uses, t.first_audio_p50, t.first_audio_p95,
       t.avg_stt_ms, t.avg_first_token_ms, t.avg_tts_first_byte_ms
FROM days LEFT JOIN t ON t.day = days.day LEFT JOIN l ON l.day = days.day LEFT JOIN r ON r.day = days.day
ORDER BY 1`

// TurnMetrics returns per-day turn counts, billing outcomes and first-audio percentiles since
// since.
func (s *Store) TurnMetrics(ctx context.Context, since time.Time) ([]DayMetrics, error) {
	out := []DayMetrics{}
	if err := s.sel(ctx, &out, turnMetricsSQL, since); err != nil {
		return nil, fmt.Errorf("store: turn metrics: %w", err)
	}
	return out, nil
}
