//! Whether a caller may act on a patient's data *now*, asked of the auth-service, which
//! owns the patient→doctor assignments.
//!
//! A service that holds a patient's data decides access itself, but for a doctor it
//! confirms the assignment with the auth-service on every request: a copy fed by
//! `assignment.changed` events (or any cache) is stale for as long as an event takes to
//! arrive, and a switched doctor must lose access the moment the switch returns. The
//! call carries the caller's own access token, so the auth-service answers for that
//! caller only. Every failure to get a clear answer is [`AccessError::Unavailable`]:
//! callers fail closed on it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use reqwest::StatusCode;
use serde::Deserialize;
use uuid::Uuid;

/// How long opening a connection to the auth-service may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);
/// How long a whole confirmation may take, retry included.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);
/// Idle connections are dropped before actix's 5 s keep-alive closes them on the
/// auth-service's side, so a request is not sent on a connection being closed.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(4);

/// The path of the auth-service's access route for `patient_id`.
pub fn access_path(patient_id: Uuid) -> String {
    format!("/internal/v1/patients/{patient_id}/access")
}

/// The HTTP client for [`AccessAuthority`]: short connect and total timeouts (the
/// check is on the path of every doctor request), keep-alive, no proxy, no redirects.
/// Build one per actix worker: pooled connections are driven by the runtime that made
/// them.
pub fn http_client() -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .http1_only()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .tcp_nodelay(true)
        .tcp_keepalive(Duration::from_secs(30))
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(REQUEST_TIMEOUT)
        .pool_idle_timeout(POOL_IDLE_TIMEOUT)
        .build()
}

/// What the auth-service confirmed: the patient and their doctor now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatientAccess {
    pub patient_id: Uuid,
    pub doctor_id: Option<Uuid>,
}

#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    /// The caller is neither the patient nor the doctor assigned to them now.
    #[error("the caller may not act on this patient's data")]
    Forbidden,
    /// No patient has this id.
    #[error("no patient has this id")]
    PatientNotFound,
    /// The auth-service rejected the caller's token.
    #[error("the auth-service rejected the access token")]
    Unauthorized,
    /// No clear answer (network error, timeout, 5xx, an unexpected answer): deny.
    #[error("the access authority is unavailable: {0}")]
    Unavailable(String),
}

impl AccessError {
    fn label(&self) -> &'static str {
        match self {
            AccessError::Forbidden => "forbidden",
            AccessError::PatientNotFound => "patient_not_found",
            AccessError::Unauthorized => "unauthorized",
            AccessError::Unavailable(_) => "unavailable",
        }
    }
}

/// The auth-service's answer to a confirmation (it also sends
/// `assignment_changed_at`, which no caller needs yet).
#[derive(Deserialize)]
struct AccessAnswer {
    patient_id: Uuid,
    doctor_id: Option<Uuid>,
}

#[derive(Deserialize)]
struct ErrorAnswer {
    error: ErrorDetail,
}

#[derive(Deserialize)]
struct ErrorDetail {
    code: String,
}

/// Asks the auth-service whether a caller may act on a patient's data now.
pub struct AccessAuthority {
    client: reqwest::Client,
    base_url: String,
    metrics: Option<Arc<AccessMetrics>>,
}

impl AccessAuthority {
    /// `base_url` is the auth-service's, e.g. "http://127.0.0.1:8081".
    pub fn new(base_url: impl Into<String>, client: reqwest::Client) -> Self {
        let base_url: String = base_url.into();
        Self {
            client,
            base_url: base_url.trim_end_matches('/').to_owned(),
            metrics: None,
        }
    }

    /// Counts each confirmation by outcome and times it, on the service's `/metrics`.
    #[must_use]
    pub fn with_metrics(mut self, metrics: Arc<AccessMetrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// Asks the auth-service whether the holder of `bearer_token` may act on
    /// `patient_id`'s data now.
    pub async fn confirm(
        &self,
        bearer_token: &str,
        patient_id: Uuid,
    ) -> Result<PatientAccess, AccessError> {
        let started = Instant::now();
        let result = self.ask(bearer_token, patient_id).await;
        let elapsed = started.elapsed();
        let outcome = match &result {
            Ok(_) => "allowed",
            Err(err) => err.label(),
        };
        tracing::debug!(
            %patient_id,
            outcome,
            elapsed_us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
            "access confirmation"
        );
        if let Some(metrics) = &self.metrics {
            metrics.observe(outcome, elapsed);
        }
        result
    }

    async fn ask(
        &self,
        bearer_token: &str,
        patient_id: Uuid,
    ) -> Result<PatientAccess, AccessError> {
        let url = format!("{}{}", self.base_url, access_path(patient_id));
        let deadline = Instant::now() + REQUEST_TIMEOUT;
        let response = match self.send(&url, bearer_token, REQUEST_TIMEOUT).await {
            Ok(response) => response,
            // A GET is safe to repeat: once, within the same overall budget, for a
            // connection that broke under the request (not for a timeout).
            Err(err) if !err.is_timeout() => {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(unavailable(err));
                }
                tracing::debug!(error = %err, "access confirmation failed once; retrying");
                self.send(&url, bearer_token, left)
                    .await
                    .map_err(unavailable)?
            }
            Err(err) => return Err(unavailable(err)),
        };
        let status = response.status();
        match status {
            StatusCode::OK => {
                let answer: AccessAnswer = response.json().await.map_err(unavailable)?;
                if answer.patient_id != patient_id {
                    return Err(AccessError::Unavailable(
                        "the auth-service answered for another patient".into(),
                    ));
                }
                Ok(PatientAccess {
                    patient_id: answer.patient_id,
                    doctor_id: answer.doctor_id,
                })
            }
            StatusCode::UNAUTHORIZED => Err(AccessError::Unauthorized),
            StatusCode::FORBIDDEN | StatusCode::NOT_FOUND => {
                // A 404 from something that has no such route (a wrong base URL) must
                // not read as "no such patient": only the route's own codes count.
                let code = response
                    .json::<ErrorAnswer>()
                    .await
                    .map(|body| body.error.code)
                    .unwrap_or_default();
                match (status, code.as_str()) {
                    (StatusCode::FORBIDDEN, "forbidden") => Err(AccessError::Forbidden),
                    (StatusCode::NOT_FOUND, "patient_not_found") => {
                        Err(AccessError::PatientNotFound)
                    }
                    _ => Err(AccessError::Unavailable(format!(
                        "the auth-service answered {status} with code {code:?}"
                    ))),
                }
            }
            other => Err(AccessError::Unavailable(format!(
                "the auth-service answered {other}"
            ))),
        }
    }

    async fn send(
        &self,
        url: &str,
        bearer_token: &str,
        timeout: Duration,
    ) -> reqwest::Result<reqwest::Response> {
        self.client
            .get(url)
            .bearer_auth(bearer_token)
            .timeout(timeout)
            .send()
            .await
    }
}

fn unavailable(err: reqwest::Error) -> AccessError {
    // reqwest's message names the URL (ids only), never the token.
    AccessError::Unavailable(err.to_string())
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

/// Confirmations asked of the auth-service, by outcome, and how long they took.
pub struct AccessMetrics {
    confirmations: Family<OutcomeLabels, Counter>,
    duration: Histogram,
}

impl AccessMetrics {
    /// The metrics, registered on `registry` (a service's [`crate::metrics::HttpMetrics`]
    /// registry): `hospital_access_confirmations_total{outcome}` and
    /// `hospital_access_confirmation_duration_seconds`.
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self {
            confirmations: Family::default(),
            // 0.25 ms .. ~2 s, the request timeout.
            duration: Histogram::new(exponential_buckets(0.000_25, 2.0, 14)),
        };
        registry.register(
            "access_confirmations",
            "Access confirmations asked of the auth-service, by outcome",
            metrics.confirmations.clone(),
        );
        registry.register(
            "access_confirmation_duration_seconds",
            "Time to get an access confirmation from the auth-service",
            metrics.duration.clone(),
        );
        metrics
    }

    fn observe(&self, outcome: &'static str, elapsed: Duration) {
        self.confirmations
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
        self.duration.observe(elapsed.as_secs_f64());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::HttpMetrics;

    fn closed_port() -> u16 {
        std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port()
    }

    #[tokio::test]
    async fn an_unreachable_authority_is_unavailable_at_once_and_counted() {
        let mut http_metrics = HttpMetrics::new("test");
        let metrics = Arc::new(AccessMetrics::register(http_metrics.registry_mut()));
        let authority = AccessAuthority::new(
            format!("http://127.0.0.1:{}/", closed_port()),
            http_client().expect("client"),
        )
        .with_metrics(metrics);
        let started = Instant::now();
        let result = authority.confirm("a-token", Uuid::now_v7()).await;
        assert!(
            matches!(result, Err(AccessError::Unavailable(_))),
            "{result:?}"
        );
        assert!(started.elapsed() < Duration::from_millis(500));
        let text = http_metrics.render();
        assert!(
            text.contains(
                r#"hospital_access_confirmations_total{service="test",outcome="unavailable"} 1"#
            ),
            "{text}"
        );
    }

    #[tokio::test]
    async fn an_authority_that_never_answers_is_unavailable_within_the_timeout() {
        // A peer that accepts the connection and then says nothing.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("address").port();
        let silent = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                held.push(socket);
            }
        });
        let authority = AccessAuthority::new(
            format!("http://127.0.0.1:{port}"),
            http_client().expect("client"),
        );
        let started = Instant::now();
        let result = authority.confirm("a-token", Uuid::now_v7()).await;
        let elapsed = started.elapsed();
        assert!(
            matches!(&result, Err(AccessError::Unavailable(m)) if !m.contains("a-token")),
            "{result:?}"
        );
        assert!(
            elapsed + Duration::from_millis(50) >= REQUEST_TIMEOUT
                && elapsed < REQUEST_TIMEOUT + Duration::from_millis(500),
            "{elapsed:?}"
        );
        silent.abort();
    }
}
