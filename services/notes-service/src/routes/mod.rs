//! The public routes (HTTP only: extract, call, map).

mod notes;

use std::borrow::Cow;

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse, ResponseError};
use hospital_platform::error::HttpError;
use uuid::Uuid;

use crate::domain::InvalidInput;
use crate::store::StoreError;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/patients/{patient_id}/notes",
        web::post().to(notes::submit),
    )
    .route("/patients/{patient_id}/notes", web::get().to(notes::list))
    .route(
        "/patients/{patient_id}/notes/access-log",
        web::get().to(notes::access_log),
    )
    .route(
        "/patients/{patient_id}/notes/{note_id}",
        web::get().to(notes::one),
    );
}

/// Every way a request can fail here.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{message}")]
    BadRequest {
        code: &'static str,
        message: Cow<'static, str>,
    },
    #[error(transparent)]
    Invalid(#[from] InvalidInput),
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("no such patient")]
    PatientNotFound,
    #[error("no such note")]
    NoteNotFound,
    #[error("the access token was refused")]
    Unauthorized,
    #[error("the Idempotency-Key was used for another note")]
    IdempotencyKeyReused,
    #[error("{0}")]
    Unavailable(&'static str),
    #[error("the note store failed: {0}")]
    Store(#[from] StoreError),
    #[error("a note's envelope did not open")]
    NoteUnreadable,
    #[error("{0}")]
    Internal(String),
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.to_http().status
    }

    fn error_response(&self) -> HttpResponse {
        // The one place 5xx causes are logged (never note text: no variant carries it).
        match self {
            ApiError::Store(err) => {
                tracing::error!(error = %err, "the note store failed a request");
            }
            ApiError::Internal(err) => tracing::error!(error = %err, "a request failed"),
            _ => {}
        }
        self.to_http().error_response()
    }
}

impl ApiError {
    fn to_http(&self) -> HttpError {
        match self {
            ApiError::BadRequest { code, message } => HttpError::bad_request(code, message.clone()),
            ApiError::Invalid(InvalidInput::IdempotencyKey) => {
                HttpError::bad_request("invalid_idempotency_key", self.to_string())
            }
            ApiError::Invalid(err) => {
                HttpError::unprocessable("validation_failed", err.to_string())
            }
            ApiError::Forbidden(message) => HttpError::forbidden(*message),
            ApiError::PatientNotFound => HttpError::new(
                StatusCode::NOT_FOUND,
                "patient_not_found",
                "No patient has this id.",
            ),
            ApiError::NoteNotFound => HttpError::new(
                StatusCode::NOT_FOUND,
                "note_not_found",
                "This patient has no note with this id.",
            ),
            ApiError::Unauthorized => {
                HttpError::unauthorized("invalid_token", "The access token was refused.")
            }
            ApiError::IdempotencyKeyReused => HttpError::unprocessable(
                "idempotency_key_reused",
                "This Idempotency-Key was already used for a different note; use a new key for a new note.",
            ),
            ApiError::Unavailable(message) => HttpError::service_unavailable(*message),
            ApiError::Store(StoreError::Corrupt(_)) | ApiError::Internal(_) => {
                HttpError::internal(&"the request failed")
            }
            ApiError::Store(_) => {
                HttpError::service_unavailable("notes are unavailable; try again shortly")
            }
            ApiError::NoteUnreadable => HttpError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "note_unreadable",
                "This note cannot be opened; operators have been alerted.",
            ),
        }
    }
}

/// A path id, or a clear 400.
pub fn parse_id(raw: &str, what: &'static str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| ApiError::BadRequest {
        code: "invalid_id",
        message: format!("the {what} id is not a UUID").into(),
    })
}
