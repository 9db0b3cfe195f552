-- Notes, sealed: `text` is a hospital-crypto envelope bound to (id, patient_id, doctor_id).
CREATE TABLE notes (
    id UUID PRIMARY KEY,
    patient_id UUID NOT NULL,
    doctor_id UUID NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    text JSONB NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('processing', 'processed', 'failed')),
    failure_code TEXT,
    status_changed_at TIMESTAMPTZ
);
-- A patient's notes, newest first.
CREATE INDEX notes_by_patient ON notes (patient_id, created_at DESC, id DESC);

-- A doctor's Idempotency-Key reserves a note id for 24 hours.
CREATE TABLE idempotency_keys (
    doctor_id UUID NOT NULL,
    key TEXT NOT NULL,
    note_id UUID NOT NULL,
    patient_id UUID NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (doctor_id, key)
);
CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);

-- Every read of a note: who, in which role, which note, when. Ids are UUID v7, so the
-- primary key orders entries in time.
CREATE TABLE access_log (
    id UUID PRIMARY KEY,
    patient_id UUID NOT NULL,
    note_id UUID NOT NULL,
    reader_id UUID NOT NULL,
    reader_role TEXT NOT NULL CHECK (reader_role IN ('patient', 'doctor')),
    at TIMESTAMPTZ NOT NULL
);
CREATE INDEX access_log_by_patient ON access_log (patient_id, id DESC);

-- The service's copy of users and assignments, from auth-service's events.
CREATE TABLE users (
    id UUID PRIMARY KEY,
    role TEXT CHECK (role IN ('patient', 'doctor')),
    doctor_id UUID,
    assignment_changed_at TIMESTAMPTZ,
    updated_at TIMESTAMPTZ NOT NULL
);

-- note.submitted, written in the note's transaction. The envelope is built from the note
-- when published, so the sealed text is stored once.
CREATE TABLE outbox (
    id UUID PRIMARY KEY,
    note_id UUID NOT NULL REFERENCES notes (id),
    occurred_at TIMESTAMPTZ NOT NULL,
    correlation_id TEXT,
    traceparent TEXT,
    published_at TIMESTAMPTZ
);
CREATE INDEX outbox_pending ON outbox (occurred_at, id) WHERE published_at IS NULL;
