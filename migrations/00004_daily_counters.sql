-- +goose Up
-- Per-user daily counters for limits that must hold across instances and restarts (e.g. speech
-- synthesized for custom greeting texts by accounts without a usable membership).
CREATE TABLE daily_counters (
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    counter text NOT NULL,
    day     date NOT NULL,
    n       integer NOT NULL CHECK (n >= 0),
    PRIMARY KEY (user_id, counter, day)
);

-- +goose Down
DROP TABLE daily_counters;
