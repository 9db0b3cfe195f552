//! Forwarding `/api/v1/*` to the service that owns the path.
//!
//! In order: route (404), per-IP rate limit on `/auth/*` (429), access token unless
//! the route is public (401, the upstream never sees the request), upstream deployed
//! (503), request body within the limit (413), then the call: method, path without
//! `/api/v1`, query, body and end-to-end headers go up; status, headers and body come
//! back unchanged. An unreachable upstream is a 502, a slow one a 504.

use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::body::SizedStream;
use actix_web::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::web::{self, Bytes, BytesMut};
use actix_web::{HttpMessage, HttpRequest, HttpResponse, ResponseError};
use futures_util::{Stream, StreamExt};
use hospital_platform::rate_limit::RateLimiter;
use hospital_platform::request::{RequestId, TraceContext, REQUEST_ID_HEADER, TRACEPARENT_HEADER};
use hospital_platform::token::{bearer_token, TokenError, TokenVerifier};
use hospital_platform::HttpError;

use crate::metrics::{Outcome, UpstreamMetrics};
use crate::routing::{self, Upstream};
use crate::upstream::Upstreams;

/// The prefix the gateway serves and strips.
pub const API_PREFIX: &str = "/api/v1";

/// Upstream answers of known length up to this size are read whole and sent in one
/// piece; anything else (event streams, unknown or larger lengths) is streamed.
const BUFFER_MAX_BYTES: u64 = 1024 * 1024;

/// Request headers that describe one connection, not the request, and those the
/// gateway sets itself.
const SKIPPED_REQUEST_HEADERS: [&str; 14] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
    "expect",
    REQUEST_ID_HEADER,
    TRACEPARENT_HEADER,
];

/// Response headers that describe the upstream connection, and CORS headers, which
/// the gateway owns.
const SKIPPED_RESPONSE_HEADERS: [&str; 10] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "content-length",
];

const X_FORWARDED_FOR: &str = "x-forwarded-for";

/// What the proxy handler needs; one per worker thread, so each worker keeps its
/// own connection pool, driven on its own runtime.
pub struct ProxyState {
    pub client: reqwest::Client,
    pub upstreams: Upstreams,
    pub verifier: Arc<TokenVerifier>,
    /// `None` when the limit is turned off.
    pub auth_limiter: Option<Arc<RateLimiter>>,
    pub body_limit: usize,
    pub timeout: Duration,
    pub metrics: Arc<UpstreamMetrics>,
}

#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error("no service owns this route")]
    NoRoute,
    #[error("rate limited for {0:?}")]
    RateLimited(Duration),
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error("the {} service is not deployed", .0.name())]
    NotDeployed(Upstream),
    #[error("the request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("the request body could not be read: {0}")]
    BodyRead(String),
    #[error("the {} service could not be reached: {cause}", upstream.name())]
    BadGateway { upstream: Upstream, cause: String },
    #[error("the {} service did not answer within {timeout:?}", upstream.name())]
    Timeout {
        upstream: Upstream,
        timeout: Duration,
    },
}

impl ProxyError {
    fn to_http(&self) -> HttpError {
        match self {
            ProxyError::NoRoute => HttpError::not_found("No such route."),
            ProxyError::RateLimited(retry) => {
                let secs = retry.as_secs() + u64::from(retry.subsec_nanos() > 0);
                HttpError::too_many_requests(secs)
            }
            ProxyError::Token(e) => e.clone().into(),
            ProxyError::NotDeployed(upstream) => HttpError::service_unavailable(format!(
                "The {} service is not available yet; try again later.",
                upstream.name()
            )),
            ProxyError::PayloadTooLarge { limit } => HttpError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("The request body is larger than the {limit} bytes this API accepts."),
            ),
            ProxyError::BodyRead(_) => {
                HttpError::bad_request("malformed_body", "The request body could not be read.")
            }
            ProxyError::BadGateway { upstream, .. } => HttpError::new(
                StatusCode::BAD_GATEWAY,
                "bad_gateway",
                format!("The {} service could not be reached.", upstream.name()),
            ),
            ProxyError::Timeout { upstream, .. } => HttpError::new(
                StatusCode::GATEWAY_TIMEOUT,
                "gateway_timeout",
                format!("The {} service did not answer in time.", upstream.name()),
            ),
        }
    }
}

impl ResponseError for ProxyError {
    fn status_code(&self) -> StatusCode {
        self.to_http().status
    }

    fn error_response(&self) -> HttpResponse {
        // The one place a failed forward is logged; the client gets no detail.
        match self {
            ProxyError::BadGateway { .. }
            | ProxyError::Timeout { .. }
            | ProxyError::NotDeployed(_)
            | ProxyError::Token(TokenError::KeysUnavailable(_)) => {
                tracing::warn!(error = %self, "cannot forward the request");
            }
            ProxyError::BodyRead(_) => tracing::info!(error = %self, "bad request body"),
            _ => {}
        }
        self.to_http().error_response()
    }
}

/// `/api/v1/{tail}`, every method.
pub async fn proxy(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<ProxyState>,
) -> Result<HttpResponse, ProxyError> {
    let path = req.uri().path();
    let tail = path.strip_prefix(API_PREFIX).unwrap_or(path);
    let route = routing::resolve(tail).ok_or(ProxyError::NoRoute)?;

    if route.rate_limited {
        if let Some(limiter) = &state.auth_limiter {
            limiter
                .hit(&client_ip(&req))
                .map_err(ProxyError::RateLimited)?;
        }
    }
    if !route.public {
        let token = bearer_token(&req).ok_or(TokenError::Missing)?;
        state.verifier.verify(token).await?;
    }
    let upstream = route.upstream;
    let Some(base) = state.upstreams.base(upstream) else {
        state.metrics.record(upstream, Outcome::NotDeployed, None);
        return Err(ProxyError::NotDeployed(upstream));
    };
    let body = read_body(&req, payload, state.body_limit).await?;

    let query = req.uri().query();
    let mut url = String::with_capacity(base.len() + tail.len() + query.map_or(0, |q| q.len() + 1));
    url.push_str(base);
    url.push_str(tail);
    if let Some(query) = query {
        url.push('?');
        url.push_str(query);
    }
    let method = reqwest::Method::from_bytes(req.method().as_str().as_bytes())
        .map_err(|_| ProxyError::NoRoute)?;
    let mut builder = state
        .client
        .request(method, url)
        .headers(forward_headers(&req));
    if let Some(body) = body {
        builder = builder.body(body);
    }
    // A path the URL parser refuses cannot be owned by any service.
    let request = builder.build().map_err(|_| ProxyError::NoRoute)?;

    let started = Instant::now();
    let deadline = tokio::time::Instant::now() + state.timeout;
    let timeout = ProxyError::Timeout {
        upstream,
        timeout: state.timeout,
    };
    let response = match tokio::time::timeout_at(deadline, state.client.execute(request)).await {
        Ok(Ok(response)) => response,
        Ok(Err(e)) if e.is_timeout() => {
            state.metrics.record(upstream, Outcome::Timeout, None);
            return Err(timeout);
        }
        Ok(Err(e)) => {
            state.metrics.record(upstream, Outcome::BadGateway, None);
            return Err(ProxyError::BadGateway {
                upstream,
                cause: error_chain(&e),
            });
        }
        Err(_) => {
            state.metrics.record(upstream, Outcome::Timeout, None);
            return Err(timeout);
        }
    };
    state.metrics.record(
        upstream,
        Outcome::Status(response.status().as_u16()),
        Some(started.elapsed()),
    );
    pass_back(response, upstream, deadline, state.timeout).await
}

/// The upstream's answer as the client's: same status, end-to-end headers and body.
async fn pass_back(
    response: reqwest::Response,
    upstream: Upstream,
    deadline: tokio::time::Instant,
    timeout: Duration,
) -> Result<HttpResponse, ProxyError> {
    let status =
        StatusCode::from_u16(response.status().as_u16()).map_err(|e| ProxyError::BadGateway {
            upstream,
            cause: format!("invalid status: {e}"),
        })?;
    let mut builder = HttpResponse::build(status);
    let listed = connection_listed(response.headers().get_all(reqwest::header::CONNECTION));
    for (name, value) in response.headers() {
        let name = name.as_str();
        if SKIPPED_RESPONSE_HEADERS.contains(&name)
            || name.starts_with("access-control-")
            || listed.iter().any(|l| l == name)
        {
            continue;
        }
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_bytes(value.as_bytes()),
        ) {
            builder.append_header((name, value));
        }
    }

    let event_stream = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with("text/event-stream"));
    let length = response.content_length();

    if event_stream {
        // A live feed: forwarded chunk by chunk for as long as both ends keep it open.
        let stream = response.bytes_stream().map(|r| r.map_err(io::Error::other));
        return Ok(builder.streaming(stream));
    }
    if let Some(length) = length.filter(|&n| n <= BUFFER_MAX_BYTES) {
        let body = match tokio::time::timeout_at(deadline, response.bytes()).await {
            Ok(Ok(body)) => body,
            Ok(Err(e)) => {
                return Err(ProxyError::BadGateway {
                    upstream,
                    cause: format!("reading the body: {}", error_chain(&e)),
                })
            }
            Err(_) => return Err(ProxyError::Timeout { upstream, timeout }),
        };
        if body.len() as u64 != length {
            return Err(ProxyError::BadGateway {
                upstream,
                cause: format!("body of {} bytes, {length} announced", body.len()),
            });
        }
        return Ok(builder.body(body));
    }
    let stream = with_idle_timeout(response.bytes_stream(), timeout);
    Ok(match length {
        Some(length) => builder.body(SizedStream::new(length, stream)),
        None => builder.streaming(stream),
    })
}

/// Ends the body with an error when the upstream sends nothing for `idle`, so a
/// stalled upstream cannot hold a client connection forever.
fn with_idle_timeout(
    stream: impl Stream<Item = reqwest::Result<Bytes>> + 'static,
    idle: Duration,
) -> impl Stream<Item = io::Result<Bytes>> + 'static {
    futures_util::stream::unfold(Some(Box::pin(stream)), move |state| async move {
        let mut stream = state?;
        match tokio::time::timeout(idle, stream.next()).await {
            Ok(Some(Ok(chunk))) => Some((Ok(chunk), Some(stream))),
            Ok(Some(Err(e))) => Some((Err(io::Error::other(e)), None)),
            Ok(None) => None,
            Err(_) => Some((
                Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the upstream stopped sending the body",
                )),
                None,
            )),
        }
    })
}

/// The request body, read up to `limit` bytes; `None` when the request has none.
async fn read_body(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<Option<Bytes>, ProxyError> {
    let headers = req.headers();
    if !headers.contains_key(header::CONTENT_LENGTH)
        && !headers.contains_key(header::TRANSFER_ENCODING)
    {
        return Ok(None);
    }
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(ProxyError::PayloadTooLarge { limit });
    }
    let capacity = declared.map_or(8 * 1024, |n| n as usize).min(limit);
    let mut body = BytesMut::with_capacity(capacity);
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ProxyError::BodyRead(e.to_string()))?;
        if body.len() + chunk.len() > limit {
            return Err(ProxyError::PayloadTooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Some(body.freeze()))
}

/// The end-to-end request headers, plus the request id, a child `traceparent` and
/// the caller's address appended to `X-Forwarded-For`.
fn forward_headers(req: &HttpRequest) -> reqwest::header::HeaderMap {
    use reqwest::header::{HeaderName as UpName, HeaderValue as UpValue};

    let headers = req.headers();
    let listed = connection_listed(headers.get_all(header::CONNECTION));
    let mut out = reqwest::header::HeaderMap::with_capacity(headers.len() + 3);
    for (name, value) in headers {
        let name = name.as_str();
        if SKIPPED_REQUEST_HEADERS.contains(&name)
            || name == X_FORWARDED_FOR
            || listed.iter().any(|l| l == name)
        {
            continue;
        }
        if let (Ok(name), Ok(value)) = (
            UpName::from_bytes(name.as_bytes()),
            UpValue::from_bytes(value.as_bytes()),
        ) {
            out.append(name, value);
        }
    }

    let extensions = req.extensions();
    if let Some(RequestId(id)) = extensions.get::<RequestId>() {
        if let Ok(value) = UpValue::from_str(id) {
            out.insert(UpName::from_static(REQUEST_ID_HEADER), value);
        }
    }
    if let Some(trace) = extensions.get::<TraceContext>() {
        if let Ok(value) = UpValue::from_str(&trace.child().header_value()) {
            out.insert(UpName::from_static(TRACEPARENT_HEADER), value);
        }
    }
    drop(extensions);

    let mut forwarded_for = forwarded_for(headers);
    if let Some(peer) = req.peer_addr() {
        if !forwarded_for.is_empty() {
            forwarded_for.push_str(", ");
        }
        forwarded_for.push_str(&peer.ip().to_string());
    }
    if let Ok(value) = UpValue::from_str(&forwarded_for) {
        if !forwarded_for.is_empty() {
            out.insert(UpName::from_static(X_FORWARDED_FOR), value);
        }
    }
    out
}

/// The `X-Forwarded-For` chain the request arrived with, all header lines joined.
fn forwarded_for(headers: &HeaderMap) -> String {
    let mut chain = String::new();
    for value in headers.get_all(X_FORWARDED_FOR) {
        let Ok(value) = value.to_str() else { continue };
        let value = value.trim();
        if value.is_empty() {
            continue;
        }
        if !chain.is_empty() {
            chain.push_str(", ");
        }
        chain.push_str(value);
    }
    chain
}

/// Header names a `Connection` header declares hop-by-hop, lower-cased.
fn connection_listed<'a, V: AsRef<[u8]> + 'a>(
    values: impl IntoIterator<Item = &'a V>,
) -> Vec<String> {
    values
        .into_iter()
        .filter_map(|v| std::str::from_utf8(v.as_ref()).ok())
        .flat_map(|v| v.split(','))
        .map(|token| token.trim().to_ascii_lowercase())
        .filter(|token| !token.is_empty() && token != "close" && token != "keep-alive")
        .collect()
}

/// The caller's IP, the key of the per-IP rate limit.
fn client_ip(req: &HttpRequest) -> String {
    req.peer_addr()
        .map_or_else(|| "unknown".to_owned(), |addr| addr.ip().to_string())
}

/// An error with its causes, for the log (reqwest's own message hides them).
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_tokens_are_lowercased_and_plain_options_dropped() {
        let values = [
            HeaderValue::from_static("Keep-Alive, X-Secret"),
            HeaderValue::from_static("close"),
        ];
        assert_eq!(connection_listed(values.iter()), ["x-secret"]);
    }

    #[test]
    fn errors_map_to_the_documented_statuses() {
        let cases = [
            (ProxyError::NoRoute, 404, "not_found"),
            (
                ProxyError::RateLimited(Duration::from_millis(1500)),
                429,
                "too_many_requests",
            ),
            (ProxyError::Token(TokenError::Missing), 401, "missing_token"),
            (
                ProxyError::NotDeployed(Upstream::Notes),
                503,
                "service_unavailable",
            ),
            (
                ProxyError::PayloadTooLarge { limit: 10 },
                413,
                "payload_too_large",
            ),
            (
                ProxyError::BadGateway {
                    upstream: Upstream::Auth,
                    cause: "refused".into(),
                },
                502,
                "bad_gateway",
            ),
            (
                ProxyError::Timeout {
                    upstream: Upstream::Auth,
                    timeout: Duration::from_secs(1),
                },
                504,
                "gateway_timeout",
            ),
        ];
        for (error, status, code) in cases {
            let http = error.to_http();
            assert_eq!(http.status.as_u16(), status, "{error}");
            assert_eq!(http.code, code, "{error}");
        }
        assert_eq!(
            ProxyError::RateLimited(Duration::from_millis(1500))
                .to_http()
                .retry_after,
            Some(2)
        );
    }
}
