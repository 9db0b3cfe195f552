use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;

use crate::helpers::{closed_port_url, error_code, spawn_app_with, spawn_slow};

#[tokio::test]
async fn an_unreachable_service_is_a_502() {
    let app = spawn_app_with(|s| s.upstreams.notes = Some(closed_port_url())).await;
    let response = app
        .authed_get("/api/v1/patients/42/notes")
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 502);
    assert_eq!(error_code(response).await, "bad_gateway");
}

#[tokio::test]
async fn an_unreachable_auth_service_is_a_502_for_login_and_503_for_token_checks() {
    let closed = closed_port_url();
    let app = spawn_app_with(|s| {
        s.upstreams.auth.clone_from(&closed);
        s.auth.jwks_url = format!("{closed}/.well-known/jwks.json");
    })
    .await;
    let response = app
        .request(Method::POST, "/api/v1/auth/login")
        .json(&json!({"email": "a@example.com", "password": "x"}))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 502);
    assert_eq!(error_code(response).await, "bad_gateway");

    // Without the JWKS no token can be checked: the service is unavailable, not the
    // caller unauthorised.
    let response = app
        .authed_get("/api/v1/patients/42/reminders")
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 503);
    assert_eq!(error_code(response).await, "service_unavailable");
    assert_eq!(app.reminders.hits(), 0);
}

#[tokio::test]
async fn a_slow_service_is_a_504_after_the_timeout() {
    let slow = spawn_slow(Duration::from_secs(5));
    let app = spawn_app_with(|s| {
        s.upstreams.reminders = Some(slow.base_url.clone());
        s.upstreams.timeout_ms = 300;
    })
    .await;
    let started = Instant::now();
    let response = app
        .authed_get("/api/v1/patients/42/adherence")
        .send()
        .await
        .expect("send");
    let elapsed = started.elapsed();
    assert_eq!(response.status(), 504);
    assert_eq!(error_code(response).await, "gateway_timeout");
    assert!(elapsed >= Duration::from_millis(300), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
    assert_eq!(slow.hits(), 1);
}

#[tokio::test]
async fn a_service_not_deployed_yet_is_a_503() {
    let app = spawn_app_with(|s| {
        s.upstreams.notes = None;
        s.upstreams.reminders = None;
    })
    .await;
    for path in [
        "/api/v1/patients/42/notes",
        "/api/v1/patients/42/actionable-steps",
        "/api/v1/notifications/stream",
    ] {
        let started = Instant::now();
        let response = app.authed_get(path).send().await.expect("send");
        assert_eq!(response.status(), 503, "{path}");
        assert_eq!(error_code(response).await, "service_unavailable", "{path}");
        assert!(started.elapsed() < Duration::from_secs(1), "{path}");
    }
    // Still a 401 without a token: the token is checked first.
    let response = app
        .get("/api/v1/patients/42/notes")
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 401);
    // auth-service routes are unaffected.
    let response = app
        .authed_get("/api/v1/users/me")
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 200);
}
