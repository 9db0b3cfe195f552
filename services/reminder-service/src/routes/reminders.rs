//! `GET /patients/{id}/reminders`, `POST /reminders/{id}/check-in`,
//! `GET /patients/{id}/adherence`.

use std::collections::HashMap;

use actix_web::{web, HttpResponse};
use hospital_platform::access::AccessAuthority;
use hospital_platform::token::Authenticated;
use serde::Deserialize;
use serde_json::{json, Value};
use uuid::Uuid;

use super::{
    authorize_read, get, open_text, parse_id, require_patient, rfc3339, ApiError, AppState, Caller,
};
use crate::domain::{OccurrenceRecord, ReminderId, ReminderStatus};
use crate::store::CheckInOutcome;

const DEFAULT_LIMIT: usize = 200;
const MAX_LIMIT: usize = 1000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    status: Option<ReminderStatus>,
    limit: Option<usize>,
}

fn reminder_json(
    id: &str,
    step_id: &str,
    title: &str,
    record: &OccurrenceRecord,
    now: i64,
) -> Value {
    json!({
        "id": id,
        "step_id": step_id,
        "title": title,
        "due_at": rfc3339(record.due),
        "status": record.status_at(now),
        "grace_ends_at": rfc3339(record.grace_ends_at()),
        "checked_in_at": record.checked_in_at.map(rfc3339),
    })
}

/// The materialised occurrences of a stored plan step.
fn occurrences(
    step: &HashMap<String, String>,
) -> impl Iterator<Item = (u32, OccurrenceRecord)> + '_ {
    let start = step.get("start").and_then(|s| s.parse().ok());
    step.iter().filter_map(move |(field, record)| {
        let n = field.strip_prefix('o')?.parse().ok()?;
        Some((n, OccurrenceRecord::from_stored(record, start).ok()?))
    })
}

pub async fn list(
    caller: Caller,
    path: web::Path<String>,
    query: web::Query<ListQuery>,
    state: web::Data<AppState>,
    authority: web::Data<AccessAuthority>,
) -> Result<HttpResponse, ApiError> {
    let patient_id = parse_id(&path, "patient")?;
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::BadRequest {
            code: "invalid_limit",
            message: format!("limit must be 1 to {MAX_LIMIT}").into(),
        });
    }
    authorize_read(&state.store, &authority, &caller, patient_id).await?;
    let now = state.planner.clock().now_seconds();
    let stems = state.store.history(patient_id).await?;
    let steps = state.store.steps(&stems).await?;
    let mut found: Vec<(usize, u32, OccurrenceRecord)> = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        if get(step, "kind") != "plan" {
            continue;
        }
        for (n, record) in occurrences(step) {
            if query.status.is_none_or(|s| record.status_at(now) == s) {
                found.push((i, n, record));
            }
        }
    }
    found.sort_by_key(|(i, n, r)| (r.due, *i, *n));
    // Past statuses: the newest; otherwise the soonest.
    let keep_newest = matches!(
        query.status,
        None | Some(ReminderStatus::Done | ReminderStatus::Missed | ReminderStatus::Cancelled)
    );
    if found.len() > limit {
        if keep_newest {
            found.drain(..found.len() - limit);
        } else {
            found.truncate(limit);
        }
    }
    let mut wanted: Vec<usize> = found.iter().map(|(i, _, _)| *i).collect();
    wanted.sort_unstable();
    wanted.dedup();
    let wanted_stems: Vec<String> = wanted.iter().map(|i| stems[*i].clone()).collect();
    let texts = state.store.texts(&wanted_stems).await?;
    let mut titles: HashMap<usize, String> = HashMap::new();
    for (i, text) in wanted.iter().zip(&texts) {
        let step_id = Uuid::parse_str(get(&steps[*i], "id")).unwrap_or_default();
        titles.insert(
            *i,
            open_text(&state.keyring, text.as_deref(), step_id, patient_id)?.title,
        );
    }
    let items: Vec<Value> = found
        .iter()
        .map(|(i, n, record)| {
            let step_id = Uuid::parse_str(get(&steps[*i], "id")).unwrap_or_default();
            reminder_json(
                &ReminderId::new(step_id, *n).to_string(),
                &step_id.to_string(),
                titles.get(i).map_or("", String::as_str),
                record,
                now,
            )
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "items": items })))
}

pub async fn check_in(
    caller: Authenticated,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let id = ReminderId::from_uuid(parse_id(&path, "reminder")?);
    require_patient(&caller.0)?;
    let now = state.planner.clock().now_seconds();
    let policy = state.planner.policy();
    let outcome = state
        .store
        .check_in(id, caller.0.sub, now, policy.lookahead)
        .await?;
    let record = match outcome {
        CheckInOutcome::Done { record, needs_more } => {
            if needs_more {
                state.planner.top_up(&[id.stem.to_string()]).await?;
            }
            // The check-in is announced by a dispatcher.
            state.wake.now();
            record
        }
        CheckInOutcome::Again(record) => record,
        CheckInOutcome::NotFound => return Err(ApiError::NotFound("no such reminder")),
        CheckInOutcome::Forbidden => {
            return Err(ApiError::Forbidden(
                "only the patient may check in their reminders",
            ))
        }
        CheckInOutcome::NotYetDue(_) => {
            return Err(ApiError::Conflict {
                code: "not_yet_due",
                message: "too early: check-in opens a grace period before the due time",
            })
        }
        CheckInOutcome::AlreadyMissed(_) => {
            return Err(ApiError::Conflict {
                code: "already_missed",
                message: "too late: the grace period after the due time is over",
            })
        }
        CheckInOutcome::Cancelled(_) => {
            return Err(ApiError::Conflict {
                code: "reminder_cancelled",
                message: "a newer note replaced this reminder",
            })
        }
    };
    let stem = id.stem.to_string();
    let steps = state.store.steps(std::slice::from_ref(&stem)).await?;
    let texts = state.store.texts(std::slice::from_ref(&stem)).await?;
    let step_id = steps
        .first()
        .and_then(|s| Uuid::parse_str(get(s, "id")).ok())
        .unwrap_or_default();
    let text = open_text(
        &state.keyring,
        texts.first().cloned().flatten().as_deref(),
        step_id,
        caller.0.sub,
    )?;
    Ok(HttpResponse::Ok().json(reminder_json(
        &id.to_string(),
        &step_id.to_string(),
        &text.title,
        &record,
        now,
    )))
}

pub async fn adherence(
    caller: Caller,
    path: web::Path<String>,
    state: web::Data<AppState>,
    authority: web::Data<AccessAuthority>,
) -> Result<HttpResponse, ApiError> {
    let patient_id = parse_id(&path, "patient")?;
    authorize_read(&state.store, &authority, &caller, patient_id).await?;
    let current = state.store.current_steps(patient_id).await?;
    let stems: Vec<String> = current
        .get("plan")
        .map(|p| p.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default();
    let steps = state
        .store
        .step_fields(&stems, &["id", "count", "done", "missed", "status"])
        .await?;
    let texts = state.store.texts(&stems).await?;
    let mut plan = Vec::new();
    for (fields, text) in steps.iter().zip(&texts) {
        let field = |i: usize| fields.get(i).cloned().flatten().unwrap_or_default();
        let step_id = Uuid::parse_str(&field(0)).unwrap_or_default();
        let done: u64 = field(2).parse().unwrap_or(0);
        let missed: u64 = field(3).parse().unwrap_or(0);
        let remaining = field(1)
            .parse::<u64>()
            .ok()
            .map(|count| count.saturating_sub(done));
        let title = open_text(&state.keyring, text.as_deref(), step_id, patient_id)?.title;
        plan.push(json!({
            "step_id": step_id,
            "title": title,
            "status": field(4),
            "done": done,
            "missed": missed,
            "remaining": remaining,
        }));
    }
    Ok(HttpResponse::Ok().json(json!({ "plan": plan })))
}
