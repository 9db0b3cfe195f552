//! The service's domain: reminder ids, occurrence records and statuses, and how a plan step's
//! instants are materialised. No Redis, no HTTP.

pub mod plan;
pub mod reminder;

pub use plan::{PlanTimeline, Planned};
pub use reminder::{OccurrenceRecord, OccurrenceState, ReminderId, ReminderStatus, StepStem};
