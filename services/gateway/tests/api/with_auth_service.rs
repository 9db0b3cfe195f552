//! The gateway in front of the real auth-service (PostgreSQL and RabbitMQ from
//! `TEST_DATABASE_URL` and `TEST_AMQP_URL`): tokens auth-service signs are verified
//! by the gateway with the keys auth-service publishes.

use std::time::Duration;

use ed25519_dalek::pkcs8::EncodePrivateKey;
use hospital_gateway::{Application as Gateway, Settings as GatewaySettings};
use hospital_platform::settings::HttpSettings;
use hospital_test_support::{amqp_url, unique_name, TestDatabase};
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use crate::helpers::raw_get;

struct Stack {
    gateway: String,
    gateway_port: u16,
    auth: String,
    client: reqwest::Client,
    shutdown: Vec<CancellationToken>,
    _db: TestDatabase,
}

impl Drop for Stack {
    fn drop(&mut self) {
        for token in &self.shutdown {
            token.cancel();
        }
    }
}

impl Stack {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.gateway)
    }
}

async fn spawn_stack() -> Stack {
    let db = TestDatabase::create("gateway_auth")
        .await
        .expect("a test database");
    let signing = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
    let pem = signing
        .to_pkcs8_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
        .expect("pem")
        .to_string();

    let mut auth_settings = auth_service::Settings::default();
    auth_settings.http.port = 0;
    auth_settings.http.workers = 1;
    auth_settings.database.url.clone_from(&db.url);
    auth_settings.database.pool_size = 2;
    auth_settings.events.amqp_url = amqp_url();
    auth_settings.events.exchange = unique_name("test.gateway");
    auth_settings.jwt.private_key_file = None;
    auth_settings.jwt.private_key_pem = Some(pem);
    auth_settings.security.bcrypt_cost = 4;
    let auth = auth_service::Application::build(auth_settings)
        .await
        .expect("auth-service builds");
    let auth_url = format!("http://127.0.0.1:{}", auth.port());
    let auth_shutdown = auth.shutdown_token();
    tokio::spawn(auth.run_until_stopped());

    let mut settings = GatewaySettings {
        http: HttpSettings {
            port: 0,
            workers: 1,
            shutdown_timeout_secs: 1,
            ..GatewaySettings::default().http
        },
        ..GatewaySettings::default()
    };
    settings.upstreams.auth.clone_from(&auth_url);
    settings.auth.jwks_url = format!("{auth_url}/.well-known/jwks.json");
    let gateway = Gateway::build(settings).expect("gateway builds");
    let gateway_port = gateway.port();
    let gateway_url = format!("http://127.0.0.1:{gateway_port}");
    let gateway_shutdown = gateway.shutdown_token();
    tokio::spawn(gateway.run_until_stopped());

    Stack {
        gateway: gateway_url,
        gateway_port,
        auth: auth_url,
        client: reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("client"),
        shutdown: vec![gateway_shutdown, auth_shutdown],
        _db: db,
    }
}

#[tokio::test]
async fn sign_up_through_the_gateway_then_read_the_profile_with_the_token() {
    let stack = spawn_stack().await;
    let email = format!("{}@example.com", unique_name("patient"));

    let response = stack
        .client
        .post(stack.url("/api/v1/auth/signup"))
        .json(&json!({
            "name": "Pat Patient",
            "email": email,
            "password": "correct horse battery",
            "role": "patient",
            "timezone": "Europe/Berlin",
        }))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), StatusCode::CREATED);
    assert!(response.headers().contains_key("x-request-id"));
    let session: Value = response.json().await.expect("json");
    let access = session["access_token"].as_str().expect("access token");
    let refresh = session["refresh_token"].as_str().expect("refresh token");

    let response = stack
        .client
        .get(stack.url("/api/v1/users/me"))
        .bearer_auth(access)
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), StatusCode::OK);
    let me: Value = response.json().await.expect("json");
    assert_eq!(me["id"], session["user"]["id"]);
    assert_eq!(me["email"], email.as_str());
    assert_eq!(me["role"], "patient");
    assert_eq!(me["timezone"], "Europe/Berlin");

    // The gateway turns away a missing token itself.
    let response = stack
        .client
        .get(stack.url("/api/v1/users/me"))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    // Refresh and login go through without an access token.
    let response = stack
        .client
        .post(stack.url("/api/v1/auth/refresh"))
        .json(&json!({"refresh_token": refresh}))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), StatusCode::OK);
    let response = stack
        .client
        .post(stack.url("/api/v1/auth/login"))
        .json(&json!({"email": email, "password": "correct horse battery"}))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), StatusCode::OK);

    // Upstream answers pass through: a duplicate signup is auth-service's 409.
    let response = stack
        .client
        .post(stack.url("/api/v1/auth/signup"))
        .json(&json!({
            "name": "Pat Again",
            "email": email,
            "password": "correct horse battery",
            "role": "patient",
        }))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), StatusCode::CONFLICT);
    let body: Value = response.json().await.expect("json");
    assert!(body["error"]["code"].is_string(), "{body}");

    let response = stack
        .client
        .get(stack.url("/readyz"))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_internal_access_route_answers_services_but_not_the_gateways_clients() {
    let stack = spawn_stack().await;
    let response = stack
        .client
        .post(stack.url("/api/v1/auth/signup"))
        .json(&json!({
            "name": "Pat Patient",
            "email": format!("{}@example.com", unique_name("patient")),
            "password": "correct horse battery",
            "role": "patient",
        }))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), StatusCode::CREATED);
    let session: Value = response.json().await.expect("json");
    let token = session["access_token"].as_str().expect("access token");
    let id = session["user"]["id"].as_str().expect("id");
    let internal = format!("/internal/v1/patients/{id}/access");

    // Straight to the auth-service, as a service calls it: answered.
    let response = stack
        .client
        .get(format!("{}{internal}", stack.auth))
        .bearer_auth(token)
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), StatusCode::OK);

    // Through the gateway, however the path is dressed (sent as is, not normalised by a
    // client library), a 404: the gateway routes no `/internal` path, refuses dot
    // segments, and forwards an encoded slash still encoded, which no route matches.
    let authorization = format!("Bearer {token}");
    let encoded = internal.replace('/', "%2f");
    for target in [
        format!("/api/v1{internal}"),
        internal.clone(),
        format!("/api/v1/users/x%2f..%2f..{encoded}"),
        format!("/api/v1/users/%2e%2e{internal}"),
        format!("/api/v1/doctors/..{internal}"),
        format!("/api/v1/auth/login/../..{internal}"),
        format!("/api/v1/patients/me/doctor/..%2f..%2f..{encoded}"),
    ] {
        let (status, body) = raw_get(
            stack.gateway_port,
            &target,
            &[("authorization", &authorization)],
        )
        .await;
        assert_eq!(status, 404, "{target}: {body}");
        let body: Value = serde_json::from_str(&body).expect("json");
        assert_eq!(body["error"]["code"], "not_found", "{target}: {body}");
    }
}
