//! `/healthz`, `/readyz`, `/metrics`, and starting with Redis down.

use serde_json::Value;

use crate::helpers::{spawn_app, spawn_app_with, test_settings, WITHIN};

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

/// A throwaway `redis-server` on `port`, without persistence; killed when dropped.
struct OwnRedis(std::process::Child);

impl OwnRedis {
    fn start(port: u16) -> Self {
        let child = std::process::Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server starts");
        Self(child)
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn recovers_when_redis_comes_up_and_applies_what_waited() {
    use hospital_events::{Envelope, UserRegistered};
    use hospital_platform::token::Role;

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut settings = test_settings();
    settings.redis.url = format!("redis://127.0.0.1:{port}");
    let app = spawn_app_with(settings).await;
    assert_eq!(app.get("/readyz").await.status(), 503);

    // Handled while Redis is down: retried through the retry queue.
    let user = uuid::Uuid::now_v7();
    app.publish(&Envelope::new(UserRegistered {
        user_id: user,
        role: Role::Patient,
        timezone: "Europe/Paris".into(),
    }))
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;

    let _redis = OwnRedis::start(port);
    hospital_test_support::eventually(WITHIN, "readyz to turn 200", || async {
        (app.get("/readyz").await.status() == 200).then_some(())
    })
    .await;
    let record = app
        .wait_for_user(user, "the registration, after a retry", |u| {
            u.role.is_some()
        })
        .await;
    assert_eq!(record.timezone.as_deref(), Some("Europe/Paris"));
    app.stop_and_clean().await;
}
