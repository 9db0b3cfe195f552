use reqwest::Method;
use serde_json::Value;

use crate::helpers::{error_code, spawn_app};

#[tokio::test]
async fn each_prefix_reaches_its_owner_without_the_api_prefix() {
    let app = spawn_app().await;
    let id = "0190a5f2-7b1c-7cc3-9a4e-1f2b3c4d5e6f";
    let table = [
        (Method::POST, "/auth/logout".to_owned(), "auth"),
        (Method::GET, "/users/me".to_owned(), "auth"),
        (Method::PATCH, "/users/me".to_owned(), "auth"),
        (
            Method::GET,
            "/doctors?specialization=cardiology&limit=2&cursor=abc".to_owned(),
            "auth",
        ),
        (Method::GET, "/doctors/me/patients".to_owned(), "auth"),
        (Method::PUT, "/patients/me/doctor".to_owned(), "auth"),
        (Method::POST, format!("/patients/{id}/notes"), "notes"),
        (Method::GET, format!("/patients/{id}/notes"), "notes"),
        (
            Method::GET,
            format!("/patients/{id}/actionable-steps"),
            "reminders",
        ),
        (
            Method::GET,
            format!("/patients/{id}/reminders?status=due"),
            "reminders",
        ),
        (
            Method::GET,
            format!("/patients/{id}/adherence"),
            "reminders",
        ),
        (
            Method::POST,
            format!("/checklist/{id}/complete"),
            "reminders",
        ),
        (
            Method::POST,
            format!("/reminders/{id}/check-in"),
            "reminders",
        ),
    ];
    for (method, path, owner) in table {
        let response = app
            .request(method.clone(), &format!("/api/v1{path}"))
            .bearer_auth(app.token())
            .send()
            .await
            .expect("send");
        assert_eq!(response.status(), 200, "{method} {path}");
        let echo: Value = response.json().await.expect("echo");
        assert_eq!(echo["upstream"], owner, "{method} {path}");
        assert_eq!(echo["method"], method.as_str(), "{method} {path}");
        let (expected_path, expected_query) = match path.split_once('?') {
            Some((p, q)) => (p.to_owned(), Value::from(q)),
            None => (path.clone(), Value::Null),
        };
        assert_eq!(echo["path"], expected_path.as_str(), "{method} {path}");
        assert_eq!(echo["query"], expected_query, "{method} {path}");
    }
    assert_eq!(app.auth.hits(), 6);
    assert_eq!(app.notes.hits(), 2);
    assert_eq!(app.reminders.hits(), 5);
}

#[tokio::test]
async fn unknown_routes_are_json_404s_that_reach_no_service() {
    let app = spawn_app().await;
    for path in [
        "/api/v1/nothing-here",
        "/api/v1/patients/42/other",
        "/api/v1/patients",
        "/api/v1/auth",
        "/api/v1/",
        "/api/v1",
        "/api/v2/users/me",
        "/users/me",
        "/",
    ] {
        let response = app.authed_get(path).send().await.expect("send");
        assert_eq!(response.status(), 404, "{path}");
        assert_eq!(error_code(response).await, "not_found", "{path}");
    }
    assert_eq!(app.upstream_hits(), 0);
}

#[tokio::test]
async fn dot_segments_cannot_smuggle_a_protected_path_past_the_token_check() {
    let app = spawn_app().await;
    for target in [
        "/api/v1/auth/login/../../users/me",
        "/api/v1/auth/login/%2e%2e/%2E%2E/users/me",
        "/api/v1/auth/signup/./../../doctors",
    ] {
        let (status, body) = app.raw_get(target).await;
        assert_eq!(status, 404, "{target}: {body}");
        assert!(body.contains("not_found"), "{target}: {body}");
    }
    assert_eq!(app.upstream_hits(), 0);
}
