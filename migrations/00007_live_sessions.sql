-- +goose Up
-- The live WebSocket sessions of every instance, so that limits per user hold across instances
-- behind a load balancer. An instance refreshes seen_at of its sessions regularly; rows of an
-- instance that died go stale and stop counting.
CREATE TABLE live_sessions (
    id         text PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    instance   text NOT NULL,
    started_at timestamptz NOT NULL DEFAULT now(),
    seen_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX live_sessions_user_idx ON live_sessions (user_id, seen_at);

-- Fixed-window request counters for rate limits shared by all instances (sign-in, sign-up,
-- company codes): one row per key and window.
CREATE TABLE rate_windows (
    key          text NOT NULL,
    window_start timestamptz NOT NULL,
    n            integer NOT NULL,
    PRIMARY KEY (key, window_start)
);
CREATE INDEX rate_windows_start_idx ON rate_windows (window_start);

-- +goose Down
DROP TABLE rate_windows;
DROP TABLE live_sessions;
