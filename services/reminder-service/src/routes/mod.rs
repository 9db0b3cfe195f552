//! The public routes (HTTP only: extract, call the store, map). Access: the patient, or the
//! doctor assigned to them now, decided here, in the service that owns the data; a doctor's
//! assignment is confirmed with the auth-service on every request.

mod reminders;
mod steps;
mod stream;

use std::borrow::Cow;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse, ResponseError};
use hospital_crypto::Keyring;
use hospital_events::contracts::{step_source_binding, step_title_binding};
use hospital_platform::access::{AccessAuthority, AccessError};
use hospital_platform::error::HttpError;
use hospital_platform::token::{bearer_token, AccessClaims, Authenticated, Role, TokenError};
use uuid::Uuid;

use crate::dispatch::Wake;
use crate::planner::Planner;
use crate::settings::ReminderSettings;
use crate::store::steps::parse_sealed_text;
use crate::store::{Store, StoreError};

/// What the routes share.
pub struct AppState {
    pub store: Store,
    pub planner: Planner,
    pub keyring: Keyring,
    pub wake: Wake,
    pub reminders: ReminderSettings,
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/patients/{patient_id}/actionable-steps",
        web::get().to(steps::actionable_steps),
    )
    .route(
        "/checklist/{item_id}/complete",
        web::post().to(steps::complete_item),
    )
    .route(
        "/patients/{patient_id}/reminders",
        web::get().to(reminders::list),
    )
    .route(
        "/reminders/{reminder_id}/check-in",
        web::post().to(reminders::check_in),
    )
    .route(
        "/patients/{patient_id}/adherence",
        web::get().to(reminders::adherence),
    )
    .route("/notifications/stream", web::get().to(stream::stream));
}

/// Every way a request can fail here.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    NotFound(&'static str),
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("{message}")]
    Conflict {
        code: &'static str,
        message: &'static str,
    },
    #[error("{message}")]
    BadRequest {
        code: &'static str,
        message: Cow<'static, str>,
    },
    #[error("the auth-service rejected the access token")]
    Unauthorized,
    #[error("the reminder store is unavailable")]
    Unavailable(#[from] StoreError),
    /// The auth-service gave no clear answer about a doctor's access: deny.
    #[error("access cannot be confirmed: {0}")]
    AccessUnavailable(String),
    #[error("a stored title could not be opened")]
    Sealed,
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.to_http().status
    }

    fn error_response(&self) -> HttpResponse {
        if let ApiError::Unavailable(err) = self {
            tracing::error!(error = %err, "redis failed a request");
        }
        if let ApiError::AccessUnavailable(reason) = self {
            tracing::error!(
                error = %reason,
                "a doctor's access could not be confirmed with the auth-service; refused"
            );
        }
        if let ApiError::Sealed = self {
            tracing::error!("a step title or source did not open with the configured keys");
        }
        self.to_http().error_response()
    }
}

impl ApiError {
    fn to_http(&self) -> HttpError {
        match self {
            ApiError::NotFound(m) => HttpError::not_found(*m),
            ApiError::Forbidden(m) => HttpError::forbidden(*m),
            ApiError::Conflict { code, message } => {
                HttpError::new(StatusCode::CONFLICT, *code, *message)
            }
            ApiError::BadRequest { code, message } => HttpError::bad_request(code, message.clone()),
            ApiError::Unauthorized => TokenError::Invalid.into(),
            ApiError::Unavailable(_) => {
                HttpError::service_unavailable("reminders are unavailable; try again shortly")
            }
            ApiError::AccessUnavailable(_) => HttpError::service_unavailable(
                "access cannot be confirmed right now; try again shortly",
            ),
            ApiError::Sealed => HttpError::internal(&"a stored title could not be opened"),
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

/// Who is asking: the verified claims, and the bearer token they asked with, so that a
/// doctor's access can be confirmed with the auth-service on their behalf.
pub struct Caller {
    pub claims: AccessClaims,
    token: String,
}

impl FromRequest for Caller {
    type Error = HttpError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let authenticated = Authenticated::from_request(req, payload);
        let token = bearer_token(req).map(str::to_owned);
        Box::pin(async move {
            let Authenticated(claims) = authenticated.await?;
            let token = token.ok_or(TokenError::Missing)?;
            Ok(Caller { claims, token })
        })
    }
}

/// The patient may read their own data, their doctor theirs while assigned; anyone else
/// gets 403, an unknown patient 404. A patient's claim on their own id is checked here; a
/// doctor's is confirmed with the auth-service, which owns the assignments, on every
/// request: this service's event-fed copy lags a switch by the event's trip, and a
/// switched doctor must lose access the moment the switch returns. No answer from the
/// auth-service is a 503, never access.
pub async fn authorize_read(
    store: &Store,
    authority: &AccessAuthority,
    caller: &Caller,
    patient_id: Uuid,
) -> Result<(), ApiError> {
    match caller.claims.role {
        Role::Patient => {
            let user = store.user(patient_id).await?;
            let is_patient = user.is_some_and(|u| u.role.as_deref() == Some("patient"));
            if !is_patient {
                return Err(ApiError::NotFound("no such patient"));
            }
            if caller.claims.sub == patient_id {
                Ok(())
            } else {
                Err(not_theirs())
            }
        }
        Role::Doctor => match authority.confirm(&caller.token, patient_id).await {
            Ok(access) if access.doctor_id == Some(caller.claims.sub) => Ok(()),
            Ok(_) | Err(AccessError::Forbidden) => Err(not_theirs()),
            Err(AccessError::PatientNotFound) => Err(ApiError::NotFound("no such patient")),
            Err(AccessError::Unauthorized) => Err(ApiError::Unauthorized),
            Err(AccessError::Unavailable(reason)) => Err(ApiError::AccessUnavailable(reason)),
        },
    }
}

fn not_theirs() -> ApiError {
    ApiError::Forbidden("only the patient and the doctor assigned to them may see this")
}

/// Only patients act on their own reminders and checklist.
pub fn require_patient(caller: &AccessClaims) -> Result<(), ApiError> {
    if caller.role == Role::Patient {
        Ok(())
    } else {
        Err(ApiError::Forbidden("only the patient may do this"))
    }
}

/// A step's title and source, opened.
#[derive(Debug, Clone, Default)]
pub struct StepText {
    pub title: String,
    pub source: String,
}

/// Opens the sealed `{"title", "source"}` of step `step_id` of `patient_id`.
pub fn open_text(
    keyring: &Keyring,
    sealed: Option<&[u8]>,
    step_id: Uuid,
    patient_id: Uuid,
) -> Result<StepText, ApiError> {
    let Some(sealed) = sealed else {
        return Ok(StepText::default());
    };
    let (title, source) = parse_sealed_text(sealed).ok_or(ApiError::Sealed)?;
    let title = keyring
        .open_str(&title, &step_title_binding(step_id, patient_id))
        .map_err(|_| ApiError::Sealed)?;
    let source = keyring
        .open_str(&source, &step_source_binding(step_id, patient_id))
        .map_err(|_| ApiError::Sealed)?;
    Ok(StepText {
        title: title.as_str().to_owned(),
        source: source.as_str().to_owned(),
    })
}

/// RFC 3339 UTC, whole seconds.
pub fn rfc3339(seconds: i64) -> String {
    jiff::Timestamp::from_second(seconds)
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

/// A field of a stored step.
pub fn get<'a, S: std::hash::BuildHasher>(
    step: &'a HashMap<String, String, S>,
    field: &str,
) -> &'a str {
    step.get(field).map_or("", String::as_str)
}
