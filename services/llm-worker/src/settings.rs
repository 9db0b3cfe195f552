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
    /// `LLM__EVENTS__CONCURRENCY`: notes handled at once (at most the prefetch). A model's
    /// calls mostly wait on the network, so it is well above the cores; offline extraction
    /// runs on the blocking pool either way.
    pub concurrency: usize,
}

impl Default for EventSettings {
    fn default() -> Self {
        Self {
            amqp_url: hospital_events::DEFAULT_AMQP_URL.into(),
            exchange: hospital_events::DEFAULT_EXCHANGE.into(),
            queue_prefix: "llm-worker".into(),
            prefetch: 32,
            concurrency: 16,
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

/// Which extractor reads notes, and how the provider is called.
#[derive(Clone, Deserialize)]
#[serde(default)]
pub struct ExtractionSettings {
    /// `LLM__EXTRACTION__PROVIDER`: `offline` (the default: no key, no network), `gemini` or
    /// `openai` (any OpenAI-compatible server).
    pub provider: String,
    /// `LLM__EXTRACTION__BASE_URL`: gemini `https://generativelanguage.googleapis.com/v1beta`,
    /// openai `https://api.openai.com/v1` (Ollama: `http://localhost:11434/v1`) by default.
    pub base_url: String,
    /// `LLM__EXTRACTION__MODEL`: `gemini-2.5-flash` / `gpt-4o-mini` by default.
    pub model: String,
    /// `LLM__EXTRACTION__API_KEY`: required for gemini; for openai sent as a bearer token
    /// when set (local servers need none).
    pub api_key: String,
    /// `LLM__EXTRACTION__TEMPERATURE`: a number, or `default` to send none (models that
    /// accept only their own).
    pub temperature: String,
    /// `LLM__EXTRACTION__CONNECT_TIMEOUT_MS`
    pub connect_timeout_ms: u64,
    /// `LLM__EXTRACTION__TIMEOUT_MS`: one attempt, connection to last byte.
    pub timeout_ms: u64,
    /// `LLM__EXTRACTION__MAX_ATTEMPTS`: attempts of one call on a timeout, 429 or 5xx.
    pub max_attempts: u32,
    /// `LLM__EXTRACTION__BACKOFF_INITIAL_MS` / `__BACKOFF_MAX_MS`: jittered, doubling.
    pub backoff_initial_ms: u64,
    pub backoff_max_ms: u64,
    /// `LLM__EXTRACTION__RETRY_AFTER_MAX_MS`: a longer `Retry-After` falls back at once.
    pub retry_after_max_ms: u64,
    /// `LLM__EXTRACTION__MAX_IN_FLIGHT`: provider calls at once.
    pub max_in_flight: usize,
    /// `LLM__EXTRACTION__BREAKER_FAILURES` consecutive failures open the circuit for
    /// `LLM__EXTRACTION__BREAKER_COOLDOWN_MS`.
    pub breaker_failures: u32,
    pub breaker_cooldown_ms: u64,
}

impl Default for ExtractionSettings {
    fn default() -> Self {
        Self {
            provider: "offline".into(),
            base_url: String::new(),
            model: String::new(),
            api_key: String::new(),
            temperature: "0".into(),
            connect_timeout_ms: 2_000,
            timeout_ms: 30_000,
            max_attempts: 3,
            backoff_initial_ms: 500,
            backoff_max_ms: 8_000,
            retry_after_max_ms: 30_000,
            max_in_flight: 16,
            breaker_failures: 5,
            breaker_cooldown_ms: 30_000,
        }
    }
}

impl std::fmt::Debug for ExtractionSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExtractionSettings")
            .field("provider", &self.provider)
            .field("base_url", &self.base_url_or_default())
            .field("model", &self.model_or_default())
            .field(
                "api_key",
                &if self.api_key.is_empty() {
                    "[none]"
                } else {
                    "[redacted]"
                },
            )
            .field("timeout_ms", &self.timeout_ms)
            .field("max_attempts", &self.max_attempts)
            .field("max_in_flight", &self.max_in_flight)
            .finish_non_exhaustive()
    }
}

impl ExtractionSettings {
    pub fn base_url_or_default(&self) -> &str {
        match (self.base_url.trim(), self.provider.as_str()) {
            ("", "gemini") => "https://generativelanguage.googleapis.com/v1beta",
            ("", "openai") => "https://api.openai.com/v1",
            (url, _) => url,
        }
    }

    pub fn model_or_default(&self) -> &str {
        match (self.model.trim(), self.provider.as_str()) {
            ("", "gemini") => "gemini-2.5-flash",
            ("", "openai") => "gpt-4o-mini",
            (model, _) => model,
        }
    }

    /// The temperature sent, `None` for `default`.
    pub fn temperature(&self) -> Option<f64> {
        self.temperature.trim().parse().ok()
    }

    /// What is wrong, each naming its variable.
    pub fn problems(&self, prefix: &str) -> Vec<String> {
        let var = |name: &str| format!("{prefix}__EXTRACTION__{name}");
        let mut problems = Vec::new();
        match self.provider.as_str() {
            "offline" => return problems,
            "gemini" | "openai" => {}
            other => {
                problems.push(format!(
                    "{} {:?} is not a provider: offline, gemini or openai",
                    var("PROVIDER"),
                    other.chars().take(32).collect::<String>()
                ));
                return problems;
            }
        }
        let url = self.base_url_or_default();
        if !(url.starts_with("http://") || url.starts_with("https://"))
            || reqwest::Url::parse(url).is_err()
        {
            problems.push(format!("{} must be an http(s) URL", var("BASE_URL")));
        }
        let model = self.model_or_default();
        // Gemini's model goes into the URL's path; an OpenAI-compatible one only into the body
        // (Ollama's "llama3.1:8b", vLLM's "org/Model-8B").
        let model_ok = match self.provider.as_str() {
            "gemini" => {
                let name = model.strip_prefix("models/").unwrap_or(model);
                !name.is_empty()
                    && name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
            }
            _ => !model.is_empty() && !model.chars().any(char::is_control),
        };
        if !model_ok || model.len() > 200 {
            problems.push(format!("{} is not a model name", var("MODEL")));
        }
        if self.provider == "gemini" && self.api_key.trim().is_empty() {
            problems.push(format!(
                "{} is required for gemini (a Google AI Studio key)",
                var("API_KEY")
            ));
        }
        if self.temperature.trim() != "default"
            && !self.temperature().is_some_and(|t| (0.0..=2.0).contains(&t))
        {
            problems.push(format!(
                "{} must be a number from 0 to 2, or `default`",
                var("TEMPERATURE")
            ));
        }
        for (name, value) in [
            ("CONNECT_TIMEOUT_MS", self.connect_timeout_ms),
            ("TIMEOUT_MS", self.timeout_ms),
            ("BREAKER_COOLDOWN_MS", self.breaker_cooldown_ms),
        ] {
            if !(1..=600_000).contains(&value) {
                problems.push(format!("{} must be 1 to 600000", var(name)));
            }
        }
        if !(1..=10).contains(&self.max_attempts) {
            problems.push(format!("{} must be 1 to 10", var("MAX_ATTEMPTS")));
        }
        if self.backoff_initial_ms > self.backoff_max_ms || self.backoff_max_ms > 600_000 {
            problems.push(format!(
                "{} must be at most {}, at most 600000",
                var("BACKOFF_INITIAL_MS"),
                var("BACKOFF_MAX_MS")
            ));
        }
        if !(1..=1024).contains(&self.max_in_flight) {
            problems.push(format!("{} must be 1 to 1024", var("MAX_IN_FLIGHT")));
        }
        if self.breaker_failures == 0 {
            problems.push(format!("{} must be positive", var("BREAKER_FAILURES")));
        }
        problems
    }
}

/// What `llm-worker extract` reads from the environment: the extraction settings alone.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct CommandSettings {
    pub extraction: ExtractionSettings,
}

impl Validate for CommandSettings {
    fn problems(&self) -> Vec<String> {
        self.extraction.problems(ENV_PREFIX)
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
        problems.extend(self.extraction.problems(ENV_PREFIX));
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
