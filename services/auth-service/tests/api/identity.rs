use std::time::Duration;

use base64::Engine;
use hospital_platform::token::{AccessClaims, Role, ALGORITHM, ISSUER};
use jsonwebtoken::Header;
use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::{error_code, spawn_app, spawn_app_with, unique_email, PASSWORD};

#[tokio::test(flavor = "multi_thread")]
async fn signup_returns_a_session_whose_token_works() {
    let app = spawn_app().await;
    let email = unique_email("pat");
    let response = app
        .signup_raw(
            &json!({"name": "Pat", "email": email, "password": PASSWORD, "role": "patient",
                             "timezone": "Europe/London"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let session: Value = response.json().await.unwrap();
    assert_eq!(session["token_type"], "Bearer");
    assert_eq!(session["expires_in"], 900);
    assert_eq!(session["user"]["email"], email);
    assert_eq!(session["user"]["role"], "patient");
    assert!(session["user"].get("password").is_none());
    let token = session["access_token"].as_str().unwrap();
    let me: Value = app
        .get("/users/me", Some(token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["id"], session["user"]["id"]);
    assert_eq!(me["timezone"], "Europe/London");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_signups_get_the_documented_error_and_store_nothing() {
    let app = spawn_app().await;
    let valid =
        json!({"name": "Pat", "email": unique_email("x"), "password": PASSWORD, "role": "patient"});
    let with = |key: &str, value: Value| {
        let mut body = valid.clone();
        body[key] = value;
        body
    };
    let without = |key: &str| {
        let mut body = valid.clone();
        body.as_object_mut().unwrap().remove(key);
        body
    };
    let cases = [
        (
            "short password",
            with("password", json!("1234567")),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "malformed email",
            with("email", json!("not-an-email")),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "unknown timezone",
            with("timezone", json!("Mars/Olympus")),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "unknown role",
            with("role", json!("admin")),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "wrong type",
            with("name", json!(42)),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "missing field",
            without("password"),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "empty name",
            with("name", json!("  ")),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "doctor without specialization",
            with("role", json!("doctor")),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "patient with specialization",
            with("specialization", json!("Cardiology")),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "huge body",
            with("name", json!("x".repeat(70_000))),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
    ];
    for (what, body, status) in cases {
        let response = app.signup_raw(&body).await;
        assert_eq!(response.status(), status, "{what}");
        let body: Value = response.json().await.unwrap();
        assert!(
            body["error"]["code"].is_string() && body["error"]["message"].is_string(),
            "{what}: {body}"
        );
    }
    let malformed = app
        .client
        .post(app.url("/auth/signup"))
        .header("content-type", "application/json")
        .body("{\"name\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(malformed, StatusCode::BAD_REQUEST).await,
        "malformed_json"
    );
    assert_eq!(app.count_rows("users").await, 0);
    assert_eq!(app.count_rows("outbox").await, 0);
    assert_eq!(app.count_rows("refresh_tokens").await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn email_is_unique_whatever_its_case() {
    let app = spawn_app().await;
    let email = unique_email("Dup");
    app.signup_patient(&email).await;
    let response = app
        .signup_raw(&json!({"name": "Other", "email": email.to_uppercase(), "password": PASSWORD, "role": "patient"}))
        .await;
    assert_eq!(
        error_code(response, StatusCode::CONFLICT).await,
        "email_taken"
    );
    assert_eq!(app.count_rows("users").await, 1);
    assert_eq!(app.count_rows("outbox").await, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn login_accepts_the_email_in_any_case_and_refuses_wrong_credentials_alike() {
    let app = spawn_app().await;
    let email = unique_email("login");
    let user = app.signup_patient(&email).await;
    let ok = app.login(&email.to_uppercase(), PASSWORD).await;
    assert_eq!(ok.status(), StatusCode::OK);
    let session: Value = ok.json().await.unwrap();
    assert_eq!(session["user"]["id"], user.id.as_str());
    assert!(session["refresh_token"].as_str().unwrap() != user.refresh_token);

    let wrong_password: Value = app
        .login(&email, "wrong password!")
        .await
        .json()
        .await
        .unwrap();
    let no_account: Value = app
        .login(&unique_email("nobody"), "wrong password!")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        wrong_password, no_account,
        "the answer must not reveal whether the email exists"
    );
    assert_eq!(wrong_password["error"]["code"], "invalid_credentials");
}

#[tokio::test(flavor = "multi_thread")]
async fn five_failed_logins_lock_the_email_for_fifteen_minutes() {
    let app = spawn_app().await;
    let email = unique_email("brute");
    app.signup_patient(&email).await;
    for attempt in 1..=5 {
        let response = app.login(&email, "not the password").await;
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "attempt {attempt}"
        );
    }
    let locked = app.login(&email, PASSWORD).await;
    assert_eq!(locked.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = locked.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((890..=900).contains(&retry_after), "{retry_after}");
    assert_eq!(
        error_code(locked, StatusCode::TOO_MANY_REQUESTS).await,
        "too_many_login_attempts"
    );
    // Other accounts are unaffected.
    let other = unique_email("other");
    app.signup_patient(&other).await;
    assert_eq!(app.login(&other, PASSWORD).await.status(), StatusCode::OK);

    app.clock.advance(Duration::from_secs(14 * 60));
    assert_eq!(
        app.login(&email, PASSWORD).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    app.clock.advance(Duration::from_secs(61));
    assert_eq!(app.login(&email, PASSWORD).await.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread")]
async fn one_ip_with_many_failures_is_limited() {
    let app = spawn_app_with(|s| s.security.login_failures_per_ip = 3).await;
    for _ in 0..3 {
        let response = app.login(&unique_email("spray"), "wrong password").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    let response = app.login(&unique_email("spray"), "wrong password").await;
    assert_eq!(
        error_code(response, StatusCode::TOO_MANY_REQUESTS).await,
        "too_many_login_attempts"
    );
}

async fn refresh(app: &crate::helpers::TestApp, token: &str) -> reqwest::Response {
    app.post_json("/auth/refresh", &json!({"refresh_token": token}), None)
        .await
}

#[tokio::test(flavor = "multi_thread")]
async fn refresh_rotates_and_a_reused_token_revokes_the_family() {
    let app = spawn_app().await;
    let user = app.signup_patient(&unique_email("rot")).await;
    // A second, independent sign-in must survive the first one's revocation.
    let other_session: Value = app.login(&user.email, PASSWORD).await.json().await.unwrap();

    let first = refresh(&app, &user.refresh_token).await;
    assert_eq!(first.status(), StatusCode::OK);
    let first: Value = first.json().await.unwrap();
    let second_token = first["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(second_token, user.refresh_token);
    assert_eq!(first["user"]["id"], user.id.as_str());
    let access = first["access_token"].as_str().unwrap();
    assert_eq!(
        app.get("/users/me", Some(access)).await.status(),
        StatusCode::OK
    );

    let reused = refresh(&app, &user.refresh_token).await;
    assert_eq!(
        error_code(reused, StatusCode::UNAUTHORIZED).await,
        "refresh_token_reused"
    );
    let revoked = refresh(&app, &second_token).await;
    assert_eq!(
        error_code(revoked, StatusCode::UNAUTHORIZED).await,
        "invalid_refresh_token"
    );

    let other = refresh(&app, other_session["refresh_token"].as_str().unwrap()).await;
    assert_eq!(other.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_and_malformed_refresh_tokens_are_refused() {
    let app = spawn_app().await;
    for token in ["", "nonsense", &"x".repeat(1000)] {
        let response = refresh(&app, token).await;
        assert_eq!(
            error_code(response, StatusCode::UNAUTHORIZED).await,
            "invalid_refresh_token"
        );
    }
    let response = app.post_json("/auth/refresh", &json!({}), None).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test(flavor = "multi_thread")]
async fn logout_ends_the_session_and_only_the_owners() {
    let app = spawn_app().await;
    let alice = app.signup_patient(&unique_email("alice")).await;
    let bob = app.signup_patient(&unique_email("bob")).await;
    // Bob cannot sign Alice out with her token.
    let response = app
        .post_json(
            "/auth/logout",
            &json!({"refresh_token": alice.refresh_token}),
            Some(&bob.access_token),
        )
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        refresh(&app, &alice.refresh_token).await.status(),
        StatusCode::OK
    );

    let response = app
        .post_json(
            "/auth/logout",
            &json!({"refresh_token": bob.refresh_token}),
            Some(&bob.access_token),
        )
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        refresh(&app, &bob.refresh_token).await.status(),
        StatusCode::UNAUTHORIZED
    );

    let anonymous = app
        .post_json("/auth/logout", &json!({"refresh_token": "x"}), None)
        .await;
    assert_eq!(
        error_code(anonymous, StatusCode::UNAUTHORIZED).await,
        "missing_token"
    );
}

fn sign(keys: &jsonwebtoken::EncodingKey, kid: &str, claims: &AccessClaims) -> String {
    let mut header = Header::new(ALGORITHM);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, claims, keys).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn expired_forged_unsigned_and_foreign_tokens_are_refused() {
    let app = spawn_app().await;
    let user = app.signup_patient(&unique_email("tok")).await;
    let keys = app.signing_keys();
    let now = chrono::Utc::now().timestamp();
    let claims = |exp: i64| AccessClaims {
        iss: ISSUER.into(),
        sub: user.id.parse().unwrap(),
        role: Role::Patient,
        iat: now - 1000,
        exp,
        jti: Uuid::new_v4(),
    };
    let expired = sign(&keys.encoding, &keys.kid, &claims(now - 60));
    let foreign_keys = auth_service::keys::SigningKeys::generate().unwrap();
    let wrong_key = sign(&foreign_keys.encoding, &keys.kid, &claims(now + 600));
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let unsigned = format!(
        "{}.{}.",
        engine.encode(format!(
            r#"{{"alg":"none","typ":"JWT","kid":"{}"}}"#,
            keys.kid
        )),
        engine.encode(serde_json::to_vec(&claims(now + 600)).unwrap())
    );
    let parts: Vec<&str> = user.access_token.split('.').collect();
    let mut forged_claims = claims(now + 600);
    forged_claims.role = Role::Doctor;
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        engine.encode(serde_json::to_vec(&forged_claims).unwrap()),
        parts[2]
    );

    for (what, token, code) in [
        ("expired", expired.as_str(), "token_expired"),
        ("wrong key", wrong_key.as_str(), "invalid_token"),
        ("alg none", unsigned.as_str(), "invalid_token"),
        ("forged claims", forged.as_str(), "invalid_token"),
        ("garbage", "abc.def.ghi", "invalid_token"),
    ] {
        let response = app.get("/users/me", Some(token)).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{what}");
        assert_eq!(
            error_code(response, StatusCode::UNAUTHORIZED).await,
            code,
            "{what}"
        );
    }
    let valid = sign(&keys.encoding, &keys.kid, &claims(now + 600));
    assert_eq!(
        app.get("/users/me", Some(&valid)).await.status(),
        StatusCode::OK
    );
    let missing = app.get("/users/me", None).await;
    assert_eq!(
        error_code(missing, StatusCode::UNAUTHORIZED).await,
        "missing_token"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_login_burst_beyond_the_hashing_slots_gets_503_not_a_stall() {
    let app = spawn_app_with(|s| {
        s.security.bcrypt_cost = 8;
        s.security.hashing_concurrency = 1;
        s.security.hashing_queue_timeout_ms = 0;
    })
    .await;
    let email = unique_email("burst");
    app.signup_patient(&email).await;
    let logins = (0..8).map(|_| app.login(&email, PASSWORD));
    let responses = futures_util::future::join_all(logins).await;
    let statuses: Vec<StatusCode> = responses.iter().map(reqwest::Response::status).collect();
    assert!(statuses.contains(&StatusCode::OK), "{statuses:?}");
    let busy = responses
        .into_iter()
        .find(|r| r.status() == StatusCode::SERVICE_UNAVAILABLE)
        .expect("some logins found every hashing slot taken");
    assert_eq!(busy.headers()["retry-after"], "1");
    assert_eq!(
        error_code(busy, StatusCode::SERVICE_UNAVAILABLE).await,
        "service_unavailable"
    );
}
