//! The data of each event. `proto-schemas/<routing key>.json` describes the same shapes, and
//! `tests/it/schemas.rs` fails when the two drift apart.
//!
//! Events carry no more personal data than their consumers need: user events give id, role and
//! time zone, never name, email or password.

use chrono::{DateTime, Utc};
use hospital_platform::token::Role;
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

/// The routing keys of every event this crate defines, for topology checks and docs.
pub const ALL_ROUTING_KEYS: &[&str] = {
    use crate::Event as _;
    &[
        UserRegistered::ROUTING_KEY,
        UserTimezoneChanged::ROUTING_KEY,
        AssignmentChanged::ROUTING_KEY,
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
        assert_eq!(UserRegistered::ROUTING_KEY, "user.registered.v1");
        assert_eq!(ALL_ROUTING_KEYS.len(), 3);
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
}
