// The tables of migrations/, for diesel's query builder.

diesel::table! {
    notes (id) {
        id -> Uuid,
        patient_id -> Uuid,
        doctor_id -> Uuid,
        created_at -> Timestamptz,
        text -> Jsonb,
        status -> Text,
        failure_code -> Nullable<Text>,
        status_changed_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    idempotency_keys (doctor_id, key) {
        doctor_id -> Uuid,
        key -> Text,
        note_id -> Uuid,
        patient_id -> Uuid,
        expires_at -> Timestamptz,
    }
}

diesel::table! {
    access_log (id) {
        id -> Uuid,
        patient_id -> Uuid,
        note_id -> Uuid,
        reader_id -> Uuid,
        reader_role -> Text,
        at -> Timestamptz,
    }
}

diesel::table! {
    users (id) {
        id -> Uuid,
        role -> Nullable<Text>,
        doctor_id -> Nullable<Uuid>,
        assignment_changed_at -> Nullable<Timestamptz>,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    outbox (id) {
        id -> Uuid,
        note_id -> Uuid,
        occurred_at -> Timestamptz,
        correlation_id -> Nullable<Text>,
        traceparent -> Nullable<Text>,
        published_at -> Nullable<Timestamptz>,
    }
}

diesel::joinable!(outbox -> notes (note_id));
diesel::allow_tables_to_appear_in_same_query!(notes, outbox);
