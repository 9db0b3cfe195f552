use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{error_code, spawn_app, unique_email};

#[tokio::test(flavor = "multi_thread")]
async fn health_readiness_and_metrics() {
    let app = spawn_app().await;
    let health = app.get("/healthz", None).await;
    assert_eq!(health.status(), StatusCode::OK);
    let ready = app.get("/readyz", None).await;
    assert_eq!(ready.status(), StatusCode::OK);
    let ready: Value = ready.json().await.unwrap();
    assert_eq!(ready["checks"]["postgres"], "ok");
    assert_eq!(ready["checks"]["rabbitmq"], "ok");

    app.signup_patient(&unique_email("m")).await;
    let metrics = app.get("/metrics", None).await.text().await.unwrap();
    assert!(
        metrics.contains(r#"route="/auth/signup",status="201""#),
        "metrics by route and status: {metrics}"
    );
    assert!(metrics.contains("hospital_http_request_duration_seconds_bucket"));
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_routes_get_json_404_and_request_ids_are_echoed() {
    let app = spawn_app().await;
    let response = app.get("/no/such/route", None).await;
    assert!(response.headers().contains_key("x-request-id"));
    assert_eq!(
        error_code(response, StatusCode::NOT_FOUND).await,
        "not_found"
    );

    let response = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "req-123")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "req-123");
}

#[tokio::test(flavor = "multi_thread")]
async fn jwks_publishes_the_signing_key() {
    let app = spawn_app().await;
    let jwks: Value = app
        .get("/.well-known/jwks.json", None)
        .await
        .json()
        .await
        .unwrap();
    let key = &jwks["keys"][0];
    assert_eq!(key["kty"], "OKP");
    assert_eq!(key["crv"], "Ed25519");
    assert_eq!(key["kid"], app.signing_keys().kid.as_str());
    assert!(key.get("d").is_none(), "never the private half");
}
