//! What the service does with each event it consumes: one handler per queue, each applying
//! its effect to the [`Store`] once per event id.
//!
//! Events for a user never registered here are applied, not dropped: the three events travel
//! through separate queues, so a time-zone change or an assignment can overtake the
//! registration. The record then holds what is known (no `role` yet) and the registration
//! fills in the rest without overwriting the newer time zone.

use hospital_events::{
    AssignmentChanged, HandlerError, Message, StepsExtracted, UserRegistered, UserTimezoneChanged,
};

use crate::dispatch::Wake;
use crate::planner::Planner;
use crate::store::{Applied, ReplaceOutcome, Store, StoreError, UserChange};

/// What the handlers work with.
#[derive(Clone, Debug)]
pub struct Context {
    pub store: Store,
    pub planner: Planner,
    pub wake: Wake,
}

impl From<StoreError> for HandlerError {
    fn from(err: StoreError) -> Self {
        HandlerError::retry(err.to_string())
    }
}

/// A time zone that is not an IANA name is a broken message, not a transient failure.
fn check_timezone(timezone: &str) -> Result<(), HandlerError> {
    jiff::tz::TimeZone::get(timezone)
        .map(drop)
        .map_err(|_| HandlerError::poison("the time zone is not a known IANA name"))
}

fn log(message: &Message, applied: Applied) {
    match applied {
        Applied::Applied => {
            tracing::info!(event_id = %message.id, event_type = %message.envelope.event_type, "event applied");
        }
        Applied::Duplicate => {
            tracing::info!(event_id = %message.id, "event already applied; ignoring the duplicate");
        }
        Applied::Stale => {
            tracing::info!(event_id = %message.id, "assignment older than the stored one; ignoring it");
        }
    }
}

/// `user.registered`: stores the user's role and time zone.
pub async fn user_registered(context: Context, message: Message) -> Result<(), HandlerError> {
    let event = message.decode::<UserRegistered>()?;
    check_timezone(&event.data.timezone)?;
    let change = UserChange::Registered {
        role: event.data.role.as_str(),
        timezone: &event.data.timezone,
    };
    let applied = context
        .store
        .apply(message.id, event.data.user_id, &change)
        .await?;
    log(&message, applied);
    Ok(())
}

/// `user.timezone_changed`: replaces the stored time zone.
pub async fn timezone_changed(context: Context, message: Message) -> Result<(), HandlerError> {
    let event = message.decode::<UserTimezoneChanged>()?;
    check_timezone(&event.data.timezone)?;
    let change = UserChange::Timezone {
        timezone: &event.data.timezone,
    };
    let applied = context
        .store
        .apply(message.id, event.data.user_id, &change)
        .await?;
    log(&message, applied);
    // Also after a duplicate: the first delivery may have stored the zone and failed before
    // moving the reminders. Moving them again in the same zone changes nothing.
    if applied != Applied::Stale {
        let moved = context.planner.rezone(event.data.user_id).await?;
        if moved > 0 {
            tracing::info!(event_id = %message.id, steps = moved, "reminders moved to the new time zone");
            context.wake.now();
        }
    }
    Ok(())
}

/// `assignment.changed`: sets or clears the patient's doctor, unless a newer assignment is
/// stored.
pub async fn assignment_changed(context: Context, message: Message) -> Result<(), HandlerError> {
    let event = message.decode::<AssignmentChanged>()?;
    let change = UserChange::Assignment {
        doctor_id: event.data.doctor_id,
        changed_at: event.data.changed_at,
    };
    let applied = context
        .store
        .apply(message.id, event.data.patient_id, &change)
        .await?;
    log(&message, applied);
    Ok(())
}

/// `steps.extracted`: the note's steps replace the patient's, unless a newer note's are
/// stored. An event that fails its schema, or names someone who is not a patient here, is
/// parked in the dead-letter queue with nothing stored.
pub async fn steps_extracted(context: Context, message: Message) -> Result<(), HandlerError> {
    let event = message.decode::<StepsExtracted>()?;
    let steps = &event.data;
    let Some(user) = context.store.user(steps.patient_id).await? else {
        return Err(HandlerError::poison("the patient is not known here"));
    };
    match user.role.as_deref() {
        Some("patient") => {}
        // Only a time-zone change or an assignment arrived so far: its registration is on
        // its way through another queue.
        None => {
            return Err(HandlerError::retry(
                "the patient's registration has not arrived yet",
            ))
        }
        Some(_) => return Err(HandlerError::poison("the user is not a patient")),
    }
    let mut zone = user.timezone.unwrap_or_else(|| "UTC".into());
    // The zone can change between reading it and storing; the script says so, and the
    // occurrences are computed again (twice in a row is already unlikely).
    for _ in 0..3 {
        let now = context.planner.clock().now();
        let replacement = context.planner.replacement(steps, &zone, now);
        let outcome = context
            .store
            .replace_steps(message.id, steps.patient_id, &replacement)
            .await?;
        match outcome {
            ReplaceOutcome::Applied { cancelled } => {
                tracing::info!(
                    event_id = %message.id,
                    checklist = steps.checklist.len(),
                    plan = steps.plan.len(),
                    cancelled_reminders = cancelled,
                    "steps replaced"
                );
                context.wake.now();
                return Ok(());
            }
            ReplaceOutcome::Duplicate => {
                tracing::info!(event_id = %message.id, "event already applied; ignoring the duplicate");
                return Ok(());
            }
            ReplaceOutcome::Stale => {
                tracing::info!(event_id = %message.id, "steps of a newer note are stored; ignoring these");
                return Ok(());
            }
            ReplaceOutcome::StepIdReused => {
                return Err(HandlerError::poison("a step id is already in use"));
            }
            ReplaceOutcome::ZoneChanged(now_zone) => zone = now_zone,
        }
    }
    Err(HandlerError::retry("the time zone kept changing"))
}
