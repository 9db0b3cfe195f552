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
    pub auth: AuthSettings,
    pub crypto: CryptoSettings,
    pub reminders: ReminderSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            http: HttpSettings::with_port(8083),
            redis: RedisSettings::default(),
            events: EventSettings::default(),
            auth: AuthSettings::default(),
            crypto: CryptoSettings::default(),
            reminders: ReminderSettings::default(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct AuthSettings {
    /// `REMINDER__AUTH__JWKS_URL`: where auth-service publishes the token keys.
    pub jwks_url: String,
    /// `REMINDER__AUTH__URL`: the auth-service's base URL, asked on every doctor request
    /// whether the patient is the doctor's now.
    pub url: String,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            jwks_url: "http://127.0.0.1:8081/.well-known/jwks.json".into(),
            url: "http://127.0.0.1:8081".into(),
        }
    }
}

/// The keys that open step titles and sources for the API (the dispatcher needs none).
#[derive(Clone, Deserialize, Default)]
#[serde(default)]
pub struct CryptoSettings {
    /// `REMINDER__CRYPTO__KEYS`: `kid:base64key,…`, oldest first, the same keys llm-worker
    /// seals steps with. Required; `make up` makes a development key.
    pub keys: String,
}

impl std::fmt::Debug for CryptoSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CryptoSettings { keys: [redacted] }")
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct ReminderSettings {
    /// `REMINDER__REMINDERS__GRACE_MINUTES`: the check-in window on each side of a due
    /// instant, at most half the gap to the step's next occurrence (1–1440).
    pub grace_minutes: u32,
    /// `REMINDER__REMINDERS__LOOKAHEAD`: unsent occurrences kept in Redis per plan step
    /// (1–50).
    pub lookahead: u32,
    /// `REMINDER__REMINDERS__BATCH`: reminders a dispatcher claims at once (1–10000).
    pub batch: usize,
    /// `REMINDER__REMINDERS__LEASE_SECS`: how long a claim lasts before another dispatcher
    /// may take it over (1–3600).
    pub lease_secs: u64,
    /// `REMINDER__REMINDERS__DISPATCHERS`: dispatcher tasks in this process (1–64).
    pub dispatchers: usize,
    /// `REMINDER__REMINDERS__MAX_IDLE_SECS`: the longest a dispatcher sleeps without looking
    /// (work added by another replica is seen by then at the latest).
    pub max_idle_secs: u64,
    /// `REMINDER__REMINDERS__FEED_MAX_LEN`: notifications kept per patient (about).
    pub feed_max_len: usize,
    /// `REMINDER__REMINDERS__HEARTBEAT_SECS`: the live feed's keep-alive comment interval.
    pub heartbeat_secs: u64,
    /// `REMINDER__REMINDERS__CLAIM_AHEAD_MS`: reminders are claimed this long before their
    /// instant and published at it, so a burst due at 08:00:00 is ready then (0–1000; 0
    /// claims only what is due).
    pub claim_ahead_ms: u64,
    /// `REMINDER__REMINDERS__DUE_EVENTS`: `batch` (default: `reminder.due_batch.v1`, up to
    /// 200 reminders a message), `single` (`reminder.due.v1`, one each) or `both`.
    pub due_events: crate::dispatch::DueEvents,
}

impl Default for ReminderSettings {
    fn default() -> Self {
        Self {
            grace_minutes: 60,
            lookahead: 3,
            batch: 500,
            lease_secs: 30,
            dispatchers: 2,
            max_idle_secs: 30,
            feed_max_len: 1000,
            heartbeat_secs: 15,
            // Long enough to claim a burst of 10,000 (about 30 µs of Redis each) before it
            // falls due.
            claim_ahead_ms: 700,
            due_events: crate::dispatch::DueEvents::Batch,
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
    /// `REMINDER__REDIS__RECORD_FORM`: `compact` (default) or `epoch`, how new occurrence
    /// records are written (both are read): `epoch` while replicas of a version before
    /// compact records still run, during a rolling upgrade.
    pub record_form: crate::store::RecordForm,
}

impl Default for RedisSettings {
    fn default() -> Self {
        Self {
            url: "redis://127.0.0.1:6379".into(),
            key_prefix: "hospital:".into(),
            record_form: crate::store::RecordForm::Compact,
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
        for (name, value) in [("JWKS_URL", &self.auth.jwks_url), ("URL", &self.auth.url)] {
            match reqwest::Url::parse(value) {
                Ok(url) if matches!(url.scheme(), "http" | "https") => {}
                _ => problems.push(format!("{ENV_PREFIX}__AUTH__{name} must be an http(s) URL")),
            }
        }
        if let Err(err) = hospital_crypto::Keyring::from_spec(&self.crypto.keys) {
            problems.push(format!(
                "{ENV_PREFIX}__CRYPTO__KEYS must hold the keys steps are sealed with (kid:base64key,...): {err}"
            ));
        }
        let r = &self.reminders;
        let mut range = |name: &str, value: u64, min: u64, max: u64| {
            if !(min..=max).contains(&value) {
                problems.push(format!(
                    "{ENV_PREFIX}__REMINDERS__{name} must be {min} to {max}"
                ));
            }
        };
        range("GRACE_MINUTES", u64::from(r.grace_minutes), 1, 1440);
        range("LOOKAHEAD", u64::from(r.lookahead), 1, 50);
        range("BATCH", r.batch as u64, 1, 10_000);
        range("LEASE_SECS", r.lease_secs, 1, 3600);
        range("DISPATCHERS", r.dispatchers as u64, 1, 64);
        range("MAX_IDLE_SECS", r.max_idle_secs, 1, 3600);
        range("FEED_MAX_LEN", r.feed_max_len as u64, 10, 1_000_000);
        range("HEARTBEAT_SECS", r.heartbeat_secs, 1, 300);
        range("CLAIM_AHEAD_MS", r.claim_ahead_ms, 0, 1000);
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

    const KEYS: (&str, &str) = (
        "REMINDER__CRYPTO__KEYS",
        "dev:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
    );

    #[test]
    fn defaults_work_on_a_developer_machine() {
        let s: Settings = load_from(ENV_PREFIX, vars(&[KEYS])).unwrap();
        assert_eq!(s.reminders.grace_minutes, 60);
        assert_eq!(s.http.port, 8083);
        assert_eq!(s.redis.key_prefix, "hospital:");
        assert_eq!(s.events.exchange, "hospital.events");
        assert_eq!(s.events.queue_prefix, "reminder-service");
        assert_eq!(s.auth.url, "http://127.0.0.1:8081");
    }

    #[test]
    fn records_are_compact_unless_a_rolling_upgrade_asks_for_the_older_form() {
        let s: Settings = load_from(ENV_PREFIX, vars(&[KEYS])).unwrap();
        assert_eq!(s.redis.record_form, crate::store::RecordForm::Compact);
        let s: Settings = load_from(
            ENV_PREFIX,
            vars(&[KEYS, ("REMINDER__REDIS__RECORD_FORM", "epoch")]),
        )
        .unwrap();
        assert_eq!(s.redis.record_form, crate::store::RecordForm::Epoch);
        let err = load_from::<Settings>(
            ENV_PREFIX,
            vars(&[KEYS, ("REMINDER__REDIS__RECORD_FORM", "text")]),
        )
        .unwrap_err()
        .to_string();
        assert!(err.to_lowercase().contains("record_form"), "{err}");
    }

    #[test]
    fn bad_values_name_the_variable() {
        let err = load_from::<Settings>(
            ENV_PREFIX,
            vars(&[
                ("REMINDER__REDIS__URL", "http://x"),
                ("REMINDER__REDIS__KEY_PREFIX", " "),
                ("REMINDER__EVENTS__AMQP_URL", "x"),
                ("REMINDER__REMINDERS__LOOKAHEAD", "0"),
                ("REMINDER__AUTH__URL", "auth-service:8081"),
            ]),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("REMINDER__REDIS__URL"), "{err}");
        assert!(err.contains("REMINDER__REDIS__KEY_PREFIX"), "{err}");
        assert!(err.contains("REMINDER__EVENTS__AMQP_URL"), "{err}");
        assert!(err.contains("REMINDER__CRYPTO__KEYS"), "{err}");
        assert!(err.contains("REMINDER__REMINDERS__LOOKAHEAD"), "{err}");
        assert!(err.contains("REMINDER__AUTH__URL"), "{err}");
        assert!(!err.contains("AAAA"), "{err}");
    }
}
