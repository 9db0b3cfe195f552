//! Every Redis key the service writes, in one place. All start with the configured prefix
//! (`REMINDER__REDIS__KEY_PREFIX`, default `hospital:`).
//!
//! | key | type | what |
//! |---|---|---|
//! | `<prefix>user:<user id>` | hash | the service's copy of a user: `role` (`patient`/`doctor`), `timezone` (IANA), `doctor_id` (patients with a doctor; absent otherwise), `assignment_changed_at` (the `changed_at` of the newest assignment applied, RFC 3339 UTC with microseconds), `updated_at` (when this service last changed it) |
//! | `<prefix>event:<event id>` | string `1`, 7-day TTL | an applied event: a redelivery with the same id changes nothing |

use uuid::Uuid;

/// How long an applied event id is remembered: far longer than any redelivery or retry.
pub const EVENT_TTL_SECS: u64 = 7 * 24 * 60 * 60;

/// The key names under one prefix.
#[derive(Debug, Clone)]
pub struct Keys {
    prefix: String,
}

impl Keys {
    pub fn new(prefix: impl Into<String>) -> Self {
        Self {
            prefix: prefix.into(),
        }
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// `<prefix>user:<id>`
    pub fn user(&self, id: Uuid) -> String {
        format!("{}user:{id}", self.prefix)
    }

    /// `<prefix>event:<id>`
    pub fn event(&self, id: Uuid) -> String {
        format!("{}event:{id}", self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_is_under_the_prefix() {
        let keys = Keys::new("p:");
        let id = Uuid::nil();
        assert_eq!(keys.user(id), "p:user:00000000-0000-0000-0000-000000000000");
        assert_eq!(
            keys.event(id),
            "p:event:00000000-0000-0000-0000-000000000000"
        );
    }
}
