// The tables of migrations/, for diesel's query builder.

diesel::table! {
    users (id) {
        id -> Uuid,
        email -> Text,
        email_normalized -> Text,
        name -> Text,
        role -> Text,
        timezone -> Text,
        password_hash -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    doctor_profiles (user_id) {
        user_id -> Uuid,
        specialization -> Text,
    }
}

diesel::table! {
    assignments (id) {
        id -> Uuid,
        patient_id -> Uuid,
        doctor_id -> Uuid,
        assigned_at -> Timestamptz,
        ended_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    refresh_token_families (id) {
        id -> Uuid,
        user_id -> Uuid,
        created_at -> Timestamptz,
        revoked_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    refresh_tokens (id) {
        id -> Uuid,
        family_id -> Uuid,
        token_hash -> Bytea,
        issued_at -> Timestamptz,
        expires_at -> Timestamptz,
        used_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    login_failures (id) {
        id -> Int8,
        email_normalized -> Text,
        failed_at -> Timestamptz,
    }
}

diesel::table! {
    outbox (id) {
        id -> Uuid,
        routing_key -> Text,
        payload -> Jsonb,
        created_at -> Timestamptz,
        published_at -> Nullable<Timestamptz>,
    }
}

diesel::joinable!(doctor_profiles -> users (user_id));
diesel::joinable!(refresh_tokens -> refresh_token_families (family_id));

diesel::allow_tables_to_appear_in_same_query!(
    users,
    doctor_profiles,
    assignments,
    refresh_token_families,
    refresh_tokens,
    login_failures,
    outbox,
);
