-- +goose Up
-- Conversation reviews, paid with analysis uses the same way turns are paid with chat uses: the
-- ledger says which resource a row charges or refunds, and a review is settled with its charge.
ALTER TABLE usage_ledger ADD COLUMN resource text NOT NULL DEFAULT 'chat'
    CHECK (resource IN ('chat', 'analysis'));

-- The learner's speech timing of a spoken turn (fluency): utterance and voiced milliseconds,
-- pauses inside it, the response time after the tutor stopped, the reply audio heard.
ALTER TABLE messages ADD COLUMN speech jsonb;

-- A review of a conversation as it was up to one message. The row is claimed (pending) with its
-- charge in one transaction, so that one conversation state is never charged twice; it is
-- completed (done) with the charge's settlement, or removed with the refund.
CREATE TABLE reviews (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    conversation_id uuid NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    user_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    membership_id   uuid NOT NULL REFERENCES memberships (id) ON DELETE CASCADE,
    upto_message_id bigint NOT NULL,
    charge_id       bigint REFERENCES usage_ledger (id) ON DELETE SET NULL,
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done')),
    cefr            text CHECK (cefr IN ('A1', 'A2', 'B1', 'B2', 'C1', 'C2')),
    body            jsonb,
    fluency         jsonb,
    engine          text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL DEFAULT now(),
    completed_at    timestamptz,
    UNIQUE (conversation_id, upto_message_id),
    CHECK (status = 'pending' OR (cefr IS NOT NULL AND body IS NOT NULL AND fluency IS NOT NULL))
);
CREATE INDEX reviews_user_idx ON reviews (user_id, created_at);
CREATE INDEX reviews_created_idx ON reviews (created_at);

-- What the tutor remembers of a learner across conversations, fed by their reviews.
CREATE TABLE learner_profiles (
    user_id     uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    level       text NOT NULL DEFAULT '',
    mistakes    jsonb NOT NULL DEFAULT '[]',
    topics      jsonb NOT NULL DEFAULT '[]',
    goals       jsonb NOT NULL DEFAULT '[]',
    reviews     integer NOT NULL DEFAULT 0,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE learner_profiles;
DROP TABLE reviews;
ALTER TABLE messages DROP COLUMN speech;
DELETE FROM usage_ledger WHERE resource = 'analysis';
ALTER TABLE usage_ledger DROP COLUMN resource;
