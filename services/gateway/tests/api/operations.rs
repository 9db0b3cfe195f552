use serde_json::Value;

use crate::helpers::{closed_port_url, spawn_app, spawn_app_with};

#[tokio::test]
async fn healthz_answers_while_the_process_is_alive() {
    let app = spawn_app().await;
    let response = app.get("/healthz").send().await.expect("send");
    assert_eq!(response.status(), 200);
    assert!(response.headers().contains_key("x-request-id"));
}

#[tokio::test]
async fn ready_when_auth_service_is_without_needing_optional_services() {
    let app = spawn_app_with(|s| {
        s.upstreams.notes = None;
        s.upstreams.reminders = Some(closed_port_url());
    })
    .await;
    let response = app.get("/readyz").send().await.expect("send");
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["checks"]["auth"], "ok");
}

#[tokio::test]
async fn not_ready_without_auth_service() {
    let app = spawn_app_with(|s| s.upstreams.auth = closed_port_url()).await;
    let response = app.get("/readyz").send().await.expect("send");
    assert_eq!(response.status(), 503);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["error"]["code"], "not_ready");
    assert_eq!(body["checks"]["auth"], "unavailable");
}

#[tokio::test]
async fn metrics_count_requests_and_upstream_outcomes() {
    let app = spawn_app().await;
    let response = app
        .authed_get("/api/v1/users/me")
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 200);
    let response = app.get("/api/v1/users/me").send().await.expect("send");
    assert_eq!(response.status(), 401);

    let response = app.get("/metrics").send().await.expect("send");
    assert_eq!(response.status(), 200);
    let text = response.text().await.expect("text");
    assert!(
        text.contains(r#"hospital_http_requests_total{service="gateway",method="GET",route="/api/v1/{tail:.*}",status="200"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"hospital_http_requests_total{service="gateway",method="GET",route="/api/v1/{tail:.*}",status="401"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"hospital_gateway_upstream_requests_total{service="gateway",upstream="auth",outcome="2xx"} 1"#),
        "{text}"
    );
    assert!(
        text.contains("hospital_gateway_upstream_response_seconds_bucket"),
        "{text}"
    );
}

#[tokio::test]
async fn the_openapi_document_is_served_without_a_token() {
    let app = spawn_app().await;
    let response = app.get("/api/v1/openapi.json").send().await.expect("send");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let doc: Value = response.json().await.expect("json");
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["paths"]["/auth/signup"]["post"].is_object());
    assert!(doc["paths"]["/doctors"]["get"].is_object());
    assert_eq!(doc["servers"][0]["url"], "/api/v1");
    assert_eq!(app.upstream_hits(), 0);
}

#[tokio::test]
async fn the_docs_page_is_self_contained() {
    let app = spawn_app().await;
    let response = app.get("/api/docs").send().await.expect("send");
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .expect("ascii")
        .starts_with("text/html"));
    assert!(response.headers().contains_key("content-security-policy"));
    let html = response.text().await.expect("text");
    assert!(html.contains("v1/openapi.json"));
    for external in ["http://", "https://", "<script src", "<link"] {
        assert!(!html.contains(external), "the page loads {external}");
    }
}
