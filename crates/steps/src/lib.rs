//! The step vocabulary: what a note asks for, in the types every crate shares.
//!
//! This crate is the one definition of a step and its parts, and of their bounds
//! (`shared/extraction.md` gives the shapes, `shared/schedule.md` "Bad input" and the JSON
//! Schemas in `proto-schemas/` the same bounds):
//!
//! | type | what | bounds |
//! |---|---|---|
//! | [`ClockTime`] | `"HH:MM"`, 24-hour, canonical form only | 00:00 to 23:59 |
//! | [`ClockTimes`] | the times of a `fixed_times` schedule, sorted | 1 to [`ClockTimes::MAX`] (24), distinct |
//! | [`TimesPerDay`] | doses a day | 1 to [`TimesPerDay::MAX`] (24) |
//! | [`IntervalHours`] | hours between doses | 1 to [`IntervalHours::MAX`] (8,760) |
//! | [`DurationDays`] | a course in days | 1 to [`DurationDays::MAX`] (3,650) |
//! | [`Occurrences`] | a course in doses | 1 to [`Occurrences::MAX`] (10,000) |
//! | [`Schedule`] | `fixed_times`, `interval` or `times_per_day`, tagged by `kind` | |
//! | [`Duration`] | `{"days": N}` or `{"occurrences": N}`; open-ended is `Option::None` (`null`) | |
//! | [`Title`] | what a step names, one line | 1 to [`Title::MAX_CHARS`] (200) characters |
//! | [`Source`] | the note's sentence a step came from, verbatim | 1 to [`Source::MAX_CHARS`] (20,000) characters |
//! | [`Steps`] | a note's [`ChecklistItem`]s and [`PlanStep`]s | at most [`MAX_STEPS`] (200) of each |
//!
//! Every value is checked when it is built, so an invalid one cannot exist; deserializing
//! goes through the same checks and fails with a message that names the field
//! (`times_per_day 25 is outside 1..=24`). These are also the types a language model's
//! answer is parsed into before anything trusts it.
//!
//! Code that builds steps from text it parsed itself has forgiving constructors that fit
//! the text into the bounds instead of refusing it: [`ClockTimes::distinct`] (a time
//! written twice counts once), [`Title::fit`] (one line, shortened at a word boundary) and
//! [`Source::fit`].
//!
//! ```
//! use hospital_steps::{Duration, PlanStep, Schedule, Source, Title};
//!
//! let step = PlanStep {
//!     title: Title::new("Take amoxicillin 500 mg")?,
//!     schedule: Schedule::times_per_day(3)?,
//!     duration: Some(Duration::days(7)?),
//!     source: Source::new("Take one capsule three times a day for 7 days.")?,
//! };
//! let json = serde_json::to_value(&step)?;
//! assert_eq!(json["schedule"], serde_json::json!({"kind": "times_per_day", "times_per_day": 3}));
//! assert_eq!(json["duration"], serde_json::json!({"days": 7}));
//!
//! let refused = serde_json::from_str::<Schedule>(r#"{"kind": "interval", "every_hours": 0}"#);
//! assert!(refused.unwrap_err().to_string().starts_with("every_hours 0 is outside 1..=8760"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod bounded;
mod clock;
mod error;
pub mod max_steps;
mod schedule;
mod steps;
mod text;

pub use bounded::{DurationDays, IntervalHours, Occurrences, TimesPerDay};
pub use clock::{ClockTime, ClockTimes};
pub use error::InvalidStep;
pub use max_steps::MAX_STEPS;
pub use schedule::{Duration, Schedule, UncheckedDuration, UncheckedSchedule};
pub use steps::{ChecklistItem, PlanStep, Steps};
pub use text::{Source, Title};
