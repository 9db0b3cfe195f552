//! Language-model providers: Gemini and any OpenAI-compatible server, behind one client
//! that bounds calls in flight, retries what is worth retrying and stops calling a provider
//! that keeps failing.
//!
//! Nothing here logs a request or a response body: a provider's error message can echo the
//! note. What is logged is the status, the provider's error code (sanitised) and timings.

pub mod gemini;
pub mod openai;
pub mod prompt;
pub mod resilience;

use std::sync::Arc;
use std::time::{Duration, Instant};

use hospital_events::contracts::Extractor;
use tokio::sync::Semaphore;

use crate::metrics::ExtractionMetrics;
use crate::settings::ExtractionSettings;
use resilience::{CircuitBreaker, Permit, RetryPolicy};

/// The largest response body read from a provider (200 steps of long sentences fit).
const MAX_RESPONSE_BYTES: usize = 4 * 1024 * 1024;

/// Which wire format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderKind {
    Gemini,
    OpenAi,
}

impl ProviderKind {
    pub fn name(self) -> &'static str {
        match self {
            Self::Gemini => "gemini",
            Self::OpenAi => "openai",
        }
    }

    pub fn extractor(self) -> Extractor {
        match self {
            Self::Gemini => Extractor::Gemini,
            Self::OpenAi => Extractor::Openai,
        }
    }
}

/// One turn of the conversation after the system prompt.
#[derive(Debug, Clone)]
pub enum Turn {
    User(String),
    Model(String),
}

/// Why a provider gave no answer text. None of these carry the body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    #[error("timeout")]
    Timeout,
    #[error("unreachable")]
    Unreachable,
    #[error("http {status}")]
    Status { status: u16 },
    #[error("circuit open")]
    CircuitOpen,
    #[error("refused")]
    Refused,
    #[error("malformed response")]
    Malformed,
}

impl ProviderError {
    /// A label for metrics.
    pub fn outcome(&self) -> &'static str {
        match self {
            Self::Timeout => "timeout",
            Self::Unreachable => "unreachable",
            Self::Status { status: 429 } => "http_429",
            Self::Status { status } if *status >= 500 => "http_5xx",
            Self::Status { .. } => "http_4xx",
            Self::CircuitOpen => "circuit_open",
            Self::Refused => "refused",
            Self::Malformed => "malformed",
        }
    }

    /// Worth another attempt: the provider may answer later.
    fn is_transient(&self) -> bool {
        match self {
            Self::Timeout | Self::Unreachable => true,
            Self::Status { status } => *status == 429 || *status >= 500,
            Self::CircuitOpen | Self::Refused | Self::Malformed => false,
        }
    }

    /// Says the provider is down or misconfigured for every note, not only this one.
    fn counts_against_provider(&self) -> bool {
        match self {
            Self::Status { status } => self.is_transient() || matches!(status, 401 | 403 | 404),
            other => other.is_transient(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("the HTTP client could not be built: {0}")]
    Build(#[from] reqwest::Error),
}

/// A provider's client; clones share the connection pool, the breaker and the bound on
/// calls in flight.
#[derive(Clone)]
pub struct ModelClient {
    inner: Arc<Inner>,
}

struct Inner {
    kind: ProviderKind,
    http: reqwest::Client,
    endpoint: String,
    model: String,
    api_key: Option<String>,
    temperature: Option<f64>,
    retry: RetryPolicy,
    breaker: CircuitBreaker,
    in_flight: Semaphore,
    metrics: Arc<ExtractionMetrics>,
}

struct Failure {
    error: ProviderError,
    retry_after: Option<Duration>,
}

impl From<ProviderError> for Failure {
    fn from(error: ProviderError) -> Self {
        Self {
            error,
            retry_after: None,
        }
    }
}

impl ModelClient {
    /// The client for `settings`' provider, `None` for `offline`.
    pub fn from_settings(
        settings: &ExtractionSettings,
        metrics: Arc<ExtractionMetrics>,
    ) -> Result<Option<Self>, ClientError> {
        let kind = match settings.provider.as_str() {
            "gemini" => ProviderKind::Gemini,
            "openai" => ProviderKind::OpenAi,
            _ => return Ok(None),
        };
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_millis(settings.connect_timeout_ms))
            .timeout(Duration::from_millis(settings.timeout_ms))
            .pool_idle_timeout(Duration::from_secs(60))
            // A redirect could carry the note and the key (in a custom header reqwest does
            // not strip) to another host; providers answer POSTs without one.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent("hospital-llm-worker")
            .build()?;
        let model = settings.model_or_default().to_owned();
        let base_url = settings.base_url_or_default();
        let endpoint = match kind {
            ProviderKind::Gemini => gemini::endpoint(base_url, &model),
            ProviderKind::OpenAi => openai::endpoint(base_url),
        };
        Ok(Some(Self {
            inner: Arc::new(Inner {
                kind,
                http,
                endpoint,
                model,
                api_key: Some(settings.api_key.clone()).filter(|key| !key.is_empty()),
                temperature: settings.temperature(),
                retry: RetryPolicy {
                    max_attempts: settings.max_attempts,
                    initial_backoff: Duration::from_millis(settings.backoff_initial_ms),
                    max_backoff: Duration::from_millis(settings.backoff_max_ms),
                    max_retry_after: Duration::from_millis(settings.retry_after_max_ms),
                },
                breaker: CircuitBreaker::new(
                    settings.breaker_failures,
                    Duration::from_millis(settings.breaker_cooldown_ms),
                ),
                in_flight: Semaphore::new(settings.max_in_flight),
                metrics,
            }),
        }))
    }

    pub fn kind(&self) -> ProviderKind {
        self.inner.kind
    }

    /// Asks the model for the answer to `turns`: at most the configured calls in flight,
    /// transient failures retried with backoff, nothing sent while the circuit is open.
    pub async fn answer(&self, turns: &[Turn]) -> Result<String, ProviderError> {
        let inner = &self.inner;
        let body = match inner.kind {
            ProviderKind::Gemini => gemini::request_body(inner.temperature, turns),
            ProviderKind::OpenAi => openai::request_body(&inner.model, inner.temperature, turns),
        };
        // Closed only when the worker drops the client: no call can then be made anyway.
        let Ok(_slot) = inner.in_flight.acquire().await else {
            return Err(ProviderError::CircuitOpen);
        };
        let mut attempt = 1;
        loop {
            let permit = inner.breaker.permit(Instant::now());
            if permit == Permit::Refused {
                inner
                    .metrics
                    .provider_call(ProviderError::CircuitOpen.outcome(), None);
                return Err(ProviderError::CircuitOpen);
            }
            // A trial call cancelled half-way (the worker stopping) frees the slot for the
            // next one instead of leaving the circuit open for good.
            let _trial = (permit == Permit::Trial).then(|| TrialGuard(&inner.breaker));
            let started = Instant::now();
            let result = self.attempt(&body).await;
            let elapsed = started.elapsed();
            let failure = match result {
                Ok(text) => {
                    inner.breaker.record_success();
                    inner.metrics.provider_call("ok", Some(elapsed));
                    return Ok(text);
                }
                Err(failure) => failure,
            };
            inner
                .metrics
                .provider_call(failure.error.outcome(), Some(elapsed));
            if failure.error.counts_against_provider() {
                if inner.breaker.record_failure(Instant::now()) {
                    tracing::warn!(
                        provider = inner.kind.name(),
                        "the provider keeps failing: the circuit is open, notes use the offline extractor until a trial call succeeds"
                    );
                }
            } else {
                // The provider answered: it is up, whatever it said.
                inner.breaker.record_success();
            }
            let wait = failure
                .error
                .is_transient()
                .then(|| inner.retry.wait_after(attempt, failure.retry_after))
                .flatten();
            tracing::warn!(
                provider = inner.kind.name(),
                attempt,
                outcome = failure.error.outcome(),
                elapsed_ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
                retry_in_ms = wait.map(|w| u64::try_from(w.as_millis()).unwrap_or(u64::MAX)),
                "a provider call failed"
            );
            let (Some(wait), Permit::Call) = (wait, permit) else {
                return Err(failure.error);
            };
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    async fn attempt(&self, body: &serde_json::Value) -> Result<String, Failure> {
        let inner = &self.inner;
        let mut request = inner.http.post(&inner.endpoint).json(body);
        if let Some(key) = &inner.api_key {
            request = match inner.kind {
                ProviderKind::Gemini => request.header("x-goog-api-key", key),
                ProviderKind::OpenAi => request.bearer_auth(key),
            };
        }
        let response = request.send().await.map_err(|err| transport_error(&err))?;
        let status = response.status();
        let retry_after = resilience::retry_after(response.headers());
        let body = read_limited(response).await?;
        if !status.is_success() {
            tracing::debug!(
                provider = inner.kind.name(),
                status = status.as_u16(),
                error_code = provider_error_code(&body),
                "the provider answered an error"
            );
            return Err(Failure {
                error: ProviderError::Status {
                    status: status.as_u16(),
                },
                retry_after,
            });
        }
        let text = match inner.kind {
            ProviderKind::Gemini => gemini::answer_text(&body),
            ProviderKind::OpenAi => openai::answer_text(&body),
        };
        text.map_err(Failure::from)
    }
}

struct TrialGuard<'a>(&'a CircuitBreaker);

impl Drop for TrialGuard<'_> {
    fn drop(&mut self) {
        self.0.release_trial();
    }
}

fn transport_error(err: &reqwest::Error) -> Failure {
    if err.is_timeout() {
        ProviderError::Timeout.into()
    } else {
        ProviderError::Unreachable.into()
    }
}

async fn read_limited(mut response: reqwest::Response) -> Result<Vec<u8>, Failure> {
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
                    return Err(ProviderError::Malformed.into());
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(body),
            Err(err) => return Err(transport_error(&err)),
        }
    }
}

/// The error codes Gemini (`error.status`) and OpenAI-compatible servers (`error.code`,
/// `error.type`) document: the only ones logged, as they are.
const KNOWN_ERROR_CODES: &[&str] = &[
    // Gemini (google.rpc.Code names)
    "INVALID_ARGUMENT",
    "FAILED_PRECONDITION",
    "PERMISSION_DENIED",
    "UNAUTHENTICATED",
    "NOT_FOUND",
    "RESOURCE_EXHAUSTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DEADLINE_EXCEEDED",
    "CANCELLED",
    // OpenAI and compatible servers
    "invalid_request_error",
    "invalid_api_key",
    "authentication_error",
    "permission_error",
    "not_found_error",
    "model_not_found",
    "rate_limit_error",
    "rate_limit_exceeded",
    "insufficient_quota",
    "context_length_exceeded",
    "server_error",
    "api_error",
    "overloaded_error",
    "timeout",
];

/// The provider's error code from an error body, when it is one of [`KNOWN_ERROR_CODES`],
/// else `other`: never its message, nor a code a provider made up, either of which could
/// quote the request.
fn provider_error_code(body: &[u8]) -> Option<&'static str> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let error = value.get("error")?;
    let mut codes = ["status", "code", "type"]
        .iter()
        .filter_map(|field| error.get(*field)?.as_str())
        .peekable();
    codes.peek()?;
    Some(
        codes
            .find_map(|code| KNOWN_ERROR_CODES.iter().find(|known| **known == code))
            .copied()
            .unwrap_or("other"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_providers_error_code_is_kept() {
        let gemini = br#"{"error":{"code":429,"message":"Quota for note 'secret words' exceeded","status":"RESOURCE_EXHAUSTED"}}"#;
        assert_eq!(provider_error_code(gemini), Some("RESOURCE_EXHAUSTED"));
        let openai = br#"{"error":{"message":"secret words","type":"invalid_request_error","code":"context_length_exceeded"}}"#;
        assert_eq!(provider_error_code(openai), Some("context_length_exceeded"));
        let made_up = br#"{"error":{"message":"secret words","code":"secret_words"}}"#;
        assert_eq!(provider_error_code(made_up), Some("other"));
        assert_eq!(provider_error_code(b"secret words"), None);
    }

    #[test]
    fn what_is_retried_and_what_opens_the_circuit() {
        for status in [429, 500, 502, 503] {
            assert!(ProviderError::Status { status }.is_transient());
        }
        for status in [400, 401, 404, 422] {
            assert!(!ProviderError::Status { status }.is_transient());
        }
        assert!(ProviderError::Status { status: 401 }.counts_against_provider());
        assert!(!ProviderError::Status { status: 400 }.counts_against_provider());
        assert!(!ProviderError::Malformed.counts_against_provider());
        assert!(ProviderError::Timeout.counts_against_provider());
    }
}
