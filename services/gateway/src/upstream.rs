//! The services behind the gateway: their base URLs, the pooled HTTP client that
//! reaches them, and the readiness check on auth-service.

use std::time::Duration;

use hospital_platform::health::{CheckFuture, ReadinessCheck};

use crate::routing::Upstream;
use crate::settings::UpstreamSettings;

/// Base URLs (without a trailing slash) of the deployed services.
#[derive(Debug, Clone)]
pub struct Upstreams {
    auth: String,
    notes: Option<String>,
    reminders: Option<String>,
}

impl Upstreams {
    pub fn new(settings: &UpstreamSettings) -> Self {
        let trim = |s: &str| s.trim_end_matches('/').to_owned();
        Self {
            auth: trim(&settings.auth),
            notes: settings.notes.as_deref().map(trim),
            reminders: settings.reminders.as_deref().map(trim),
        }
    }

    /// The base URL of `upstream`, or `None` while it is not deployed.
    pub fn base(&self, upstream: Upstream) -> Option<&str> {
        match upstream {
            Upstream::Auth => Some(&self.auth),
            Upstream::Notes => self.notes.as_deref(),
            Upstream::Reminders => self.reminders.as_deref(),
        }
    }
}

/// The HTTP client for upstream calls: HTTP/1.1 keep-alive with a bounded idle pool,
/// no system proxy, no redirects followed (a redirect is the client's business), no
/// decompression (bodies pass through as they are).
pub fn build_client(settings: &UpstreamSettings) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .http1_only()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .referer(false)
        .tcp_nodelay(true)
        .tcp_keepalive(Duration::from_secs(30))
        .connect_timeout(settings.connect_timeout())
        .pool_max_idle_per_host(settings.pool_max_idle_per_host)
        .pool_idle_timeout(Duration::from_secs(settings.pool_idle_timeout_secs))
        .build()
}

/// Ready while an upstream's `GET /healthz` answers 2xx.
pub struct UpstreamHealth {
    name: &'static str,
    url: String,
    client: reqwest::Client,
}

impl UpstreamHealth {
    pub fn new(name: &'static str, base_url: &str, client: reqwest::Client) -> Self {
        Self {
            name,
            url: format!("{}/healthz", base_url.trim_end_matches('/')),
            client,
        }
    }
}

impl ReadinessCheck for UpstreamHealth {
    fn name(&self) -> &'static str {
        self.name
    }

    fn check(&self) -> CheckFuture<'_> {
        Box::pin(async move {
            let response = self
                .client
                .get(&self.url)
                .timeout(Duration::from_secs(2))
                .send()
                .await
                .map_err(|e| format!("{}: {e}", self.url))?;
            if response.status().is_success() {
                Ok(())
            } else {
                Err(format!("{} answered {}", self.url, response.status()))
            }
        })
    }
}
