//! Who may act on a patient's notes, decided here, in the service that owns them.
//!
//! A patient acting on their own id needs nothing more than their token. A doctor's access
//! is confirmed with the auth-service, which owns assignments, on every request: the copy of
//! assignments this service keeps from events lags the switch by milliseconds, and a doctor
//! the patient just left must be refused at once. The copy answers only what never changes
//! (whose an id is), which saves a patient's refusals a call.

use hospital_platform::access::{AccessAuthority, AccessError};
use hospital_platform::token::{AccessClaims, Role};
use uuid::Uuid;

use crate::routes::ApiError;
use crate::store::{NoteStore, Notes};

/// Allows the patient themself or the doctor assigned to them now.
pub async fn authorize(
    store: &Notes,
    authority: &AccessAuthority,
    caller: &AccessClaims,
    bearer_token: &str,
    patient_id: Uuid,
) -> Result<(), ApiError> {
    if caller.role == Role::Patient && caller.sub == patient_id {
        return Ok(());
    }
    // A patient asking about another id: roles never change, so the copy settles it when
    // it knows the id (a doctor's is no patient's: 404; another patient's: 403) without a
    // call. A doctor is always confirmed below, which answers both as well.
    if caller.role == Role::Patient {
        if let Some(user) = store.user(patient_id).await? {
            match user.role {
                Some(Role::Doctor) => return Err(ApiError::PatientNotFound),
                Some(Role::Patient) => return Err(forbidden()),
                None => {}
            }
        }
    }
    match authority.confirm(bearer_token, patient_id).await {
        Ok(_) => Ok(()),
        Err(AccessError::Forbidden) => Err(forbidden()),
        Err(AccessError::PatientNotFound) => Err(ApiError::PatientNotFound),
        Err(AccessError::Unauthorized) => Err(ApiError::Unauthorized),
        Err(AccessError::Unavailable(reason)) => {
            tracing::error!(%reason, "the auth-service could not confirm a doctor's access");
            Err(ApiError::Unavailable(
                "access cannot be confirmed right now; try again shortly",
            ))
        }
    }
}

fn forbidden() -> ApiError {
    ApiError::Forbidden("only the patient and the doctor assigned to them may do this")
}
