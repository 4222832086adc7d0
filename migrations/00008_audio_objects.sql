-- +goose Up
-- A clip's bytes live either here (data) or in the object store (object_key, AUDIO_STORE=s3);
-- the row keeps the metadata in both cases, so that capability ids, retention and ownership do
-- not depend on where the bytes are. size is the clip's length in bytes (NULL on rows written
-- before this migration: octet_length(data) then, which reads no TOAST).
ALTER TABLE audio_clips ALTER COLUMN data DROP NOT NULL;
ALTER TABLE audio_clips ADD COLUMN size bigint;
ALTER TABLE audio_clips ADD COLUMN object_key text;
-- Exactly one home for the bytes, and no negative size. NOT VALID: every existing row has data,
-- no key and no size, and checking them would scan the table under an exclusive lock at
-- start-up; new and updated rows are checked.
ALTER TABLE audio_clips ADD CONSTRAINT audio_clips_one_home
    CHECK ((data IS NULL) <> (object_key IS NULL)) NOT VALID;
ALTER TABLE audio_clips ADD CONSTRAINT audio_clips_size_check CHECK (size >= 0) NOT VALID;

-- +goose Down
DELETE FROM audio_clips WHERE data IS NULL;
ALTER TABLE audio_clips DROP CONSTRAINT audio_clips_size_check;
ALTER TABLE audio_clips DROP CONSTRAINT audio_clips_one_home;
ALTER TABLE audio_clips DROP COLUMN object_key;
ALTER TABLE audio_clips DROP COLUMN size;
ALTER TABLE audio_clips ALTER COLUMN data SET NOT NULL;
