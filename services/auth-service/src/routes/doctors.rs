//! Finding a doctor, choosing one, and a doctor's patients.

use std::sync::Arc;

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use hospital_platform::token::Authenticated;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{decode_cursor, encode_cursor, page_limit};
use crate::domain::Role;
use crate::error::ApiError;
use crate::events;
use crate::state::AppState;
use crate::store::{DoctorSummary, SelectOutcome};

#[derive(Deserialize)]
pub struct DoctorsQuery {
    specialization: Option<String>,
    limit: Option<i64>,
    cursor: Option<String>,
}

#[derive(Deserialize)]
pub struct PageQuery {
    limit: Option<i64>,
    cursor: Option<String>,
}

#[derive(Serialize)]
struct Page<T> {
    items: Vec<T>,
    next_cursor: Option<String>,
}

#[derive(Deserialize)]
pub struct SelectDoctorRequest {
    doctor_id: Uuid,
}

#[derive(Serialize)]
struct SelectDoctorResponse {
    doctor: DoctorSummary,
}

#[derive(Serialize)]
struct PatientItem {
    id: Uuid,
    name: String,
    email: String,
    assigned_at: DateTime<Utc>,
}

/// Splits one extra row off a page fetched with `limit + 1`: its presence means
/// there is a next page, which starts after the page's last item.
fn paginate<T>(
    mut rows: Vec<T>,
    limit: i64,
    id_of: impl Fn(&T) -> Uuid,
) -> (Vec<T>, Option<String>) {
    let limit = usize::try_from(limit).unwrap_or(0);
    if rows.len() > limit {
        rows.truncate(limit);
        let next = rows.last().map(|row| encode_cursor(id_of(row)));
        (rows, next)
    } else {
        (rows, None)
    }
}

fn json_body(body: &str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(body.to_owned())
}

#[tracing::instrument(name = "list_doctors", skip_all)]
pub async fn list(
    _user: Authenticated,
    state: web::Data<AppState>,
    query: web::Query<DoctorsQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = page_limit(query.limit)?;
    let after = decode_cursor(query.cursor.as_deref())?;
    let specialization = query
        .specialization
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    if specialization.is_some_and(|s| s.chars().count() > 100) {
        return Err(ApiError::Unprocessable(
            "validation_failed",
            "specialization: is longer than 100 characters".into(),
        ));
    }
    let key = (specialization.map(str::to_lowercase), after, limit);
    if let Some(body) = state.doctor_directory.get(&key) {
        return Ok(json_body(&body));
    }
    let rows = state
        .store
        .list_doctors(specialization, after, limit + 1)
        .await?;
    let (items, next_cursor) = paginate(rows, limit, |d| d.id);
    let body: Arc<str> = serde_json::to_string(&Page { items, next_cursor })
        .map_err(ApiError::internal)?
        .into();
    state.doctor_directory.put(key, Arc::clone(&body));
    Ok(json_body(&body))
}

#[tracing::instrument(name = "select_doctor", skip_all, fields(user_id = %user.0.sub))]
pub async fn select(
    req: HttpRequest,
    user: Authenticated,
    state: web::Data<AppState>,
    body: web::Json<SelectDoctorRequest>,
) -> Result<HttpResponse, ApiError> {
    if user.0.role != Role::Patient {
        return Err(ApiError::Forbidden("Only patients choose a doctor."));
    }
    let patient_id = user.0.sub;
    let doctor_id = body.doctor_id;
    let now = state.clock.now();
    let context = super::event_context(&req);
    let outcome = state
        .store
        .select_doctor(patient_id, doctor_id, now, |previous| {
            events::assignment_changed(patient_id, Some(doctor_id), previous, now, &context)
        })
        .await?;
    match outcome {
        SelectOutcome::Selected(doctor) => {
            state.outbox_wake.notify_one();
            tracing::info!(doctor_id = %doctor.id, "doctor selected");
            Ok(HttpResponse::Ok().json(SelectDoctorResponse { doctor }))
        }
        SelectOutcome::Unchanged(doctor) => {
            Ok(HttpResponse::Ok().json(SelectDoctorResponse { doctor }))
        }
        SelectOutcome::DoctorNotFound => Err(ApiError::NotFound(
            "doctor_not_found",
            "No doctor has this id.",
        )),
    }
}

#[tracing::instrument(name = "my_patients", skip_all, fields(user_id = %user.0.sub))]
pub async fn my_patients(
    user: Authenticated,
    state: web::Data<AppState>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    if user.0.role != Role::Doctor {
        return Err(ApiError::Forbidden("Only doctors have patients."));
    }
    let limit = page_limit(query.limit)?;
    let after = decode_cursor(query.cursor.as_deref())?;
    let rows = state
        .store
        .patients_of(user.0.sub, after, limit + 1)
        .await?;
    let (rows, next_cursor) = paginate(rows, limit, |p| p.assignment_id);
    let items = rows
        .into_iter()
        .map(|p| PatientItem {
            id: p.id,
            name: p.name,
            email: p.email,
            assigned_at: p.assigned_at,
        })
        .collect();
    Ok(HttpResponse::Ok().json(Page { items, next_cursor }))
}
