-- +goose Up
-- The core schema: accounts, plans, memberships, purchases, the usage ledger, conversations and
-- stored audio. Invariants live here as well as in the code: CHECK constraints, foreign keys and
-- unique indexes (e-mail, idempotency keys, one refund per charge, one job run per tick).

CREATE TABLE users (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    email         text NOT NULL CHECK (length(email) BETWEEN 3 AND 320),
    password_hash text,
    region        text,
    profile_image text,
    customer_type text NOT NULL DEFAULT 'B2C' CHECK (customer_type IN ('B2C', 'B2B')),
    role          text NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin')),
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

CREATE TABLE membership_plans (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    description   text NOT NULL DEFAULT '',
    duration_days integer NOT NULL CHECK (duration_days > 0),
    chat_uses     integer CHECK (chat_uses >= 0),
    analysis_uses integer CHECK (analysis_uses >= 0),
    target        text NOT NULL CHECK (target IN ('B2C', 'B2B')),
    price         bigint NOT NULL CHECK (price >= 0),
    currency      text NOT NULL DEFAULT 'USD' CHECK (currency ~ '^[A-Z]{3}$'),
    created_at    timestamptz NOT NULL DEFAULT now(),
    deleted_at    timestamptz
);

CREATE TABLE memberships (
    id                      uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id                 uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    plan_id                 uuid NOT NULL REFERENCES membership_plans (id),
    started_at              timestamptz NOT NULL,
    expires_at              timestamptz NOT NULL,
    remaining_chat_uses     integer CHECK (remaining_chat_uses >= 0),
    remaining_analysis_uses integer CHECK (remaining_analysis_uses >= 0),
    granted_by_admin        boolean NOT NULL DEFAULT false,
    granted_by              uuid REFERENCES users (id) ON DELETE SET NULL,
    is_expired              boolean NOT NULL DEFAULT false,
    revoked_at              timestamptz,
    revoked_by              uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at              timestamptz NOT NULL DEFAULT now(),
    CHECK (expires_at > started_at)
);
CREATE INDEX memberships_user_idx ON memberships (user_id, created_at);
CREATE INDEX memberships_due_idx ON memberships (expires_at) WHERE NOT is_expired;

CREATE TABLE purchases (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    plan_id         uuid NOT NULL REFERENCES membership_plans (id),
    membership_id   uuid NOT NULL REFERENCES memberships (id) ON DELETE CASCADE,
    price           bigint NOT NULL CHECK (price >= 0),
    currency        text NOT NULL,
    idempotency_key text CHECK (length(idempotency_key) BETWEEN 1 AND 255),
    request_hash    text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX purchases_idempotency_key ON purchases (user_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;

-- One row per charge and per refund of a chat use. delta is -1 for a charge and +1 for a refund;
-- remaining_after is the membership's count after the change (NULL: unlimited). A charge can be
-- refunded once (unique refund_of).
CREATE TABLE usage_ledger (
    id              bigserial PRIMARY KEY,
    membership_id   uuid NOT NULL REFERENCES memberships (id) ON DELETE CASCADE,
    user_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind            text NOT NULL CHECK (kind IN ('charge', 'refund')),
    delta           integer NOT NULL,
    remaining_after integer,
    refund_of       bigint UNIQUE REFERENCES usage_ledger (id) ON DELETE CASCADE,
    reason          text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL DEFAULT now(),
    CHECK ((kind = 'charge' AND delta = -1 AND refund_of IS NULL)
        OR (kind = 'refund' AND delta = 1 AND refund_of IS NOT NULL))
);
CREATE INDEX usage_ledger_membership_idx ON usage_ledger (membership_id, id);
CREATE INDEX usage_ledger_user_idx ON usage_ledger (user_id, created_at);

CREATE TABLE audio_clips (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id    uuid REFERENCES users (id) ON DELETE CASCADE,
    mime       text NOT NULL,
    data       bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audio_clips_created_idx ON audio_clips (created_at);

CREATE TABLE conversations (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    membership_id uuid NOT NULL REFERENCES memberships (id) ON DELETE CASCADE,
    channel       text NOT NULL CHECK (channel IN ('ws', 'rest')),
    level         text NOT NULL DEFAULT '',
    topic         text NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX conversations_user_idx ON conversations (user_id, created_at);

-- One row per turn: what the learner said, what the tutor said (cut to what was heard after a
-- barge-in), the stored audio and the per-stage latencies in milliseconds.
CREATE TABLE messages (
    id                  bigserial PRIMARY KEY,
    conversation_id     uuid NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    turn_id             text NOT NULL,
    user_text           text NOT NULL,
    tutor_text          text NOT NULL,
    status              text NOT NULL CHECK (status IN ('done', 'cancelled', 'failed')),
    user_audio_id       uuid REFERENCES audio_clips (id) ON DELETE SET NULL,
    tutor_audio_id      uuid REFERENCES audio_clips (id) ON DELETE SET NULL,
    charge_id           bigint REFERENCES usage_ledger (id) ON DELETE SET NULL,
    endpoint_ms         double precision,
    stt_ms              double precision,
    chat_first_token_ms double precision,
    first_sentence_ms   double precision,
    tts_first_byte_ms   double precision,
    first_audio_ms      double precision,
    total_ms            double precision,
    created_at          timestamptz NOT NULL DEFAULT now(),
    UNIQUE (conversation_id, turn_id)
);
CREATE INDEX messages_created_idx ON messages (created_at);

-- Scheduled jobs claim each tick here, so that several instances on one database run a job once
-- per tick.
CREATE TABLE job_runs (
    job        text NOT NULL,
    tick       timestamptz NOT NULL,
    started_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (job, tick)
);

-- +goose Down
DROP TABLE job_runs;
DROP TABLE messages;
DROP TABLE conversations;
DROP TABLE audio_clips;
DROP TABLE usage_ledger;
DROP TABLE purchases;
DROP TABLE memberships;
DROP TABLE membership_plans;
DROP TABLE users;
