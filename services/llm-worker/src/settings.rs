//! The llm-worker's settings, from `LLM__…` environment variables.

use hospital_platform::settings::{HttpSettings, Validate};
use serde::Deserialize;

/// The prefix of every variable: `LLM__HTTP__PORT`, `LLM__CRYPTO__KEYS`, …
pub const ENV_PREFIX: &str = "LLM";

/// Defaults of nested sections that differ from the platform's.
pub const DEFAULTS: &[(&str, &str)] = &[("HTTP__PORT", "8084")];

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub http: HttpSettings,
    pub events: EventSettings,
    pub crypto: CryptoSettings,
    pub extraction: ExtractionSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            http: HttpSettings::with_port(8084),
            events: EventSettings::default(),
            crypto: CryptoSettings::default(),
            extraction: ExtractionSettings::default(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct EventSettings {
    /// `LLM__EVENTS__AMQP_URL`
    pub amqp_url: String,
    /// `LLM__EVENTS__EXCHANGE`: the one durable topic exchange.
    pub exchange: String,
    /// `LLM__EVENTS__QUEUE_PREFIX`: the service part of the queue name
    /// (`<queue_prefix>.note.submitted`); `llm-worker` everywhere but in tests.
    pub queue_prefix: String,
    /// `LLM__EVENTS__PREFETCH`: notes the broker hands over before any is acknowledged.
    pub prefetch: u16,
    /// `LLM__EVENTS__CONCURRENCY`: notes extracted at once (at most the prefetch).
    pub concurrency: usize,
}

impl Default for EventSettings {
    fn default() -> Self {
        Self {
            amqp_url: hospital_events::DEFAULT_AMQP_URL.into(),
            exchange: hospital_events::DEFAULT_EXCHANGE.into(),
            queue_prefix: "llm-worker".into(),
            prefetch: 16,
            concurrency: 4,
        }
    }
}

/// The keys that open notes and seal steps.
#[derive(Clone, Deserialize, Default)]
#[serde(default)]
pub struct CryptoSettings {
    /// `LLM__CRYPTO__KEYS`: `kid:base64key,…`, oldest first, the same keys as the
    /// notes-service (which seals notes) and the reminder-service (which opens steps).
    pub keys: String,
}

impl std::fmt::Debug for CryptoSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CryptoSettings { keys: [redacted] }")
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct ExtractionSettings {
    /// `LLM__EXTRACTION__PROVIDER`: `offline` (the default and, so far, the only one built).
    pub provider: String,
}

impl Default for ExtractionSettings {
    fn default() -> Self {
        Self {
            provider: "offline".into(),
        }
    }
}

impl Validate for Settings {
    fn problems(&self) -> Vec<String> {
        let mut problems = self.http.problems(ENV_PREFIX);
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
                "{ENV_PREFIX}__EVENTS__QUEUE_PREFIX must be 1 to 200 characters"
            ));
        }
        if self.events.prefetch == 0 {
            problems.push(format!("{ENV_PREFIX}__EVENTS__PREFETCH must be positive"));
        }
        if !(1..=256).contains(&self.events.concurrency) {
            problems.push(format!(
                "{ENV_PREFIX}__EVENTS__CONCURRENCY must be between 1 and 256"
            ));
        }
        if let Err(err) = hospital_crypto::Keyring::from_spec(&self.crypto.keys) {
            problems.push(format!(
                "{ENV_PREFIX}__CRYPTO__KEYS: {err} (the keys the notes-service seals notes with)"
            ));
        }
        if self.extraction.provider != "offline" {
            problems.push(format!(
                "{ENV_PREFIX}__EXTRACTION__PROVIDER {:?} is not available yet: only `offline` is built",
                self.extraction.provider.chars().take(32).collect::<String>()
            ));
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use hospital_platform::settings::{load_from, with_defaults};

    use super::*;

    #[test]
    fn defaults_need_only_the_keys() {
        let key = hospital_crypto::Keyring::generate_key().unwrap();
        let vars = with_defaults(
            ENV_PREFIX,
            DEFAULTS,
            [(
                "LLM__CRYPTO__KEYS".to_owned(),
                format!("k:{}", key.as_str()),
            )],
        );
        let settings: Settings = load_from(ENV_PREFIX, vars).expect("loads");
        assert_eq!(settings.http.port, 8084);
        assert_eq!(settings.extraction.provider, "offline");
        let err = load_from::<Settings>(ENV_PREFIX, with_defaults(ENV_PREFIX, DEFAULTS, []))
            .expect_err("no keys");
        assert!(err.to_string().contains("LLM__CRYPTO__KEYS"), "{err}");
    }
}
