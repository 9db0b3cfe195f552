//! The notes-service's settings, from `NOTES__…` environment variables.

use hospital_platform::settings::{HttpSettings, Validate};
use serde::Deserialize;

/// The prefix of every variable: `NOTES__HTTP__PORT`, `NOTES__DATABASE__URL`, …
pub const ENV_PREFIX: &str = "NOTES";

/// Defaults of nested sections that differ from the platform's, kept under the environment
/// by `settings::load_with_defaults`: port 8082, and a body limit of 128 KiB (a 20,000
/// character note is at most 80,000 bytes of UTF-8, more once JSON-escaped).
pub const DEFAULTS: &[(&str, &str)] =
    &[("HTTP__PORT", "8082"), ("HTTP__BODY_LIMIT_BYTES", "131072")];

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub http: HttpSettings,
    pub database: DatabaseSettings,
    pub events: EventSettings,
    pub auth: AuthSettings,
    pub crypto: CryptoSettings,
    pub notes: NoteSettings,
}

impl Default for Settings {
    fn default() -> Self {
        let mut http = HttpSettings::with_port(8082);
        http.body_limit_bytes = 128 * 1024;
        Self {
            http,
            database: DatabaseSettings::default(),
            events: EventSettings::default(),
            auth: AuthSettings::default(),
            crypto: CryptoSettings::default(),
            notes: NoteSettings::default(),
        }
    }
}

#[derive(Clone, Deserialize)]
#[serde(default)]
pub struct DatabaseSettings {
    /// `NOTES__DATABASE__URL`: `mongodb://…` (or `mongodb+srv://…`) for MongoDB, the
    /// production store; `postgres://…` where there is no MongoDB.
    pub url: String,
    /// `NOTES__DATABASE__POOL_SIZE`: connections at most.
    pub pool_size: usize,
    /// `NOTES__DATABASE__NAME`: the MongoDB database when the URL names none.
    pub name: String,
}

impl DatabaseSettings {
    pub fn is_mongodb(&self) -> bool {
        self.url.starts_with("mongodb://") || self.url.starts_with("mongodb+srv://")
    }

    pub fn is_postgres(&self) -> bool {
        self.url.starts_with("postgres://") || self.url.starts_with("postgresql://")
    }
}

impl std::fmt::Debug for DatabaseSettings {
    /// The URL may carry a password: only its scheme is shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scheme = self.url.split("://").next().unwrap_or("");
        f.debug_struct("DatabaseSettings")
            .field("url", &format!("{scheme}://…"))
            .field("pool_size", &self.pool_size)
            .field("name", &self.name)
            .finish()
    }
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            url: "postgres://postgres:postgres@127.0.0.1:5432/hospital_notes".into(),
            pool_size: 16,
            name: "hospital_notes".into(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct EventSettings {
    /// `NOTES__EVENTS__AMQP_URL`
    pub amqp_url: String,
    /// `NOTES__EVENTS__EXCHANGE`: the one durable topic exchange.
    pub exchange: String,
    /// `NOTES__EVENTS__QUEUE_PREFIX`: the service part of the queue names
    /// (`<queue_prefix>.<event type>`); `notes-service` everywhere but in tests.
    pub queue_prefix: String,
}

impl Default for EventSettings {
    fn default() -> Self {
        Self {
            amqp_url: hospital_events::DEFAULT_AMQP_URL.into(),
            exchange: hospital_events::DEFAULT_EXCHANGE.into(),
            queue_prefix: "notes-service".into(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct AuthSettings {
    /// `NOTES__AUTH__JWKS_URL`: where auth-service publishes the token keys.
    pub jwks_url: String,
    /// `NOTES__AUTH__URL`: the auth-service, which confirms a doctor's current assignment on
    /// every doctor request.
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

/// The keys notes are sealed with.
#[derive(Clone, Deserialize, Default)]
#[serde(default)]
pub struct CryptoSettings {
    /// `NOTES__CRYPTO__KEYS`: `kid:base64key,…`, oldest first; new notes use the last.
    /// Required; `make up` makes a development key.
    pub keys: String,
}

impl std::fmt::Debug for CryptoSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CryptoSettings { keys: [redacted] }")
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct NoteSettings {
    /// `NOTES__NOTES__IDEMPOTENCY_HOURS`: how long an `Idempotency-Key` is remembered.
    pub idempotency_hours: u32,
    /// `NOTES__NOTES__PAGE_SIZE`: notes in a list page when the request names no `limit`.
    pub page_size: usize,
}

impl Default for NoteSettings {
    fn default() -> Self {
        Self {
            idempotency_hours: 24,
            page_size: 100,
        }
    }
}

/// The most notes or access-log entries one page may ask for.
pub const MAX_PAGE: usize = 200;

impl Validate for Settings {
    fn problems(&self) -> Vec<String> {
        let mut problems = self.http.problems(ENV_PREFIX);
        if !self.database.is_mongodb() && !self.database.is_postgres() {
            problems.push(format!(
                "{ENV_PREFIX}__DATABASE__URL must be a mongodb://, mongodb+srv:// or postgres:// URL"
            ));
        }
        if self.database.pool_size == 0 {
            problems.push(format!(
                "{ENV_PREFIX}__DATABASE__POOL_SIZE must be positive"
            ));
        }
        if self.database.name.trim().is_empty() {
            problems.push(format!("{ENV_PREFIX}__DATABASE__NAME must not be empty"));
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
                "{ENV_PREFIX}__EVENTS__QUEUE_PREFIX must be 1 to 200 characters"
            ));
        }
        for (name, url) in [("JWKS_URL", &self.auth.jwks_url), ("URL", &self.auth.url)] {
            if !url.starts_with("http://") && !url.starts_with("https://") {
                problems.push(format!(
                    "{ENV_PREFIX}__AUTH__{name} must be an http:// or https:// URL"
                ));
            }
        }
        if let Err(err) = hospital_crypto::Keyring::from_spec(&self.crypto.keys) {
            problems.push(format!(
                "{ENV_PREFIX}__CRYPTO__KEYS: {err} (make a key with `cargo run -p hospital-crypto --example generate_key -- <kid>`)"
            ));
        }
        if !(1..=720).contains(&self.notes.idempotency_hours) {
            problems.push(format!(
                "{ENV_PREFIX}__NOTES__IDEMPOTENCY_HOURS must be between 1 and 720"
            ));
        }
        if !(1..=MAX_PAGE).contains(&self.notes.page_size) {
            problems.push(format!(
                "{ENV_PREFIX}__NOTES__PAGE_SIZE must be between 1 and {MAX_PAGE}"
            ));
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use hospital_platform::settings::{load_from, with_defaults};

    use super::*;

    fn vars(extra: &[(&str, &str)]) -> Vec<(String, String)> {
        let key = hospital_crypto::Keyring::generate_key().unwrap();
        let mut all = vec![(
            "NOTES__CRYPTO__KEYS".to_owned(),
            format!("k1:{}", key.as_str()),
        )];
        all.extend(
            extra
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        with_defaults(ENV_PREFIX, DEFAULTS, all)
    }

    #[test]
    fn defaults_work_on_a_developer_machine() {
        let settings: Settings = load_from(ENV_PREFIX, vars(&[])).expect("loads");
        assert_eq!(settings.http.port, 8082);
        assert_eq!(settings.http.body_limit_bytes, 131_072);
        assert!(settings.database.is_postgres());
        assert_eq!(settings.events.queue_prefix, "notes-service");
    }

    #[test]
    fn the_url_scheme_picks_the_store() {
        let settings: Settings = load_from(
            ENV_PREFIX,
            vars(&[("NOTES__DATABASE__URL", "mongodb://u:p@db:27017/notes")]),
        )
        .expect("loads");
        assert!(settings.database.is_mongodb());
        assert!(!format!("{settings:?}").contains("u:p"));
        let err = load_from::<Settings>(
            ENV_PREFIX,
            vars(&[("NOTES__DATABASE__URL", "mysql://db/notes")]),
        )
        .expect_err("refused");
        assert!(err.to_string().contains("NOTES__DATABASE__URL"), "{err}");
    }

    #[test]
    fn missing_keys_are_refused_with_the_variable_named() {
        let err = load_from::<Settings>(ENV_PREFIX, with_defaults(ENV_PREFIX, DEFAULTS, []))
            .expect_err("refused");
        assert!(err.to_string().contains("NOTES__CRYPTO__KEYS"), "{err}");
    }
}
