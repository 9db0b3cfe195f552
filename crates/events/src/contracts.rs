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

use std::fmt;

use chrono::{DateTime, Utc};
use hospital_crypto::AssociatedData;
pub use hospital_crypto::SealedEnvelope;
use hospital_platform::token::Role;
use serde::{Deserialize, Deserializer, Serialize};
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
    #[serde(deserialize_with = "at_most_max_steps")]
    checklist: Vec<ChecklistStep>,
    #[serde(deserialize_with = "at_most_max_steps")]
    plan: Vec<PlanStep>,
}

impl TryFrom<StepsExtractedWire> for StepsExtracted {
    type Error = InvalidStep;

    fn try_from(wire: StepsExtractedWire) -> Result<Self, Self::Error> {
        if wire.fallback && wire.extractor != Extractor::Offline {
            return Err(InvalidStep::FallbackNotOffline(wire.extractor));
        }
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

/// The most checklist items, and separately the most plan steps, one `steps.extracted` event
/// carries (the schema says the same). A note asking for more fails with
/// [`ExtractionFailure::TooManySteps`].
pub const MAX_STEPS: usize = 200;

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

/// When a plan step repeats (`shared/extraction.md`), tagged by `kind`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Schedule {
    /// `{"kind": "fixed_times", "times": ["08:00", "20:00"]}`: clock times in the patient's
    /// time zone.
    FixedTimes { times: ClockTimes },
    /// `{"kind": "interval", "every_hours": 6}`: every N hours from the first dose.
    Interval { every_hours: IntervalHours },
    /// `{"kind": "times_per_day", "times_per_day": 3}`: N doses over the waking window.
    TimesPerDay { times_per_day: TimesPerDay },
}

/// How long a plan step lasts: `{"days": N}` or `{"occurrences": N}` (an open-ended step is
/// `Option::None`, JSON `null`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Duration {
    Days(DurationDays),
    Occurrences(Occurrences),
}

/// Why a step's part is out of the contract's bounds.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidStep {
    #[error("{what} {value} is outside {min}..={max}")]
    OutOfRange {
        what: &'static str,
        value: u32,
        min: u32,
        max: u32,
    },
    #[error("clock time {0:?} is not a 24-hour HH:MM time")]
    ClockTime(String),
    #[error("a fixed-times schedule needs 1 to {max} distinct times, got {0}", max = ClockTimes::MAX)]
    TimesCount(usize),
    #[error("clock time {0} is listed twice")]
    DuplicateTime(ClockTime),
    #[error("{0} steps is more than {MAX_STEPS}")]
    TooManySteps(usize),
    #[error("a fallback is always to the offline extractor, not {0:?}")]
    FallbackNotOffline(Extractor),
}

macro_rules! bounded {
    ($(#[$doc:meta])* $name:ident($int:ty), $min:literal..=$max:literal, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "u32", into = "u32")]
        pub struct $name($int);

        impl $name {
            pub const MIN: $int = $min;
            pub const MAX: $int = $max;

            /// Refuses a value outside `MIN..=MAX`.
            pub fn new(value: u32) -> Result<Self, InvalidStep> {
                match <$int>::try_from(value) {
                    Ok(v) if (Self::MIN..=Self::MAX).contains(&v) => Ok(Self(v)),
                    _ => Err(InvalidStep::OutOfRange {
                        what: $what,
                        value,
                        min: u32::from(Self::MIN),
                        max: u32::from(Self::MAX),
                    }),
                }
            }

            pub fn get(self) -> u32 {
                u32::from(self.0)
            }
        }

        impl TryFrom<u32> for $name {
            type Error = InvalidStep;

            fn try_from(value: u32) -> Result<Self, Self::Error> {
                Self::new(value)
            }
        }

        impl From<$name> for u32 {
            fn from(value: $name) -> Self {
                value.get()
            }
        }
    };
}

bounded!(
    /// Doses a day, 1 to 24.
    TimesPerDay(u8), 1..=24, "times_per_day"
);
bounded!(
    /// Hours between doses, 1 to 8,760 (a year; the schedule engine's bound).
    IntervalHours(u16), 1..=8760, "every_hours"
);
bounded!(
    /// A duration in days, 1 to 3,650 (ten years; longer is open-ended, `null`).
    DurationDays(u16), 1..=3650, "days"
);
bounded!(
    /// A duration in doses, 1 to 10,000.
    Occurrences(u16), 1..=10000, "occurrences"
);

/// A 24-hour clock time in the patient's time zone, serialized as `"HH:MM"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ClockTime {
    minutes: u16,
}

impl ClockTime {
    pub fn new(hour: u32, minute: u32) -> Result<Self, InvalidStep> {
        if hour < 24 && minute < 60 {
            // At most 23 * 60 + 59.
            Ok(Self {
                minutes: (hour * 60 + minute) as u16,
            })
        } else {
            Err(InvalidStep::ClockTime(format!("{hour}:{minute:02}")))
        }
    }

    pub fn hour(self) -> u32 {
        u32::from(self.minutes / 60)
    }

    pub fn minute(self) -> u32 {
        u32::from(self.minutes % 60)
    }
}

impl fmt::Display for ClockTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.hour(), self.minute())
    }
}

impl std::str::FromStr for ClockTime {
    type Err = InvalidStep;

    /// Only the canonical `HH:MM` form.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let b = s.as_bytes();
        let bad = || InvalidStep::ClockTime(s.chars().take(16).collect());
        if b.len() != 5 || b[2] != b':' || ![0, 1, 3, 4].iter().all(|&i| b[i].is_ascii_digit()) {
            return Err(bad());
        }
        let digit = |i: usize| u32::from(b[i] - b'0');
        Self::new(digit(0) * 10 + digit(1), digit(3) * 10 + digit(4)).map_err(|_| bad())
    }
}

impl TryFrom<String> for ClockTime {
    type Error = InvalidStep;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<ClockTime> for String {
    fn from(t: ClockTime) -> Self {
        t.to_string()
    }
}

/// The times of a fixed-times schedule: 1 to 24, distinct, kept sorted.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "Vec<ClockTime>", into = "Vec<ClockTime>")]
pub struct ClockTimes(Vec<ClockTime>);

impl ClockTimes {
    pub const MAX: usize = 24;

    /// Sorts the times; refuses none, more than [`MAX`](Self::MAX), or one listed twice.
    pub fn new(mut times: Vec<ClockTime>) -> Result<Self, InvalidStep> {
        if times.is_empty() || times.len() > Self::MAX {
            return Err(InvalidStep::TimesCount(times.len()));
        }
        times.sort_unstable();
        if let Some(pair) = times.windows(2).find(|pair| pair[0] == pair[1]) {
            return Err(InvalidStep::DuplicateTime(pair[0]));
        }
        Ok(Self(times))
    }

    pub fn as_slice(&self) -> &[ClockTime] {
        &self.0
    }
}

impl TryFrom<Vec<ClockTime>> for ClockTimes {
    type Error = InvalidStep;

    fn try_from(times: Vec<ClockTime>) -> Result<Self, Self::Error> {
        Self::new(times)
    }
}

impl From<ClockTimes> for Vec<ClockTime> {
    fn from(times: ClockTimes) -> Self {
        times.0
    }
}

fn at_most_max_steps<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    let steps = Vec::<T>::deserialize(deserializer)?;
    if steps.len() > MAX_STEPS {
        return Err(serde::de::Error::custom(InvalidStep::TooManySteps(
            steps.len(),
        )));
    }
    Ok(steps)
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
        check::<ReminderMissed>();
        check::<CheckinRecorded>();
        assert_eq!(UserRegistered::ROUTING_KEY, "user.registered.v1");
        assert_eq!(ALL_ROUTING_KEYS.len(), 9);
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
    fn schedules_and_durations_have_the_extraction_shapes() {
        let times = ClockTimes::new(vec!["20:00".parse().unwrap(), "08:00".parse().unwrap()]);
        let fixed = Schedule::FixedTimes {
            times: times.unwrap(),
        };
        assert_eq!(
            serde_json::to_value(&fixed).unwrap(),
            serde_json::json!({"kind": "fixed_times", "times": ["08:00", "20:00"]})
        );
        let every = Schedule::Interval {
            every_hours: IntervalHours::new(6).unwrap(),
        };
        assert_eq!(
            serde_json::to_value(every).unwrap(),
            serde_json::json!({"kind": "interval", "every_hours": 6})
        );
        let daily = serde_json::json!({"kind": "times_per_day", "times_per_day": 3});
        let parsed: Schedule = serde_json::from_value(daily.clone()).unwrap();
        assert_eq!(serde_json::to_value(parsed).unwrap(), daily);
        let days = Duration::Days(DurationDays::new(7).unwrap());
        assert_eq!(
            serde_json::to_value(days).unwrap(),
            serde_json::json!({"days": 7})
        );
        let doses: Option<Duration> = serde_json::from_str(r#"{"occurrences": 10}"#).unwrap();
        assert_eq!(
            doses,
            Some(Duration::Occurrences(Occurrences::new(10).unwrap()))
        );
        let open: Option<Duration> = serde_json::from_str("null").unwrap();
        assert_eq!(open, None);
    }

    #[test]
    fn out_of_contract_steps_do_not_deserialize() {
        let bad_schedules = [
            r#"{"kind": "fixed_times", "times": []}"#,
            r#"{"kind": "fixed_times", "times": ["8:00"]}"#,
            r#"{"kind": "fixed_times", "times": ["24:00"]}"#,
            r#"{"kind": "fixed_times", "times": ["08:00", "08:00"]}"#,
            r#"{"kind": "interval", "every_hours": 0}"#,
            r#"{"kind": "interval", "every_hours": 8761}"#,
            r#"{"kind": "interval", "every_hours": 6, "times_per_day": 4}"#,
            r#"{"kind": "times_per_day", "times_per_day": 25}"#,
            r#"{"kind": "weekly", "every_hours": 168}"#,
            r#"{"every_hours": 6}"#,
        ];
        for json in bad_schedules {
            assert!(serde_json::from_str::<Schedule>(json).is_err(), "{json}");
        }
        let bad_durations = [
            r#"{"days": 0}"#,
            r#"{"days": 3651}"#,
            r#"{"occurrences": 10001}"#,
            r#"{"days": 7, "occurrences": 3}"#,
            r#"{"weeks": 2}"#,
            r#"{"days": -1}"#,
        ];
        for json in bad_durations {
            assert!(serde_json::from_str::<Duration>(json).is_err(), "{json}");
        }
        let times: Vec<ClockTime> = (0..25)
            .map(|h| ClockTime::new(h % 24, h / 24).unwrap())
            .collect();
        assert_eq!(ClockTimes::new(times), Err(InvalidStep::TimesCount(25)));
        assert!(IntervalHours::new(8760).is_ok() && IntervalHours::new(70_000).is_err());
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

    #[test]
    fn bindings_tie_content_to_its_ids_and_kind() {
        let spec = format!(
            "k1:{}",
            hospital_crypto::Keyring::generate_key().unwrap().as_str()
        );
        let keyring = hospital_crypto::Keyring::from_spec(&spec).unwrap();
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
