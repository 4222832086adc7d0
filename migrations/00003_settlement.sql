-- +goose Up
-- Every charge is settled exactly once: by an answer the learner got ("answered") or by a refund
-- ("refunded"). settled_at and outcome are set by the statement that settles it, only while the
-- charge is unsettled, so an answer and a refund can never both win. A reconciler refunds charges
-- that a crash or an outage left unsettled.
ALTER TABLE usage_ledger
    ADD COLUMN settled_at timestamptz,
    ADD COLUMN outcome text CHECK (outcome IN ('answered', 'refunded')),
    ADD CONSTRAINT usage_ledger_settlement_check CHECK (
        (kind = 'charge' AND (settled_at IS NULL) = (outcome IS NULL))
        OR (kind = 'refund' AND settled_at IS NULL AND outcome IS NULL));

-- Charges made before this migration: refunded when a refund row exists, answered otherwise.
UPDATE usage_ledger c
SET settled_at = c.created_at,
    outcome = CASE WHEN EXISTS (SELECT 1 FROM usage_ledger r WHERE r.refund_of = c.id)
                   THEN 'refunded' ELSE 'answered' END
WHERE c.kind = 'charge';

CREATE INDEX usage_ledger_unsettled_idx ON usage_ledger (created_at)
    WHERE kind = 'charge' AND settled_at IS NULL;
CREATE INDEX usage_ledger_created_idx ON usage_ledger (created_at);

-- A turn's status says how it ended: done (the whole answer), interrupted (cut after the learner
-- heard its first sentence: paid), cancelled (stopped before that: refunded), failed (a provider
-- failed: refunded).
ALTER TABLE messages DROP CONSTRAINT messages_status_check;
ALTER TABLE messages ADD CONSTRAINT messages_status_check
    CHECK (status IN ('done', 'interrupted', 'cancelled', 'failed'));

-- The audio purge sets these to NULL when it deletes a clip: without an index it scans messages
-- once per clip.
CREATE INDEX messages_user_audio_idx ON messages (user_audio_id) WHERE user_audio_id IS NOT NULL;
CREATE INDEX messages_tutor_audio_idx ON messages (tutor_audio_id) WHERE tutor_audio_id IS NOT NULL;
CREATE INDEX messages_charge_idx ON messages (charge_id) WHERE charge_id IS NOT NULL;
CREATE INDEX messages_conversation_idx ON messages (conversation_id, id);

-- Conversations are listed by their last activity.
ALTER TABLE conversations ADD COLUMN updated_at timestamptz;
UPDATE conversations c
SET updated_at = COALESCE((SELECT max(m.created_at) FROM messages m WHERE m.conversation_id = c.id), c.created_at);
ALTER TABLE conversations ALTER COLUMN updated_at SET NOT NULL;
ALTER TABLE conversations ALTER COLUMN updated_at SET DEFAULT now();
CREATE INDEX conversations_user_updated_idx ON conversations (user_id, updated_at DESC, id DESC);

-- +goose Down
DROP INDEX conversations_user_updated_idx;
ALTER TABLE conversations DROP COLUMN updated_at;
DROP INDEX messages_conversation_idx;
DROP INDEX messages_charge_idx;
DROP INDEX messages_tutor_audio_idx;
DROP INDEX messages_user_audio_idx;
UPDATE messages SET status = 'cancelled' WHERE status = 'interrupted';
ALTER TABLE messages DROP CONSTRAINT messages_status_check;
ALTER TABLE messages ADD CONSTRAINT messages_status_check CHECK (status IN ('done', 'cancelled', 'failed'));
DROP INDEX usage_ledger_created_idx;
DROP INDEX usage_ledger_unsettled_idx;
ALTER TABLE usage_ledger DROP CONSTRAINT usage_ledger_settlement_check;
ALTER TABLE usage_ledger DROP COLUMN outcome, DROP COLUMN settled_at;
