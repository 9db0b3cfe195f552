//! What the service does with each event it consumes. Every effect is idempotent on its own
//! terms (an upsert, a compare-and-set on the status), so a redelivered event changes nothing.

use hospital_events::{
    AssignmentChanged, ExtractionFailed, HandlerError, Message, StepsExtracted, UserRegistered,
};

use crate::clock::Clock;
use crate::store::{NoteStore, Notes, StatusChange, StoreError};

/// What the handlers work with.
#[derive(Clone)]
pub struct Context {
    pub store: Notes,
    pub clock: Clock,
}

impl From<StoreError> for HandlerError {
    fn from(err: StoreError) -> Self {
        HandlerError::retry(err.to_string())
    }
}

/// `user.registered`: the user's role.
pub async fn user_registered(context: Context, message: Message) -> Result<(), HandlerError> {
    let event = message.decode::<UserRegistered>()?;
    context
        .store
        .apply_registration(event.data.user_id, event.data.role, context.clock.now())
        .await?;
    tracing::info!(event_id = %message.id, "user registered");
    Ok(())
}

/// `assignment.changed`: the patient's doctor, unless a newer assignment is stored.
pub async fn assignment_changed(context: Context, message: Message) -> Result<(), HandlerError> {
    let event = message.decode::<AssignmentChanged>()?;
    let applied = context
        .store
        .apply_assignment(
            event.data.patient_id,
            event.data.doctor_id,
            event.data.changed_at,
            context.clock.now(),
        )
        .await?;
    tracing::info!(event_id = %message.id, applied, "assignment changed");
    Ok(())
}

/// `steps.extracted`: the note is processed.
pub async fn steps_extracted(context: Context, message: Message) -> Result<(), HandlerError> {
    let event = message.decode::<StepsExtracted>()?;
    let change = context
        .store
        .mark_processed(
            event.data.note_id,
            event.data.patient_id,
            context.clock.now(),
        )
        .await?;
    settle(&message, change)
}

/// `extraction.failed`: the note failed, with its reason, unless its steps already arrived.
pub async fn extraction_failed(context: Context, message: Message) -> Result<(), HandlerError> {
    let event = message.decode::<ExtractionFailed>()?;
    let change = context
        .store
        .mark_failed(
            event.data.note_id,
            event.data.patient_id,
            event.data.reason,
            context.clock.now(),
        )
        .await?;
    settle(&message, change)
}

/// A status event for a note this service does not hold (or of another patient) can never
/// apply: it is parked for an operator, not retried.
fn settle(message: &Message, change: StatusChange) -> Result<(), HandlerError> {
    match change {
        StatusChange::Changed | StatusChange::Unchanged => {
            tracing::info!(event_id = %message.id, event_type = %message.envelope.event_type, ?change, "note status event applied");
            Ok(())
        }
        StatusChange::UnknownNote => Err(HandlerError::poison(
            "no note with this id belongs to this patient",
        )),
    }
}
