//! What the service does with each event it consumes: one handler per queue, each applying
//! its effect to the [`Store`] once per event id.
//!
//! Events for a user never registered here are applied, not dropped: the three events travel
//! through separate queues, so a time-zone change or an assignment can overtake the
//! registration. The record then holds what is known (no `role` yet) and the registration
//! fills in the rest without overwriting the newer time zone.

use hospital_events::{
    AssignmentChanged, HandlerError, Message, UserRegistered, UserTimezoneChanged,
};

use crate::store::{Applied, Store, StoreError, UserChange};

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
pub async fn user_registered(store: Store, message: Message) -> Result<(), HandlerError> {
    let event = message.decode::<UserRegistered>()?;
    check_timezone(&event.data.timezone)?;
    let change = UserChange::Registered {
        role: event.data.role.as_str(),
        timezone: &event.data.timezone,
    };
    let applied = store.apply(message.id, event.data.user_id, &change).await?;
    log(&message, applied);
    Ok(())
}

/// `user.timezone_changed`: replaces the stored time zone.
pub async fn timezone_changed(store: Store, message: Message) -> Result<(), HandlerError> {
    let event = message.decode::<UserTimezoneChanged>()?;
    check_timezone(&event.data.timezone)?;
    let change = UserChange::Timezone {
        timezone: &event.data.timezone,
    };
    let applied = store.apply(message.id, event.data.user_id, &change).await?;
    log(&message, applied);
    Ok(())
}

/// `assignment.changed`: sets or clears the patient's doctor, unless a newer assignment is
/// stored.
pub async fn assignment_changed(store: Store, message: Message) -> Result<(), HandlerError> {
    let event = message.decode::<AssignmentChanged>()?;
    let change = UserChange::Assignment {
        doctor_id: event.data.doctor_id,
        changed_at: event.data.changed_at,
    };
    let applied = store
        .apply(message.id, event.data.patient_id, &change)
        .await?;
    log(&message, applied);
    Ok(())
}
