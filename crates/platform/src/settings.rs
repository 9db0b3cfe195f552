//! Typed settings from environment variables: `PREFIX__SECTION__KEY` (for example
//! `AUTH__DATABASE__URL`), over defaults that work on a developer machine.

use serde::de::DeserializeOwned;
use serde::Deserialize;

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("could not read settings from {prefix}__* environment variables: {source}")]
    Load {
        prefix: String,
        source: config::ConfigError,
    },
    #[error("invalid settings: {}", problems.join("; "))]
    Invalid { problems: Vec<String> },
}

/// Settings a service can check for sense after loading.
pub trait Validate {
    /// Every problem found, each naming the variable to fix.
    fn problems(&self) -> Vec<String>;
}

/// Reads `T` from environment variables with `prefix` (`AUTH` reads `AUTH__…`), with
/// each field's serde default underneath, then validates it.
pub fn load<T: DeserializeOwned + Validate>(prefix: &str) -> Result<T, SettingsError> {
    load_from(prefix, std::env::vars())
}

/// As [`load`], with service-specific defaults under the environment, given as
/// variables without the prefix (`("HTTP__PORT", "8081")`). Needed for fields of a
/// nested section: once any `AUTH__HTTP__*` variable is set, serde builds the whole
/// `http` section from its own `Default`, not from the service's.
pub fn load_with_defaults<T: DeserializeOwned + Validate>(
    prefix: &str,
    defaults: &[(&str, &str)],
) -> Result<T, SettingsError> {
    load_from(prefix, with_defaults(prefix, defaults, std::env::vars()))
}

/// `defaults` (unprefixed) followed by `vars`, so that `vars` win.
pub fn with_defaults(
    prefix: &str,
    defaults: &[(&str, &str)],
    vars: impl IntoIterator<Item = (String, String)>,
) -> Vec<(String, String)> {
    defaults
        .iter()
        .map(|(key, value)| (format!("{prefix}__{key}"), (*value).to_owned()))
        .chain(vars)
        .collect()
}

/// As [`load`], from the given variables (for tests).
pub fn load_from<T: DeserializeOwned + Validate>(
    prefix: &str,
    vars: impl IntoIterator<Item = (String, String)>,
) -> Result<T, SettingsError> {
    let source: config::Map<String, String> = vars.into_iter().collect();
    let settings = config::Config::builder()
        .add_source(
            config::Environment::with_prefix(prefix)
                .prefix_separator("__")
                .separator("__")
                .try_parsing(true)
                .source(Some(source)),
        )
        .build()
        .and_then(config::Config::try_deserialize::<T>)
        .map_err(|source| SettingsError::Load {
            prefix: prefix.to_owned(),
            source,
        })?;
    let problems = settings.problems();
    if problems.is_empty() {
        Ok(settings)
    } else {
        Err(SettingsError::Invalid { problems })
    }
}

/// Where a service listens and how much it accepts.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct HttpSettings {
    pub host: String,
    /// 0 picks a free port (tests).
    pub port: u16,
    /// Largest JSON body accepted, in bytes.
    pub body_limit_bytes: usize,
    /// Worker threads; 0 means one per core.
    pub workers: usize,
    /// Seconds that in-flight requests get to finish on shutdown.
    pub shutdown_timeout_secs: u64,
}

impl HttpSettings {
    pub fn with_port(port: u16) -> Self {
        Self {
            port,
            ..Self::default()
        }
    }

    pub fn problems(&self, prefix: &str) -> Vec<String> {
        let mut problems = Vec::new();
        if self.host.trim().is_empty() {
            problems.push(format!("{prefix}__HTTP__HOST must not be empty"));
        }
        if self.body_limit_bytes == 0 {
            problems.push(format!("{prefix}__HTTP__BODY_LIMIT_BYTES must be positive"));
        }
        problems
    }
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".into(),
            port: 0,
            body_limit_bytes: 64 * 1024,
            workers: 0,
            shutdown_timeout_secs: 30,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(default)]
    struct Example {
        http: HttpSettings,
        name: String,
    }

    impl Default for Example {
        fn default() -> Self {
            Self {
                http: HttpSettings::with_port(9000),
                name: "x".into(),
            }
        }
    }

    impl Validate for Example {
        fn problems(&self) -> Vec<String> {
            self.http.problems("EX")
        }
    }

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn defaults_then_env_overrides() {
        let s: Example = load_from(
            "EX",
            vars(&[("EX__HTTP__PORT", "8123"), ("OTHER__NAME", "no")]),
        )
        .expect("loads");
        assert_eq!(s.http.port, 8123);
        assert_eq!(s.name, "x");
        assert_eq!(s.http.host, "127.0.0.1");
    }

    #[test]
    fn service_defaults_survive_a_partial_section() {
        let vars = with_defaults(
            "EX",
            &[("HTTP__PORT", "9100")],
            vars(&[("EX__HTTP__HOST", "0.0.0.0")]),
        );
        let s: Example = load_from("EX", vars).expect("loads");
        assert_eq!(s.http.host, "0.0.0.0");
        assert_eq!(s.http.port, 9100, "not the platform's port 0");
        let vars = with_defaults(
            "EX",
            &[("HTTP__PORT", "9100")],
            vars_of(&[("EX__HTTP__PORT", "7000")]),
        );
        let s: Example = load_from("EX", vars).expect("loads");
        assert_eq!(s.http.port, 7000, "the environment wins");
    }

    fn vars_of(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        vars(pairs)
    }

    #[test]
    fn bad_value_names_the_key() {
        let err =
            load_from::<Example>("EX", vars(&[("EX__HTTP__PORT", "eighty")])).expect_err("fails");
        assert!(err.to_string().contains("port"), "{err}");
    }

    #[test]
    fn validation_problems_are_reported() {
        let err = load_from::<Example>("EX", vars(&[("EX__HTTP__BODY_LIMIT_BYTES", "0")]))
            .expect_err("fails");
        assert!(err.to_string().contains("BODY_LIMIT_BYTES"), "{err}");
    }
}
