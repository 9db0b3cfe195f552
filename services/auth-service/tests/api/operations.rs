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

#[tokio::test(flavor = "multi_thread")]
async fn shutdown_finishes_in_flight_requests_then_stops_listening() {
    use std::time::Duration;

    use crate::helpers::{new_signing_pem, test_settings, PASSWORD};

    let db = hospital_test_support::TestDatabase::create("auth_test")
        .await
        .expect("a test database");
    let exchange = hospital_test_support::unique_name("test.auth");
    let mut settings = test_settings(
        &db,
        &exchange,
        &hospital_test_support::amqp_url(),
        &new_signing_pem(),
    );
    // A slow hash keeps the sign-up in flight while the shutdown starts.
    settings.security.bcrypt_cost = 12;
    let app = auth_service::Application::build(settings).await.unwrap();
    let address = format!("http://127.0.0.1:{}", app.port());
    let shutdown = app.shutdown_token();
    let server = tokio::spawn(app.run_until_stopped());

    let client = reqwest::Client::new();
    let in_flight = tokio::spawn({
        let client = client.clone();
        let url = format!("{address}/auth/signup");
        async move {
            client
                .post(url)
                .json(
                    &serde_json::json!({"name": "Late", "email": unique_email("late"),
                                          "password": PASSWORD, "role": "patient"}),
                )
                .send()
                .await
        }
    });
    tokio::time::sleep(Duration::from_millis(400)).await;
    shutdown.cancel();

    let response = in_flight
        .await
        .unwrap()
        .expect("the in-flight request is answered");
    assert_eq!(response.status(), StatusCode::CREATED);
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("the server stops")
        .unwrap()
        .unwrap();
    let after = client.get(format!("{address}/healthz")).send().await;
    assert!(after.is_err(), "nothing listens after shutdown");
}
