use reqwest::Method;
use serde_json::json;

use crate::helpers::{error_code, spawn_app, spawn_app_with};

#[tokio::test]
async fn bodies_over_the_limit_are_413_and_reach_no_service() {
    let app = spawn_app_with(|s| s.http.body_limit_bytes = 64 * 1024).await;
    let big = "x".repeat(65 * 1024);

    // Announced by Content-Length.
    let response = app
        .request(Method::POST, "/api/v1/patients/42/notes")
        .bearer_auth(app.token())
        .header("content-type", "application/json")
        .body(big.clone())
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 413);
    assert_eq!(error_code(response).await, "payload_too_large");

    // Streamed in chunks without a length.
    let chunks = big
        .into_bytes()
        .chunks(8 * 1024)
        .map(|c| Ok::<_, std::io::Error>(c.to_vec()))
        .collect::<Vec<_>>();
    let response = app
        .request(Method::POST, "/api/v1/auth/signup")
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 413);
    assert_eq!(error_code(response).await, "payload_too_large");
    assert_eq!(app.upstream_hits(), 0);

    // Just within the limit is fine.
    let response = app
        .request(Method::POST, "/api/v1/patients/42/notes")
        .bearer_auth(app.token())
        .body("y".repeat(64 * 1024))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn auth_endpoints_are_rate_limited_per_ip_with_retry_after() {
    let app = spawn_app_with(|s| {
        s.rate_limit.auth_requests = 3;
        s.rate_limit.auth_window_secs = 60;
    })
    .await;
    let login = || {
        app.request(Method::POST, "/api/v1/auth/login")
            .json(&json!({"email": "a@example.com", "password": "wrong"}))
            .send()
    };
    for _ in 0..3 {
        assert_eq!(login().await.expect("send").status(), 200);
    }
    let response = login().await.expect("send");
    assert_eq!(response.status(), 429);
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    assert_eq!(error_code(response).await, "too_many_requests");
    // Every /auth/* path shares the budget.
    let response = app
        .request(Method::POST, "/api/v1/auth/refresh")
        .json(&json!({"refresh_token": "x"}))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 429);
    assert_eq!(app.auth.hits(), 3);

    // Other routes are not limited.
    for _ in 0..5 {
        let response = app
            .authed_get("/api/v1/users/me")
            .send()
            .await
            .expect("send");
        assert_eq!(response.status(), 200);
    }
}

fn preflight(app: &crate::helpers::TestApp, origin: &str) -> reqwest::RequestBuilder {
    app.request(Method::OPTIONS, "/api/v1/patients/42/notes")
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization, content-type, idempotency-key, last-event-id, x-request-id",
        )
}

#[tokio::test]
async fn cors_preflight_is_allowed_for_configured_origins_only() {
    let app = spawn_app_with(|s| {
        s.cors.allowed_origins = vec!["https://app.example".into()];
    })
    .await;

    let response = preflight(&app, "https://app.example")
        .send()
        .await
        .expect("send");
    assert!(response.status().is_success(), "{}", response.status());
    let headers = response.headers();
    assert_eq!(
        headers["access-control-allow-origin"],
        "https://app.example"
    );
    let allowed = headers["access-control-allow-headers"]
        .to_str()
        .expect("ascii")
        .to_ascii_lowercase();
    for header in [
        "authorization",
        "content-type",
        "idempotency-key",
        "last-event-id",
        "x-request-id",
    ] {
        assert!(allowed.contains(header), "{header} not in {allowed}");
    }
    assert!(headers["access-control-allow-methods"]
        .to_str()
        .expect("ascii")
        .contains("POST"));

    let response = preflight(&app, "https://evil.example")
        .send()
        .await
        .expect("send");
    assert!(response.status().is_client_error(), "{}", response.status());
    assert!(!response
        .headers()
        .contains_key("access-control-allow-origin"));
    assert_eq!(error_code(response).await, "cors_rejected");

    // A real request from the allowed origin can read the answer and the request id.
    let response = app
        .authed_get("/api/v1/users/me")
        .header("origin", "https://app.example")
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["access-control-allow-origin"],
        "https://app.example"
    );
    assert!(response.headers()["access-control-expose-headers"]
        .to_str()
        .expect("ascii")
        .to_ascii_lowercase()
        .contains("x-request-id"));

    // From another origin the answer has no CORS headers, so browsers hide it.
    let response = app
        .authed_get("/api/v1/users/me")
        .header("origin", "https://evil.example")
        .send()
        .await
        .expect("send");
    assert!(!response
        .headers()
        .contains_key("access-control-allow-origin"));
    assert_eq!(app.auth.hits(), 2);
}

#[tokio::test]
async fn no_origin_is_allowed_by_default() {
    let app = spawn_app().await;
    let response = preflight(&app, "http://localhost:3000")
        .send()
        .await
        .expect("send");
    assert!(response.status().is_client_error(), "{}", response.status());
    assert!(!response
        .headers()
        .contains_key("access-control-allow-origin"));
    assert_eq!(app.upstream_hits(), 0);
}
