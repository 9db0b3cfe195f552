//! The gateway's settings: defaults that work on a developer machine, overridden by
//! `GATEWAY__SECTION__KEY` environment variables (for example `GATEWAY__UPSTREAMS__NOTES`).

use std::fmt;
use std::time::Duration;

use hospital_platform::settings::{self, HttpSettings, SettingsError, Validate};
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::Deserialize;

/// The prefix of every environment variable the gateway reads.
pub const ENV_PREFIX: &str = "GATEWAY";

pub const DEFAULT_PORT: u16 = 8080;
/// Notes are up to 20 000 characters (up to 80 KB of UTF-8, more once JSON-escaped):
/// 256 KiB leaves room without letting a client park megabytes in memory.
pub const DEFAULT_BODY_LIMIT_BYTES: usize = 256 * 1024;

/// Defaults of the platform's `http` section that differ for the gateway. They sit
/// under the environment, so a partial `GATEWAY__HTTP__*` override keeps them.
const HTTP_DEFAULTS: &[(&str, &str)] =
    &[("HTTP__PORT", "8080"), ("HTTP__BODY_LIMIT_BYTES", "262144")];

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// `GATEWAY__HTTP__{HOST,PORT,BODY_LIMIT_BYTES,WORKERS,SHUTDOWN_TIMEOUT_SECS}`.
    pub http: HttpSettings,
    pub upstreams: UpstreamSettings,
    pub auth: AuthSettings,
    pub cors: CorsSettings,
    pub rate_limit: RateLimitSettings,
}

/// Where each service lives and how the gateway talks to it.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct UpstreamSettings {
    /// Base URL of auth-service (`GATEWAY__UPSTREAMS__AUTH`).
    pub auth: String,
    /// Base URL of notes-service; unset (or empty) while it is not deployed, and its
    /// routes answer 503.
    #[serde(deserialize_with = "optional_string")]
    pub notes: Option<String>,
    /// Base URL of reminder-service; unset (or empty) while it is not deployed.
    /// `GATEWAY__UPSTREAMS__REMINDERS`, or `…__REMINDER` after the service's name.
    #[serde(alias = "reminder", deserialize_with = "optional_string")]
    pub reminders: Option<String>,
    /// How long an upstream gets to start answering (status and headers), and at most
    /// how long a non-streaming body may stall. Server-Sent Events are not cut.
    pub timeout_ms: u64,
    /// How long opening a connection to an upstream may take.
    pub connect_timeout_ms: u64,
    /// Idle keep-alive connections kept per upstream (per worker thread).
    pub pool_max_idle_per_host: usize,
    /// Seconds an idle pooled connection is kept.
    pub pool_idle_timeout_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct AuthSettings {
    /// Where auth-service publishes its public keys (`GATEWAY__AUTH__JWKS_URL`).
    pub jwks_url: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct CorsSettings {
    /// Browser origins allowed to call the API, comma-separated in the environment
    /// (`GATEWAY__CORS__ALLOWED_ORIGINS=https://app.example,https://doctor.example`).
    /// None by default.
    #[serde(deserialize_with = "string_list")]
    pub allowed_origins: Vec<String>,
    /// Seconds browsers may cache a preflight answer.
    pub max_age_secs: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct RateLimitSettings {
    /// Requests per client IP per window on `/api/v1/auth/*`; 0 turns the limit off.
    pub auth_requests: u32,
    pub auth_window_secs: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            http: HttpSettings {
                body_limit_bytes: DEFAULT_BODY_LIMIT_BYTES,
                ..HttpSettings::with_port(DEFAULT_PORT)
            },
            upstreams: UpstreamSettings::default(),
            auth: AuthSettings::default(),
            cors: CorsSettings::default(),
            rate_limit: RateLimitSettings::default(),
        }
    }
}

impl Default for UpstreamSettings {
    fn default() -> Self {
        Self {
            auth: "http://127.0.0.1:8081".into(),
            notes: None,
            reminders: None,
            timeout_ms: 10_000,
            connect_timeout_ms: 2_000,
            pool_max_idle_per_host: 512,
            pool_idle_timeout_secs: 60,
        }
    }
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            jwks_url: "http://127.0.0.1:8081/.well-known/jwks.json".into(),
        }
    }
}

impl Default for CorsSettings {
    fn default() -> Self {
        Self {
            allowed_origins: Vec::new(),
            max_age_secs: 3600,
        }
    }
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        Self {
            auth_requests: 60,
            auth_window_secs: 60,
        }
    }
}

impl UpstreamSettings {
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }

    pub fn connect_timeout(&self) -> Duration {
        Duration::from_millis(self.connect_timeout_ms)
    }
}

impl Settings {
    /// Reads the settings from the process environment.
    pub fn load() -> Result<Self, Box<SettingsError>> {
        Self::from_vars(std::env::vars())
    }

    /// As [`Settings::load`], from the given variables.
    pub fn from_vars(
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, Box<SettingsError>> {
        settings::load_from(
            ENV_PREFIX,
            settings::with_defaults(ENV_PREFIX, HTTP_DEFAULTS, vars),
        )
        .map_err(Box::new)
    }
}

impl Validate for Settings {
    fn problems(&self) -> Vec<String> {
        let mut problems = self.http.problems(ENV_PREFIX);
        let u = &self.upstreams;
        check_base_url(&mut problems, "UPSTREAMS__AUTH", Some(&u.auth));
        check_base_url(&mut problems, "UPSTREAMS__NOTES", u.notes.as_deref());
        check_base_url(
            &mut problems,
            "UPSTREAMS__REMINDERS",
            u.reminders.as_deref(),
        );
        if u.timeout_ms == 0 {
            problems.push(format!(
                "{ENV_PREFIX}__UPSTREAMS__TIMEOUT_MS must be positive"
            ));
        }
        if u.connect_timeout_ms == 0 {
            problems.push(format!(
                "{ENV_PREFIX}__UPSTREAMS__CONNECT_TIMEOUT_MS must be positive"
            ));
        }
        match reqwest::Url::parse(&self.auth.jwks_url) {
            Ok(url) if matches!(url.scheme(), "http" | "https") => {}
            _ => problems.push(format!(
                "{ENV_PREFIX}__AUTH__JWKS_URL must be an http(s) URL, not {:?}",
                self.auth.jwks_url
            )),
        }
        for origin in &self.cors.allowed_origins {
            if !is_origin(origin) {
                problems.push(format!(
                    "{ENV_PREFIX}__CORS__ALLOWED_ORIGINS: {origin:?} is not an origin \
                     (scheme://host[:port], lower case, no path or trailing slash)"
                ));
            }
        }
        if self.rate_limit.auth_requests > 0 && self.rate_limit.auth_window_secs == 0 {
            problems.push(format!(
                "{ENV_PREFIX}__RATE_LIMIT__AUTH_WINDOW_SECS must be positive"
            ));
        }
        problems
    }
}

fn check_base_url(problems: &mut Vec<String>, key: &str, value: Option<&str>) {
    let Some(value) = value else { return };
    let ok = reqwest::Url::parse(value).is_ok_and(|url| {
        matches!(url.scheme(), "http" | "https")
            && url.host().is_some()
            && url.query().is_none()
            && url.fragment().is_none()
    });
    if !ok {
        problems.push(format!(
            "{ENV_PREFIX}__{key} must be an http(s) base URL such as http://host:port, not {value:?}"
        ));
    }
}

/// An origin exactly as browsers send it in the `Origin` header.
fn is_origin(value: &str) -> bool {
    reqwest::Url::parse(value).is_ok_and(|url| {
        matches!(url.scheme(), "http" | "https") && url.origin().ascii_serialization() == value
    })
}

/// `""` (an unset-but-present variable) means "none".
fn optional_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let value = Option::<String>::deserialize(d)?;
    Ok(value.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()))
}

/// A list from a comma-separated string (environment) or a sequence.
fn string_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    struct ListVisitor;

    impl<'de> Visitor<'de> for ListVisitor {
        type Value = Vec<String>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a comma-separated string or a list of strings")
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect())
        }

        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }

        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(item) = seq.next_element::<String>()? {
                out.extend(
                    item.split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned),
                );
            }
            Ok(out)
        }
    }

    d.deserialize_any(ListVisitor)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(pairs: &[(&str, &str)]) -> Result<Settings, Box<SettingsError>> {
        Settings::from_vars(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        )
    }

    #[test]
    fn defaults_work_on_a_developer_machine() {
        let s = load(&[]).expect("defaults load");
        assert_eq!(s.http.port, 8080);
        assert_eq!(s.http.body_limit_bytes, DEFAULT_BODY_LIMIT_BYTES);
        assert_eq!(s.upstreams.auth, "http://127.0.0.1:8081");
        assert_eq!(s.upstreams.notes, None);
        assert_eq!(s.upstreams.reminders, None);
        assert_eq!(s.upstreams.timeout(), Duration::from_secs(10));
        assert_eq!(
            s.auth.jwks_url,
            "http://127.0.0.1:8081/.well-known/jwks.json"
        );
        assert!(s.cors.allowed_origins.is_empty());
        assert_eq!(s.rate_limit.auth_requests, 60);
    }

    #[test]
    fn environment_overrides_and_partial_http_keeps_gateway_defaults() {
        let s = load(&[
            ("GATEWAY__HTTP__HOST", "0.0.0.0"),
            ("GATEWAY__UPSTREAMS__NOTES", "http://notes:8082"),
            ("GATEWAY__UPSTREAMS__REMINDERS", ""),
            ("GATEWAY__UPSTREAMS__TIMEOUT_MS", "300"),
            (
                "GATEWAY__CORS__ALLOWED_ORIGINS",
                "https://app.example, http://localhost:3000",
            ),
        ])
        .expect("loads");
        assert_eq!(s.http.host, "0.0.0.0");
        assert_eq!(s.http.port, 8080);
        assert_eq!(s.http.body_limit_bytes, DEFAULT_BODY_LIMIT_BYTES);
        assert_eq!(s.upstreams.notes.as_deref(), Some("http://notes:8082"));
        assert_eq!(s.upstreams.reminders, None);
        assert_eq!(s.upstreams.timeout(), Duration::from_millis(300));
        assert_eq!(
            s.cors.allowed_origins,
            ["https://app.example", "http://localhost:3000"]
        );
    }

    #[test]
    fn reminder_service_url_may_be_named_after_the_service() {
        let s = load(&[("GATEWAY__UPSTREAMS__REMINDER", "http://127.0.0.1:8083")]).expect("loads");
        assert_eq!(
            s.upstreams.reminders.as_deref(),
            Some("http://127.0.0.1:8083")
        );
    }

    #[test]
    fn port_zero_is_accepted() {
        let s = load(&[("GATEWAY__HTTP__PORT", "0")]).expect("loads");
        assert_eq!(s.http.port, 0);
    }

    #[test]
    fn nonsense_is_reported_by_variable_name() {
        let err = load(&[
            ("GATEWAY__UPSTREAMS__AUTH", "auth-service"),
            ("GATEWAY__UPSTREAMS__TIMEOUT_MS", "0"),
            ("GATEWAY__CORS__ALLOWED_ORIGINS", "https://app.example/"),
            ("GATEWAY__AUTH__JWKS_URL", "ftp://x/jwks"),
        ])
        .expect_err("invalid");
        let text = err.to_string();
        for key in [
            "GATEWAY__UPSTREAMS__AUTH",
            "GATEWAY__UPSTREAMS__TIMEOUT_MS",
            "GATEWAY__CORS__ALLOWED_ORIGINS",
            "GATEWAY__AUTH__JWKS_URL",
        ] {
            assert!(text.contains(key), "{key} missing from {text}");
        }
    }
}
