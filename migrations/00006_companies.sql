-- +goose Up
-- Companies and corporate codes (issue 13). A learner joins a company with one of its join codes
-- and becomes a company (B2B) learner; the company's plans are sold to its members only. The
-- invariants are the database's as well as the code's:
--   * a code is unique whatever its case, spaces and hyphens (lookup, a generated column);
--   * a company never has more members than seats: seats_used is kept by triggers on
--     users.company_id and checked against seat_limit, and concurrent joins queue on the
--     company's row, so the last seat goes to exactly one of them;
--   * a member of a company is a B2B learner;
--   * a plan of a company is a B2B plan;
--   * a once-per-user plan is bought at most once by a user (a partial unique index on
--     purchases; the flag is copied onto each purchase when it is made).

CREATE TABLE companies (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    -- NULL: as many members as join.
    seat_limit integer CHECK (seat_limit BETWEEN 1 AND 1000000),
    -- Members now; kept by the triggers below, never written by the application.
    seats_used integer NOT NULL DEFAULT 0 CHECK (seats_used >= 0),
    created_by uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT companies_seats_check CHECK (seat_limit IS NULL OR seats_used <= seat_limit)
);
CREATE UNIQUE INDEX companies_name_key ON companies (lower(name));

-- Join codes. Generated ones are 12 characters of an alphabet without look-alikes (about 59
-- bits from crypto/rand); an administrator may also choose one. Codes are compared by lookup:
-- letters and digits only, upper case, so "acme-demo 2026" finds ACME-DEMO-2026.
CREATE TABLE company_codes (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    company_id  uuid NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    code        text NOT NULL CHECK (length(code) BETWEEN 1 AND 64),
    lookup      text GENERATED ALWAYS AS (upper(regexp_replace(code, '[^A-Za-z0-9]', '', 'g'))) STORED
                CHECK (length(lookup) BETWEEN 8 AND 32),
    expires_at  timestamptz,
    disabled_at timestamptz,
    created_by  uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX company_codes_lookup_key ON company_codes (lookup);
CREATE INDEX company_codes_company_idx ON company_codes (company_id, created_at);

-- A user belongs to at most one company. Leaving makes them B2C again.
ALTER TABLE users
    ADD COLUMN company_id uuid REFERENCES companies (id),
    ADD COLUMN company_joined_at timestamptz,
    ADD CONSTRAINT users_company_b2b_check CHECK (company_id IS NULL OR customer_type = 'B2B'),
    ADD CONSTRAINT users_company_joined_check CHECK ((company_id IS NULL) = (company_joined_at IS NULL));
CREATE INDEX users_company_idx ON users (company_id, company_joined_at) WHERE company_id IS NOT NULL;

-- +goose StatementBegin
CREATE FUNCTION company_seats() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.company_id IS NOT NULL THEN
        UPDATE companies SET seats_used = seats_used - 1 WHERE id = OLD.company_id;
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') AND NEW.company_id IS NOT NULL THEN
        UPDATE companies SET seats_used = seats_used + 1 WHERE id = NEW.company_id;
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER users_company_seats_insert AFTER INSERT ON users
    FOR EACH ROW WHEN (NEW.company_id IS NOT NULL) EXECUTE FUNCTION company_seats();
CREATE TRIGGER users_company_seats_update AFTER UPDATE OF company_id ON users
    FOR EACH ROW WHEN (OLD.company_id IS DISTINCT FROM NEW.company_id) EXECUTE FUNCTION company_seats();
CREATE TRIGGER users_company_seats_delete AFTER DELETE ON users
    FOR EACH ROW WHEN (OLD.company_id IS NOT NULL) EXECUTE FUNCTION company_seats();

-- A plan of one company (sold to its members only) or of none (company_id NULL: B2C plans, and
-- generic B2B plans sold to every B2B learner). once_per_user: a trial, bought once per user.
ALTER TABLE membership_plans
    ADD COLUMN company_id uuid REFERENCES companies (id),
    ADD COLUMN once_per_user boolean NOT NULL DEFAULT false,
    ADD CONSTRAINT membership_plans_company_b2b_check CHECK (company_id IS NULL OR target = 'B2B');
CREATE INDEX membership_plans_company_idx ON membership_plans (company_id) WHERE company_id IS NOT NULL;

-- The company a membership came through: a company plan bought, or a plan an administrator
-- granted to the company's members. Removing a member may revoke these.
ALTER TABLE memberships ADD COLUMN company_id uuid REFERENCES companies (id);
CREATE INDEX memberships_company_idx ON memberships (company_id, user_id) WHERE company_id IS NOT NULL;

-- A purchase of a once-per-user plan is unique per user and plan. The plan's flag is copied
-- onto the purchase so that a partial unique index can hold it; administrators' grants are not
-- purchases and are not limited.
ALTER TABLE purchases ADD COLUMN once_per_user boolean NOT NULL DEFAULT false;
CREATE UNIQUE INDEX purchases_once_per_user ON purchases (user_id, plan_id) WHERE once_per_user;

-- +goose Down
DROP INDEX purchases_once_per_user;
ALTER TABLE purchases DROP COLUMN once_per_user;
DROP INDEX memberships_company_idx;
ALTER TABLE memberships DROP COLUMN company_id;
DROP INDEX membership_plans_company_idx;
ALTER TABLE membership_plans DROP CONSTRAINT membership_plans_company_b2b_check,
    DROP COLUMN once_per_user, DROP COLUMN company_id;
DROP TRIGGER users_company_seats_delete ON users;
DROP TRIGGER users_company_seats_update ON users;
DROP TRIGGER users_company_seats_insert ON users;
DROP FUNCTION company_seats();
DROP INDEX users_company_idx;
ALTER TABLE users DROP CONSTRAINT users_company_joined_check, DROP CONSTRAINT users_company_b2b_check,
    DROP COLUMN company_joined_at, DROP COLUMN company_id;
DROP TABLE company_codes;
DROP TABLE companies;
