//! The PostgreSQL adapter: diesel-async over a deadpool pool, migrations embedded and applied
//! at start. A note and its outbox row are written in one transaction.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_async::pooled_connection::deadpool::{Object, Pool};
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
};
use diesel_async::{AsyncConnection, AsyncMigrationHarness, AsyncPgConnection, RunQueryDsl};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
use hospital_crypto::SealedEnvelope;
use hospital_events::OutboxMessage;
use hospital_platform::token::Role;
use uuid::Uuid;

use super::schema::{access_log, idempotency_keys, notes, outbox, users};
use super::{
    parse_role, submitted_message, AccessEntry, Inserted, KeyClaim, NewNote, NoteCursor,
    NoteRecord, NoteStore, PendingEvent, Reservation, SealedNote, StatusChange, StoreError,
    UserCopy,
};
use crate::domain::{failure_code_str, parse_failure_code, FailureCode, NoteStatus};

const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// The notes-service's PostgreSQL database.
#[derive(Clone)]
pub struct PgNotes {
    pool: Pool<AsyncPgConnection>,
}

impl From<DieselError> for StoreError {
    fn from(err: DieselError) -> Self {
        StoreError::Unavailable(err.to_string())
    }
}

type NoteRow = (
    Uuid,
    Uuid,
    Uuid,
    DateTime<Utc>,
    serde_json::Value,
    String,
    Option<String>,
);

/// An unpublished outbox row joined with its note.
type PendingRow = (
    Uuid,
    DateTime<Utc>,
    Option<String>,
    Option<String>,
    Uuid,
    Uuid,
    Uuid,
    DateTime<Utc>,
    serde_json::Value,
);

const NOTE_COLUMNS: (
    notes::id,
    notes::patient_id,
    notes::doctor_id,
    notes::created_at,
    notes::text,
    notes::status,
    notes::failure_code,
) = (
    notes::id,
    notes::patient_id,
    notes::doctor_id,
    notes::created_at,
    notes::text,
    notes::status,
    notes::failure_code,
);

fn envelope(id: Uuid, json: serde_json::Value) -> Result<SealedEnvelope, StoreError> {
    serde_json::from_value(json).map_err(|e| {
        StoreError::Corrupt(format!("note {id}: the sealed text does not decode: {e}"))
    })
}

fn envelope_json(text: &SealedEnvelope) -> Result<serde_json::Value, StoreError> {
    serde_json::to_value(text).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn note_record(row: NoteRow) -> Result<NoteRecord, StoreError> {
    let (id, patient_id, doctor_id, created_at, text, status, failure) = row;
    let status = NoteStatus::parse(&status)
        .ok_or_else(|| StoreError::Corrupt(format!("note {id}: unknown status {status:?}")))?;
    let failure = match failure {
        None => None,
        Some(code) => Some(parse_failure_code(&code).ok_or_else(|| {
            StoreError::Corrupt(format!("note {id}: unknown failure code {code:?}"))
        })?),
    };
    Ok(NoteRecord {
        id,
        patient_id,
        doctor_id,
        created_at,
        text: envelope(id, text)?,
        status,
        failure,
    })
}

fn is_unique_violation(err: &DieselError) -> bool {
    matches!(
        err,
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)
    )
}

impl PgNotes {
    pub fn connect(url: &str, pool_size: usize) -> Result<Self, StoreError> {
        // Fast recycling: no `SELECT 1` on every checkout; a broken connection is marked so
        // by the query that fails on it, and discarded then.
        let mut config = ManagerConfig::default();
        config.recycling_method = RecyclingMethod::Fast;
        let manager =
            AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(url, config);
        let pool = Pool::builder(manager)
            .max_size(pool_size)
            .wait_timeout(Some(std::time::Duration::from_secs(5)))
            .create_timeout(Some(std::time::Duration::from_secs(5)))
            .runtime(deadpool::Runtime::Tokio1)
            .build()
            .map_err(|e| StoreError::Config(e.to_string()))?;
        Ok(Self { pool })
    }

    async fn conn(&self) -> Result<Object<AsyncPgConnection>, StoreError> {
        self.pool
            .get()
            .await
            .map_err(|e| StoreError::Unavailable(e.to_string()))
    }

    /// Applies pending migrations, on a blocking thread: the harness drives an async
    /// connection from synchronous code.
    pub async fn run_migrations(&self) -> Result<(), StoreError> {
        let conn = self.conn().await?;
        tokio::task::spawn_blocking(move || {
            let mut harness = AsyncMigrationHarness::new(conn);
            harness
                .run_pending_migrations(MIGRATIONS)
                .map(|_| ())
                .map_err(|e| StoreError::Unavailable(format!("migrations failed: {e}")))
        })
        .await
        .map_err(|e| StoreError::Unavailable(format!("migration task failed: {e}")))?
    }
}

impl NoteStore for PgNotes {
    async fn ping(&self) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        diesel::sql_query("SELECT 1").execute(&mut conn).await?;
        Ok(())
    }

    async fn reserve_key(&self, claim: &KeyClaim) -> Result<Reservation, StoreError> {
        let mut conn = self.conn().await?;
        conn.transaction::<_, StoreError, _>(async |conn| {
            // An expired key is free again.
            diesel::delete(
                idempotency_keys::table
                    .filter(idempotency_keys::doctor_id.eq(claim.doctor_id))
                    .filter(idempotency_keys::key.eq(claim.key.as_str()))
                    .filter(idempotency_keys::expires_at.le(claim.now)),
            )
            .execute(conn)
            .await?;
            // A racing request with the same key waits here for the other to commit.
            let inserted = diesel::insert_into(idempotency_keys::table)
                .values((
                    idempotency_keys::doctor_id.eq(claim.doctor_id),
                    idempotency_keys::key.eq(claim.key.as_str()),
                    idempotency_keys::note_id.eq(claim.note_id),
                    idempotency_keys::patient_id.eq(claim.patient_id),
                    idempotency_keys::expires_at.eq(claim.expires_at),
                ))
                .on_conflict_do_nothing()
                .execute(conn)
                .await?;
            if inserted == 1 {
                return Ok(Reservation::Reserved);
            }
            let (note_id, patient_id): (Uuid, Uuid) = idempotency_keys::table
                .filter(idempotency_keys::doctor_id.eq(claim.doctor_id))
                .filter(idempotency_keys::key.eq(claim.key.as_str()))
                .select((idempotency_keys::note_id, idempotency_keys::patient_id))
                .first(conn)
                .await?;
            Ok(Reservation::Held {
                note_id,
                patient_id,
            })
        })
        .await
    }

    async fn insert_note(&self, note: &NewNote) -> Result<Inserted, StoreError> {
        let text = envelope_json(&note.text)?;
        let mut conn = self.conn().await?;
        let result = conn
            .transaction::<_, DieselError, _>(async |conn| {
                diesel::insert_into(notes::table)
                    .values((
                        notes::id.eq(note.id),
                        notes::patient_id.eq(note.patient_id),
                        notes::doctor_id.eq(note.doctor_id),
                        notes::created_at.eq(note.created_at),
                        notes::text.eq(&text),
                        notes::status.eq(NoteStatus::Processing.as_str()),
                    ))
                    .execute(conn)
                    .await?;
                diesel::insert_into(outbox::table)
                    .values((
                        outbox::id.eq(note.event.id),
                        outbox::note_id.eq(note.id),
                        outbox::occurred_at.eq(note.event.occurred_at),
                        outbox::correlation_id.eq(note.event.correlation_id.as_deref()),
                        outbox::traceparent.eq(note.event.traceparent.as_deref()),
                    ))
                    .execute(conn)
                    .await?;
                Ok(())
            })
            .await;
        match result {
            Ok(()) => Ok(Inserted::Created),
            Err(err) if is_unique_violation(&err) => Ok(Inserted::AlreadyExists),
            Err(err) => Err(err.into()),
        }
    }

    async fn note(&self, note_id: Uuid) -> Result<Option<NoteRecord>, StoreError> {
        let mut conn = self.conn().await?;
        let row: Option<NoteRow> = notes::table
            .find(note_id)
            .select(NOTE_COLUMNS)
            .first(&mut conn)
            .await
            .optional()?;
        row.map(note_record).transpose()
    }

    async fn notes_of(
        &self,
        patient_id: Uuid,
        before: Option<NoteCursor>,
        limit: usize,
    ) -> Result<Vec<NoteRecord>, StoreError> {
        let mut conn = self.conn().await?;
        let mut query = notes::table
            .filter(notes::patient_id.eq(patient_id))
            .select(NOTE_COLUMNS)
            .order((notes::created_at.desc(), notes::id.desc()))
            .limit(i64::try_from(limit).unwrap_or(i64::MAX))
            .into_boxed();
        if let Some(cursor) = before {
            query = query.filter(
                notes::created_at.lt(cursor.created_at).or(notes::created_at
                    .eq(cursor.created_at)
                    .and(notes::id.lt(cursor.id))),
            );
        }
        let rows: Vec<NoteRow> = query.load(&mut conn).await?;
        rows.into_iter().map(note_record).collect()
    }

    async fn record_reads(&self, entries: &[AccessEntry]) -> Result<(), StoreError> {
        if entries.is_empty() {
            return Ok(());
        }
        let rows: Vec<_> = entries
            .iter()
            .map(|e| {
                (
                    access_log::id.eq(e.id),
                    access_log::patient_id.eq(e.patient_id),
                    access_log::note_id.eq(e.note_id),
                    access_log::reader_id.eq(e.reader_id),
                    access_log::reader_role.eq(e.reader_role.as_str()),
                    access_log::at.eq(e.at),
                )
            })
            .collect();
        let mut conn = self.conn().await?;
        diesel::insert_into(access_log::table)
            .values(rows)
            .execute(&mut conn)
            .await?;
        Ok(())
    }

    async fn access_log(
        &self,
        patient_id: Uuid,
        before: Option<Uuid>,
        limit: usize,
    ) -> Result<Vec<AccessEntry>, StoreError> {
        let mut conn = self.conn().await?;
        let mut query = access_log::table
            .filter(access_log::patient_id.eq(patient_id))
            .order(access_log::id.desc())
            .limit(i64::try_from(limit).unwrap_or(i64::MAX))
            .into_boxed();
        if let Some(before) = before {
            query = query.filter(access_log::id.lt(before));
        }
        let rows: Vec<(Uuid, Uuid, Uuid, Uuid, String, DateTime<Utc>)> = query
            .select((
                access_log::id,
                access_log::patient_id,
                access_log::note_id,
                access_log::reader_id,
                access_log::reader_role,
                access_log::at,
            ))
            .load(&mut conn)
            .await?;
        rows.into_iter()
            .map(|(id, patient_id, note_id, reader_id, role, at)| {
                Ok(AccessEntry {
                    id,
                    patient_id,
                    note_id,
                    reader_id,
                    reader_role: parse_role(&role)?,
                    at,
                })
            })
            .collect()
    }

    async fn mark_processed(
        &self,
        note_id: Uuid,
        patient_id: Uuid,
        at: DateTime<Utc>,
    ) -> Result<StatusChange, StoreError> {
        let mut conn = self.conn().await?;
        let changed = diesel::update(
            notes::table
                .filter(notes::id.eq(note_id))
                .filter(notes::patient_id.eq(patient_id))
                .filter(notes::status.ne(NoteStatus::Processed.as_str())),
        )
        .set((
            notes::status.eq(NoteStatus::Processed.as_str()),
            notes::failure_code.eq(None::<String>),
            notes::status_changed_at.eq(at),
        ))
        .execute(&mut conn)
        .await?;
        settle(&mut conn, changed, note_id, patient_id).await
    }

    async fn mark_failed(
        &self,
        note_id: Uuid,
        patient_id: Uuid,
        code: FailureCode,
        at: DateTime<Utc>,
    ) -> Result<StatusChange, StoreError> {
        let mut conn = self.conn().await?;
        let changed = diesel::update(
            notes::table
                .filter(notes::id.eq(note_id))
                .filter(notes::patient_id.eq(patient_id))
                .filter(notes::status.eq(NoteStatus::Processing.as_str())),
        )
        .set((
            notes::status.eq(NoteStatus::Failed.as_str()),
            notes::failure_code.eq(failure_code_str(code)),
            notes::status_changed_at.eq(at),
        ))
        .execute(&mut conn)
        .await?;
        settle(&mut conn, changed, note_id, patient_id).await
    }

    async fn apply_registration(
        &self,
        user_id: Uuid,
        role: Role,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        diesel::insert_into(users::table)
            .values((
                users::id.eq(user_id),
                users::role.eq(role.as_str()),
                users::updated_at.eq(at),
            ))
            .on_conflict(users::id)
            .do_update()
            .set((users::role.eq(role.as_str()), users::updated_at.eq(at)))
            .execute(&mut conn)
            .await?;
        Ok(())
    }

    async fn apply_assignment(
        &self,
        patient_id: Uuid,
        doctor_id: Option<Uuid>,
        changed_at: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        // One statement: insert, or update unless a newer assignment is stored.
        let applied = diesel::sql_query(
            "INSERT INTO users (id, doctor_id, assignment_changed_at, updated_at) \
             VALUES ($1, $2, $3, $4) \
             ON CONFLICT (id) DO UPDATE SET doctor_id = EXCLUDED.doctor_id, \
               assignment_changed_at = EXCLUDED.assignment_changed_at, updated_at = EXCLUDED.updated_at \
             WHERE users.assignment_changed_at IS NULL \
               OR users.assignment_changed_at < EXCLUDED.assignment_changed_at",
        )
        .bind::<diesel::sql_types::Uuid, _>(patient_id)
        .bind::<diesel::sql_types::Nullable<diesel::sql_types::Uuid>, _>(doctor_id)
        .bind::<diesel::sql_types::Timestamptz, _>(changed_at)
        .bind::<diesel::sql_types::Timestamptz, _>(at)
        .execute(&mut self.conn().await?)
        .await?;
        Ok(applied == 1)
    }

    async fn user(&self, user_id: Uuid) -> Result<Option<UserCopy>, StoreError> {
        let mut conn = self.conn().await?;
        let row: Option<(Option<String>, Option<Uuid>)> = users::table
            .find(user_id)
            .select((users::role, users::doctor_id))
            .first(&mut conn)
            .await
            .optional()?;
        row.map(|(role, doctor_id)| {
            Ok(UserCopy {
                id: user_id,
                role: role.as_deref().map(parse_role).transpose()?,
                doctor_id,
            })
        })
        .transpose()
    }

    async fn pending_events(&self, limit: usize) -> Result<Vec<OutboxMessage>, StoreError> {
        let mut conn = self.conn().await?;
        let rows: Vec<PendingRow> = outbox::table
            .inner_join(notes::table)
            .filter(outbox::published_at.is_null())
            .order((outbox::occurred_at.asc(), outbox::id.asc()))
            .limit(i64::try_from(limit).unwrap_or(i64::MAX))
            .select((
                outbox::id,
                outbox::occurred_at,
                outbox::correlation_id,
                outbox::traceparent,
                notes::id,
                notes::patient_id,
                notes::doctor_id,
                notes::created_at,
                notes::text,
            ))
            .load(&mut conn)
            .await?;
        rows.into_iter()
            .map(
                |(
                    event_id,
                    occurred_at,
                    correlation_id,
                    traceparent,
                    id,
                    patient_id,
                    doctor_id,
                    created_at,
                    text,
                )| {
                    let note = SealedNote {
                        id,
                        patient_id,
                        doctor_id,
                        text: envelope(id, text)?,
                    };
                    submitted_message(
                        &note,
                        created_at,
                        &PendingEvent {
                            id: event_id,
                            occurred_at,
                            correlation_id,
                            traceparent,
                        },
                    )
                },
            )
            .collect()
    }

    async fn mark_published(
        &self,
        event_ids: &[Uuid],
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        diesel::update(
            outbox::table
                .filter(outbox::id.eq_any(event_ids))
                .filter(outbox::published_at.is_null()),
        )
        .set(outbox::published_at.eq(at))
        .execute(&mut conn)
        .await?;
        Ok(())
    }

    async fn sealed_notes(
        &self,
        after: Option<Uuid>,
        limit: usize,
    ) -> Result<Vec<SealedNote>, StoreError> {
        let mut conn = self.conn().await?;
        let mut query = notes::table
            .order(notes::id.asc())
            .limit(i64::try_from(limit).unwrap_or(i64::MAX))
            .select((notes::id, notes::patient_id, notes::doctor_id, notes::text))
            .into_boxed();
        if let Some(after) = after {
            query = query.filter(notes::id.gt(after));
        }
        let rows: Vec<(Uuid, Uuid, Uuid, serde_json::Value)> = query.load(&mut conn).await?;
        rows.into_iter()
            .map(|(id, patient_id, doctor_id, text)| {
                Ok(SealedNote {
                    id,
                    patient_id,
                    doctor_id,
                    text: envelope(id, text)?,
                })
            })
            .collect()
    }

    async fn replace_text(
        &self,
        note_id: Uuid,
        old: &SealedEnvelope,
        new: &SealedEnvelope,
    ) -> Result<bool, StoreError> {
        let (old, new) = (envelope_json(old)?, envelope_json(new)?);
        let mut conn = self.conn().await?;
        let changed = diesel::update(
            notes::table
                .filter(notes::id.eq(note_id))
                .filter(notes::text.eq(&old)),
        )
        .set(notes::text.eq(&new))
        .execute(&mut conn)
        .await?;
        Ok(changed == 1)
    }
}

/// A status update that changed nothing: was the note there at all?
async fn settle(
    conn: &mut AsyncPgConnection,
    changed: usize,
    note_id: Uuid,
    patient_id: Uuid,
) -> Result<StatusChange, StoreError> {
    if changed > 0 {
        return Ok(StatusChange::Changed);
    }
    let exists: i64 = notes::table
        .filter(notes::id.eq(note_id))
        .filter(notes::patient_id.eq(patient_id))
        .count()
        .get_result(conn)
        .await?;
    Ok(if exists > 0 {
        StatusChange::Unchanged
    } else {
        StatusChange::UnknownNote
    })
}
