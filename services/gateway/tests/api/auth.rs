use base64::Engine;
use hospital_platform::token::Role;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{claims, error_code, spawn_app, TestKey, KID};

#[tokio::test]
async fn signup_login_and_refresh_need_no_token() {
    let app = spawn_app().await;
    for path in ["/auth/signup", "/auth/login", "/auth/refresh"] {
        let response = app
            .request(Method::POST, &format!("/api/v1{path}"))
            .json(&json!({"email": "a@example.com", "password": "secret-password"}))
            .send()
            .await
            .expect("send");
        assert_eq!(response.status(), 200, "{path}");
        let echo: Value = response.json().await.expect("echo");
        assert_eq!(echo["path"], path);
        assert_eq!(echo["upstream"], "auth");
        assert_eq!(
            echo["body"],
            r#"{"email":"a@example.com","password":"secret-password"}"#
        );
    }
    assert_eq!(app.auth.hits(), 3);
}

#[tokio::test]
async fn protected_routes_without_a_token_are_401_and_reach_no_service() {
    let app = spawn_app().await;
    for (method, path) in [
        (Method::POST, "/api/v1/auth/logout"),
        (Method::GET, "/api/v1/users/me"),
        (Method::GET, "/api/v1/doctors"),
        (Method::PUT, "/api/v1/patients/me/doctor"),
        (Method::POST, "/api/v1/patients/42/notes"),
        (Method::GET, "/api/v1/patients/42/reminders"),
        (Method::GET, "/api/v1/notifications/stream"),
    ] {
        let response = app
            .request(method.clone(), path)
            .send()
            .await
            .expect("send");
        assert_eq!(response.status(), 401, "{method} {path}");
        assert_eq!(
            response
                .headers()
                .get("www-authenticate")
                .and_then(|v| v.to_str().ok()),
            Some("Bearer")
        );
        assert_eq!(
            error_code(response).await,
            "missing_token",
            "{method} {path}"
        );
    }
    // Not a bearer token either.
    let response = app
        .get("/api/v1/users/me")
        .basic_auth("user", Some("password"))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 401);
    assert_eq!(app.upstream_hits(), 0);
}

#[tokio::test]
async fn bad_expired_unsigned_and_foreign_tokens_are_401_and_reach_no_service() {
    let app = spawn_app().await;
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let unsigned = format!(
        "{}.{}.",
        engine.encode(br#"{"alg":"none","typ":"JWT","kid":"test-key-1"}"#),
        engine.encode(serde_json::to_vec(&claims(Role::Patient, 900)).expect("json"))
    );
    let other_key = TestKey::generate(KID);
    let mut wrong_issuer = claims(Role::Doctor, 900);
    wrong_issuer.iss = "someone-else".into();
    let cases = [
        ("garbage", "not-a-jwt".to_owned(), "invalid_token"),
        (
            "expired",
            app.key.sign(KID, &claims(Role::Patient, -120)),
            "token_expired",
        ),
        ("alg none", unsigned, "invalid_token"),
        (
            "another key, same kid",
            other_key.sign(KID, &claims(Role::Patient, 900)),
            "invalid_token",
        ),
        (
            "unknown kid",
            other_key.sign("unknown-kid", &claims(Role::Patient, 900)),
            "invalid_token",
        ),
        (
            "wrong issuer",
            app.key.sign(KID, &wrong_issuer),
            "invalid_token",
        ),
    ];
    for (what, token, code) in cases {
        let response = app
            .get("/api/v1/users/me")
            .bearer_auth(&token)
            .send()
            .await
            .expect("send");
        assert_eq!(response.status(), 401, "{what}");
        assert_eq!(error_code(response).await, code, "{what}");
    }
    assert_eq!(app.upstream_hits(), 0);
}

#[tokio::test]
async fn a_valid_token_is_forwarded_for_the_service_to_check_again() {
    let app = spawn_app().await;
    let token = app.key.sign(KID, &claims(Role::Doctor, 900));
    let response = app
        .get("/api/v1/doctors/me/patients")
        .bearer_auth(&token)
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 200);
    let echo: Value = response.json().await.expect("echo");
    assert_eq!(echo["headers"]["authorization"], format!("Bearer {token}"));
}
