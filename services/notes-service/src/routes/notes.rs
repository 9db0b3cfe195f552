//! `POST/GET /patients/{patient_id}/notes`, one note, and the patient's access log.

use actix_web::http::header::HeaderMap;
use actix_web::{web, HttpMessage as _, HttpRequest, HttpResponse};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, SubsecRound, TimeDelta, Utc};
use hospital_events::contracts::note_text_binding;
use hospital_platform::access::AccessAuthority;
use hospital_platform::request::{RequestId, TraceContext};
use hospital_platform::token::{bearer_token, AccessClaims, Authenticated, Role};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq as _;
use uuid::Uuid;

use super::{parse_id, ApiError};
use crate::access::authorize;
use crate::domain::{failure_code_str, failure_message, IdempotencyKey, NoteText};
use crate::settings::MAX_PAGE;
use crate::state::AppState;
use crate::store::{
    AccessEntry, Inserted, KeyClaim, NewNote, NoteCursor, NoteRecord, NoteStore, PendingEvent,
    Reservation,
};

#[derive(Deserialize)]
pub struct NoteBody {
    text: String,
}

#[derive(Deserialize)]
pub struct PageQuery {
    limit: Option<usize>,
    cursor: Option<String>,
}

#[derive(Serialize)]
struct Submitted {
    id: Uuid,
    status: &'static str,
    created_at: DateTime<Utc>,
}

#[derive(Serialize)]
struct NoteView {
    id: Uuid,
    patient_id: Uuid,
    doctor_id: Uuid,
    /// `None` only in a list, for a note whose envelope did not open (`unreadable`).
    text: Option<String>,
    created_at: DateTime<Utc>,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    failure_reason: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    failure_code: Option<&'static str>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    unreadable: bool,
}

#[derive(Serialize)]
struct Page<T> {
    items: Vec<T>,
    next_cursor: Option<String>,
}

#[derive(Serialize)]
struct AccessView {
    note_id: Uuid,
    reader_id: Uuid,
    reader_role: &'static str,
    at: DateTime<Utc>,
}

fn token(request: &HttpRequest) -> &str {
    bearer_token(request).unwrap_or_default()
}

fn idempotency_key(headers: &HeaderMap) -> Result<Option<IdempotencyKey>, ApiError> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let raw = value
        .to_str()
        .map_err(|_| ApiError::Invalid(crate::domain::InvalidInput::IdempotencyKey))?;
    Ok(Some(IdempotencyKey::parse(raw)?))
}

fn page_limit(query: &PageQuery, default: usize) -> Result<usize, ApiError> {
    match query.limit {
        None => Ok(default),
        Some(n) if (1..=MAX_PAGE).contains(&n) => Ok(n),
        Some(_) => Err(ApiError::BadRequest {
            code: "invalid_limit",
            message: format!("limit must be between 1 and {MAX_PAGE}").into(),
        }),
    }
}

fn bad_cursor() -> ApiError {
    ApiError::BadRequest {
        code: "invalid_cursor",
        message: "the cursor is not one this API returned".into(),
    }
}

/// A note cursor: the last note's `created_at` (microseconds) and id, opaque to clients.
fn encode_note_cursor(note: &NoteRecord) -> String {
    let mut bytes = note.created_at.timestamp_micros().to_be_bytes().to_vec();
    bytes.extend_from_slice(note.id.as_bytes());
    URL_SAFE_NO_PAD.encode(bytes)
}

fn decode_note_cursor(raw: &str) -> Result<NoteCursor, ApiError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(raw.as_bytes())
        .map_err(|_| bad_cursor())?;
    let (micros, id) = bytes.split_at_checked(8).ok_or_else(bad_cursor)?;
    let micros = i64::from_be_bytes(micros.try_into().map_err(|_| bad_cursor())?);
    let created_at = DateTime::from_timestamp_micros(micros).ok_or_else(bad_cursor)?;
    let id = Uuid::from_slice(id).map_err(|_| bad_cursor())?;
    Ok(NoteCursor { created_at, id })
}

fn decode_entry_cursor(raw: &str) -> Result<Uuid, ApiError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(raw.as_bytes())
        .map_err(|_| bad_cursor())?;
    Uuid::from_slice(&bytes).map_err(|_| bad_cursor())
}

/// Opens a note's text; a moved or tampered envelope fails closed, with an alert that names
/// the note and never its content.
fn open(state: &AppState, note: &NoteRecord) -> Result<String, ApiError> {
    let binding = note_text_binding(note.id, note.patient_id, note.doctor_id);
    match state.keyring.open_str(&note.text, &binding) {
        Ok(text) => Ok(text.as_str().to_owned()),
        Err(err) => {
            tracing::error!(
                alert = "note_unreadable",
                note_id = %note.id,
                patient_id = %note.patient_id,
                kid = %note.text.kid,
                error = %err,
                "a note's envelope did not open: tampered, moved or sealed with a key this service lacks"
            );
            Err(ApiError::NoteUnreadable)
        }
    }
}

fn view(note: &NoteRecord, text: Option<String>) -> NoteView {
    NoteView {
        id: note.id,
        patient_id: note.patient_id,
        doctor_id: note.doctor_id,
        unreadable: text.is_none(),
        text,
        created_at: note.created_at,
        status: note.status.as_str(),
        failure_reason: note.failure.map(failure_message),
        failure_code: note.failure.map(failure_code_str),
    }
}

/// One access-log entry per note read, written before anything is served.
async fn record_reads(
    state: &AppState,
    caller: &AccessClaims,
    patient_id: Uuid,
    notes: &[NoteRecord],
) -> Result<(), ApiError> {
    // Milliseconds: the precision both stores keep.
    let at = state.clock.now().trunc_subsecs(3);
    let entries: Vec<AccessEntry> = notes
        .iter()
        .map(|note| AccessEntry {
            id: Uuid::now_v7(),
            patient_id,
            note_id: note.id,
            reader_id: caller.sub,
            reader_role: caller.role,
            at,
        })
        .collect();
    state.store.record_reads(&entries).await?;
    Ok(())
}

/// `POST /patients/{patient_id}/notes`: the patient's current doctor writes a note.
#[tracing::instrument(skip_all, fields(patient_id = %path))]
pub async fn submit(
    Authenticated(caller): Authenticated,
    request: HttpRequest,
    state: web::Data<AppState>,
    authority: web::Data<AccessAuthority>,
    path: web::Path<String>,
    body: web::Json<NoteBody>,
) -> Result<HttpResponse, ApiError> {
    let patient_id = parse_id(&path, "patient")?;
    if caller.role != Role::Doctor {
        return Err(ApiError::Forbidden(
            "only the patient's doctor may write notes",
        ));
    }
    let text = NoteText::parse(body.into_inner().text)?;
    let key = idempotency_key(request.headers())?;
    authorize(
        &state.store,
        &authority,
        &caller,
        token(&request),
        patient_id,
    )
    .await?;

    // Milliseconds: the precision both stores keep, so a stored note reads back as written.
    let now = state.clock.now().trunc_subsecs(3);
    let mut note_id = Uuid::now_v7();
    if let Some(key) = key {
        let claim = KeyClaim {
            doctor_id: caller.sub,
            key,
            note_id,
            patient_id,
            now,
            expires_at: now + TimeDelta::hours(i64::from(state.notes.idempotency_hours)),
        };
        match state.store.reserve_key(&claim).await? {
            Reservation::Reserved => {}
            Reservation::Held {
                note_id: held,
                patient_id: held_patient,
            } => {
                if held_patient != patient_id {
                    return Err(ApiError::IdempotencyKeyReused);
                }
                if let Some(existing) = state.store.note(held).await? {
                    return replay(&state, &existing, &caller, &text);
                }
                // The earlier request reserved the id and stopped before writing the note:
                // this one writes it.
                note_id = held;
            }
        }
    }

    let sealed = state
        .keyring
        .seal_str(
            text.as_str(),
            &note_text_binding(note_id, patient_id, caller.sub),
        )
        .map_err(|e| ApiError::Internal(format!("sealing a note failed: {e}")))?;
    let event = PendingEvent {
        id: Uuid::now_v7(),
        occurred_at: now,
        correlation_id: request
            .extensions()
            .get::<RequestId>()
            .map(|id| id.0.clone()),
        traceparent: request
            .extensions()
            .get::<TraceContext>()
            .map(TraceContext::header_value),
    };
    let note = NewNote {
        id: note_id,
        patient_id,
        doctor_id: caller.sub,
        created_at: now,
        text: sealed,
        event,
    };
    match state.store.insert_note(&note).await? {
        Inserted::Created => {
            state.outbox_wake.notify_one();
            tracing::info!(note_id = %note_id, "note accepted");
            Ok(HttpResponse::Accepted().json(Submitted {
                id: note_id,
                status: "processing",
                created_at: now,
            }))
        }
        Inserted::AlreadyExists => {
            // A request with the same key raced this one and wrote first.
            let existing = state
                .store
                .note(note_id)
                .await?
                .ok_or_else(|| ApiError::Internal("a note vanished after a conflict".into()))?;
            replay(&state, &existing, &caller, &text)
        }
    }
}

/// The answer to a retried submission: the same note, if it is the same note.
fn replay(
    state: &AppState,
    existing: &NoteRecord,
    caller: &AccessClaims,
    text: &NoteText,
) -> Result<HttpResponse, ApiError> {
    if existing.doctor_id != caller.sub {
        return Err(ApiError::IdempotencyKeyReused);
    }
    let stored = open(state, existing)?;
    if !constant_time_eq(stored.as_bytes(), text.as_str().as_bytes()) {
        return Err(ApiError::IdempotencyKeyReused);
    }
    Ok(HttpResponse::Accepted()
        .insert_header(("Idempotent-Replayed", "true"))
        .json(Submitted {
            id: existing.id,
            status: existing.status.as_str(),
            created_at: existing.created_at,
        }))
}

/// Compares without an early exit, so timing says nothing about where two texts differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// `GET /patients/{patient_id}/notes`: newest first, each read logged.
#[tracing::instrument(skip_all, fields(patient_id = %path))]
pub async fn list(
    Authenticated(caller): Authenticated,
    request: HttpRequest,
    state: web::Data<AppState>,
    authority: web::Data<AccessAuthority>,
    path: web::Path<String>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let patient_id = parse_id(&path, "patient")?;
    let limit = page_limit(&query, state.notes.page_size)?;
    let before = query
        .cursor
        .as_deref()
        .map(decode_note_cursor)
        .transpose()?;
    authorize(
        &state.store,
        &authority,
        &caller,
        token(&request),
        patient_id,
    )
    .await?;

    let notes = state.store.notes_of(patient_id, before, limit).await?;
    record_reads(&state, &caller, patient_id, &notes).await?;
    let next_cursor = (notes.len() == limit)
        .then(|| notes.last().map(encode_note_cursor))
        .flatten();
    let items = notes
        .iter()
        .map(|note| view(note, open(&state, note).ok()))
        .collect();
    Ok(HttpResponse::Ok().json(Page { items, next_cursor }))
}

/// `GET /patients/{patient_id}/notes/{note_id}`.
#[tracing::instrument(skip_all)]
pub async fn one(
    Authenticated(caller): Authenticated,
    request: HttpRequest,
    state: web::Data<AppState>,
    authority: web::Data<AccessAuthority>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (patient, note) = path.into_inner();
    let patient_id = parse_id(&patient, "patient")?;
    let note_id = parse_id(&note, "note")?;
    authorize(
        &state.store,
        &authority,
        &caller,
        token(&request),
        patient_id,
    )
    .await?;

    let note = state
        .store
        .note(note_id)
        .await?
        .filter(|note| note.patient_id == patient_id)
        .ok_or(ApiError::NoteNotFound)?;
    record_reads(&state, &caller, patient_id, std::slice::from_ref(&note)).await?;
    let text = open(&state, &note)?;
    Ok(HttpResponse::Ok().json(view(&note, Some(text))))
}

/// `GET /patients/{patient_id}/notes/access-log`: the patient sees who read their notes.
#[tracing::instrument(skip_all, fields(patient_id = %path))]
pub async fn access_log(
    Authenticated(caller): Authenticated,
    request: HttpRequest,
    state: web::Data<AppState>,
    authority: web::Data<AccessAuthority>,
    path: web::Path<String>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let patient_id = parse_id(&path, "patient")?;
    let limit = page_limit(&query, 50)?;
    let before = query
        .cursor
        .as_deref()
        .map(decode_entry_cursor)
        .transpose()?;
    if !(caller.role == Role::Patient && caller.sub == patient_id) {
        // Existence first (404), then the refusal: only the patient reads their log.
        authorize(
            &state.store,
            &authority,
            &caller,
            token(&request),
            patient_id,
        )
        .await?;
        return Err(ApiError::Forbidden(
            "only the patient may read who read their notes",
        ));
    }
    let entries = state.store.access_log(patient_id, before, limit).await?;
    let next_cursor = (entries.len() == limit)
        .then(|| {
            entries
                .last()
                .map(|e| URL_SAFE_NO_PAD.encode(e.id.as_bytes()))
        })
        .flatten();
    let items = entries
        .iter()
        .map(|e| AccessView {
            note_id: e.note_id,
            reader_id: e.reader_id,
            reader_role: e.reader_role.as_str(),
            at: e.at,
        })
        .collect();
    Ok(HttpResponse::Ok().json(Page { items, next_cursor }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_garbage() {
        let note = NoteRecord {
            id: Uuid::now_v7(),
            patient_id: Uuid::now_v7(),
            doctor_id: Uuid::now_v7(),
            created_at: Utc::now().trunc_subsecs(3),
            text: hospital_crypto::SealedEnvelope {
                v: 1,
                kid: "k".into(),
                key_nonce: vec![],
                wrapped_key: vec![],
                nonce: vec![],
                ciphertext: vec![],
            },
            status: crate::domain::NoteStatus::Processing,
            failure: None,
        };
        let cursor = decode_note_cursor(&encode_note_cursor(&note)).unwrap();
        assert_eq!(cursor.id, note.id);
        assert_eq!(cursor.created_at, note.created_at);
        for bad in ["", "!!", "AAAA", &URL_SAFE_NO_PAD.encode([0u8; 30])] {
            assert!(decode_note_cursor(bad).is_err(), "{bad:?}");
            assert!(decode_entry_cursor(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn equal_texts_compare_equal_and_others_do_not() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }
}
