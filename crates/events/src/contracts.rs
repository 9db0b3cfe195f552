//! The data of each event. `proto-schemas/<routing key>.json` describes the same shapes, and
//! `tests/it/schemas.rs` fails when the two drift apart.
//!
//! Events carry no more personal data than their consumers need: user events give id, role and
//! time zone, never name, email or password.
//!
//! Clinical content (a note's text, step titles, source sentences) never travels in clear: it is
//! a [`SealedEnvelope`] of `hospital-crypto`, bound to the ids the event carries in clear (see
//! [`note_text_binding`], [`step_title_binding`] and [`step_source_binding`], which sealer and
//! opener must both use). Ids, statuses, instants and schedules stay in clear so that the
//! reminder-service schedules and dispatches without a key.
//!
//! A plan step's schedule and duration, and the bound on the number of steps, are the step
//! vocabulary's (`hospital-steps`), re-exported here; [`StepsExtracted::seal`] turns the
//! clear steps an extractor returns into the event.

use chrono::{DateTime, Utc};
pub use hospital_crypto::SealedEnvelope;
use hospital_crypto::{AssociatedData, CryptoError, Keyring};
use hospital_platform::token::Role;
use hospital_steps::{max_steps, Steps};
pub use hospital_steps::{
    ClockTime, ClockTimes, Duration, DurationDays, IntervalHours, InvalidStep, Occurrences,
    Schedule, TimesPerDay, MAX_STEPS,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::event;

/// A patient or a doctor signed up. Published by auth-service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRegistered {
    pub user_id: Uuid,
    /// `"patient"` or `"doctor"`.
    pub role: Role,
    /// The user's IANA time zone, e.g. `Europe/Paris`.
    pub timezone: String,
}
event!(UserRegistered, "user.registered", 1);

/// A user changed their time zone. Published by auth-service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserTimezoneChanged {
    pub user_id: Uuid,
    /// The new IANA time zone.
    pub timezone: String,
}
event!(UserTimezoneChanged, "user.timezone_changed", 1);

/// A patient's doctor changed: chosen for the first time, switched, or removed.
/// Published by auth-service; the previous doctor loses access at `changed_at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssignmentChanged {
    pub patient_id: Uuid,
    /// The doctor now assigned, or `null` when the patient has none.
    pub doctor_id: Option<Uuid>,
    /// The doctor assigned before, or `null` when there was none.
    pub previous_doctor_id: Option<Uuid>,
    /// When the assignment changed (consumers keep the newest and ignore older ones).
    pub changed_at: DateTime<Utc>,
}
event!(AssignmentChanged, "assignment.changed", 1);

/// A doctor submitted a note. Published by notes-service (through its outbox), consumed by
/// llm-worker, which opens `text` and extracts the steps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoteSubmitted {
    pub note_id: Uuid,
    pub patient_id: Uuid,
    /// The author, an assigned doctor.
    pub doctor_id: Uuid,
    /// When the note was written; the newest note of a patient wins.
    pub created_at: DateTime<Utc>,
    /// The note's text, sealed and bound by [`note_text_binding`].
    pub text: SealedEnvelope,
}
event!(NoteSubmitted, "note.submitted", 1);

/// The steps extracted from a note. Published by llm-worker; consumed by reminder-service
/// (which replaces the patient's steps when the note is newer than the ones it holds) and
/// notes-service (which marks the note as processed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "StepsExtractedWire")]
pub struct StepsExtracted {
    pub note_id: Uuid,
    pub patient_id: Uuid,
    /// The note's `created_at`, which orders notes: steps of an older note arriving late are
    /// ignored.
    pub note_created_at: DateTime<Utc>,
    /// The extractor whose output these steps are.
    pub extractor: Extractor,
    /// `true` when the configured provider failed (unreachable, or invalid answers after
    /// retries) and the offline extractor took over; `extractor` is then always `offline`
    /// (deserializing refuses anything else, like the schema).
    pub fallback: bool,
    /// One-time tasks, at most [`MAX_STEPS`].
    pub checklist: Vec<ChecklistStep>,
    /// Scheduled actions, at most [`MAX_STEPS`].
    pub plan: Vec<PlanStep>,
}
event!(StepsExtracted, "steps.extracted", 1);

/// [`StepsExtracted`] as read from the wire, before its cross-field check.
#[derive(Deserialize)]
struct StepsExtractedWire {
    note_id: Uuid,
    patient_id: Uuid,
    note_created_at: DateTime<Utc>,
    extractor: Extractor,
    fallback: bool,
    #[serde(deserialize_with = "max_steps::checklist")]
    checklist: Vec<ChecklistStep>,
    #[serde(deserialize_with = "max_steps::plan")]
    plan: Vec<PlanStep>,
}

impl TryFrom<StepsExtractedWire> for StepsExtracted {
    type Error = InvalidStepsExtracted;

    fn try_from(wire: StepsExtractedWire) -> Result<Self, Self::Error> {
        check_fallback(wire.extractor, wire.fallback)?;
        Ok(Self {
            note_id: wire.note_id,
            patient_id: wire.patient_id,
            note_created_at: wire.note_created_at,
            extractor: wire.extractor,
            fallback: wire.fallback,
            checklist: wire.checklist,
            plan: wire.plan,
        })
    }
}

/// Why a [`StepsExtracted`] is not one the contract allows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidStepsExtracted {
    #[error("a fallback is always to the offline extractor, not {0:?}")]
    FallbackNotOffline(Extractor),
    /// More than [`MAX_STEPS`] checklist items or plan steps.
    #[error(transparent)]
    Steps(#[from] InvalidStep),
}

/// Why [`StepsExtracted::seal`] made no event.
#[derive(Debug, thiserror::Error)]
pub enum SealStepsError {
    #[error(transparent)]
    Invalid(#[from] InvalidStepsExtracted),
    /// The keyring could not seal a title or a source (the cause names no content).
    #[error("could not seal a step's text: {0}")]
    Crypto(#[from] CryptoError),
}

fn check_fallback(extractor: Extractor, fallback: bool) -> Result<(), InvalidStepsExtracted> {
    if fallback && extractor != Extractor::Offline {
        return Err(InvalidStepsExtracted::FallbackNotOffline(extractor));
    }
    Ok(())
}

impl StepsExtracted {
    /// The event of a note's clear steps: each step gets a fresh UUID v7 id, and its title
    /// and source are sealed with `keyring`'s current key, bound by [`step_title_binding`]
    /// and [`step_source_binding`] to that id and the patient. Schedules and durations stay
    /// in clear, as they are.
    ///
    /// Refuses a fallback to anything but the offline extractor and more than
    /// [`MAX_STEPS`] checklist items or plan steps, like deserializing does.
    pub fn seal(
        note_id: Uuid,
        patient_id: Uuid,
        note_created_at: DateTime<Utc>,
        extractor: Extractor,
        fallback: bool,
        steps: &Steps,
        keyring: &Keyring,
    ) -> Result<Self, SealStepsError> {
        check_fallback(extractor, fallback)?;
        steps.check_counts().map_err(InvalidStepsExtracted::from)?;
        let seal = |title: &str, source: &str| -> Result<_, CryptoError> {
            let step_id = Uuid::now_v7();
            let title = keyring.seal_str(title, &step_title_binding(step_id, patient_id))?;
            let source = keyring.seal_str(source, &step_source_binding(step_id, patient_id))?;
            Ok((step_id, title, source))
        };
        let checklist = steps
            .checklist
            .iter()
            .map(|item| {
                let (step_id, title, source) = seal(&item.title, &item.source)?;
                Ok(ChecklistStep {
                    step_id,
                    title,
                    source,
                })
            })
            .collect::<Result<_, CryptoError>>()?;
        let plan = steps
            .plan
            .iter()
            .map(|step| {
                let (step_id, title, source) = seal(&step.title, &step.source)?;
                Ok(PlanStep {
                    step_id,
                    title,
                    source,
                    schedule: step.schedule.clone(),
                    duration: step.duration,
                })
            })
            .collect::<Result<_, CryptoError>>()?;
        Ok(Self {
            note_id,
            patient_id,
            note_created_at,
            extractor,
            fallback,
            checklist,
            plan,
        })
    }
}

/// Which extractor produced a note's steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Extractor {
    /// The deterministic offline parser (the default, and the fallback).
    Offline,
    /// Gemini `generateContent` with a response schema.
    Gemini,
    /// An OpenAI-compatible `/v1/chat/completions` endpoint (OpenAI, Ollama, vLLM, llama.cpp).
    Openai,
}

/// A one-time task ("Buy amoxicillin 500 mg capsules").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChecklistStep {
    /// A fresh id for this step (a UUID v7 from llm-worker).
    pub step_id: Uuid,
    /// Sealed with [`step_title_binding`].
    pub title: SealedEnvelope,
    /// The note's sentence the step came from, sealed with [`step_source_binding`].
    pub source: SealedEnvelope,
}

/// A repeated action, with when it repeats and for how long (in clear: the reminder-service
/// schedules it without a key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanStep {
    pub step_id: Uuid,
    /// Sealed with [`step_title_binding`].
    pub title: SealedEnvelope,
    /// Sealed with [`step_source_binding`].
    pub source: SealedEnvelope,
    pub schedule: Schedule,
    /// `None` (JSON `null`) when the note sets no end.
    pub duration: Option<Duration>,
}

/// Extraction of a note gave no steps. Published by llm-worker, consumed by notes-service
/// (which shows the note as not processed, with the reason).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtractionFailed {
    pub note_id: Uuid,
    pub patient_id: Uuid,
    pub reason: ExtractionFailure,
}
event!(ExtractionFailed, "extraction.failed", 1);

/// Why a note's extraction failed: a closed set of stable snake_case codes (never text from the
/// note or the provider).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExtractionFailure {
    /// The configured provider could not be reached (network, timeouts, rate limits, 5xx)
    /// and falling back to the offline extractor is switched off.
    ProviderUnavailable,
    /// The provider's answers stayed invalid after retries and falling back is switched off.
    InvalidOutput,
    /// The note is longer than the extractors accept.
    NoteTooLong,
    /// The note's envelope could not be opened (unknown key id, tampered, or bound to another
    /// record).
    NoteUnreadable,
    /// The note asks for more than [`MAX_STEPS`] checklist items or plan steps.
    TooManySteps,
}

/// A reminder fell due. Published by reminder-service's dispatcher to the notification senders.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReminderDue {
    /// The occurrence's id; senders deduplicate on it.
    pub reminder_id: Uuid,
    pub patient_id: Uuid,
    pub step_id: Uuid,
    pub due_at: DateTime<Utc>,
    /// The plan step's title as `steps.extracted` sealed it ([`step_title_binding`]): the
    /// dispatcher forwards it without a key.
    pub title: SealedEnvelope,
}
event!(ReminderDue, "reminder.due", 1);

/// Reminders that fell due together, in one message. Published by reminder-service's
/// dispatcher to the notification senders instead of one [`ReminderDue`] each, so that the
/// broker's rate of persistent messages no longer caps the rate of reminders.
///
/// Each reminder keeps its own `reminder_id`, and senders deduplicate per reminder, not per
/// message: a batch republished after a crash may group reminders differently, so its
/// envelope id is no dedup key for the reminders in it. A sender that handles reminders one
/// at a time splits a batch with [`into_reminders`](Self::into_reminders) or a `for` loop.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "ReminderDueBatchWire")]
pub struct ReminderDueBatch {
    /// 1 to [`MAX_REMINDERS`](Self::MAX_REMINDERS) reminders, in due order (earliest
    /// `due_at` first). Deserializing refuses other counts, like the schema.
    pub reminders: Vec<ReminderDue>,
}
event!(ReminderDueBatch, "reminder.due_batch", 1);

/// [`ReminderDueBatch`] as read from the wire, before its count is checked.
#[derive(Deserialize)]
struct ReminderDueBatchWire {
    reminders: Vec<ReminderDue>,
}

impl TryFrom<ReminderDueBatchWire> for ReminderDueBatch {
    type Error = InvalidReminderDueBatch;

    fn try_from(wire: ReminderDueBatchWire) -> Result<Self, Self::Error> {
        Self::new(wire.reminders)
    }
}

/// A [`ReminderDueBatch`] with no reminders, or more than
/// [`MAX_REMINDERS`](ReminderDueBatch::MAX_REMINDERS): the count it was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "reminders has {0} entries; a reminder.due_batch has 1 to {max}",
    max = ReminderDueBatch::MAX_REMINDERS
)]
pub struct InvalidReminderDueBatch(pub usize);

impl ReminderDueBatch {
    /// The most reminders one message carries (the schema's `maxItems`): it keeps a message
    /// near 300 KB with the longest titles, far below the broker's limit.
    pub const MAX_REMINDERS: usize = 200;

    /// A batch of `reminders`, which the caller gives in due order; refuses an empty list and
    /// more than [`MAX_REMINDERS`](Self::MAX_REMINDERS), like deserializing does.
    pub fn new(reminders: Vec<ReminderDue>) -> Result<Self, InvalidReminderDueBatch> {
        if reminders.is_empty() || reminders.len() > Self::MAX_REMINDERS {
            return Err(InvalidReminderDueBatch(reminders.len()));
        }
        Ok(Self { reminders })
    }

    /// The reminders, one [`ReminderDue`] each, in due order.
    pub fn into_reminders(self) -> Vec<ReminderDue> {
        self.reminders
    }
}

impl IntoIterator for ReminderDueBatch {
    type Item = ReminderDue;
    type IntoIter = std::vec::IntoIter<ReminderDue>;

    fn into_iter(self) -> Self::IntoIter {
        self.reminders.into_iter()
    }
}

/// A reminder's grace period ended without a check-in. Published by reminder-service, for
/// doctor dashboards.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReminderMissed {
    pub reminder_id: Uuid,
    pub patient_id: Uuid,
    pub step_id: Uuid,
    pub due_at: DateTime<Utc>,
}
event!(ReminderMissed, "reminder.missed", 1);

/// A patient checked in a reminder. Published by reminder-service, for analytics.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckinRecorded {
    pub reminder_id: Uuid,
    pub patient_id: Uuid,
    /// When the patient checked in.
    pub at: DateTime<Utc>,
}
event!(CheckinRecorded, "checkin.recorded", 1);

/// The binding of a note's text: design.md's record binding (note, patient, author), the same
/// notes-service uses at rest, so the stored envelope can travel as it is.
pub fn note_text_binding(note_id: Uuid, patient_id: Uuid, doctor_id: Uuid) -> AssociatedData {
    AssociatedData::record(note_id, patient_id, doctor_id)
}

/// The binding of a step's title: the step and its patient, and the kind of content (so a
/// title and a source cannot be swapped). No author or note: `reminder.due` forwards the title
/// with only the step and patient ids, and step ids are never reused.
pub fn step_title_binding(step_id: Uuid, patient_id: Uuid) -> AssociatedData {
    step_binding(step_id, patient_id, "step_title")
}

/// The binding of a step's source sentence (see [`step_title_binding`]).
pub fn step_source_binding(step_id: Uuid, patient_id: Uuid) -> AssociatedData {
    step_binding(step_id, patient_id, "step_source")
}

fn step_binding(step_id: Uuid, patient_id: Uuid, kind: &str) -> AssociatedData {
    AssociatedData::new()
        .with("record_id", step_id.to_string())
        .with("patient_id", patient_id.to_string())
        .with("kind", kind)
}

/// The routing keys of every event this crate defines, for topology checks and docs.
pub const ALL_ROUTING_KEYS: &[&str] = {
    use crate::Event as _;
    &[
        UserRegistered::ROUTING_KEY,
        UserTimezoneChanged::ROUTING_KEY,
        AssignmentChanged::ROUTING_KEY,
        NoteSubmitted::ROUTING_KEY,
        StepsExtracted::ROUTING_KEY,
        ExtractionFailed::ROUTING_KEY,
        ReminderDue::ROUTING_KEY,
        ReminderDueBatch::ROUTING_KEY,
        ReminderMissed::ROUTING_KEY,
        CheckinRecorded::ROUTING_KEY,
    ]
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Event;

    fn check<T: Event>() {
        assert_eq!(T::ROUTING_KEY, format!("{}.v{}", T::TYPE, T::VERSION));
    }

    #[test]
    fn routing_keys_are_type_dot_version() {
        check::<UserRegistered>();
        check::<UserTimezoneChanged>();
        check::<AssignmentChanged>();
        check::<NoteSubmitted>();
        check::<StepsExtracted>();
        check::<ExtractionFailed>();
        check::<ReminderDue>();
        check::<ReminderDueBatch>();
        check::<ReminderMissed>();
        check::<CheckinRecorded>();
        assert_eq!(UserRegistered::ROUTING_KEY, "user.registered.v1");
        assert_eq!(ReminderDueBatch::ROUTING_KEY, "reminder.due_batch.v1");
        assert_eq!(ALL_ROUTING_KEYS.len(), 10);
    }

    #[test]
    fn user_registered_carries_no_identity_beyond_id_role_and_zone() {
        let value = serde_json::to_value(UserRegistered {
            user_id: Uuid::now_v7(),
            role: Role::Doctor,
            timezone: "UTC".into(),
        })
        .unwrap();
        let mut keys: Vec<_> = value.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        assert_eq!(keys, ["role", "timezone", "user_id"]);
        assert_eq!(value["role"], "doctor");
    }

    #[test]
    fn steps_extracted_refuses_more_than_max_steps() {
        let mut value = serde_json::json!({
            "note_id": Uuid::now_v7(), "patient_id": Uuid::now_v7(),
            "note_created_at": "2026-11-26T10:00:00Z", "extractor": "openai", "fallback": false,
            "checklist": [], "plan": []
        });
        let steps: StepsExtracted = serde_json::from_value(value.clone()).unwrap();
        assert_eq!(steps.extractor, Extractor::Openai);
        let mut fallen_back = value.clone();
        fallen_back["fallback"] = serde_json::json!(true);
        let err = serde_json::from_value::<StepsExtracted>(fallen_back.clone()).unwrap_err();
        assert!(err.to_string().contains("offline"), "{err}");
        fallen_back["extractor"] = serde_json::json!("offline");
        assert!(
            serde_json::from_value::<StepsExtracted>(fallen_back)
                .unwrap()
                .fallback
        );
        let envelope = serde_json::json!({
            "v": 1, "kid": "k1", "key_nonce": "AAAAAAAAAAAAAAAA",
            "wrapped_key": "A".repeat(64), "nonce": "AAAAAAAAAAAAAAAA",
            "ciphertext": "A".repeat(24)
        });
        let item =
            serde_json::json!({"step_id": Uuid::now_v7(), "title": envelope, "source": envelope});
        value["checklist"] = serde_json::Value::Array(vec![item; MAX_STEPS]);
        assert!(serde_json::from_value::<StepsExtracted>(value.clone()).is_ok());
        let first = value["checklist"][0].clone();
        value["checklist"].as_array_mut().unwrap().push(first);
        let err = serde_json::from_value::<StepsExtracted>(value).unwrap_err();
        assert!(err.to_string().contains("more than 200"), "{err}");
    }

    fn keyring() -> hospital_crypto::Keyring {
        let spec = format!(
            "k1:{}",
            hospital_crypto::Keyring::generate_key().unwrap().as_str()
        );
        hospital_crypto::Keyring::from_spec(&spec).unwrap()
    }

    fn clear_steps() -> Steps {
        serde_json::from_value(serde_json::json!({
            "checklist": [{"title": "Buy a thermometer", "source": "Buy a thermometer today."}],
            "plan": [{
                "title": "Take amoxicillin 500 mg",
                "schedule": {"kind": "fixed_times", "times": ["08:00", "20:00"]},
                "duration": {"days": 7},
                "source": "Take amoxicillin 500 mg at 08:00 and 20:00 for 7 days."
            }]
        }))
        .unwrap()
    }

    #[test]
    fn seal_binds_each_text_to_a_fresh_step_id_and_keeps_schedules_clear() {
        let keyring = keyring();
        let steps = clear_steps();
        let (note, patient, at) = (Uuid::now_v7(), Uuid::now_v7(), Utc::now());
        let event = StepsExtracted::seal(
            note,
            patient,
            at,
            Extractor::Offline,
            true,
            &steps,
            &keyring,
        )
        .unwrap();
        assert_eq!((event.note_id, event.patient_id), (note, patient));
        assert_eq!(event.note_created_at, at);
        assert!(event.fallback);
        let item = &event.checklist[0];
        let step = &event.plan[0];
        assert_ne!(item.step_id, step.step_id);
        assert_eq!(step.step_id.get_version_num(), 7);
        let open = |sealed, binding| keyring.open_str(sealed, &binding).unwrap();
        assert_eq!(
            open(&item.title, step_title_binding(item.step_id, patient)).as_str(),
            "Buy a thermometer"
        );
        assert_eq!(
            open(&step.source, step_source_binding(step.step_id, patient)).as_str(),
            "Take amoxicillin 500 mg at 08:00 and 20:00 for 7 days."
        );
        // A title cannot be opened as another step's or as a source.
        assert!(keyring
            .open_str(&step.title, &step_title_binding(item.step_id, patient))
            .is_err());
        assert!(keyring
            .open_str(&step.title, &step_source_binding(step.step_id, patient))
            .is_err());
        assert_eq!(step.schedule, steps.plan[0].schedule);
        assert_eq!(step.duration, steps.plan[0].duration);
        // What was sealed reads back through the wire type.
        let back: StepsExtracted =
            serde_json::from_value(serde_json::to_value(&event).unwrap()).unwrap();
        assert_eq!(back, event);
    }

    #[test]
    fn seal_refuses_what_the_contract_refuses() {
        let keyring = keyring();
        let seal = |extractor, fallback, steps: &Steps| {
            StepsExtracted::seal(
                Uuid::now_v7(),
                Uuid::now_v7(),
                Utc::now(),
                extractor,
                fallback,
                steps,
                &keyring,
            )
        };
        let steps = clear_steps();
        assert!(matches!(
            seal(Extractor::Gemini, true, &steps),
            Err(SealStepsError::Invalid(
                InvalidStepsExtracted::FallbackNotOffline(Extractor::Gemini)
            ))
        ));
        assert!(seal(Extractor::Gemini, false, &steps).is_ok());
        let mut too_many = steps;
        too_many.checklist = vec![too_many.checklist[0].clone(); MAX_STEPS + 1];
        let err = seal(Extractor::Offline, false, &too_many).unwrap_err();
        assert!(err.to_string().contains("checklist has 201 steps"), "{err}");
        assert!(seal(Extractor::Offline, false, &Steps::default())
            .unwrap()
            .plan
            .is_empty());
    }

    #[test]
    fn bindings_tie_content_to_its_ids_and_kind() {
        let keyring = keyring();
        let (step, patient) = (Uuid::now_v7(), Uuid::now_v7());
        let title = keyring
            .seal_str(
                "Take amoxicillin 500 mg",
                &step_title_binding(step, patient),
            )
            .unwrap();
        let opened = keyring
            .open_str(&title, &step_title_binding(step, patient))
            .unwrap();
        assert_eq!(opened.as_str(), "Take amoxicillin 500 mg");
        assert!(keyring
            .open_str(&title, &step_source_binding(step, patient))
            .is_err());
        assert!(keyring
            .open_str(&title, &step_title_binding(step, Uuid::now_v7()))
            .is_err());

        let (note, doctor) = (Uuid::now_v7(), Uuid::now_v7());
        let text = keyring
            .seal_str("note", &note_text_binding(note, patient, doctor))
            .unwrap();
        let aad = hospital_crypto::AssociatedData::record(note, patient, doctor);
        assert_eq!(keyring.open_str(&text, &aad).unwrap().as_str(), "note");
    }

    #[test]
    fn extraction_failures_are_snake_case_codes() {
        let codes: Vec<_> = [
            ExtractionFailure::ProviderUnavailable,
            ExtractionFailure::InvalidOutput,
            ExtractionFailure::NoteTooLong,
            ExtractionFailure::NoteUnreadable,
            ExtractionFailure::TooManySteps,
        ]
        .iter()
        .map(|r| serde_json::to_value(r).unwrap())
        .collect();
        assert_eq!(
            codes,
            [
                "provider_unavailable",
                "invalid_output",
                "note_too_long",
                "note_unreadable",
                "too_many_steps"
            ]
        );
    }
}
