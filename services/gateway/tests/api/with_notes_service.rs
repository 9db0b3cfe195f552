//! The gateway in front of the real auth-service and notes-service (PostgreSQL and RabbitMQ
//! from `TEST_DATABASE_URL` and `TEST_AMQP_URL`): a doctor's note travels from the public
//! door to the store and back, with the body sizes the notes API promises.

use std::time::Duration;

use ed25519_dalek::pkcs8::EncodePrivateKey;
use hospital_gateway::{Application as Gateway, Settings as GatewaySettings};
use hospital_platform::settings::HttpSettings;
use hospital_test_support::{amqp_url, unique_name, TestDatabase};
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

struct Stack {
    gateway: String,
    notes: hospital_notes_service::Settings,
    client: reqwest::Client,
    shutdown: Vec<CancellationToken>,
    _dbs: (TestDatabase, TestDatabase),
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
        format!("{}/api/v1{path}", self.gateway)
    }

    async fn signup(&self, role: &str) -> (String, String) {
        let mut body = json!({
            "name": "Someone",
            "email": format!("{}@example.com", unique_name(role)),
            "password": "a long enough password",
            "role": role,
        });
        if role == "doctor" {
            body["specialization"] = json!("Neurology");
        }
        let response = self
            .client
            .post(self.url("/auth/signup"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
        let session: Value = response.json().await.unwrap();
        (
            session["user"]["id"].as_str().unwrap().to_owned(),
            session["access_token"].as_str().unwrap().to_owned(),
        )
    }
}

async fn spawn_stack() -> Stack {
    let exchange = unique_name("test.gateway_notes");
    let auth_db = TestDatabase::create("gateway_notes_auth")
        .await
        .expect("a test database");
    let notes_db = TestDatabase::create("gateway_notes")
        .await
        .expect("a test database");
    let signing = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
    let pem = signing
        .to_pkcs8_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
        .unwrap()
        .to_string();
    let mut auth = auth_service::Settings::default();
    auth.http.port = 0;
    auth.http.workers = 1;
    auth.database.url.clone_from(&auth_db.url);
    auth.database.pool_size = 2;
    auth.events.amqp_url = amqp_url();
    auth.events.exchange.clone_from(&exchange);
    auth.jwt.private_key_file = None;
    auth.jwt.private_key_pem = Some(pem);
    auth.security.bcrypt_cost = 4;
    let auth = auth_service::Application::build(auth).await.unwrap();
    let auth_url = format!("http://127.0.0.1:{}", auth.port());
    let auth_shutdown = auth.shutdown_token();
    tokio::spawn(auth.run_until_stopped());

    let mut notes = hospital_notes_service::Settings::default();
    notes.http.port = 0;
    notes.http.workers = 1;
    notes.database.url.clone_from(&notes_db.url);
    notes.database.pool_size = 2;
    notes.events.amqp_url = amqp_url();
    notes.events.exchange.clone_from(&exchange);
    notes.events.queue_prefix.clone_from(&exchange);
    notes.auth.url.clone_from(&auth_url);
    notes.auth.jwks_url = format!("{auth_url}/.well-known/jwks.json");
    notes.crypto.keys = format!(
        "k1:{}",
        hospital_crypto::Keyring::generate_key().unwrap().as_str()
    );
    let notes_settings = notes.clone();
    let notes = hospital_notes_service::Application::build(notes)
        .await
        .unwrap();
    let notes_url = format!("http://127.0.0.1:{}", notes.port());
    let notes_shutdown = notes.shutdown_token();
    tokio::spawn(notes.run_until_stopped());

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
    settings.upstreams.notes = Some(notes_url);
    settings.auth.jwks_url = format!("{auth_url}/.well-known/jwks.json");
    let gateway = Gateway::build(settings).unwrap();
    let gateway_url = format!("http://127.0.0.1:{}", gateway.port());
    let gateway_shutdown = gateway.shutdown_token();
    tokio::spawn(gateway.run_until_stopped());

    Stack {
        gateway: gateway_url,
        notes: notes_settings,
        client: reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap(),
        shutdown: vec![gateway_shutdown, notes_shutdown, auth_shutdown],
        _dbs: (auth_db, notes_db),
    }
}

#[tokio::test]
async fn a_note_travels_through_the_gateway_with_the_sizes_the_api_promises() {
    let stack = spawn_stack().await;
    let (doctor_id, doctor) = stack.signup("doctor").await;
    let (patient_id, patient) = stack.signup("patient").await;
    let response = stack
        .client
        .put(stack.url("/patients/me/doctor"))
        .bearer_auth(&patient)
        .json(&json!({"doctor_id": doctor_id}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    let notes = stack.url(&format!("/patients/{patient_id}/notes"));
    // The longest note in the widest characters: 20,000 four-byte characters, about 80 KB.
    let widest = "🩺".repeat(20_000);
    for text in ["Take one tablet of aspirin 75 mg daily.", widest.as_str()] {
        let response = stack
            .client
            .post(&notes)
            .bearer_auth(&doctor)
            .json(&json!({"text": text}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::ACCEPTED);
    }
    // Over 128 KiB: the notes-service's 413, through the gateway.
    let response = stack
        .client
        .post(&notes)
        .bearer_auth(&doctor)
        .json(&json!({"text": "x".repeat(140_000)}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);

    let response = stack
        .client
        .get(&notes)
        .bearer_auth(&patient)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let list: Value = response.json().await.unwrap();
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["text"], widest.as_str());

    // No token: the gateway answers itself.
    let response = stack.client.get(&notes).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    stack.delete_queues().await;
}

impl Stack {
    /// Deletes the notes-service's queues and the test's exchange.
    async fn delete_queues(&self) {
        for token in &self.shutdown {
            token.cancel();
        }
        for config in hospital_notes_service::startup::consumer_configs(&self.notes) {
            let consumer =
                hospital_events::EventConsumer::new(config, |_: hospital_events::Message| async {
                    Ok(())
                });
            let _ = consumer.delete_topology().await;
        }
    }
}
