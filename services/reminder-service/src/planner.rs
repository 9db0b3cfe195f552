//! Turns plan steps into materialised occurrences: the first few when steps arrive, more as
//! they are sent or missed, and again in a new zone when the patient moves.

use std::collections::HashMap;

use hospital_events::StepsExtracted;
use hospital_schedule::Step;
use hospital_steps::{Duration, Schedule};
use jiff::tz::TimeZone;
use jiff::Timestamp;
use uuid::Uuid;

use crate::clock::Clock;
use crate::domain::{
    OccurrenceRecord, OccurrenceState, PlanTimeline, Planned, ReminderId, StepStem,
};
use crate::store::{
    NewChecklistItem, NewOccurrence, NewPlanStep, Replacement, Store, StoreError, TopUp,
};

/// How reminders are materialised.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// The longest grace period around a due instant (seconds).
    pub grace_secs: i64,
    /// How many unsent occurrences each active plan step keeps materialised.
    pub lookahead: u32,
}

#[derive(Clone, Debug)]
pub struct Planner {
    store: Store,
    clock: Clock,
    policy: Policy,
}

/// RFC 3339 UTC with microseconds, fixed width: compares as a string.
pub fn sortable_instant(at: chrono::DateTime<chrono::Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

fn occurrences(planned: &[Planned]) -> Vec<NewOccurrence> {
    planned
        .iter()
        .map(|p| NewOccurrence {
            n: p.n,
            record: OccurrenceRecord::pending(p.due, p.grace).to_string(),
            score: p.due.saturating_mul(1000),
        })
        .collect()
}

fn zone(name: &str) -> TimeZone {
    TimeZone::get(name).unwrap_or(TimeZone::UTC)
}

/// The stored schedule of a plan step, read back.
fn timeline(fields: &[Option<String>], zone: TimeZone) -> Option<PlanTimeline> {
    let schedule: Schedule = serde_json::from_str(fields.first()?.as_deref()?).ok()?;
    let duration: Option<Duration> = serde_json::from_str(fields.get(1)?.as_deref()?).ok()?;
    let start = Timestamp::from_second(fields.get(2)?.as_deref()?.parse().ok()?).ok()?;
    Some(PlanTimeline::new(Step::new(
        schedule, duration, start, zone,
    )))
}

const TOP_UP_FIELDS: [&str; 10] = [
    "schedule", "duration", "start", "count", "missed", "next", "last_due", "unsent", "status",
    "patient",
];

fn field<T: std::str::FromStr>(fields: &[Option<String>], i: usize) -> Option<T> {
    fields.get(i)?.as_deref()?.parse().ok()
}

impl Planner {
    pub fn new(store: Store, clock: Clock, policy: Policy) -> Self {
        Self {
            store,
            clock,
            policy,
        }
    }

    pub fn policy(&self) -> Policy {
        self.policy
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// The replacement of a patient's steps by the event's, with each plan step's first
    /// occurrences computed in `zone_name` from `now` on (when the steps become active).
    pub fn replacement(
        &self,
        event: &StepsExtracted,
        zone_name: &str,
        now: Timestamp,
    ) -> Replacement {
        let zone = zone(zone_name);
        let text = crate::store::sealed_text;
        let checklist = event
            .checklist
            .iter()
            .map(|item| NewChecklistItem {
                stem: StepStem::of(item.step_id).to_string(),
                id: item.step_id.to_string(),
                text: text(&item.title, &item.source),
            })
            .collect();
        let plan = event
            .plan
            .iter()
            .map(|step| {
                let timeline = PlanTimeline::new(Step::new(
                    step.schedule.clone(),
                    step.duration,
                    now,
                    zone.clone(),
                ));
                let count = timeline.base_count();
                let planned = timeline.plan(
                    None,
                    None,
                    0,
                    count,
                    self.policy.lookahead as usize,
                    self.policy.grace_secs,
                );
                NewPlanStep {
                    stem: StepStem::of(step.step_id).to_string(),
                    id: step.step_id.to_string(),
                    text: text(&step.title, &step.source),
                    schedule: serde_json::to_string(&step.schedule).unwrap_or_default(),
                    duration: serde_json::to_string(&step.duration).unwrap_or_default(),
                    start: now.as_second().to_string(),
                    count: count.map(|c| c.to_string()).unwrap_or_default(),
                    next: planned.last().map_or(0, |p| p.n + 1),
                    last_due: planned
                        .last()
                        .map(|p| p.due.to_string())
                        .unwrap_or_default(),
                    occurrences: occurrences(&planned),
                }
            })
            .collect();
        Replacement {
            patient: event.patient_id.to_string(),
            note_id: event.note_id.to_string(),
            note_created_at: sortable_instant(event.note_created_at),
            extractor: serde_json::to_value(event.extractor)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            fallback: event.fallback.to_string(),
            timezone: zone_name.to_owned(),
            now: now.as_second().to_string(),
            event_ttl: self.store.event_ttl(),
            checklist,
            plan,
        }
    }

    async fn zones(
        &self,
        patients: impl Iterator<Item = String>,
    ) -> Result<HashMap<String, TimeZone>, StoreError> {
        let mut zones = HashMap::new();
        for patient in patients {
            if zones.contains_key(&patient) {
                continue;
            }
            let name = match Uuid::parse_str(&patient) {
                Ok(id) => self.store.user(id).await?.and_then(|u| u.timezone),
                Err(_) => None,
            };
            zones.insert(patient, zone(name.as_deref().unwrap_or("UTC")));
        }
        Ok(zones)
    }

    /// Materialises more occurrences of these steps, up to the lookahead each.
    pub async fn top_up(&self, stems: &[String]) -> Result<(), StoreError> {
        if stems.is_empty() {
            return Ok(());
        }
        let rows = self.store.step_fields(stems, &TOP_UP_FIELDS).await?;
        let zones = self
            .zones(rows.iter().filter_map(|f| f.get(9).cloned().flatten()))
            .await?;
        let mut top_ups = Vec::new();
        for (stem, fields) in stems.iter().zip(&rows) {
            if fields.get(8).cloned().flatten().as_deref() != Some("active") {
                continue;
            }
            let patient = fields.get(9).cloned().flatten().unwrap_or_default();
            let zone = zones.get(&patient).cloned().unwrap_or(TimeZone::UTC);
            let Some(timeline) = timeline(fields, zone) else {
                tracing::error!(stem, "a stored plan step does not parse; not topping it up");
                continue;
            };
            let count: Option<u64> = field(fields, 3);
            let missed: u64 = field(fields, 4).unwrap_or(0);
            let next: u32 = field(fields, 5).unwrap_or(0);
            let last_due: Option<i64> = field(fields, 6);
            let unsent: u32 = field(fields, 7).unwrap_or(0);
            let want = self.policy.lookahead.saturating_sub(unsent) as usize;
            let planned = timeline.plan(
                last_due,
                None,
                next,
                count.map(|c| c + missed),
                want,
                self.policy.grace_secs,
            );
            if let Some(last) = planned.last() {
                top_ups.push(TopUp {
                    stem: stem.clone(),
                    expect_next: next,
                    from: next,
                    next: last.n + 1,
                    last_due: last.due.to_string(),
                    occurrences: occurrences(&planned),
                });
            }
        }
        self.store.top_up(&top_ups).await?;
        Ok(())
    }

    /// After a time-zone change: the patient's unsent future wall-clock reminders move to the
    /// same wall-clock times in the new zone.
    pub async fn rezone(&self, patient_id: Uuid) -> Result<usize, StoreError> {
        let current = self.store.current_steps(patient_id).await?;
        let stems: Vec<String> = current
            .get("plan")
            .map(|p| p.split_whitespace().map(str::to_owned).collect())
            .unwrap_or_default();
        let steps = self.store.steps(&stems).await?;
        let zone_name = self
            .store
            .user(patient_id)
            .await?
            .and_then(|u| u.timezone)
            .unwrap_or_else(|| "UTC".into());
        let zone = zone(&zone_name);
        let now = self.clock.now_seconds();
        let mut top_ups = Vec::new();
        for (stem, step) in stems.iter().zip(&steps) {
            if step.get("status").map(String::as_str) != Some("active") {
                continue;
            }
            let fields: Vec<Option<String>> = TOP_UP_FIELDS
                .iter()
                .map(|f| step.get(*f).cloned())
                .collect();
            let Some(timeline) = timeline(&fields, zone.clone()) else {
                continue;
            };
            if !timeline.follows_zone() {
                continue;
            }
            let start = step.get("start").and_then(|s| s.parse().ok());
            let record = |n: u32| -> Option<OccurrenceRecord> {
                step.get(&format!("o{n}"))
                    .and_then(|r| OccurrenceRecord::from_stored(r, start).ok())
            };
            let next: u32 = field(&fields, 5).unwrap_or(0);
            let mut from = next;
            while from > 0 {
                match record(from - 1) {
                    Some(r) if r.state == OccurrenceState::Pending && r.due > now => from -= 1,
                    _ => break,
                }
            }
            if from == next {
                continue;
            }
            let after = from.checked_sub(1).and_then(record).map(|r| r.due);
            let count: Option<u64> = field(&fields, 3);
            let missed: u64 = field(&fields, 4).unwrap_or(0);
            let planned = timeline.plan(
                after,
                Some(now),
                from,
                count.map(|c| c + missed),
                self.policy.lookahead as usize,
                self.policy.grace_secs,
            );
            top_ups.push(TopUp {
                stem: stem.clone(),
                expect_next: next,
                from,
                next: planned.last().map_or(from, |p| p.n + 1),
                last_due: planned
                    .last()
                    .map(|p| p.due)
                    .or(after)
                    .map(|d| d.to_string())
                    .unwrap_or_default(),
                occurrences: occurrences(&planned),
            });
        }
        let moved = top_ups.len();
        self.store.top_up(&top_ups).await?;
        Ok(moved)
    }
}

/// The id of the event announcing something about a reminder: the same for every attempt, so
/// consumers deduplicate a re-publication after a crash.
pub fn event_id(kind: &str, reminder_id: &str) -> Uuid {
    const NAMESPACE: Uuid = Uuid::from_u128(0x5b0e_6c1f_2a4d_4f7e_9d3b_8c2e_1f0a_7d64);
    Uuid::new_v5(&NAMESPACE, format!("{kind}:{reminder_id}").as_bytes())
}

/// The reminder id of occurrence `n` of a step, as a string.
pub fn reminder_id(step_id: Uuid, n: u32) -> String {
    ReminderId::new(step_id, n).to_string()
}
