//! The schedule engine: turns one plan step into the ordered instants at which its
//! reminders fall due, exactly as `shared/schedule.md` defines them.
//!
//! Pure: no I/O, no async, no framework types. The daylight-saving work is jiff's: a
//! local time in a gap moves forward by the length of the gap, a local time that occurs
//! twice is the first of the two (RFC 5545's rule, jiff's and Temporal's "compatible"
//! disambiguation); no offset is computed here.
//!
//! Inputs are typed and checked when built, so an invalid step cannot be made: the
//! schedule and duration are the step vocabulary's ([`hospital_steps::Schedule`],
//! `Option<`[`hospital_steps::Duration`]`>`, `None` for no end), the [`WakingWindow`] is
//! this crate's, the zone a [`jiff::tz::TimeZone`]. [`Step::occurrences`] is a lazy
//! iterator: an open-ended step costs nothing until asked.
//!
//! ```
//! use hospital_schedule::Step;
//! use hospital_steps::{ClockTime, Duration, Schedule};
//!
//! let times = vec!["02:30".parse::<ClockTime>()?, "20:00".parse()?];
//! let step = Step::new(
//!     Schedule::fixed_times(times)?,
//!     Some(Duration::days(3)?),
//!     "2026-03-07T12:00:00Z".parse()?,
//!     jiff::tz::TimeZone::get("America/New_York")?,
//! );
//! let instants: Vec<String> = step.occurrences().map(|t| t.to_string()).collect();
//! assert_eq!(instants[..2], ["2026-03-08T01:00:00Z", "2026-03-08T07:30:00Z"]); // 02:30 → 03:30 EDT
//! assert_eq!(instants.len(), 6);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod occurrences;
mod step;

pub use occurrences::Occurrences;
pub use step::{InvalidWakingWindow, Step, WakingWindow};
