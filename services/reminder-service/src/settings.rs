//! The reminder-service's settings, from `REMINDER__…` environment variables.

use hospital_platform::settings::{HttpSettings, Validate};
use serde::Deserialize;

/// The prefix of every variable: `REMINDER__HTTP__PORT`, `REMINDER__REDIS__URL`, …
pub const ENV_PREFIX: &str = "REMINDER";

/// Defaults of nested sections that differ from the platform's, kept under the
/// environment by `settings::load_with_defaults`.
pub const DEFAULTS: &[(&str, &str)] = &[("HTTP__PORT", "8083")];

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub http: HttpSettings,
    pub redis: RedisSettings,
    pub events: EventSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            http: HttpSettings::with_port(8083),
            redis: RedisSettings::default(),
            events: EventSettings::default(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct RedisSettings {
    /// `REMINDER__REDIS__URL`: `redis://host:port[/db]` (or `rediss://`, `unix://`).
    pub url: String,
    /// `REMINDER__REDIS__KEY_PREFIX`: every key the service writes starts with it (tests
    /// give each test its own).
    pub key_prefix: String,
}

impl Default for RedisSettings {
    fn default() -> Self {
        Self {
            url: "redis://127.0.0.1:6379".into(),
            key_prefix: "hospital:".into(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct EventSettings {
    /// `REMINDER__EVENTS__AMQP_URL`
    pub amqp_url: String,
    /// `REMINDER__EVENTS__EXCHANGE`: the one durable topic exchange.
    pub exchange: String,
    /// `REMINDER__EVENTS__QUEUE_PREFIX`: the service part of the queue names
    /// (`<queue_prefix>.<event type>`); `reminder-service` everywhere but in tests, which
    /// need queues of their own.
    pub queue_prefix: String,
}

impl Default for EventSettings {
    fn default() -> Self {
        Self {
            amqp_url: hospital_events::DEFAULT_AMQP_URL.into(),
            exchange: hospital_events::DEFAULT_EXCHANGE.into(),
            queue_prefix: "reminder-service".into(),
        }
    }
}

impl Validate for Settings {
    fn problems(&self) -> Vec<String> {
        let mut problems = self.http.problems(ENV_PREFIX);
        if !["redis://", "rediss://", "unix://"]
            .iter()
            .any(|scheme| self.redis.url.starts_with(scheme))
        {
            problems.push(format!(
                "{ENV_PREFIX}__REDIS__URL must be a redis://, rediss:// or unix:// URL"
            ));
        }
        if self.redis.key_prefix.trim().is_empty() || self.redis.key_prefix.len() > 100 {
            problems.push(format!(
                "{ENV_PREFIX}__REDIS__KEY_PREFIX must be 1 to 100 characters (default hospital:)"
            ));
        }
        if !self.events.amqp_url.starts_with("amqp://")
            && !self.events.amqp_url.starts_with("amqps://")
        {
            problems.push(format!(
                "{ENV_PREFIX}__EVENTS__AMQP_URL must be an amqp:// URL"
            ));
        }
        if self.events.exchange.trim().is_empty() {
            problems.push(format!("{ENV_PREFIX}__EVENTS__EXCHANGE must not be empty"));
        }
        if self.events.queue_prefix.trim().is_empty() || self.events.queue_prefix.len() > 200 {
            problems.push(format!(
                "{ENV_PREFIX}__EVENTS__QUEUE_PREFIX must be 1 to 200 characters (default reminder-service)"
            ));
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hospital_platform::settings::load_from;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn defaults_work_on_a_developer_machine() {
        let s: Settings = load_from(ENV_PREFIX, vars(&[])).unwrap();
        assert_eq!(s.http.port, 8083);
        assert_eq!(s.redis.key_prefix, "hospital:");
        assert_eq!(s.events.exchange, "hospital.events");
        assert_eq!(s.events.queue_prefix, "reminder-service");
    }

    #[test]
    fn bad_values_name_the_variable() {
        let err = load_from::<Settings>(
            ENV_PREFIX,
            vars(&[
                ("REMINDER__REDIS__URL", "http://x"),
                ("REMINDER__REDIS__KEY_PREFIX", " "),
                ("REMINDER__EVENTS__AMQP_URL", "x"),
            ]),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("REMINDER__REDIS__URL"), "{err}");
        assert!(err.contains("REMINDER__REDIS__KEY_PREFIX"), "{err}");
        assert!(err.contains("REMINDER__EVENTS__AMQP_URL"), "{err}");
    }
}
