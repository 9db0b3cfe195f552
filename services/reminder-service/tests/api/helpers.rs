//! `spawn_app()` and what tests do with a running service.

use std::time::Duration;

use base64::Engine as _;
use ed25519_dalek::pkcs8::EncodePrivateKey;
use hospital_crypto::{Keyring, SealedEnvelope};
use hospital_events::contracts::{
    step_source_binding, step_title_binding, ChecklistStep, Extractor, PlanStep,
};
use hospital_events::{
    declare_exchange, declare_queue, AssignmentChanged, BrokerConfig, Envelope, Event,
    EventConsumer, Message, Publisher, QueueSpec, StepsExtracted, UserRegistered,
};
use hospital_platform::token::{AccessClaims, Role, ALGORITHM, ISSUER};
use hospital_reminder_service::clock::{Clock, ManualClock};
use hospital_reminder_service::startup::consumer_configs;
use hospital_reminder_service::store::{Store, UserRecord};
use hospital_reminder_service::{Application, Settings};
use hospital_test_support::{amqp_url, eventually, unique_name};
use jsonwebtoken::{EncodingKey, Header};
use lapin::options::{ExchangeDeleteOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use lapin::{Connection, ConnectionProperties};
use redis::AsyncCommands;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::auth_service::{AuthService, AuthUser};

/// How long an event may take to be applied.
pub const WITHIN: Duration = Duration::from_secs(10);

/// The tests' Redis (`TEST_REDIS_URL`).
pub fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// Settings for one test: a free port, its own key prefix, exchange and queues.
pub fn test_settings() -> Settings {
    let mut settings = Settings::default();
    let id = unique_name("reminder");
    settings.http.port = 0;
    settings.http.workers = 1;
    settings.http.shutdown_timeout_secs = 1;
    settings.redis.url = redis_url();
    settings.redis.key_prefix = format!("test:{id}:");
    settings.events.amqp_url = amqp_url();
    settings.events.exchange = format!("test.{id}");
    settings.events.queue_prefix = format!("test.{id}");
    settings.crypto.keys = format!(
        "test:{}",
        hospital_crypto::Keyring::generate_key().unwrap().as_str()
    );
    settings
}

pub struct TestApp {
    pub address: String,
    pub settings: Settings,
    pub store: Store,
    pub publisher: Publisher,
    pub http: reqwest::Client,
    shutdown: CancellationToken,
    task: Option<JoinHandle<std::io::Result<()>>>,
    pub key: TestKey,
    pub keyring: Keyring,
    pub clock: Clock,
    pub published: PublishedQueue,
    /// The real auth-service of [`spawn_app_with_auth_service`].
    auth: Option<AuthService>,
}

/// A queue bound to the test's exchange for every routing key (`#`): all the service
/// publishes (and what the test publishes) lands there.
pub struct PublishedQueue {
    pub name: String,
}

impl PublishedQueue {
    async fn bind(settings: &Settings) -> Self {
        let name = format!("{}.observer", settings.events.queue_prefix);
        let connection = Connection::connect(&amqp_url(), ConnectionProperties::default())
            .await
            .unwrap();
        let channel = connection.create_channel().await.unwrap();
        let exchange = &settings.events.exchange;
        declare_exchange(&channel, exchange).await.unwrap();
        declare_queue(&channel, exchange, &QueueSpec::new(name.clone(), ["#"]))
            .await
            .unwrap();
        let _ = connection.close(200, "done".into()).await;
        Self { name }
    }

    /// Takes every message waiting in the queue: (routing key, body).
    pub async fn drain(&self) -> Vec<(String, Vec<u8>)> {
        let connection = Connection::connect(&amqp_url(), ConnectionProperties::default())
            .await
            .unwrap();
        let channel = connection.create_channel().await.unwrap();
        let mut messages = Vec::new();
        while let Some(message) = channel
            .basic_get(
                self.name.as_str().into(),
                lapin::options::BasicGetOptions { no_ack: true },
            )
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

pub async fn spawn_app() -> TestApp {
    spawn_app_with(test_settings()).await
}

/// An Ed25519 signing key and the JWKS that publishes its public half.
pub struct TestKey {
    encoding: EncodingKey,
    pub jwks: serde_json::Value,
}

impl TestKey {
    pub fn generate() -> Self {
        let signing = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
        let der = signing.to_pkcs8_der().unwrap();
        let x = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(signing.verifying_key().as_bytes());
        Self {
            encoding: EncodingKey::from_ed_der(der.as_bytes()),
            jwks: serde_json::json!({"keys": [
                {"kty": "OKP", "crv": "Ed25519", "x": x, "kid": KID, "alg": "EdDSA", "use": "sig"}
            ]}),
        }
    }

    /// An access token for `user` with `role`, valid for 15 minutes of real time.
    pub fn token(&self, user: Uuid, role: Role) -> String {
        let now = chrono::Utc::now().timestamp();
        let claims = AccessClaims {
            iss: ISSUER.into(),
            sub: user,
            role,
            iat: now,
            exp: now + 900,
            jti: Uuid::now_v7(),
        };
        let mut header = Header::new(ALGORITHM);
        header.kid = Some(KID.into());
        jsonwebtoken::encode(&header, &claims, &self.encoding).unwrap()
    }
}

const KID: &str = "test-key";

/// Where a service started with the test key looks for the auth-service: the discard
/// port, where nothing answers, so a doctor's read fails closed (503) instead of reaching
/// an auth-service running on this machine.
const NO_AUTH_SERVICE: &str = "http://127.0.0.1:9";

/// Serves `jwks` at `/.well-known/jwks.json` on a free port; returns its URL.
fn serve_jwks(jwks: serde_json::Value) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = actix_web::HttpServer::new(move || {
        let jwks = jwks.clone();
        actix_web::App::new().route(
            "/.well-known/jwks.json",
            actix_web::web::get().to(move || {
                let jwks = jwks.clone();
                async move { actix_web::HttpResponse::Ok().json(jwks) }
            }),
        )
    })
    .workers(1)
    .disable_signals()
    .listen(listener)
    .unwrap()
    .run();
    tokio::spawn(server);
    format!("http://127.0.0.1:{port}/.well-known/jwks.json")
}

/// The test's start time for a manual clock: Monday 1 June 2026, 07:00 UTC.
pub fn start_time() -> jiff::Timestamp {
    "2026-06-01T07:00:00Z".parse().unwrap()
}

/// The service with a manual clock at [`start_time`].
pub async fn spawn_app_with_clock() -> TestApp {
    spawn_app_with_clock_and(test_settings()).await
}

/// [`spawn_app_with_clock`] with these settings.
pub async fn spawn_app_with_clock_and(settings: Settings) -> TestApp {
    let clock = ManualClock::new(start_time());
    spawn_app_full(settings, Clock::Manual(clock)).await
}

/// Declares the test's queues (so nothing published before the consumers connect is
/// lost), builds the service and runs it in the background.
pub async fn spawn_app_with(settings: Settings) -> TestApp {
    spawn_app_full(settings, Clock::System).await
}

pub async fn spawn_app_full(mut settings: Settings, clock: Clock) -> TestApp {
    let key = TestKey::generate();
    settings.auth.jwks_url = serve_jwks(key.jwks.clone());
    NO_AUTH_SERVICE.clone_into(&mut settings.auth.url);
    launch(settings, clock, key, None).await
}

/// The service (manual clock at [`start_time`]) beside a real auth-service that shares
/// its exchange: users sign up and choose doctors through [`TestApp::auth`], their
/// events reach this service, and it verifies their tokens and confirms doctors' access
/// with that auth-service.
pub async fn spawn_app_with_auth_service() -> TestApp {
    let mut settings = test_settings();
    let auth = AuthService::start(&settings.events.exchange).await;
    settings.auth.jwks_url = auth.jwks_url();
    settings.auth.url.clone_from(&auth.address);
    let clock = Clock::Manual(ManualClock::new(start_time()));
    launch(settings, clock, TestKey::generate(), Some(auth)).await
}

async fn launch(
    settings: Settings,
    clock: Clock,
    key: TestKey,
    auth: Option<AuthService>,
) -> TestApp {
    for config in consumer_configs(&settings) {
        EventConsumer::new(config, |_: Message| async { Ok(()) })
            .declare_topology()
            .await
            .unwrap();
    }
    // Everything the service publishes, for tests to read (and scan).
    let published = PublishedQueue::bind(&settings).await;
    let app = Application::build_with_clock(settings.clone(), clock.clone())
        .await
        .unwrap();
    let address = format!("http://127.0.0.1:{}", app.port());
    let store = app.store();
    let shutdown = app.shutdown_token();
    let task = tokio::spawn(app.run_until_stopped());
    let publisher = Publisher::new(
        BrokerConfig::new(amqp_url())
            .with_exchange(settings.events.exchange.clone())
            .with_connection_name("reminder-service-test"),
    );
    let keyring = Keyring::from_spec(&settings.crypto.keys).unwrap();
    TestApp {
        address,
        settings,
        store,
        publisher,
        http: reqwest::Client::new(),
        shutdown,
        task: Some(task),
        key,
        keyring,
        clock,
        published,
        auth,
    }
}

impl TestApp {
    /// The manual clock (tests built with [`spawn_app_with_clock`]).
    pub fn manual_clock(&self) -> &ManualClock {
        match &self.clock {
            Clock::Manual(clock) => clock,
            Clock::System => panic!("this test runs on the system clock"),
        }
    }

    /// Moves the manual clock to `at`.
    pub fn set_time(&self, at: &str) {
        self.manual_clock().set(at.parse().unwrap());
    }

    pub fn token(&self, user: Uuid, role: Role) -> String {
        self.key.token(user, role)
    }

    /// The auth-service (tests built with [`spawn_app_with_auth_service`]).
    pub fn auth(&self) -> &AuthService {
        self.auth
            .as_ref()
            .expect("this test runs without an auth-service")
    }

    pub fn auth_mut(&mut self) -> &mut AuthService {
        self.auth
            .as_mut()
            .expect("this test runs without an auth-service")
    }

    /// `GET path` with `user`'s own token, from the auth-service.
    pub async fn get_with(&self, path: &str, user: &AuthUser) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.address))
            .bearer_auth(&user.token)
            .send()
            .await
            .unwrap()
    }

    /// `POST path` with `user`'s own token, no body.
    pub async fn post_with(&self, path: &str, user: &AuthUser) -> reqwest::Response {
        self.http
            .post(format!("{}{path}", self.address))
            .bearer_auth(&user.token)
            .send()
            .await
            .unwrap()
    }

    /// `GET path` with `user`'s own token: status and JSON body.
    pub async fn json_with(&self, path: &str, user: &AuthUser) -> (u16, serde_json::Value) {
        let response = self.get_with(path, user).await;
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
    }

    /// Waits until `user.registered` from the auth-service has made `patient` known here.
    pub async fn wait_until_known_patient(&self, patient: &AuthUser) {
        self.wait_for_user(patient.id, "the patient's registration", |user| {
            user.role.as_deref() == Some("patient")
        })
        .await;
    }

    /// `GET path` as `user`.
    pub async fn get_as(&self, path: &str, user: Uuid, role: Role) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.address))
            .bearer_auth(self.token(user, role))
            .send()
            .await
            .unwrap()
    }

    /// `POST path` as `user`, no body.
    pub async fn post_as(&self, path: &str, user: Uuid, role: Role) -> reqwest::Response {
        self.http
            .post(format!("{}{path}", self.address))
            .bearer_auth(self.token(user, role))
            .send()
            .await
            .unwrap()
    }

    /// `POST /reminders/{reminder_id}/check-in` as the patient `patient`.
    pub async fn check_in(&self, reminder_id: &str, patient: Uuid) -> reqwest::Response {
        self.post_as(
            &format!("/reminders/{reminder_id}/check-in"),
            patient,
            Role::Patient,
        )
        .await
    }

    /// `GET path` as `user`: status and JSON body.
    pub async fn json_as(&self, path: &str, user: Uuid, role: Role) -> (u16, serde_json::Value) {
        let response = self.get_as(path, user, role).await;
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
    }

    /// A patient registered here (through the event), in `timezone`.
    pub async fn patient(&self, timezone: &str) -> Uuid {
        let id = Uuid::now_v7();
        let envelope = Envelope::new(UserRegistered {
            user_id: id,
            role: Role::Patient,
            timezone: timezone.into(),
        });
        self.publish(&envelope).await;
        self.wait_for_event(envelope.id).await;
        id
    }

    /// A doctor registered here, assigned to `patient`.
    pub async fn doctor_of(&self, patient: Uuid) -> Uuid {
        let doctor = Uuid::now_v7();
        let registered = Envelope::new(UserRegistered {
            user_id: doctor,
            role: Role::Doctor,
            timezone: "UTC".into(),
        });
        self.publish(&registered).await;
        self.wait_for_event(registered.id).await;
        self.assign(patient, Some(doctor)).await;
        doctor
    }

    pub async fn assign(&self, patient: Uuid, doctor: Option<Uuid>) {
        let envelope = Envelope::new(AssignmentChanged {
            patient_id: patient,
            doctor_id: doctor,
            previous_doctor_id: None,
            changed_at: chrono::Utc::now(),
        });
        self.publish(&envelope).await;
        self.wait_for_event(envelope.id).await;
    }

    /// Seals `text` as the title (or source) of `step_id` for `patient`.
    pub fn seal_title(&self, step_id: Uuid, patient: Uuid, text: &str) -> SealedEnvelope {
        self.keyring
            .seal_str(text, &step_title_binding(step_id, patient))
            .unwrap()
    }

    pub fn seal_source(&self, step_id: Uuid, patient: Uuid, text: &str) -> SealedEnvelope {
        self.keyring
            .seal_str(text, &step_source_binding(step_id, patient))
            .unwrap()
    }

    /// A `steps.extracted` event for `patient`: checklist titles, and plan steps as
    /// (title, schedule JSON, duration JSON).
    pub fn steps_event(
        &self,
        patient: Uuid,
        note_created_at: &str,
        checklist: &[&str],
        plan: &[(&str, serde_json::Value, serde_json::Value)],
    ) -> Envelope<StepsExtracted> {
        let checklist = checklist
            .iter()
            .map(|title| {
                let step_id = Uuid::now_v7();
                ChecklistStep {
                    step_id,
                    title: self.seal_title(step_id, patient, title),
                    source: self.seal_source(step_id, patient, &format!("Please {title}.")),
                }
            })
            .collect();
        let plan = plan
            .iter()
            .map(|(title, schedule, duration)| {
                let step_id = Uuid::now_v7();
                PlanStep {
                    step_id,
                    title: self.seal_title(step_id, patient, title),
                    source: self.seal_source(step_id, patient, &format!("{title}, as told.")),
                    schedule: serde_json::from_value(schedule.clone()).unwrap(),
                    duration: serde_json::from_value(duration.clone()).unwrap(),
                }
            })
            .collect();
        Envelope::new(StepsExtracted {
            note_id: Uuid::now_v7(),
            patient_id: patient,
            note_created_at: note_created_at.parse().unwrap(),
            extractor: Extractor::Offline,
            fallback: false,
            checklist,
            plan,
        })
    }

    /// Publishes `envelope` and waits until the service has handled it: recorded its id,
    /// or, for `steps.extracted` (applied steps leave no event key), stored its note.
    pub async fn deliver<E: Event>(&self, envelope: &Envelope<E>) {
        self.publish(envelope).await;
        if E::TYPE != StepsExtracted::TYPE {
            self.wait_for_event(envelope.id).await;
            return;
        }
        let sent = serde_json::to_value(&envelope.data).unwrap();
        let patient = Uuid::parse_str(sent["patient_id"].as_str().unwrap()).unwrap();
        let note = sent["note_id"].as_str().unwrap().to_owned();
        eventually(WITHIN, "the steps to be handled", || async {
            let stored = self.store.current_steps(patient).await.unwrap();
            let handled = stored.get("note_id") == Some(&note)
                || self.store.event_applied(envelope.id).await.unwrap();
            handled.then_some(())
        })
        .await;
    }

    /// The patient's feed entries: (entry id, reminder id).
    pub async fn feed(&self, patient: Uuid) -> Vec<(String, String)> {
        let mut connection = redis().await;
        let entries: Vec<(String, Vec<(String, String)>)> = redis::cmd("XRANGE")
            .arg(self.store.keys().feed(patient))
            .arg("-")
            .arg("+")
            .query_async(&mut connection)
            .await
            .unwrap();
        entries
            .into_iter()
            .map(|(id, fields)| {
                let reminder = fields
                    .into_iter()
                    .find(|(k, _)| k == "reminder_id")
                    .map(|(_, v)| v)
                    .unwrap_or_default();
                (id, reminder)
            })
            .collect()
    }

    /// The patient's reminders with `status` (all when `None`), as the patient sees them.
    pub async fn reminders(&self, patient: Uuid, status: Option<&str>) -> Vec<serde_json::Value> {
        let path = match status {
            Some(s) => format!("/patients/{patient}/reminders?status={s}"),
            None => format!("/patients/{patient}/reminders"),
        };
        let (code, body) = self.json_as(&path, patient, Role::Patient).await;
        assert_eq!(code, 200, "{body}");
        body["items"].as_array().unwrap().clone()
    }

    /// Waits until the patient has `count` reminders with `status`.
    pub async fn wait_for_reminders(
        &self,
        patient: Uuid,
        status: &str,
        count: usize,
    ) -> Vec<serde_json::Value> {
        eventually(WITHIN, &format!("{count} reminders {status}"), || async {
            let items = self.reminders(patient, Some(status)).await;
            (items.len() == count).then_some(items)
        })
        .await
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.address))
            .send()
            .await
            .unwrap()
    }

    pub async fn publish<E: Event>(&self, envelope: &Envelope<E>) {
        self.publisher.publish_event(envelope).await.unwrap();
    }

    /// Publishes `payload` as it is, with `E`'s routing key.
    pub async fn publish_raw<E: Event>(&self, payload: &[u8]) {
        self.publisher
            .publish(E::ROUTING_KEY, &Uuid::now_v7().to_string(), payload)
            .await
            .unwrap();
    }

    pub async fn user(&self, id: Uuid) -> Option<UserRecord> {
        self.store.user(id).await.unwrap()
    }

    /// Waits until the stored copy of `id` satisfies `check`, and returns it.
    pub async fn wait_for_user(
        &self,
        id: Uuid,
        what: &str,
        check: impl Fn(&UserRecord) -> bool,
    ) -> UserRecord {
        eventually(WITHIN, what, || async {
            self.user(id).await.filter(|user| check(user))
        })
        .await
    }

    /// Waits until the event `id` is applied (or recorded as a duplicate or stale).
    pub async fn wait_for_event(&self, id: Uuid) {
        eventually(WITHIN, "the event to be applied", || async {
            self.store.event_applied(id).await.unwrap().then_some(())
        })
        .await;
    }

    /// The queue of `E` (`<queue prefix>.<type>`).
    pub fn queue<E: Event>(&self) -> String {
        QueueSpec::for_event::<E>(&self.settings.events.queue_prefix).name
    }

    /// Messages ready in `queue`.
    pub async fn ready(&self, queue: &str) -> u32 {
        let connection = Connection::connect(&amqp_url(), ConnectionProperties::default())
            .await
            .unwrap();
        let channel = connection.create_channel().await.unwrap();
        let count = channel
            .queue_declare(
                queue.into(),
                QueueDeclareOptions {
                    passive: true,
                    ..QueueDeclareOptions::default()
                },
                FieldTable::default(),
            )
            .await
            .unwrap()
            .message_count();
        let _ = connection.close(200, "done".into()).await;
        count
    }

    /// The keys stored under the test's prefix.
    pub async fn keys(&self) -> Vec<String> {
        keys_under(&self.settings.redis.key_prefix).await
    }

    /// Stops the service and deletes the test's queues, exchange and keys.
    pub async fn stop_and_clean(mut self) {
        if let Some(auth) = self.auth.as_mut() {
            auth.stop().await;
        }
        self.shutdown.cancel();
        if let Some(task) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(10), task)
                .await
                .expect("the service stops")
                .unwrap()
                .unwrap();
        }
        self.publisher.close().await;
        for config in consumer_configs(&self.settings) {
            EventConsumer::new(config, |_: Message| async { Ok(()) })
                .delete_topology()
                .await
                .unwrap();
        }
        let connection = Connection::connect(&amqp_url(), ConnectionProperties::default())
            .await
            .unwrap();
        let channel = connection.create_channel().await.unwrap();
        channel
            .queue_delete(
                self.published.name.as_str().into(),
                lapin::options::QueueDeleteOptions::default(),
            )
            .await
            .unwrap();
        channel
            .exchange_delete(
                self.settings.events.exchange.as_str().into(),
                ExchangeDeleteOptions::default(),
            )
            .await
            .unwrap();
        let _ = connection.close(200, "done".into()).await;
        delete_keys_under(&self.settings.redis.key_prefix).await;
    }
}

/// A connection to the tests' Redis, for looking at or arranging keys directly.
pub async fn redis() -> redis::aio::MultiplexedConnection {
    redis::Client::open(redis_url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

/// Every key under `prefix` with its whole value as text (strings, hashes, lists, sorted
/// sets, streams), for scans of what Redis holds.
pub async fn dump_under(prefix: &str) -> Vec<(String, String)> {
    let mut connection = redis().await;
    let mut dump = Vec::new();
    for key in keys_under(prefix).await {
        let kind: String = redis::cmd("TYPE")
            .arg(&key)
            .query_async(&mut connection)
            .await
            .unwrap();
        let value = match kind.as_str() {
            // Texts are bytes (`store::sealed_text`): shown lossily.
            "string" => String::from_utf8_lossy(&connection.get::<_, Vec<u8>>(&key).await.unwrap())
                .into_owned(),
            "hash" => format!(
                "{:?}",
                connection
                    .hgetall::<_, Vec<(String, String)>>(&key)
                    .await
                    .unwrap()
            ),
            "list" => format!(
                "{:?}",
                connection
                    .lrange::<_, Vec<String>>(&key, 0, -1)
                    .await
                    .unwrap()
            ),
            "zset" => format!(
                "{:?}",
                connection
                    .zrange_withscores::<_, Vec<(String, f64)>>(&key, 0, -1)
                    .await
                    .unwrap()
            ),
            "stream" => {
                let entries: Vec<(String, Vec<(String, String)>)> = redis::cmd("XRANGE")
                    .arg(&key)
                    .arg("-")
                    .arg("+")
                    .query_async(&mut connection)
                    .await
                    .unwrap();
                format!("{entries:?}")
            }
            other => panic!("unexpected key type {other} for {key}"),
        };
        dump.push((key, value));
    }
    dump
}

/// Every key starting with `prefix` (SCAN, not KEYS).
pub async fn keys_under(prefix: &str) -> Vec<String> {
    let mut connection = redis().await;
    let mut keys = Vec::new();
    let mut cursor: u64 = 0;
    loop {
        let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{prefix}*"))
            .arg("COUNT")
            .arg(1000)
            .query_async(&mut connection)
            .await
            .unwrap();
        keys.extend(batch);
        if next == 0 {
            break;
        }
        cursor = next;
    }
    keys.sort();
    keys
}

pub async fn delete_keys_under(prefix: &str) {
    let keys = keys_under(prefix).await;
    if !keys.is_empty() {
        let mut connection = redis().await;
        let _: usize = connection.del(keys).await.unwrap();
    }
}
