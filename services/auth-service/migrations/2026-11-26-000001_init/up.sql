-- Users of both roles. Email is unique case-insensitively through its normalised form.
CREATE TABLE users (
    id                uuid PRIMARY KEY,
    email             text NOT NULL,
    email_normalized  text NOT NULL UNIQUE,
    name              text NOT NULL,
    role              text NOT NULL CHECK (role IN ('patient', 'doctor')),
    timezone          text NOT NULL,
    password_hash     text NOT NULL,
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL
);

CREATE TABLE doctor_profiles (
    user_id         uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    specialization  text NOT NULL
);
CREATE INDEX doctor_profiles_by_specialization ON doctor_profiles (lower(specialization), user_id);

-- Every selection of a doctor is kept: the current one has ended_at NULL.
CREATE TABLE assignments (
    id           uuid PRIMARY KEY,
    patient_id   uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    doctor_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    assigned_at  timestamptz NOT NULL,
    ended_at     timestamptz
);
CREATE UNIQUE INDEX assignments_one_current_per_patient ON assignments (patient_id) WHERE ended_at IS NULL;
CREATE INDEX assignments_current_by_doctor ON assignments (doctor_id, id) WHERE ended_at IS NULL;

-- A family is one sign-in; each refresh rotates to a new token of the same family.
CREATE TABLE refresh_token_families (
    id          uuid PRIMARY KEY,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL,
    revoked_at  timestamptz
);

CREATE TABLE refresh_tokens (
    id          uuid PRIMARY KEY,
    family_id   uuid NOT NULL REFERENCES refresh_token_families (id) ON DELETE CASCADE,
    token_hash  bytea NOT NULL UNIQUE,
    issued_at   timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz
);
CREATE INDEX refresh_tokens_by_family ON refresh_tokens (family_id);

CREATE TABLE login_failures (
    id                bigserial PRIMARY KEY,
    email_normalized  text NOT NULL,
    failed_at         timestamptz NOT NULL
);
CREATE INDEX login_failures_by_email ON login_failures (email_normalized, failed_at DESC);

-- Transactional outbox: events are written with the change that caused them and
-- published by the relay once the broker confirms.
CREATE TABLE outbox (
    id            uuid PRIMARY KEY,
    routing_key   text NOT NULL,
    payload       jsonb NOT NULL,
    created_at    timestamptz NOT NULL,
    published_at  timestamptz
);
CREATE INDEX outbox_pending ON outbox (created_at, id) WHERE published_at IS NULL;
