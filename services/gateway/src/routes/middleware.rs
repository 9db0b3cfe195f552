//! CORS for the configured browser origins, and its refusals in the JSON error shape.

use actix_cors::Cors;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::ResponseError;
use hospital_platform::request::{REQUEST_ID_HEADER, TRACEPARENT_HEADER};
use hospital_platform::HttpError;

use crate::settings::CorsSettings;

/// Browsers on the configured origins may call every method with the headers the
/// API uses, and read the request id and `Retry-After`. No origin is allowed unless
/// configured; requests from others get no CORS headers, so browsers keep the
/// answer from the page.
pub fn cors(settings: &CorsSettings) -> Cors {
    let mut cors = Cors::default()
        .allowed_methods([
            Method::GET,
            Method::HEAD,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
        .allowed_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT,
            HeaderName::from_static("idempotency-key"),
            // A fetch-based client resuming `/notifications/stream` after a drop.
            HeaderName::from_static("last-event-id"),
            HeaderName::from_static(REQUEST_ID_HEADER),
            HeaderName::from_static(TRACEPARENT_HEADER),
        ])
        .expose_headers([
            HeaderName::from_static(REQUEST_ID_HEADER),
            header::RETRY_AFTER,
            header::LOCATION,
        ])
        .max_age(settings.max_age_secs);
    // Validated with the settings, so none of these can fail the middleware's start.
    for origin in &settings.allowed_origins {
        cors = cors.allowed_origin(origin);
    }
    cors
}

/// A refused CORS preflight answers in the JSON error shape instead of plain text.
/// Wrap it around the CORS middleware.
pub async fn cors_rejection_as_json(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let preflight = req.method() == Method::OPTIONS
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    let response = next.call(req).await?;
    if preflight && response.status().is_client_error() {
        let error = HttpError::new(
            response.status(),
            "cors_rejected",
            "This origin, method or header is not allowed to call the API from a browser.",
        );
        let (request, _) = response.into_parts();
        return Ok(ServiceResponse::new(request, error.error_response()));
    }
    Ok(response.map_into_boxed_body())
}
