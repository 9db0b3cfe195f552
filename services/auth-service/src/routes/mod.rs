//! HTTP only: extract, call, map.

mod doctors;
mod identity;
mod internal;
mod jwks;
mod users;

use actix_web::{web, HttpMessage, HttpRequest};
use base64::Engine;
use hospital_platform::request::{RequestId, TraceContext};
use uuid::Uuid;

use crate::error::ApiError;
use crate::events::EventContext;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/.well-known/jwks.json", web::get().to(jwks::jwks))
        .route("/auth/signup", web::post().to(identity::signup))
        .route("/auth/login", web::post().to(identity::login))
        .route("/auth/refresh", web::post().to(identity::refresh))
        .route("/auth/logout", web::post().to(identity::logout))
        .route("/users/me", web::get().to(users::me))
        .route("/users/me", web::patch().to(users::update_me))
        .route("/doctors", web::get().to(doctors::list))
        .route("/doctors/me/patients", web::get().to(doctors::my_patients))
        .route("/patients/me/doctor", web::put().to(doctors::select))
        .route(
            "/internal/v1/patients/{patient_id}/access",
            web::get().to(internal::patient_access),
        );
}

/// Ties events to the request that caused them.
fn event_context(req: &HttpRequest) -> EventContext {
    let extensions = req.extensions();
    EventContext {
        correlation_id: extensions.get::<RequestId>().map(|id| id.0.clone()),
        traceparent: extensions
            .get::<TraceContext>()
            .map(|t| t.child().header_value()),
    }
}

/// Page sizes: 20 unless asked, at most 100.
fn page_limit(requested: Option<i64>) -> Result<i64, ApiError> {
    match requested {
        None => Ok(20),
        Some(limit) if (1..=100).contains(&limit) => Ok(limit),
        Some(_) => Err(ApiError::Unprocessable(
            "invalid_limit",
            "limit must be between 1 and 100".into(),
        )),
    }
}

/// Cursors are opaque to clients: the last item's id, base64url-encoded.
fn encode_cursor(id: Uuid) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(id.as_bytes())
}

fn decode_cursor(cursor: Option<&str>) -> Result<Option<Uuid>, ApiError> {
    let Some(cursor) = cursor.filter(|c| !c.is_empty()) else {
        return Ok(None);
    };
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| Uuid::from_slice(&bytes).ok())
        .map(Some)
        .ok_or_else(|| ApiError::Unprocessable("invalid_cursor", "cursor is not valid".into()))
}
