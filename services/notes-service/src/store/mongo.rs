//! The MongoDB adapter: the official driver, indexes created at start, write and read concern
//! `majority` unless the URL says otherwise.
//!
//! It keeps to single-document writes, so it runs on a standalone server (no multi-document
//! transactions, no change streams) and on MongoDB-compatible servers: a note and its pending
//! `note.submitted` event are one document written by one `insert_one`; the relay finds
//! unsent events by `outbox.sent` and marks them with a compare-and-set update.
//!
//! Ids are BSON binary subtype 4 (UUID). MongoDB orders binary values by length, then subtype,
//! then byte by byte, so 16-byte UUIDs sort as their bytes do, as in PostgreSQL: UUID v7 ids
//! page in time order. Instants are BSON dates, which keep milliseconds.

use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::TryStreamExt as _;
use hospital_crypto::SealedEnvelope;
use hospital_events::OutboxMessage;
use hospital_platform::token::Role;
use mongodb::bson::spec::BinarySubtype;
use mongodb::bson::{doc, Binary, Bson, Document};
use mongodb::error::{Error as MongoError, ErrorKind, WriteFailure};
use mongodb::options::{ClientOptions, IndexOptions, ReadConcern, WriteConcern};
use mongodb::{Client, Collection, Database, IndexModel};
use uuid::Uuid;

use super::{
    parse_role, submitted_message, AccessEntry, Inserted, KeyClaim, NewNote, NoteCursor,
    NoteRecord, NoteStore, PendingEvent, Reservation, SealedNote, StatusChange, StoreError,
    UserCopy,
};
use crate::domain::{failure_code_str, parse_failure_code, FailureCode, NoteStatus};
use crate::settings::DatabaseSettings;

/// The server's code for a write that breaks a unique index (`_id` included).
const DUPLICATE_KEY: i32 = 11000;

/// How long server selection and a new connection may take, unless the URL says otherwise:
/// long enough for a failover, short enough that readiness and requests fail fast.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// Reads of a note: everything but its outbox.
fn note_projection() -> Document {
    doc! {
        "patient_id": 1, "doctor_id": 1, "created_at": 1, "text": 1, "status": 1,
        "failure_code": 1,
    }
}

/// The notes-service's MongoDB database.
#[derive(Clone)]
pub struct MongoNotes {
    database: Database,
    notes: Collection<Document>,
    idempotency_keys: Collection<Document>,
    access_log: Collection<Document>,
    users: Collection<Document>,
}

impl MongoNotes {
    /// Connects to the database the URL names, else `settings.name`, and creates the indexes.
    pub async fn connect(settings: &DatabaseSettings) -> Result<Self, StoreError> {
        let options = client_options(settings).await?;
        let name = options
            .default_database
            .clone()
            .unwrap_or_else(|| settings.name.clone());
        Self::open(options, &name).await
    }

    /// Connects to the database `name` whatever the URL names (the credentials still
    /// authenticate where the URL says), and creates the indexes: each test gets its own.
    pub async fn connect_database(
        settings: &DatabaseSettings,
        name: &str,
    ) -> Result<Self, StoreError> {
        Self::open(client_options(settings).await?, name).await
    }

    async fn open(options: ClientOptions, name: &str) -> Result<Self, StoreError> {
        let client = Client::with_options(options)
            .map_err(|e| StoreError::Config(format!("MongoDB client: {}", describe(&e))))?;
        let database = client.database(name);
        let store = Self {
            notes: database.collection("notes"),
            idempotency_keys: database.collection("idempotency_keys"),
            access_log: database.collection("access_log"),
            users: database.collection("users"),
            database,
        };
        store.create_indexes().await?;
        tracing::info!(database = name, "MongoDB store ready");
        Ok(store)
    }

    /// Creates the indexes; creating one that exists with the same keys and options does
    /// nothing, so every start runs this.
    async fn create_indexes(&self) -> Result<(), StoreError> {
        let named = |keys: Document, name: &str| {
            IndexModel::builder()
                .keys(keys)
                .options(IndexOptions::builder().name(name.to_owned()).build())
                .build()
        };
        // A patient's notes, newest first, paged by (created_at, _id).
        self.notes
            .create_index(named(
                doc! { "patient_id": 1, "created_at": -1, "_id": -1 },
                "patient_newest_first",
            ))
            .await
            .map_err(|e| unavailable("creating the notes index", &e))?;
        // The relay's scan: unsent events in the order they are published.
        self.notes
            .create_index(named(
                doc! { "outbox.sent": 1, "outbox.occurred_at": 1, "outbox.event_id": 1 },
                "outbox_unsent_oldest_first",
            ))
            .await
            .map_err(|e| unavailable("creating the outbox index", &e))?;
        self.access_log
            .create_index(named(
                doc! { "patient_id": 1, "_id": -1 },
                "patient_newest_first",
            ))
            .await
            .map_err(|e| unavailable("creating the access-log index", &e))?;
        // The TTL monitor removes a key once `expires_at` has passed (it runs every 60 s,
        // so `reserve_key` also treats an expired key as free).
        self.idempotency_keys
            .create_index(
                IndexModel::builder()
                    .keys(doc! { "expires_at": 1 })
                    .options(
                        IndexOptions::builder()
                            .name("expires_at_ttl".to_owned())
                            .expire_after(Duration::ZERO)
                            .build(),
                    )
                    .build(),
            )
            .await
            .map_err(|e| unavailable("creating the idempotency-key TTL index", &e))?;
        Ok(())
    }

    /// A status update that matched nothing: was the note there at all?
    async fn settle(
        &self,
        matched: u64,
        note_id: Uuid,
        patient_id: Uuid,
    ) -> Result<StatusChange, StoreError> {
        if matched > 0 {
            return Ok(StatusChange::Changed);
        }
        let exists = self
            .notes
            .find_one(doc! { "_id": uuid(note_id), "patient_id": uuid(patient_id) })
            .projection(doc! { "_id": 1 })
            .await
            .map_err(|e| unavailable("reading a note", &e))?;
        Ok(if exists.is_some() {
            StatusChange::Unchanged
        } else {
            StatusChange::UnknownNote
        })
    }

    /// Sets the user's assignment if none is stored or the stored one is older.
    async fn update_assignment(
        &self,
        patient_id: Uuid,
        doctor_id: Option<Uuid>,
        changed_at: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        // `$lt` on a date matches only dates: a user without an assignment (the field
        // missing, or null) is matched by the other branches.
        let filter = doc! {
            "_id": uuid(patient_id),
            "$or": [
                { "assignment_changed_at": { "$exists": false } },
                { "assignment_changed_at": null },
                { "assignment_changed_at": { "$lt": date(changed_at) } },
            ],
        };
        let update = doc! { "$set": {
            "doctor_id": doctor_id.map_or(Bson::Null, uuid),
            "assignment_changed_at": date(changed_at),
            "updated_at": date(at),
        }};
        let result = self
            .users
            .update_one(filter, update)
            .await
            .map_err(|e| unavailable("updating a user's assignment", &e))?;
        Ok(result.matched_count > 0)
    }
}

/// The driver's options from the URL, with the service's defaults where the URL sets none.
async fn client_options(settings: &DatabaseSettings) -> Result<ClientOptions, StoreError> {
    let mut options = ClientOptions::parse(&settings.url)
        .await
        .map_err(|e| StoreError::Config(format!("the MongoDB URL: {}", describe(&e))))?;
    options.max_pool_size = Some(u32::try_from(settings.pool_size).unwrap_or(u32::MAX));
    options
        .app_name
        .get_or_insert_with(|| "notes-service".to_owned());
    // A write the service acknowledged survives a failover, and reads never see one that
    // could still be rolled back.
    options.write_concern.get_or_insert_with(|| {
        let mut concern = WriteConcern::majority();
        concern.journal = Some(true);
        concern
    });
    options
        .read_concern
        .get_or_insert_with(ReadConcern::majority);
    options
        .server_selection_timeout
        .get_or_insert(DEFAULT_TIMEOUT);
    options.connect_timeout.get_or_insert(DEFAULT_TIMEOUT);
    Ok(options)
}

/// What went wrong, by kind and server code: never a server message, which can quote
/// document contents (a duplicate key's value, a failed validation's document), nor the
/// URL, which can carry a password.
fn describe(err: &MongoError) -> String {
    match err.kind.as_ref() {
        ErrorKind::Write(WriteFailure::WriteError(e)) => format!(
            "write error {} ({})",
            e.code,
            e.code_name.as_deref().unwrap_or("no code name")
        ),
        ErrorKind::Write(WriteFailure::WriteConcernError(e)) => {
            format!("write concern error {} ({})", e.code, e.code_name)
        }
        ErrorKind::InsertMany(e) => match (&e.write_errors, &e.write_concern_error) {
            (Some(errors), _) if !errors.is_empty() => format!(
                "{} write error(s), the first {} ({})",
                errors.len(),
                errors[0].code,
                errors[0].code_name.as_deref().unwrap_or("no code name")
            ),
            (_, Some(e)) => format!("write concern error {} ({})", e.code, e.code_name),
            _ => "insert failed".to_owned(),
        },
        ErrorKind::Command(e) => format!("command error {} ({})", e.code, e.code_name),
        // Host names and connection errors, never credentials.
        ErrorKind::ServerSelection { message, .. } => format!("no server selected: {message}"),
        ErrorKind::Io(e) => format!("I/O error: {e}"),
        ErrorKind::ConnectionPoolCleared { .. } => "connection pool cleared".to_owned(),
        ErrorKind::Authentication { .. } => "authentication failed".to_owned(),
        ErrorKind::DnsResolve { .. } => "DNS resolution failed".to_owned(),
        ErrorKind::InvalidArgument { .. } => {
            "invalid argument (details withheld: they can quote the URL)".to_owned()
        }
        ErrorKind::InvalidTlsConfig { .. } => "invalid TLS configuration".to_owned(),
        ErrorKind::InvalidResponse { .. } => "invalid reply from the server".to_owned(),
        ErrorKind::IncompatibleServer { .. } => "incompatible server".to_owned(),
        ErrorKind::BsonDeserialization(_) | ErrorKind::BsonSerialization(_) => {
            "BSON encoding".to_owned()
        }
        ErrorKind::Shutdown => "client shut down".to_owned(),
        _ => "driver error".to_owned(),
    }
}

fn unavailable(doing: &str, err: &MongoError) -> StoreError {
    StoreError::Unavailable(format!("MongoDB, {doing}: {}", describe(err)))
}

fn is_duplicate_key(err: &MongoError) -> bool {
    match err.kind.as_ref() {
        ErrorKind::Write(WriteFailure::WriteError(e)) => e.code == DUPLICATE_KEY,
        ErrorKind::Command(e) => e.code == DUPLICATE_KEY,
        _ => false,
    }
}

// Values as stored.

fn uuid(id: Uuid) -> Bson {
    Bson::from(mongodb::bson::Uuid::from_bytes(id.into_bytes()))
}

fn uuids(ids: &[Uuid]) -> Bson {
    Bson::Array(ids.iter().copied().map(uuid).collect())
}

fn date(at: DateTime<Utc>) -> Bson {
    Bson::DateTime(mongodb::bson::DateTime::from_millis(at.timestamp_millis()))
}

fn bytes(value: &[u8]) -> Bson {
    Bson::Binary(Binary {
        subtype: BinarySubtype::Generic,
        bytes: value.to_vec(),
    })
}

fn optional_str(value: Option<&str>) -> Bson {
    value.map_or(Bson::Null, Bson::from)
}

/// An envelope as a sub-document, its bytes as binary (half the size of base64).
fn envelope_doc(text: &SealedEnvelope) -> Document {
    doc! {
        "v": i64::from(text.v),
        "kid": text.kid.as_str(),
        "key_nonce": bytes(&text.key_nonce),
        "wrapped_key": bytes(&text.wrapped_key),
        "nonce": bytes(&text.nonce),
        "ciphertext": bytes(&text.ciphertext),
    }
}

/// The idempotency key's `_id`: the doctor's id (fixed length) then the key, so no two
/// (doctor, key) pairs share one.
fn key_id(doctor_id: Uuid, key: &str) -> String {
    format!("{}:{key}", doctor_id.hyphenated())
}

// Values read back: a missing field or a wrong type is corruption, never a default.

/// Reads the fields of one stored document, naming it in every error.
struct Fields<'a> {
    doc: &'a Document,
    what: &'a str,
}

impl<'a> Fields<'a> {
    fn new(doc: &'a Document, what: &'a str) -> Self {
        Self { doc, what }
    }

    fn corrupt(&self, field: &str, problem: &str) -> StoreError {
        StoreError::Corrupt(format!("{}: field {field} {problem}", self.what))
    }

    fn get(&self, field: &str) -> Result<&'a Bson, StoreError> {
        self.doc
            .get(field)
            .ok_or_else(|| self.corrupt(field, "is missing"))
    }

    /// `None` when missing or null.
    fn get_optional(&self, field: &str) -> Option<&'a Bson> {
        match self.doc.get(field) {
            None | Some(Bson::Null) => None,
            Some(value) => Some(value),
        }
    }

    fn uuid(&self, field: &str) -> Result<Uuid, StoreError> {
        self.uuid_of(field, self.get(field)?)
    }

    fn optional_uuid(&self, field: &str) -> Result<Option<Uuid>, StoreError> {
        self.get_optional(field)
            .map(|value| self.uuid_of(field, value))
            .transpose()
    }

    fn uuid_of(&self, field: &str, value: &Bson) -> Result<Uuid, StoreError> {
        match value {
            Bson::Binary(binary) if binary.subtype == BinarySubtype::Uuid => {
                Uuid::from_slice(&binary.bytes).map_err(|_| self.corrupt(field, "is not 16 bytes"))
            }
            _ => Err(self.corrupt(field, "is not a UUID")),
        }
    }

    fn date(&self, field: &str) -> Result<DateTime<Utc>, StoreError> {
        match self.get(field)? {
            Bson::DateTime(at) => DateTime::from_timestamp_millis(at.timestamp_millis())
                .ok_or_else(|| self.corrupt(field, "is out of range")),
            _ => Err(self.corrupt(field, "is not a date")),
        }
    }

    fn str(&self, field: &str) -> Result<&'a str, StoreError> {
        match self.get(field)? {
            Bson::String(value) => Ok(value),
            _ => Err(self.corrupt(field, "is not a string")),
        }
    }

    fn optional_str(&self, field: &str) -> Result<Option<&'a str>, StoreError> {
        match self.get_optional(field) {
            None => Ok(None),
            Some(Bson::String(value)) => Ok(Some(value)),
            Some(_) => Err(self.corrupt(field, "is not a string")),
        }
    }

    fn document(&self, field: &str) -> Result<&'a Document, StoreError> {
        match self.get(field)? {
            Bson::Document(value) => Ok(value),
            _ => Err(self.corrupt(field, "is not a document")),
        }
    }

    fn bytes(&self, field: &str) -> Result<Vec<u8>, StoreError> {
        match self.get(field)? {
            Bson::Binary(binary) if binary.subtype == BinarySubtype::Generic => {
                Ok(binary.bytes.clone())
            }
            _ => Err(self.corrupt(field, "is not binary data")),
        }
    }

    fn u32(&self, field: &str) -> Result<u32, StoreError> {
        let value = match self.get(field)? {
            Bson::Int32(value) => i64::from(*value),
            Bson::Int64(value) => *value,
            _ => return Err(self.corrupt(field, "is not an integer")),
        };
        u32::try_from(value).map_err(|_| self.corrupt(field, "is out of range"))
    }
}

fn envelope_from(note_id: Uuid, text: &Document) -> Result<SealedEnvelope, StoreError> {
    let what = format!("note {note_id}: text");
    let fields = Fields::new(text, &what);
    Ok(SealedEnvelope {
        v: fields.u32("v")?,
        kid: fields.str("kid")?.to_owned(),
        key_nonce: fields.bytes("key_nonce")?,
        wrapped_key: fields.bytes("wrapped_key")?,
        nonce: fields.bytes("nonce")?,
        ciphertext: fields.bytes("ciphertext")?,
    })
}

/// The id of a stored document, for the messages that name it.
fn stored_id(doc: &Document, what: &str) -> Result<Uuid, StoreError> {
    Fields::new(doc, what).uuid("_id")
}

fn note_record(doc: &Document) -> Result<NoteRecord, StoreError> {
    let id = stored_id(doc, "a note")?;
    let what = format!("note {id}");
    let fields = Fields::new(doc, &what);
    let status = fields.str("status")?;
    let status = NoteStatus::parse(status)
        .ok_or_else(|| StoreError::Corrupt(format!("{what}: unknown status {status:?}")))?;
    let failure = fields
        .optional_str("failure_code")?
        .map(|code| {
            parse_failure_code(code).ok_or_else(|| {
                StoreError::Corrupt(format!("{what}: unknown failure code {code:?}"))
            })
        })
        .transpose()?;
    Ok(NoteRecord {
        id,
        patient_id: fields.uuid("patient_id")?,
        doctor_id: fields.uuid("doctor_id")?,
        created_at: fields.date("created_at")?,
        text: envelope_from(id, fields.document("text")?)?,
        status,
        failure,
    })
}

fn sealed_note(doc: &Document) -> Result<SealedNote, StoreError> {
    let id = stored_id(doc, "a note")?;
    let what = format!("note {id}");
    let fields = Fields::new(doc, &what);
    Ok(SealedNote {
        id,
        patient_id: fields.uuid("patient_id")?,
        doctor_id: fields.uuid("doctor_id")?,
        text: envelope_from(id, fields.document("text")?)?,
    })
}

fn access_entry(doc: &Document) -> Result<AccessEntry, StoreError> {
    let id = stored_id(doc, "an access-log entry")?;
    let what = format!("access-log entry {id}");
    let fields = Fields::new(doc, &what);
    Ok(AccessEntry {
        id,
        patient_id: fields.uuid("patient_id")?,
        note_id: fields.uuid("note_id")?,
        reader_id: fields.uuid("reader_id")?,
        reader_role: parse_role(fields.str("reader_role")?)?,
        at: fields.date("at")?,
    })
}

fn pending_message(doc: &Document) -> Result<OutboxMessage, StoreError> {
    let note = sealed_note(doc)?;
    let what = format!("note {}", note.id);
    let fields = Fields::new(doc, &what);
    let created_at = fields.date("created_at")?;
    let outbox_what = format!("note {}: outbox", note.id);
    let outbox = Fields::new(fields.document("outbox")?, &outbox_what);
    let event = PendingEvent {
        id: outbox.uuid("event_id")?,
        occurred_at: outbox.date("occurred_at")?,
        correlation_id: outbox.optional_str("correlation_id")?.map(str::to_owned),
        traceparent: outbox.optional_str("traceparent")?.map(str::to_owned),
    };
    submitted_message(&note, created_at, &event)
}

/// A page size for the driver; MongoDB reads `limit: 0` as "no limit", so callers return
/// early for 0.
fn page_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

async fn collect(
    cursor: Result<mongodb::Cursor<Document>, MongoError>,
    doing: &str,
) -> Result<Vec<Document>, StoreError> {
    cursor
        .map_err(|e| unavailable(doing, &e))?
        .try_collect()
        .await
        .map_err(|e| unavailable(doing, &e))
}

impl NoteStore for MongoNotes {
    async fn ping(&self) -> Result<(), StoreError> {
        self.database
            .run_command(doc! { "ping": 1 })
            .await
            .map_err(|e| unavailable("ping", &e))?;
        Ok(())
    }

    async fn reserve_key(&self, claim: &KeyClaim) -> Result<Reservation, StoreError> {
        let id = key_id(claim.doctor_id, claim.key.as_str());
        let key = doc! {
            "_id": id.as_str(),
            "doctor_id": uuid(claim.doctor_id),
            "key": claim.key.as_str(),
            "note_id": uuid(claim.note_id),
            "patient_id": uuid(claim.patient_id),
            "expires_at": date(claim.expires_at),
        };
        // Three rounds at most: a key held by an expired claim is deleted and the insert tried
        // again; one deleted (by the TTL monitor) between insert and read is tried again too.
        for _ in 0..3 {
            match self.idempotency_keys.insert_one(&key).await {
                Ok(_) => return Ok(Reservation::Reserved),
                Err(err) if is_duplicate_key(&err) => {}
                Err(err) => return Err(unavailable("reserving an idempotency key", &err)),
            }
            // `local`: the claim that refused ours may not be majority-committed yet, and a
            // majority read would not see it.
            let held = self
                .idempotency_keys
                .find_one(doc! { "_id": id.as_str() })
                .read_concern(ReadConcern::local())
                .await
                .map_err(|e| unavailable("reading an idempotency key", &e))?;
            let Some(held) = held else { continue };
            let fields = Fields::new(&held, "an idempotency key");
            if fields.date("expires_at")? > claim.now {
                return Ok(Reservation::Held {
                    note_id: fields.uuid("note_id")?,
                    patient_id: fields.uuid("patient_id")?,
                });
            }
            // Expired, and still free to take: deleted only while it is still expired, so a
            // fresh claim a racing request wrote meanwhile stays.
            self.idempotency_keys
                .delete_one(doc! {
                    "_id": id.as_str(),
                    "expires_at": { "$lte": date(claim.now) },
                })
                .await
                .map_err(|e| unavailable("freeing an expired idempotency key", &e))?;
        }
        Err(StoreError::Unavailable(
            "an idempotency key kept changing while it was reserved: try again".into(),
        ))
    }

    async fn insert_note(&self, note: &NewNote) -> Result<Inserted, StoreError> {
        // The note and its pending event in one document: both or neither.
        let document = doc! {
            "_id": uuid(note.id),
            "patient_id": uuid(note.patient_id),
            "doctor_id": uuid(note.doctor_id),
            "created_at": date(note.created_at),
            "text": envelope_doc(&note.text),
            "status": NoteStatus::Processing.as_str(),
            "failure_code": Bson::Null,
            "status_changed_at": Bson::Null,
            "outbox": {
                "event_id": uuid(note.event.id),
                "occurred_at": date(note.event.occurred_at),
                "correlation_id": optional_str(note.event.correlation_id.as_deref()),
                "traceparent": optional_str(note.event.traceparent.as_deref()),
                "sent": false,
                "sent_at": Bson::Null,
            },
        };
        match self.notes.insert_one(document).await {
            Ok(_) => Ok(Inserted::Created),
            Err(err) if is_duplicate_key(&err) => Ok(Inserted::AlreadyExists),
            Err(err) => Err(unavailable("inserting a note", &err)),
        }
    }

    async fn note(&self, note_id: Uuid) -> Result<Option<NoteRecord>, StoreError> {
        let found = self
            .notes
            .find_one(doc! { "_id": uuid(note_id) })
            .projection(note_projection())
            .await
            .map_err(|e| unavailable("reading a note", &e))?;
        found.as_ref().map(note_record).transpose()
    }

    async fn notes_of(
        &self,
        patient_id: Uuid,
        before: Option<NoteCursor>,
        limit: usize,
    ) -> Result<Vec<NoteRecord>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut filter = doc! { "patient_id": uuid(patient_id) };
        if let Some(cursor) = before {
            filter.insert(
                "$or",
                vec![
                    Bson::Document(doc! { "created_at": { "$lt": date(cursor.created_at) } }),
                    Bson::Document(doc! {
                        "created_at": date(cursor.created_at),
                        "_id": { "$lt": uuid(cursor.id) },
                    }),
                ],
            );
        }
        let found = self
            .notes
            .find(filter)
            .sort(doc! { "created_at": -1, "_id": -1 })
            .limit(page_limit(limit))
            .projection(note_projection())
            .await;
        collect(found, "reading a patient's notes")
            .await?
            .iter()
            .map(note_record)
            .collect()
    }

    async fn record_reads(&self, entries: &[AccessEntry]) -> Result<(), StoreError> {
        if entries.is_empty() {
            return Ok(());
        }
        let documents = entries.iter().map(|e| {
            doc! {
                "_id": uuid(e.id),
                "patient_id": uuid(e.patient_id),
                "note_id": uuid(e.note_id),
                "reader_id": uuid(e.reader_id),
                "reader_role": e.reader_role.as_str(),
                "at": date(e.at),
            }
        });
        // Not atomic across documents: after an error some entries may be written, which
        // over-reports reads (the caller serves nothing); it never under-reports them.
        self.access_log
            .insert_many(documents)
            .await
            .map_err(|e| unavailable("writing the access log", &e))?;
        Ok(())
    }

    async fn access_log(
        &self,
        patient_id: Uuid,
        before: Option<Uuid>,
        limit: usize,
    ) -> Result<Vec<AccessEntry>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut filter = doc! { "patient_id": uuid(patient_id) };
        if let Some(before) = before {
            filter.insert("_id", doc! { "$lt": uuid(before) });
        }
        let found = self
            .access_log
            .find(filter)
            .sort(doc! { "_id": -1 })
            .limit(page_limit(limit))
            .await;
        collect(found, "reading the access log")
            .await?
            .iter()
            .map(access_entry)
            .collect()
    }

    async fn mark_processed(
        &self,
        note_id: Uuid,
        patient_id: Uuid,
        at: DateTime<Utc>,
    ) -> Result<StatusChange, StoreError> {
        let result = self
            .notes
            .update_one(
                doc! {
                    "_id": uuid(note_id),
                    "patient_id": uuid(patient_id),
                    "status": { "$ne": NoteStatus::Processed.as_str() },
                },
                doc! { "$set": {
                    "status": NoteStatus::Processed.as_str(),
                    "failure_code": Bson::Null,
                    "status_changed_at": date(at),
                }},
            )
            .await
            .map_err(|e| unavailable("marking a note processed", &e))?;
        self.settle(result.matched_count, note_id, patient_id).await
    }

    async fn mark_failed(
        &self,
        note_id: Uuid,
        patient_id: Uuid,
        code: FailureCode,
        at: DateTime<Utc>,
    ) -> Result<StatusChange, StoreError> {
        let result = self
            .notes
            .update_one(
                doc! {
                    "_id": uuid(note_id),
                    "patient_id": uuid(patient_id),
                    "status": NoteStatus::Processing.as_str(),
                },
                doc! { "$set": {
                    "status": NoteStatus::Failed.as_str(),
                    "failure_code": failure_code_str(code),
                    "status_changed_at": date(at),
                }},
            )
            .await
            .map_err(|e| unavailable("marking a note failed", &e))?;
        self.settle(result.matched_count, note_id, patient_id).await
    }

    async fn apply_registration(
        &self,
        user_id: Uuid,
        role: Role,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let update = doc! { "$set": { "role": role.as_str(), "updated_at": date(at) } };
        // Two upserts of one new `_id` can race: the loser's insert fails on the duplicate
        // key, and its update then finds the winner's document.
        for _ in 0..2 {
            match self
                .users
                .update_one(doc! { "_id": uuid(user_id) }, update.clone())
                .upsert(true)
                .await
            {
                Ok(_) => return Ok(()),
                Err(err) if is_duplicate_key(&err) => {}
                Err(err) => return Err(unavailable("recording a registration", &err)),
            }
        }
        Err(StoreError::Unavailable(
            "a user's registration kept racing another write: try again".into(),
        ))
    }

    async fn apply_assignment(
        &self,
        patient_id: Uuid,
        doctor_id: Option<Uuid>,
        changed_at: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        if self
            .update_assignment(patient_id, doctor_id, changed_at, at)
            .await?
        {
            return Ok(true);
        }
        // Nothing matched: no user yet, or a newer (or equal) assignment is stored.
        let user = doc! {
            "_id": uuid(patient_id),
            "role": Bson::Null,
            "doctor_id": doctor_id.map_or(Bson::Null, uuid),
            "assignment_changed_at": date(changed_at),
            "updated_at": date(at),
        };
        match self.users.insert_one(user).await {
            Ok(_) => Ok(true),
            // The user exists: either its assignment is not older (stale event) or another
            // write created the user since the update; the update decides once more, and
            // users are never deleted, so it cannot miss again for lack of a document.
            Err(err) if is_duplicate_key(&err) => {
                self.update_assignment(patient_id, doctor_id, changed_at, at)
                    .await
            }
            Err(err) => Err(unavailable("recording an assignment", &err)),
        }
    }

    async fn user(&self, user_id: Uuid) -> Result<Option<UserCopy>, StoreError> {
        let found = self
            .users
            .find_one(doc! { "_id": uuid(user_id) })
            .projection(doc! { "role": 1, "doctor_id": 1 })
            .await
            .map_err(|e| unavailable("reading a user", &e))?;
        let Some(found) = found else {
            return Ok(None);
        };
        let what = format!("user {user_id}");
        let fields = Fields::new(&found, &what);
        Ok(Some(UserCopy {
            id: user_id,
            role: fields.optional_str("role")?.map(parse_role).transpose()?,
            doctor_id: fields.optional_uuid("doctor_id")?,
        }))
    }

    async fn pending_events(&self, limit: usize) -> Result<Vec<OutboxMessage>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        // Oldest first, then by event id, as the PostgreSQL outbox orders them.
        let found = self
            .notes
            .find(doc! { "outbox.sent": false })
            .sort(doc! { "outbox.occurred_at": 1, "outbox.event_id": 1 })
            .limit(page_limit(limit))
            .projection(doc! {
                "patient_id": 1, "doctor_id": 1, "created_at": 1, "text": 1,
                "outbox.event_id": 1, "outbox.occurred_at": 1, "outbox.correlation_id": 1,
                "outbox.traceparent": 1,
            })
            .await;
        collect(found, "reading pending events")
            .await?
            .iter()
            .map(pending_message)
            .collect()
    }

    async fn mark_published(
        &self,
        event_ids: &[Uuid],
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        if event_ids.is_empty() {
            return Ok(());
        }
        // Compare-and-set: an event already marked keeps its first `sent_at`.
        self.notes
            .update_many(
                doc! { "outbox.event_id": { "$in": uuids(event_ids) }, "outbox.sent": false },
                doc! { "$set": { "outbox.sent": true, "outbox.sent_at": date(at) } },
            )
            .await
            .map_err(|e| unavailable("marking events published", &e))?;
        Ok(())
    }

    async fn sealed_notes(
        &self,
        after: Option<Uuid>,
        limit: usize,
    ) -> Result<Vec<SealedNote>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let filter = match after {
            Some(after) => doc! { "_id": { "$gt": uuid(after) } },
            None => doc! {},
        };
        let found = self
            .notes
            .find(filter)
            .sort(doc! { "_id": 1 })
            .limit(page_limit(limit))
            .projection(doc! { "patient_id": 1, "doctor_id": 1, "text": 1 })
            .await;
        collect(found, "reading notes to re-wrap")
            .await?
            .iter()
            .map(sealed_note)
            .collect()
    }

    async fn replace_text(
        &self,
        note_id: Uuid,
        old: &SealedEnvelope,
        new: &SealedEnvelope,
    ) -> Result<bool, StoreError> {
        // Compare-and-set field by field: equality on a whole sub-document would also depend
        // on its field order.
        let mut filter = doc! { "_id": uuid(note_id) };
        for (field, value) in envelope_doc(old) {
            filter.insert(format!("text.{field}"), value);
        }
        let result = self
            .notes
            .update_one(filter, doc! { "$set": { "text": envelope_doc(new) } })
            .await
            .map_err(|e| unavailable("replacing a note's text", &e))?;
        Ok(result.matched_count == 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_are_stored_as_binary_subtype_4_in_byte_order() {
        let id = Uuid::now_v7();
        let Bson::Binary(binary) = uuid(id) else {
            panic!("not binary");
        };
        assert_eq!(binary.subtype, BinarySubtype::Uuid);
        assert_eq!(binary.bytes, id.as_bytes());
        let doc = doc! { "_id": uuid(id) };
        assert_eq!(Fields::new(&doc, "t").uuid("_id").unwrap(), id);
    }

    #[test]
    fn dates_keep_milliseconds() {
        let at = DateTime::from_timestamp_millis(1_767_225_600_123).unwrap();
        let doc = doc! { "at": date(at) };
        assert_eq!(Fields::new(&doc, "t").date("at").unwrap(), at);
    }

    #[test]
    fn envelopes_round_trip() {
        let text = SealedEnvelope {
            v: 1,
            kid: "k1".into(),
            key_nonce: vec![1; 12],
            wrapped_key: vec![2; 48],
            nonce: vec![3; 12],
            ciphertext: vec![0, 255, 7],
        };
        let id = Uuid::now_v7();
        assert_eq!(envelope_from(id, &envelope_doc(&text)).unwrap(), text);
    }

    #[test]
    fn wrong_types_are_corruption_not_defaults() {
        let doc = doc! { "_id": "not a uuid", "n": Bson::Null, "s": 5 };
        let fields = Fields::new(&doc, "t");
        assert!(matches!(fields.uuid("_id"), Err(StoreError::Corrupt(_))));
        assert!(matches!(
            fields.uuid("missing"),
            Err(StoreError::Corrupt(_))
        ));
        assert!(matches!(fields.optional_uuid("n"), Ok(None)));
        assert!(matches!(
            fields.optional_str("s"),
            Err(StoreError::Corrupt(_))
        ));
    }

    #[test]
    fn key_ids_keep_doctors_apart() {
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        assert_ne!(key_id(a, "k"), key_id(b, "k"));
        assert_ne!(key_id(a, "k1"), key_id(a, "k2"));
    }
}
