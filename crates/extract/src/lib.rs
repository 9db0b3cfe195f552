//! The offline extractor: a deterministic reader of doctors' instructions that turns a
//! note into a checklist (one-time tasks) and a plan (scheduled actions), as
//! `shared/extraction.md` defines them.
//!
//! Pure: no I/O, no async, no framework types, so every service and the command line can
//! call it, and so can tests by the thousand. It is the default provider (the system runs
//! with no model and no network) and the fallback when a model's answer fails validation.
//! The output types are the step vocabulary's (`hospital-steps`, also re-exported as
//! [`steps`]), the same ones a model's answer is validated into, and the extractor never
//! makes one out of their bounds: a title is fitted into 200 characters at a word
//! boundary, a duration past 3,650 days or an interval past 8,760 hours is not kept (the
//! step is open-ended, or has no schedule), and at most [`MAX_STEPS`] checklist items and
//! plan steps come from one note.
//!
//! The reading runs in stages, each in its own module:
//! `tokens` (one pass, quotations blanked, run-together shorthand cut by the sig table of
//! `sig`) → `sentences` → `clauses` → `filters` (the clause's role: instruction, history,
//! stopping, advice against, condition, as-needed, narrative, the team's task) →
//! `frequency`, `clock`, `duration` → `drugs` (medicines by the 9,359 names of
//! `medicines`, stems and doses; combinations and brands in brackets as one) → `labels`
//! ("Medicine strength form: directions"), `tasks` (one-off checklist items), phases and
//! `titles`, put together clause by clause in `pipeline`. Every stage scans with
//! bounded look-ahead: time is linear in the note's length, and no input makes it panic.
//! The crate's `README.md` lists what it understands, with examples, what it leaves to the
//! language-model providers, and its scores on the labelled sets.
//!
//! ```
//! let steps = hospital_extract::extract(
//!     "Buy amoxicillin 500 mg capsules today. Take one capsule three times a day for 7 days.",
//! );
//! assert_eq!(steps.checklist[0].title, "Buy amoxicillin 500 mg capsules today");
//! assert_eq!(steps.plan[0].title, "Take amoxicillin 500 mg");
//! assert_eq!(steps.plan[0].source, "Take one capsule three times a day for 7 days.");
//!
//! // A pharmacy label: shorthand, a unit that is not a tablet, no verb.
//! let steps = hospital_extract::extract("Timolol 0.5% eye drops: 1 gtt OU bidx30d");
//! assert_eq!(steps.plan[0].title, "Use timolol 0.5% eye drops");
//! assert_eq!(
//!     steps.plan[0].duration,
//!     Some(hospital_extract::Duration::Days(hospital_extract::DurationDays::new(30).unwrap()))
//! );
//! ```

mod clauses;
mod clock;
mod drugs;
mod duration;
mod filters;
mod frequency;
mod labels;
mod lexicon;
mod medicines;
mod pipeline;
mod sentences;
mod sig;
mod tasks;
mod titles;
mod tokens;

/// The step vocabulary (`hospital-steps`), under the name this crate's callers know.
pub use hospital_steps as steps;
pub use hospital_steps::{
    ChecklistItem, ClockTime, ClockTimes, Duration, DurationDays, IntervalHours, InvalidStep,
    Occurrences, PlanStep, Schedule, Source, Steps, TimesPerDay, Title, MAX_STEPS,
};

/// Reads a note and returns the steps it asks for: at most [`MAX_STEPS`] checklist items
/// and [`MAX_STEPS`] plan steps (the first ones of the note), every part within its bounds.
///
/// Any text is accepted; limits on length belong to the caller (the API and the
/// `llm-worker extract` command refuse notes over 20,000 characters; a sentence of a
/// longer note is cut to its first 20,000 characters as a source). Time is linear in the
/// note's length.
pub fn extract(note: &str) -> Steps {
    pipeline::extract(note)
}
