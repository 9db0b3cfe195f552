//! The auth-service's settings, from `AUTH__…` environment variables.

use std::path::PathBuf;

use hospital_platform::settings::{HttpSettings, Validate};
use serde::Deserialize;

/// Defaults of nested sections that differ from the platform's, kept under the
/// environment by `settings::load_with_defaults`.
pub const DEFAULTS: &[(&str, &str)] = &[("HTTP__PORT", "8081")];

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub http: HttpSettings,
    pub database: DatabaseSettings,
    pub events: EventSettings,
    pub jwt: JwtSettings,
    pub security: SecuritySettings,
    pub cache: CacheSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            http: HttpSettings::with_port(8081),
            database: DatabaseSettings::default(),
            events: EventSettings::default(),
            jwt: JwtSettings::default(),
            security: SecuritySettings::default(),
            cache: CacheSettings::default(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct DatabaseSettings {
    /// `AUTH__DATABASE__URL`
    pub url: String,
    pub pool_size: usize,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            url: "postgres://postgres:postgres@127.0.0.1:5432/hospital_auth".into(),
            pool_size: 16,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct EventSettings {
    /// `AUTH__EVENTS__AMQP_URL`
    pub amqp_url: String,
    /// `AUTH__EVENTS__EXCHANGE`: the one durable topic exchange.
    pub exchange: String,
}

impl Default for EventSettings {
    fn default() -> Self {
        Self {
            amqp_url: "amqp://guest:guest@127.0.0.1:5672/%2f".into(),
            exchange: "hospital.events".into(),
        }
    }
}

#[derive(Clone, Deserialize)]
#[serde(default)]
pub struct JwtSettings {
    /// `AUTH__JWT__PRIVATE_KEY_FILE`: a PKCS#8 PEM Ed25519 key (`auth-service keygen`).
    pub private_key_file: Option<PathBuf>,
    /// `AUTH__JWT__PRIVATE_KEY_PEM`: the key itself, for platforms that pass secrets
    /// as variables. Takes precedence over the file.
    pub private_key_pem: Option<String>,
    pub access_token_ttl_secs: u64,
    pub refresh_token_ttl_days: u32,
}

impl std::fmt::Debug for JwtSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtSettings")
            .field("private_key_file", &self.private_key_file)
            .field(
                "private_key_pem",
                &self.private_key_pem.as_ref().map(|_| "***"),
            )
            .field("access_token_ttl_secs", &self.access_token_ttl_secs)
            .field("refresh_token_ttl_days", &self.refresh_token_ttl_days)
            .finish()
    }
}

impl Default for JwtSettings {
    fn default() -> Self {
        Self {
            private_key_file: Some(PathBuf::from(".local/keys/jwt-ed25519.pem")),
            private_key_pem: None,
            access_token_ttl_secs: 15 * 60,
            refresh_token_ttl_days: 30,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct SecuritySettings {
    /// bcrypt cost: 12 in production; tests lower it.
    pub bcrypt_cost: u32,
    /// Failed logins for one email within the window that lock it.
    pub login_failures_per_email: u32,
    /// The window, and how long the lock lasts, in seconds.
    pub login_lockout_secs: u64,
    /// Failed logins from one IP within the window before it gets 429.
    pub login_failures_per_ip: u32,
    /// Trust the rightmost `X-Forwarded-For` entry (set behind the gateway).
    pub trust_forwarded_for: bool,
    /// bcrypt runs at most this many at once; 0 means one per core.
    pub hashing_concurrency: usize,
    /// A login waiting longer than this for a hashing slot gets 503.
    pub hashing_queue_timeout_ms: u64,
}

impl Default for SecuritySettings {
    fn default() -> Self {
        Self {
            bcrypt_cost: 12,
            login_failures_per_email: 5,
            login_lockout_secs: 15 * 60,
            login_failures_per_ip: 100,
            trust_forwarded_for: false,
            hashing_concurrency: 0,
            hashing_queue_timeout_ms: 5_000,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct CacheSettings {
    /// How long a page of the doctor list is served from memory; 0 turns it off.
    /// A doctor who signs up at another replica appears after at most this long.
    pub doctor_list_ttl_ms: u64,
}

impl Default for CacheSettings {
    fn default() -> Self {
        Self {
            doctor_list_ttl_ms: 2_000,
        }
    }
}

impl Validate for Settings {
    fn problems(&self) -> Vec<String> {
        let mut problems = self.http.problems("AUTH");
        if !self.database.url.starts_with("postgres://")
            && !self.database.url.starts_with("postgresql://")
        {
            problems.push("AUTH__DATABASE__URL must be a postgres:// URL".into());
        }
        if self.database.pool_size == 0 {
            problems.push("AUTH__DATABASE__POOL_SIZE must be positive".into());
        }
        if !self.events.amqp_url.starts_with("amqp://")
            && !self.events.amqp_url.starts_with("amqps://")
        {
            problems.push("AUTH__EVENTS__AMQP_URL must be an amqp:// URL".into());
        }
        if self.events.exchange.trim().is_empty() {
            problems.push("AUTH__EVENTS__EXCHANGE must not be empty".into());
        }
        if self.jwt.private_key_file.is_none() && self.jwt.private_key_pem.is_none() {
            problems.push(
                "set AUTH__JWT__PRIVATE_KEY_FILE or AUTH__JWT__PRIVATE_KEY_PEM (auth-service keygen --out FILE makes one)".into(),
            );
        }
        if !(60..=3600).contains(&self.jwt.access_token_ttl_secs) {
            problems.push("AUTH__JWT__ACCESS_TOKEN_TTL_SECS must be between 60 and 3600".into());
        }
        if self.jwt.refresh_token_ttl_days == 0 {
            problems.push("AUTH__JWT__REFRESH_TOKEN_TTL_DAYS must be positive".into());
        }
        if !(4..=31).contains(&self.security.bcrypt_cost) {
            problems.push("AUTH__SECURITY__BCRYPT_COST must be between 4 and 31".into());
        }
        if self.security.login_failures_per_email == 0 || self.security.login_failures_per_ip == 0 {
            problems.push("AUTH__SECURITY__LOGIN_FAILURES_PER_* must be positive".into());
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use hospital_platform::settings::{load_from, with_defaults};

    use super::*;

    #[test]
    fn setting_only_the_host_keeps_port_8081() {
        let vars = with_defaults(
            "AUTH",
            DEFAULTS,
            [("AUTH__HTTP__HOST".to_owned(), "0.0.0.0".to_owned())],
        );
        let settings: Settings = load_from("AUTH", vars).expect("loads");
        assert_eq!(settings.http.host, "0.0.0.0");
        assert_eq!(settings.http.port, 8081);
    }

    #[test]
    fn a_bad_value_is_refused_with_the_variable_named() {
        let vars = with_defaults(
            "AUTH",
            DEFAULTS,
            [("AUTH__SECURITY__BCRYPT_COST".to_owned(), "2".to_owned())],
        );
        let err = load_from::<Settings>("AUTH", vars).expect_err("refused");
        assert!(
            err.to_string().contains("AUTH__SECURITY__BCRYPT_COST"),
            "{err}"
        );
    }
}
