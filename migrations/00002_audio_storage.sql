-- +goose Up
-- Audio is PCM that pglz cannot shrink: trying costs CPU on every insert. Store it out of line,
-- uncompressed.
ALTER TABLE audio_clips ALTER COLUMN data SET STORAGE EXTERNAL;

-- +goose Down
ALTER TABLE audio_clips ALTER COLUMN data SET STORAGE EXTENDED;
