//! `spawn_app()` and what tests do with a running service: a real auth-service and the
//! notes-service on port 0, each with its own PostgreSQL database, sharing one RabbitMQ
//! exchange of the test's own, so events flow for real.

use std::time::Duration;

use ed25519_dalek::pkcs8::EncodePrivateKey;
use hospital_crypto::Keyring;
use hospital_events::{
    declare_exchange, declare_queue, BrokerConfig, Envelope, Event, EventConsumer, Message,
    Publisher, QueueSpec,
};
use hospital_notes_service::clock::Clock;
use hospital_notes_service::startup::consumer_configs;
use hospital_notes_service::store::Notes;
use hospital_notes_service::{Application, Settings};
use hospital_test_support::{amqp_url, unique_name, TestDatabase};
use lapin::options::{BasicGetOptions, ExchangeDeleteOptions, QueueDeleteOptions};
use lapin::{Connection, ConnectionProperties};
use reqwest::{Response, StatusCode};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// How long an event may take to be applied.
pub const WITHIN: Duration = Duration::from_secs(10);

/// A signed-up user and their access token.
#[derive(Debug, Clone)]
pub struct User {
    pub id: Uuid,
    pub token: String,
}

/// A queue bound to the test's exchange for every routing key: all that is published.
pub struct PublishedQueue {
    pub name: String,
}

impl PublishedQueue {
    async fn bind(exchange: &str, name: String) -> Self {
        let connection = connect().await;
        let channel = connection.create_channel().await.unwrap();
        declare_exchange(&channel, exchange).await.unwrap();
        declare_queue(&channel, exchange, &QueueSpec::new(name.clone(), ["#"]))
            .await
            .unwrap();
        let _ = connection.close(200, "done".into()).await;
        Self { name }
    }

    /// Takes every message waiting in the queue: (routing key, body).
    pub async fn drain(&self) -> Vec<(String, Vec<u8>)> {
        let connection = connect().await;
        let channel = connection.create_channel().await.unwrap();
        let mut messages = Vec::new();
        while let Some(message) = channel
            .basic_get(self.name.as_str().into(), BasicGetOptions { no_ack: true })
            .await
            .unwrap()
        {
            messages.push((
                message.delivery.routing_key.to_string(),
                message.delivery.data.clone(),
            ));
        }
        let _ = connection.close(200, "done".into()).await;
        messages
    }
}

async fn connect() -> Connection {
    Connection::connect(&amqp_url(), ConnectionProperties::default())
        .await
        .unwrap()
}

pub struct TestApp {
    pub notes_url: String,
    pub auth_url: String,
    pub http: reqwest::Client,
    pub settings: Settings,
    /// The service's own store, for arranging what the API cannot (tampering, rewrap).
    #[allow(dead_code)]
    pub store: Notes,
    pub keyring: Keyring,
    pub clock: Clock,
    pub published: PublishedQueue,
    pub publisher: Publisher,
    notes_shutdown: CancellationToken,
    notes_task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    auth_shutdown: CancellationToken,
    /// Set once `stop_and_clean` ran; otherwise (a test that panicked) `Drop` deletes the
    /// test's queues and exchange.
    cleaned: bool,
    _notes_db: TestDatabase,
    _auth_db: TestDatabase,
}

/// Settings for the test's notes-service (the auth-service's URL filled in by `spawn_app`).
pub fn test_settings(notes_db: &TestDatabase) -> Settings {
    let id = unique_name("notes");
    let mut settings = Settings::default();
    settings.http.port = 0;
    settings.http.workers = 1;
    settings.http.shutdown_timeout_secs = 1;
    settings.database.url.clone_from(&notes_db.url);
    settings.database.pool_size = 4;
    settings.events.amqp_url = amqp_url();
    settings.events.exchange = format!("test.{id}");
    settings.events.queue_prefix = format!("test.{id}");
    settings.crypto.keys = format!("k1:{}", Keyring::generate_key().unwrap().as_str());
    settings
}

pub async fn spawn_app() -> TestApp {
    let notes_db = TestDatabase::create("notes")
        .await
        .expect("a test database");
    let settings = test_settings(&notes_db);
    spawn_app_with(settings, notes_db).await
}

/// The auth-service, on port 0, publishing to `exchange`.
async fn spawn_auth(exchange: &str, db: &TestDatabase) -> (String, CancellationToken) {
    let signing = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
    let pem = signing
        .to_pkcs8_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
        .unwrap()
        .to_string();
    let mut auth = auth_service::Settings::default();
    auth.http.port = 0;
    auth.http.workers = 1;
    auth.http.shutdown_timeout_secs = 1;
    auth.database.url.clone_from(&db.url);
    auth.database.pool_size = 4;
    auth.events.amqp_url = amqp_url();
    auth.events.exchange = exchange.to_owned();
    auth.jwt.private_key_file = None;
    auth.jwt.private_key_pem = Some(pem);
    auth.security.bcrypt_cost = 4;
    let app = auth_service::Application::build(auth).await.unwrap();
    let url = format!("http://127.0.0.1:{}", app.port());
    let shutdown = app.shutdown_token();
    tokio::spawn(app.run_until_stopped());
    (url, shutdown)
}

pub async fn spawn_app_with(mut settings: Settings, notes_db: TestDatabase) -> TestApp {
    // The service's queues exist before anything is published, so no event is lost to a
    // consumer that has not connected yet.
    for config in consumer_configs(&settings) {
        EventConsumer::new(config, |_: Message| async { Ok(()) })
            .declare_topology()
            .await
            .unwrap();
    }
    let published = PublishedQueue::bind(
        &settings.events.exchange,
        format!("{}.observer", settings.events.queue_prefix),
    )
    .await;
    let auth_db = TestDatabase::create("notes_auth")
        .await
        .expect("a test database");
    let (auth_url, auth_shutdown) = spawn_auth(&settings.events.exchange, &auth_db).await;
    settings.auth.url.clone_from(&auth_url);
    settings.auth.jwks_url = format!("{auth_url}/.well-known/jwks.json");

    let clock = Clock::default();
    let app = Application::build_with_clock(settings.clone(), clock.clone())
        .await
        .unwrap();
    let notes_url = format!("http://127.0.0.1:{}", app.port());
    let store = app.store();
    let notes_shutdown = app.shutdown_token();
    let notes_task = Some(tokio::spawn(app.run_until_stopped()));
    let publisher = Publisher::new(
        BrokerConfig::new(amqp_url()).with_exchange(settings.events.exchange.clone()),
    );
    TestApp {
        notes_url,
        auth_url,
        http: reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap(),
        keyring: Keyring::from_spec(&settings.crypto.keys).unwrap(),
        settings,
        store,
        clock,
        published,
        publisher,
        notes_shutdown,
        notes_task,
        auth_shutdown,
        cleaned: false,
        _notes_db: notes_db,
        _auth_db: auth_db,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.notes_url)
    }

    /// Signs a user up through the real auth-service.
    pub async fn signup(&self, role: &str) -> User {
        let mut body = json!({
            "name": "Test User",
            "email": format!("{}@example.com", unique_name(role)),
            "password": "a long enough password",
            "role": role,
        });
        if role == "doctor" {
            body["specialization"] = json!("Cardiology");
        }
        let response = self
            .http
            .post(format!("{}/auth/signup", self.auth_url))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
        let session: Value = response.json().await.unwrap();
        User {
            id: session["user"]["id"].as_str().unwrap().parse().unwrap(),
            token: session["access_token"].as_str().unwrap().to_owned(),
        }
    }

    /// The patient chooses the doctor (`PUT /patients/me/doctor` at the auth-service).
    pub async fn choose_doctor(&self, patient: &User, doctor: &User) {
        let response = self
            .http
            .put(format!("{}/patients/me/doctor", self.auth_url))
            .bearer_auth(&patient.token)
            .json(&json!({"doctor_id": doctor.id}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }

    /// A patient with a doctor of their own.
    pub async fn patient_and_doctor(&self) -> (User, User) {
        let (patient, doctor) = tokio::join!(self.signup("patient"), self.signup("doctor"));
        self.choose_doctor(&patient, &doctor).await;
        (patient, doctor)
    }

    pub async fn submit_note(&self, doctor: &User, patient_id: Uuid, text: &str) -> Response {
        self.http
            .post(self.url(&format!("/patients/{patient_id}/notes")))
            .bearer_auth(&doctor.token)
            .json(&json!({"text": text}))
            .send()
            .await
            .unwrap()
    }

    pub async fn submit_note_with_key(
        &self,
        doctor: &User,
        patient_id: Uuid,
        text: &str,
        key: &str,
    ) -> Response {
        self.http
            .post(self.url(&format!("/patients/{patient_id}/notes")))
            .bearer_auth(&doctor.token)
            .header("Idempotency-Key", key)
            .json(&json!({"text": text}))
            .send()
            .await
            .unwrap()
    }

    /// Submits a note that must be accepted; returns its id.
    pub async fn accepted_note(&self, doctor: &User, patient_id: Uuid, text: &str) -> Uuid {
        let response = self.submit_note(doctor, patient_id, text).await;
        assert_eq!(response.status(), StatusCode::ACCEPTED);
        let body: Value = response.json().await.unwrap();
        body["id"].as_str().unwrap().parse().unwrap()
    }

    pub async fn get_as(&self, user: &User, path: &str) -> Response {
        self.http
            .get(self.url(path))
            .bearer_auth(&user.token)
            .send()
            .await
            .unwrap()
    }

    /// A GET that must answer 200; its JSON body.
    pub async fn json_as(&self, user: &User, path: &str) -> Value {
        let response = self.get_as(user, path).await;
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
        body
    }

    /// Publishes an event on the test's exchange, as another service would.
    pub async fn publish<E: Event>(&self, data: E) -> Uuid {
        let envelope = Envelope::new(data);
        self.publisher.publish_event(&envelope).await.unwrap();
        envelope.id
    }

    /// Stops the notes-service (gracefully), leaving the rest running.
    pub async fn stop_notes(&mut self) {
        self.notes_shutdown.cancel();
        if let Some(task) = self.notes_task.take() {
            tokio::time::timeout(Duration::from_secs(10), task)
                .await
                .expect("the service stops")
                .unwrap()
                .unwrap();
        }
    }

    /// Stops the notes-service and starts it again with `settings` (same database, exchange
    /// and auth-service), as after a deployment.
    pub async fn restart_notes(mut self, mut settings: Settings) -> TestApp {
        self.stop_notes().await;
        settings.auth = self.settings.auth.clone();
        let app = Application::build_with_clock(settings.clone(), self.clock.clone())
            .await
            .unwrap();
        self.notes_url = format!("http://127.0.0.1:{}", app.port());
        self.store = app.store();
        self.notes_shutdown = app.shutdown_token();
        self.notes_task = Some(tokio::spawn(app.run_until_stopped()));
        self.keyring = Keyring::from_spec(&settings.crypto.keys).unwrap();
        self.settings = settings;
        self
    }

    /// Stops both services and deletes the test's queues and exchange.
    pub async fn stop_and_clean(mut self) {
        self.stop_notes().await;
        self.auth_shutdown.cancel();
        self.publisher.close().await;
        delete_topology(&self.settings, &self.published.name).await;
        self.cleaned = true;
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.notes_shutdown.cancel();
        self.auth_shutdown.cancel();
        if self.cleaned {
            return;
        }
        // A test that panicked: delete what it declared, on a runtime of its own.
        let settings = self.settings.clone();
        let observer = self.published.name.clone();
        let _ = std::thread::spawn(move || {
            if let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                runtime
                    .block_on(tokio::time::timeout(
                        Duration::from_secs(10),
                        delete_topology(&settings, &observer),
                    ))
                    .ok();
            }
        })
        .join();
    }
}

/// Deletes the service's queues (with their retry and dead-letter queues), the observer
/// queue and the test's exchange.
async fn delete_topology(settings: &Settings, observer: &str) {
    for config in consumer_configs(settings) {
        let _ = EventConsumer::new(config, |_: Message| async { Ok(()) })
            .delete_topology()
            .await;
    }
    let Ok(connection) = Connection::connect(&amqp_url(), ConnectionProperties::default()).await
    else {
        return;
    };
    if let Ok(channel) = connection.create_channel().await {
        let _ = channel
            .queue_delete(observer.into(), QueueDeleteOptions::default())
            .await;
        let _ = channel
            .exchange_delete(
                settings.events.exchange.as_str().into(),
                ExchangeDeleteOptions::default(),
            )
            .await;
    }
    let _ = connection.close(200, "done".into()).await;
}

/// The error code of a JSON error answer.
pub async fn error_code(response: Response) -> String {
    let body: Value = response.json().await.unwrap();
    body["error"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}
