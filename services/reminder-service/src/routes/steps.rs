//! `GET /patients/{id}/actionable-steps` and `POST /checklist/{id}/complete`.

use std::collections::HashMap;

use actix_web::{web, HttpResponse};
use hospital_platform::access::AccessAuthority;
use hospital_platform::token::Authenticated;
use serde_json::{json, Value};
use uuid::Uuid;

use super::{
    authorize_read, get, open_text, parse_id, require_patient, rfc3339, ApiError, AppState, Caller,
};
use crate::domain::{OccurrenceRecord, OccurrenceState};
use crate::store::CompleteOutcome;

fn stems(list: Option<&String>) -> Vec<String> {
    list.map(|l| l.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default()
}

/// The earliest occurrence not sent or not resolved yet.
fn next_due(step: &HashMap<String, String>) -> Option<i64> {
    let start = step.get("start").and_then(|s| s.parse().ok());
    step.iter()
        .filter(|(field, _)| {
            field.starts_with('o') && field[1..].bytes().all(|b| b.is_ascii_digit())
        })
        .filter_map(|(_, record)| OccurrenceRecord::from_stored(record, start).ok())
        .filter(|r| matches!(r.state, OccurrenceState::Pending | OccurrenceState::Sent))
        .map(|r| r.due)
        .min()
}

fn checklist_item(step: &HashMap<String, String>, title: &str, source: &str) -> Value {
    json!({
        "id": get(step, "id"),
        "title": title,
        "status": get(step, "status"),
        "source": source,
        "completed_at": step.get("completed_at").and_then(|s| s.parse().ok()).map(rfc3339),
    })
}

pub async fn actionable_steps(
    caller: Caller,
    path: web::Path<String>,
    state: web::Data<AppState>,
    authority: web::Data<AccessAuthority>,
) -> Result<HttpResponse, ApiError> {
    let patient_id = parse_id(&path, "patient")?;
    authorize_read(&state.store, &authority, &caller, patient_id).await?;
    let current = state.store.current_steps(patient_id).await?;
    let checklist_stems = stems(current.get("checklist"));
    let plan_stems = stems(current.get("plan"));
    let all: Vec<String> = checklist_stems.iter().chain(&plan_stems).cloned().collect();
    let steps = state.store.steps(&all).await?;
    let texts = state.store.texts(&all).await?;
    let mut checklist = Vec::new();
    let mut plan = Vec::new();
    for (step, text) in steps.iter().zip(&texts) {
        let step_id = Uuid::parse_str(get(step, "id")).unwrap_or_default();
        let text = open_text(&state.keyring, text.as_deref(), step_id, patient_id)?;
        if get(step, "kind") == "checklist" {
            checklist.push(checklist_item(step, &text.title, &text.source));
        } else {
            let schedule: Value =
                serde_json::from_str(get(step, "schedule")).unwrap_or(Value::Null);
            let duration: Value =
                serde_json::from_str(get(step, "duration")).unwrap_or(Value::Null);
            plan.push(json!({
                "id": get(step, "id"),
                "title": text.title,
                "schedule": schedule,
                "duration": duration,
                "status": get(step, "status"),
                "next_due_at": next_due(step).map(rfc3339),
                "source": text.source,
            }));
        }
    }
    let or_null = |field: &str| current.get(field).map_or(Value::Null, |v| json!(v));
    Ok(HttpResponse::Ok().json(json!({
        "note_id": or_null("note_id"),
        "extractor": or_null("extractor"),
        "fallback": current.get("fallback").map(|f| f == "true"),
        "checklist": checklist,
        "plan": plan,
    })))
}

pub async fn complete_item(
    caller: Authenticated,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let item_id = parse_id(&path, "checklist item")?;
    require_patient(&caller.0)?;
    let now = state.planner.clock().now_seconds();
    match state
        .store
        .complete_item(item_id, caller.0.sub, now)
        .await?
    {
        CompleteOutcome::Done | CompleteOutcome::Again => {}
        CompleteOutcome::NotFound => return Err(ApiError::NotFound("no such checklist item")),
        CompleteOutcome::Forbidden => {
            return Err(ApiError::Forbidden(
                "only the patient may complete their checklist",
            ))
        }
        CompleteOutcome::Cancelled => {
            return Err(ApiError::Conflict {
                code: "item_cancelled",
                message: "a newer note replaced this checklist item",
            })
        }
    }
    let stem = crate::domain::StepStem::of(item_id).to_string();
    let steps = state.store.steps(std::slice::from_ref(&stem)).await?;
    let texts = state.store.texts(std::slice::from_ref(&stem)).await?;
    let step = steps.first().cloned().unwrap_or_default();
    let text = open_text(
        &state.keyring,
        texts.first().cloned().flatten().as_deref(),
        item_id,
        caller.0.sub,
    )?;
    Ok(HttpResponse::Ok().json(checklist_item(&step, &text.title, &text.source)))
}
