//! The service's Redis: its copy of users and assignments, and the event ids it applied.
//! Key layout: [`keys`].
//!
//! Every effect of an event runs in one Lua script together with
//! `SET <prefix>event:<id> 1 NX EX 604800`: the effect happens only if that `SET` succeeded, so
//! an event applied once is never applied again, and a crash cannot leave one without the
//! other.

pub mod keys;
pub mod scripts;
pub mod steps;

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands, Script};
use uuid::Uuid;

pub use keys::{Keys, Queue, EVENT_TTL_SECS};
pub use steps::{
    sealed_text, CheckInOutcome, Claim, Claimed, CompleteOutcome, Miss, NewChecklistItem,
    NewOccurrence, NewPlanStep, ReplaceOutcome, Replacement, Sent, TopUp,
};

/// Redis did not answer or refused a command.
#[derive(Debug, thiserror::Error)]
#[error("redis: {0}")]
pub struct StoreError(#[from] pub redis::RedisError);

/// What applying an event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The effect is stored.
    Applied,
    /// The event id was applied before; nothing changed.
    Duplicate,
    /// An assignment older than the one stored; nothing changed (the id is remembered).
    Stale,
}

/// The service's copy of one user.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserRecord {
    /// `patient` or `doctor`; `None` until `user.registered` arrives.
    pub role: Option<String>,
    pub timezone: Option<String>,
    /// The assigned doctor (patients only).
    pub doctor_id: Option<Uuid>,
    pub assignment_changed_at: Option<String>,
    pub updated_at: Option<String>,
}

/// A change to a user, as one event asks for it.
#[derive(Debug, Clone)]
pub enum UserChange<'a> {
    /// `user.registered`: role and time zone. The time zone is kept only if none is stored
    /// (a stored one came from a later `user.timezone_changed` that overtook it).
    Registered { role: &'a str, timezone: &'a str },
    /// `user.timezone_changed`.
    Timezone { timezone: &'a str },
    /// `assignment.changed`: applied unless an assignment with a later `changed_at` is stored.
    Assignment {
        doctor_id: Option<Uuid>,
        changed_at: DateTime<Utc>,
    },
}

/// KEYS[1] event key, KEYS[2] user key; ARGV[1] event TTL, ARGV[2] kind, ARGV[3] now,
/// ARGV[4..] the change. Returns 1 applied, 0 duplicate, 2 stale.
const APPLY: &str = r"
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then
  return 0
end
local kind, now = ARGV[2], ARGV[3]
if kind == 'registered' then
  redis.call('HSET', KEYS[2], 'role', ARGV[4], 'updated_at', now)
  redis.call('HSETNX', KEYS[2], 'timezone', ARGV[5])
elseif kind == 'timezone' then
  redis.call('HSET', KEYS[2], 'timezone', ARGV[4], 'updated_at', now)
elseif kind == 'assignment' then
  local stored = redis.call('HGET', KEYS[2], 'assignment_changed_at')
  if stored and stored > ARGV[5] then
    return 2
  end
  if ARGV[4] == '' then
    redis.call('HDEL', KEYS[2], 'doctor_id')
  else
    redis.call('HSET', KEYS[2], 'doctor_id', ARGV[4])
  end
  redis.call('HSET', KEYS[2], 'assignment_changed_at', ARGV[5], 'updated_at', now)
else
  return redis.error_reply('unknown change ' .. kind)
end
return 1
";

/// RFC 3339 UTC with microseconds, fixed width, so that strings compare as instants do.
fn instant(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// The Redis of the service, behind methods that say what they do.
/// How new occurrence records are stored. `Compact` (`<due>:<grace>:<state>:<at>`, seconds
/// after the step's `start`) takes half the bytes; `Epoch` (`<due>|<grace>|<state>|<at>`,
/// seconds since the epoch) is what versions before it read, for a rolling upgrade while
/// they still run. Both forms are always read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordForm {
    #[default]
    Compact,
    Epoch,
}

impl RecordForm {
    fn name(self) -> &'static str {
        match self {
            Self::Compact => "compact",
            Self::Epoch => "epoch",
        }
    }
}

#[derive(Clone)]
pub struct Store {
    client: redis::Client,
    connection: ConnectionManager,
    keys: Keys,
    record_form: RecordForm,
    apply: Script,
    scripts: std::sync::Arc<Scripts>,
}

/// The scripts, loaded once (`EVALSHA`, falling back to `EVAL` after a Redis restart).
struct Scripts {
    replace_steps: Script,
    claim: Script,
    claim_and_send: Script,
    acknowledge_sent: Script,
    unpark: Script,
    miss: Script,
    acknowledge: Script,
    check_in: Script,
    top_up: Script,
    complete_item: Script,
}

impl Scripts {
    fn new() -> Self {
        Self {
            replace_steps: Script::new(&scripts::replace_steps()),
            claim: Script::new(scripts::CLAIM),
            claim_and_send: Script::new(&scripts::claim_and_send()),
            acknowledge_sent: Script::new(&scripts::acknowledge_sent()),
            unpark: Script::new(&scripts::unpark()),
            miss: Script::new(&scripts::miss()),
            acknowledge: Script::new(scripts::ACKNOWLEDGE),
            check_in: Script::new(&scripts::check_in()),
            top_up: Script::new(&scripts::top_up()),
            complete_item: Script::new(scripts::COMPLETE_ITEM),
        }
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("prefix", &self.keys.prefix())
            .finish_non_exhaustive()
    }
}

impl Store {
    /// A store on `url`. Connects lazily: Redis being down at start-up is not an error (the
    /// readiness check and the consumers' retries report it), and the connection manager
    /// reconnects after a failure.
    pub fn connect(url: &str, key_prefix: &str) -> Result<Self, StoreError> {
        let client = redis::Client::open(url)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(2)))
            .set_number_of_retries(1);
        let connection = ConnectionManager::new_lazy_with_config(client.clone(), config)?;
        Ok(Self {
            client,
            connection,
            keys: Keys::new(key_prefix),
            record_form: RecordForm::default(),
            apply: Script::new(APPLY),
            scripts: std::sync::Arc::new(Scripts::new()),
        })
    }

    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    /// The same store, writing new occurrence records in `form`.
    #[must_use]
    pub fn with_record_form(mut self, form: RecordForm) -> Self {
        self.record_form = form;
        self
    }

    /// `PING`, for `/readyz`.
    pub async fn ping(&self) -> Result<(), StoreError> {
        let mut connection = self.connection.clone();
        let _: String = redis::cmd("PING").query_async(&mut connection).await?;
        Ok(())
    }

    /// Applies `change` to `user_id`'s record once per `event_id`, atomically with
    /// remembering the id.
    pub async fn apply(
        &self,
        event_id: Uuid,
        user_id: Uuid,
        change: &UserChange<'_>,
    ) -> Result<Applied, StoreError> {
        let mut invocation = self.apply.prepare_invoke();
        invocation
            .key(self.keys.event(event_id))
            .key(self.keys.user(user_id))
            .arg(EVENT_TTL_SECS)
            .arg(match change {
                UserChange::Registered { .. } => "registered",
                UserChange::Timezone { .. } => "timezone",
                UserChange::Assignment { .. } => "assignment",
            })
            .arg(instant(Utc::now()));
        match change {
            UserChange::Registered { role, timezone } => {
                invocation.arg(*role).arg(*timezone);
            }
            UserChange::Timezone { timezone } => {
                invocation.arg(*timezone);
            }
            UserChange::Assignment {
                doctor_id,
                changed_at,
            } => {
                invocation
                    .arg(doctor_id.map(|id| id.to_string()).unwrap_or_default())
                    .arg(instant(*changed_at));
            }
        }
        let mut connection = self.connection.clone();
        let outcome: i64 = invocation.invoke_async(&mut connection).await?;
        Ok(match outcome {
            0 => Applied::Duplicate,
            2 => Applied::Stale,
            _ => Applied::Applied,
        })
    }

    /// The stored copy of a user, `None` when nothing is stored.
    pub async fn user(&self, user_id: Uuid) -> Result<Option<UserRecord>, StoreError> {
        let mut connection = self.connection.clone();
        let mut fields: HashMap<String, String> =
            connection.hgetall(self.keys.user(user_id)).await?;
        if fields.is_empty() {
            return Ok(None);
        }
        Ok(Some(UserRecord {
            role: fields.remove("role"),
            timezone: fields.remove("timezone"),
            doctor_id: fields
                .remove("doctor_id")
                .and_then(|id| Uuid::parse_str(&id).ok()),
            assignment_changed_at: fields.remove("assignment_changed_at"),
            updated_at: fields.remove("updated_at"),
        }))
    }

    /// Whether `event_id` was applied (within the last [`EVENT_TTL_SECS`]).
    pub async fn event_applied(&self, event_id: Uuid) -> Result<bool, StoreError> {
        let mut connection = self.connection.clone();
        Ok(connection.exists(self.keys.event(event_id)).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_compare_as_strings() {
        let a: DateTime<Utc> = "2026-01-01T09:59:59.5Z".parse().unwrap();
        let b: DateTime<Utc> = "2026-01-01T10:00:00Z".parse().unwrap();
        assert_eq!(instant(b), "2026-01-01T10:00:00.000000Z");
        assert!(instant(a) < instant(b));
    }
}
