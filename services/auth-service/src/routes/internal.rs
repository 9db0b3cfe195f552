//! Routes other services call, never clients: the gateway forwards `/api/v1/*` only, so
//! `/internal/*` cannot be reached through it.

use actix_web::http::header::{CacheControl, CacheDirective};
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use hospital_platform::token::Authenticated;
use serde::Serialize;
use uuid::Uuid;

use crate::domain::Role;
use crate::error::ApiError;
use crate::state::AppState;

#[derive(Serialize)]
struct PatientAccess {
    patient_id: Uuid,
    doctor_id: Option<Uuid>,
    assignment_changed_at: Option<DateTime<Utc>>,
}

/// `GET /internal/v1/patients/{patient_id}/access`: whether the caller (the holder of
/// the bearer token, on whose behalf a service asks) may act on the patient's data now.
/// Services that hold patient data ask on every doctor request, because only this
/// database knows the assignment at the instant a switch commits.
#[tracing::instrument(name = "patient_access", skip_all, fields(caller_id = %caller.0.sub))]
pub async fn patient_access(
    caller: Authenticated,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let patient_id = Uuid::parse_str(&path)
        .map_err(|_| ApiError::BadRequest("invalid_id", "The patient id is not a UUID."))?;
    let Some(current) = state.store.current_assignment(patient_id).await? else {
        return Err(ApiError::NotFound(
            "patient_not_found",
            "No patient has this id.",
        ));
    };
    let allowed = match caller.0.role {
        Role::Patient => caller.0.sub == patient_id,
        Role::Doctor => current.doctor_id == Some(caller.0.sub),
    };
    if !allowed {
        return Err(ApiError::Forbidden(
            "Only the patient and the doctor assigned to them now may act on their data.",
        ));
    }
    Ok(HttpResponse::Ok()
        // An answer about this instant: nothing may keep it.
        .insert_header(CacheControl(vec![CacheDirective::NoStore]))
        .json(PatientAccess {
            patient_id,
            doctor_id: current.doctor_id,
            assignment_changed_at: current.assigned_at,
        }))
}
