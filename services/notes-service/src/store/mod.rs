//! Where notes live, behind one [`NoteStore`] trait with two adapters: MongoDB (production)
//! and PostgreSQL (where no MongoDB exists). The scheme of `NOTES__DATABASE__URL` picks one
//! ([`Notes::connect`]).
//!
//! Neither adapter needs a multi-document transaction: a note and its pending
//! `note.submitted` event are written by one statement (PostgreSQL: one transaction), an
//! `Idempotency-Key` reserves its note id before the note is written, and every status
//! change is a compare-and-set, so each step can be retried after a crash.

pub mod mongo;
pub mod postgres;
mod schema;

use std::future::Future;

use chrono::{DateTime, Utc};
use hospital_crypto::SealedEnvelope;
use hospital_events::contracts::NoteSubmitted;
use hospital_events::{Envelope, OutboxMessage};
use hospital_platform::token::Role;
use uuid::Uuid;

use crate::domain::{FailureCode, IdempotencyKey, NoteStatus};
use crate::settings::DatabaseSettings;

pub use mongo::MongoNotes;
pub use postgres::PgNotes;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached or refused the operation: try again later.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// Stored data does not decode into its type: never papered over with a default.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// The database URL or its options are wrong.
    #[error("database configuration: {0}")]
    Config(String),
}

/// A stored note, its text still sealed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteRecord {
    pub id: Uuid,
    pub patient_id: Uuid,
    pub doctor_id: Uuid,
    pub created_at: DateTime<Utc>,
    pub text: SealedEnvelope,
    pub status: NoteStatus,
    /// Set when `status` is `failed`.
    pub failure: Option<FailureCode>,
}

/// The `note.submitted` event a new note carries until the relay has published it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingEvent {
    /// The envelope id (and AMQP message id): consumers deduplicate on it.
    pub id: Uuid,
    pub occurred_at: DateTime<Utc>,
    pub correlation_id: Option<String>,
    pub traceparent: Option<String>,
}

/// A note to write, with its event.
#[derive(Debug, Clone)]
pub struct NewNote {
    pub id: Uuid,
    pub patient_id: Uuid,
    pub doctor_id: Uuid,
    pub created_at: DateTime<Utc>,
    pub text: SealedEnvelope,
    pub event: PendingEvent,
}

/// What [`NoteStore::insert_note`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inserted {
    Created,
    /// A note with this id exists already (a retry, or a racing request with the same key).
    AlreadyExists,
}

/// A doctor's idempotency key, reserving `note_id` until `expires_at`.
#[derive(Debug, Clone)]
pub struct KeyClaim {
    pub doctor_id: Uuid,
    pub key: IdempotencyKey,
    pub note_id: Uuid,
    pub patient_id: Uuid,
    pub now: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// What [`NoteStore::reserve_key`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reservation {
    /// The key was free (or expired): it now reserves the claim's note id.
    Reserved,
    /// The key is held by an earlier request of the same doctor, for this note and patient.
    Held { note_id: Uuid, patient_id: Uuid },
}

/// One read of one note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessEntry {
    /// UUID v7: orders entries in time.
    pub id: Uuid,
    pub patient_id: Uuid,
    pub note_id: Uuid,
    pub reader_id: Uuid,
    pub reader_role: Role,
    pub at: DateTime<Utc>,
}

/// Where a page of a patient's notes starts: after this note, newest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoteCursor {
    pub created_at: DateTime<Utc>,
    pub id: Uuid,
}

/// What a status event did to its note.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusChange {
    Changed,
    /// Already in that state, or in one the event may not overwrite.
    Unchanged,
    /// No note with that id belongs to that patient.
    UnknownNote,
}

/// The service's copy of a user, from auth-service's events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserCopy {
    pub id: Uuid,
    /// `None` while only an assignment has arrived (the registration is on its way).
    pub role: Option<Role>,
    pub doctor_id: Option<Uuid>,
}

/// A note's sealed text and the ids it is bound to, for re-wrapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedNote {
    pub id: Uuid,
    pub patient_id: Uuid,
    pub doctor_id: Uuid,
    pub text: SealedEnvelope,
}

/// Everything the service keeps. Both adapters pass the same contract suite
/// (`tests/api/store_contract.rs`).
pub trait NoteStore: Send + Sync + 'static {
    /// One round trip to the database.
    fn ping(&self) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Reserves `claim.key` for `claim.note_id`, unless the doctor's unexpired key is held.
    fn reserve_key(
        &self,
        claim: &KeyClaim,
    ) -> impl Future<Output = Result<Reservation, StoreError>> + Send;

    /// Writes the note and its pending event together (both or neither).
    fn insert_note(
        &self,
        note: &NewNote,
    ) -> impl Future<Output = Result<Inserted, StoreError>> + Send;

    fn note(
        &self,
        note_id: Uuid,
    ) -> impl Future<Output = Result<Option<NoteRecord>, StoreError>> + Send;

    /// A patient's notes, newest first, after `before` when given.
    fn notes_of(
        &self,
        patient_id: Uuid,
        before: Option<NoteCursor>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<NoteRecord>, StoreError>> + Send;

    /// Writes access-log entries; the caller serves nothing until this returned `Ok`.
    fn record_reads(
        &self,
        entries: &[AccessEntry],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// A patient's access log, newest first, after the entry `before` when given.
    fn access_log(
        &self,
        patient_id: Uuid,
        before: Option<Uuid>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<AccessEntry>, StoreError>> + Send;

    /// `steps.extracted` arrived: `processing` or `failed` → `processed`.
    fn mark_processed(
        &self,
        note_id: Uuid,
        patient_id: Uuid,
        at: DateTime<Utc>,
    ) -> impl Future<Output = Result<StatusChange, StoreError>> + Send;

    /// `extraction.failed` arrived: `processing` → `failed` (a processed note stays so).
    fn mark_failed(
        &self,
        note_id: Uuid,
        patient_id: Uuid,
        code: FailureCode,
        at: DateTime<Utc>,
    ) -> impl Future<Output = Result<StatusChange, StoreError>> + Send;

    /// `user.registered`: the user's role (roles never change).
    fn apply_registration(
        &self,
        user_id: Uuid,
        role: Role,
        at: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// `assignment.changed`: applied unless a later `changed_at` is stored; `true` if applied.
    fn apply_assignment(
        &self,
        patient_id: Uuid,
        doctor_id: Option<Uuid>,
        changed_at: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    fn user(
        &self,
        user_id: Uuid,
    ) -> impl Future<Output = Result<Option<UserCopy>, StoreError>> + Send;

    /// Unpublished `note.submitted` messages, oldest first.
    fn pending_events(
        &self,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<OutboxMessage>, StoreError>> + Send;

    /// Marks these events published (compare-and-set: only ones still unpublished).
    fn mark_published(
        &self,
        event_ids: &[Uuid],
        at: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Notes by id, after `after`, for the re-wrap command.
    fn sealed_notes(
        &self,
        after: Option<Uuid>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<SealedNote>, StoreError>> + Send;

    /// Replaces a note's envelope if it still is `old` (compare-and-set); `true` if replaced.
    fn replace_text(
        &self,
        note_id: Uuid,
        old: &SealedEnvelope,
        new: &SealedEnvelope,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

/// The `note.submitted` message of a note, built when it is published so the sealed text is
/// stored once.
pub fn submitted_message(
    note: &SealedNote,
    created_at: DateTime<Utc>,
    event: &PendingEvent,
) -> Result<OutboxMessage, StoreError> {
    let mut envelope = Envelope::new(NoteSubmitted {
        note_id: note.id,
        patient_id: note.patient_id,
        doctor_id: note.doctor_id,
        created_at,
        text: note.text.clone(),
    })
    .with_occurred_at(event.occurred_at);
    envelope.id = event.id;
    envelope.correlation_id.clone_from(&event.correlation_id);
    envelope.traceparent.clone_from(&event.traceparent);
    OutboxMessage::from_envelope(&envelope)
        .map_err(|e| StoreError::Corrupt(format!("note.submitted does not serialize: {e}")))
}

/// Role as stored.
pub fn parse_role(stored: &str) -> Result<Role, StoreError> {
    match stored {
        "patient" => Ok(Role::Patient),
        "doctor" => Ok(Role::Doctor),
        other => Err(StoreError::Corrupt(format!("unknown role {other:?}"))),
    }
}

/// The store the settings name: `mongodb://` / `mongodb+srv://` or `postgres://`.
#[derive(Clone)]
pub enum Notes {
    Mongo(MongoNotes),
    Postgres(PgNotes),
}

impl Notes {
    /// Connects (lazily where the driver allows) and prepares the schema: migrations or
    /// indexes.
    pub async fn connect(settings: &DatabaseSettings) -> Result<Self, StoreError> {
        if settings.is_mongodb() {
            Ok(Notes::Mongo(MongoNotes::connect(settings).await?))
        } else if settings.is_postgres() {
            let store = PgNotes::connect(&settings.url, settings.pool_size)?;
            store.run_migrations().await?;
            Ok(Notes::Postgres(store))
        } else {
            Err(StoreError::Config(
                "the database URL must start with mongodb://, mongodb+srv:// or postgres://".into(),
            ))
        }
    }

    /// `mongodb` or `postgres`, for logs and readiness.
    pub fn kind(&self) -> &'static str {
        match self {
            Notes::Mongo(_) => "mongodb",
            Notes::Postgres(_) => "postgres",
        }
    }
}

/// Forwards every [`NoteStore`] call to the adapter in use.
macro_rules! delegate {
    ($self:ident, $store:ident => $call:expr) => {
        match $self {
            Notes::Mongo($store) => $call.await,
            Notes::Postgres($store) => $call.await,
        }
    };
}

impl NoteStore for Notes {
    async fn ping(&self) -> Result<(), StoreError> {
        delegate!(self, s => s.ping())
    }
    async fn reserve_key(&self, claim: &KeyClaim) -> Result<Reservation, StoreError> {
        delegate!(self, s => s.reserve_key(claim))
    }
    async fn insert_note(&self, note: &NewNote) -> Result<Inserted, StoreError> {
        delegate!(self, s => s.insert_note(note))
    }
    async fn note(&self, note_id: Uuid) -> Result<Option<NoteRecord>, StoreError> {
        delegate!(self, s => s.note(note_id))
    }
    async fn notes_of(
        &self,
        patient_id: Uuid,
        before: Option<NoteCursor>,
        limit: usize,
    ) -> Result<Vec<NoteRecord>, StoreError> {
        delegate!(self, s => s.notes_of(patient_id, before, limit))
    }
    async fn record_reads(&self, entries: &[AccessEntry]) -> Result<(), StoreError> {
        delegate!(self, s => s.record_reads(entries))
    }
    async fn access_log(
        &self,
        patient_id: Uuid,
        before: Option<Uuid>,
        limit: usize,
    ) -> Result<Vec<AccessEntry>, StoreError> {
        delegate!(self, s => s.access_log(patient_id, before, limit))
    }
    async fn mark_processed(
        &self,
        note_id: Uuid,
        patient_id: Uuid,
        at: DateTime<Utc>,
    ) -> Result<StatusChange, StoreError> {
        delegate!(self, s => s.mark_processed(note_id, patient_id, at))
    }
    async fn mark_failed(
        &self,
        note_id: Uuid,
        patient_id: Uuid,
        code: FailureCode,
        at: DateTime<Utc>,
    ) -> Result<StatusChange, StoreError> {
        delegate!(self, s => s.mark_failed(note_id, patient_id, code, at))
    }
    async fn apply_registration(
        &self,
        user_id: Uuid,
        role: Role,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        delegate!(self, s => s.apply_registration(user_id, role, at))
    }
    async fn apply_assignment(
        &self,
        patient_id: Uuid,
        doctor_id: Option<Uuid>,
        changed_at: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        delegate!(self, s => s.apply_assignment(patient_id, doctor_id, changed_at, at))
    }
    async fn user(&self, user_id: Uuid) -> Result<Option<UserCopy>, StoreError> {
        delegate!(self, s => s.user(user_id))
    }
    async fn pending_events(&self, limit: usize) -> Result<Vec<OutboxMessage>, StoreError> {
        delegate!(self, s => s.pending_events(limit))
    }
    async fn mark_published(
        &self,
        event_ids: &[Uuid],
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        delegate!(self, s => s.mark_published(event_ids, at))
    }
    async fn sealed_notes(
        &self,
        after: Option<Uuid>,
        limit: usize,
    ) -> Result<Vec<SealedNote>, StoreError> {
        delegate!(self, s => s.sealed_notes(after, limit))
    }
    async fn replace_text(
        &self,
        note_id: Uuid,
        old: &SealedEnvelope,
        new: &SealedEnvelope,
    ) -> Result<bool, StoreError> {
        delegate!(self, s => s.replace_text(note_id, old, new))
    }
}
