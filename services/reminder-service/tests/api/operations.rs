//! `/healthz`, `/readyz`, `/metrics`, and starting with Redis down.

use serde_json::Value;

use crate::helpers::{spawn_app, spawn_app_with, test_settings};

#[tokio::test]
async fn healthz_readyz_and_metrics_answer() {
    let app = spawn_app().await;
    assert_eq!(app.get("/healthz").await.status(), 200);
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status(), 200);
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["checks"]["redis"], "ok");
    assert_eq!(body["checks"]["rabbitmq"], "ok");
    assert_eq!(app.get("/metrics").await.status(), 200);
    assert_eq!(app.get("/nope").await.status(), 404);
    app.stop_and_clean().await;
}

#[tokio::test]
async fn starts_with_redis_down_and_readyz_names_it() {
    let mut settings = test_settings();
    // Nothing listens on port 1.
    settings.redis.url = "redis://127.0.0.1:1".into();
    let app = spawn_app_with(settings).await;
    assert_eq!(app.get("/healthz").await.status(), 200);
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status(), 503);
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_ready");
    assert_eq!(body["checks"]["redis"], "unavailable");
    assert_eq!(body["checks"]["rabbitmq"], "ok");
    app.stop_and_clean().await;
}
