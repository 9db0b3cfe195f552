//! Notes through the public door, on the real PostgreSQL, Redis and RabbitMQ, with every
//! service of the flow running: a doctor writes a note at the gateway, the llm-worker turns
//! it into steps, and the patient sees the checklist, the plan and its reminders; a newer
//! note replaces the plan, and the late steps of an older one change nothing. With the
//! offline extractor and with a model provider (a local server speaking OpenAI's wire
//! format). Bodies of the sizes the notes API promises pass the gateway.

use std::time::Duration;

use crate::fake_model::{FakeModel, Reply};
use ed25519_dalek::pkcs8::EncodePrivateKey;
use hospital_events::{ConsumerConfig, EventConsumer, Message};
use hospital_gateway::{Application as Gateway, Settings as GatewaySettings};
use hospital_llm_worker::provider::ProviderKind;
use hospital_platform::settings::HttpSettings;
use hospital_test_support::{amqp_url, eventually, unique_name, TestDatabase};
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

struct Flow {
    gateway: String,
    client: reqwest::Client,
    shutdown: Vec<CancellationToken>,
    queues: Vec<ConsumerConfig>,
    redis_prefix: String,
    exchange: String,
    dbs: (TestDatabase, TestDatabase),
}

fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

async fn declare(configs: &[ConsumerConfig]) {
    for config in configs {
        EventConsumer::new(config.clone(), |_: Message| async { Ok(()) })
            .declare_topology()
            .await
            .unwrap();
    }
}

async fn spawn_flow() -> Flow {
    spawn_flow_with(|_| {}).await
}

/// The llm-worker asks `model` instead of reading notes offline.
fn asking(model: &FakeModel) -> impl FnOnce(&mut hospital_llm_worker::Settings) {
    let base_url = model.base_url();
    move |worker| {
        worker.extraction.provider = "openai".into();
        worker.extraction.base_url = base_url;
    }
}

/// The whole flow, with the llm-worker's settings as `configure_worker` leaves them.
#[allow(clippy::too_many_lines)]
async fn spawn_flow_with(
    configure_worker: impl FnOnce(&mut hospital_llm_worker::Settings),
) -> Flow {
    let id = unique_name("flow");
    let exchange = format!("test.{id}");
    let keys = format!(
        "k1:{}",
        hospital_crypto::Keyring::generate_key().unwrap().as_str()
    );
    let auth_db = TestDatabase::create("flow_auth")
        .await
        .expect("a test database");
    let notes_db = TestDatabase::create("flow_notes")
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
    // Bound before anything is published, so the consumers' queues miss no event.
    let auth = auth_service::Application::build(auth).await.unwrap();
    let auth_url = format!("http://127.0.0.1:{}", auth.port());
    let jwks = format!("{auth_url}/.well-known/jwks.json");

    let mut notes = hospital_notes_service::Settings::default();
    notes.http.port = 0;
    notes.http.workers = 1;
    notes.database.url.clone_from(&notes_db.url);
    notes.database.pool_size = 2;
    notes.events.amqp_url = amqp_url();
    notes.events.exchange.clone_from(&exchange);
    notes.events.queue_prefix = format!("{exchange}.notes");
    notes.auth.url.clone_from(&auth_url);
    notes.auth.jwks_url.clone_from(&jwks);
    notes.crypto.keys.clone_from(&keys);

    let mut worker = hospital_llm_worker::Settings::default();
    worker.http.port = 0;
    worker.events.amqp_url = amqp_url();
    worker.events.exchange.clone_from(&exchange);
    worker.events.queue_prefix = format!("{exchange}.llm");
    worker.crypto.keys.clone_from(&keys);
    configure_worker(&mut worker);

    let mut reminders = hospital_reminder_service::Settings::default();
    reminders.http.port = 0;
    reminders.http.workers = 1;
    reminders.redis.url = redis_url();
    reminders.redis.key_prefix = format!("test:{id}:");
    reminders.events.amqp_url = amqp_url();
    reminders.events.exchange.clone_from(&exchange);
    reminders.events.queue_prefix = format!("{exchange}.reminders");
    reminders.auth.url.clone_from(&auth_url);
    reminders.auth.jwks_url.clone_from(&jwks);
    reminders.crypto.keys.clone_from(&keys);

    let mut queues = hospital_notes_service::startup::consumer_configs(&notes);
    queues.push(hospital_llm_worker::startup::consumer_config(&worker));
    queues.extend(hospital_reminder_service::startup::consumer_configs(
        &reminders,
    ));
    declare(&queues).await;

    let mut shutdown = vec![auth.shutdown_token()];
    tokio::spawn(auth.run_until_stopped());
    let notes = hospital_notes_service::Application::build(notes)
        .await
        .unwrap();
    let notes_url = format!("http://127.0.0.1:{}", notes.port());
    shutdown.push(notes.shutdown_token());
    tokio::spawn(notes.run_until_stopped());
    let worker = hospital_llm_worker::Application::build(worker)
        .await
        .unwrap();
    shutdown.push(worker.shutdown_token());
    tokio::spawn(worker.run_until_stopped());
    let reminders = hospital_reminder_service::Application::build(reminders)
        .await
        .unwrap();
    let reminders_url = format!("http://127.0.0.1:{}", reminders.port());
    shutdown.push(reminders.shutdown_token());
    tokio::spawn(reminders.run_until_stopped());

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
    settings.upstreams.reminders = Some(reminders_url);
    settings.auth.jwks_url = jwks;
    let gateway = Gateway::build(settings).unwrap();
    let gateway_url = format!("http://127.0.0.1:{}", gateway.port());
    shutdown.push(gateway.shutdown_token());
    tokio::spawn(gateway.run_until_stopped());

    Flow {
        gateway: gateway_url,
        client: reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap(),
        shutdown,
        queues,
        redis_prefix: format!("test:{id}:"),
        exchange,
        dbs: (auth_db, notes_db),
    }
}

impl Flow {
    fn url(&self, path: &str) -> String {
        format!("{}/api/v1{path}", self.gateway)
    }

    async fn signup(&self, role: &str) -> (String, String) {
        let mut body = json!({
            "name": "Someone",
            "email": format!("{}@example.com", unique_name(role)),
            "password": "a long enough password",
            "role": role,
            "timezone": "Europe/London",
        });
        if role == "doctor" {
            body["specialization"] = json!("General practice");
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

    /// A doctor and a patient who has chosen them: (doctor's token, patient's id, patient's
    /// token).
    async fn patient_with_doctor(&self) -> (String, String, String) {
        let (doctor_id, doctor) = self.signup("doctor").await;
        let (patient_id, patient) = self.signup("patient").await;
        let response = self
            .client
            .put(self.url("/patients/me/doctor"))
            .bearer_auth(&patient)
            .json(&json!({"doctor_id": doctor_id}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        (doctor, patient_id, patient)
    }

    async fn get(&self, token: &str, path: &str) -> Value {
        let response = self
            .client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "GET {path}");
        response.json().await.unwrap()
    }

    async fn write_note(&self, doctor: &str, patient: &str, text: &str) -> String {
        let response = self
            .client
            .post(self.url(&format!("/patients/{patient}/notes")))
            .bearer_auth(doctor)
            .json(&json!({"text": text}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::ACCEPTED);
        let body: Value = response.json().await.unwrap();
        body["id"].as_str().unwrap().to_owned()
    }

    async fn stop_and_clean(self) {
        for token in &self.shutdown {
            token.cancel();
        }
        for config in &self.queues {
            let _ = EventConsumer::new(config.clone(), |_: Message| async { Ok(()) })
                .delete_topology()
                .await;
        }
        let client = redis::Client::open(redis_url()).unwrap();
        let mut connection = client.get_multiplexed_async_connection().await.unwrap();
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{}*", self.redis_prefix))
            .query_async(&mut connection)
            .await
            .unwrap();
        if !keys.is_empty() {
            let _: () = redis::cmd("DEL")
                .arg(keys)
                .query_async(&mut connection)
                .await
                .unwrap();
        }
    }
}

const WITHIN: Duration = Duration::from_secs(15);

#[tokio::test]
async fn a_note_written_at_the_gateway_becomes_the_patients_checklist_plan_and_reminders() {
    let flow = spawn_flow().await;
    let (doctor, patient_id, patient) = flow.patient_with_doctor().await;

    let first = flow
        .write_note(
            &doctor,
            &patient_id,
            "Buy amoxicillin 500 mg capsules today. Take one capsule three times a day for 7 days.",
        )
        .await;
    let note_path = format!("/patients/{patient_id}/notes/{first}");
    eventually(WITHIN, "the note processed", || async {
        (flow.get(&doctor, &note_path).await["status"] == "processed").then_some(())
    })
    .await;
    let steps_path = format!("/patients/{patient_id}/actionable-steps");
    let steps = eventually(WITHIN, "the steps of the first note", || async {
        let steps = flow.get(&patient, &steps_path).await;
        (steps["note_id"] == first.as_str()).then_some(steps)
    })
    .await;
    assert_eq!(
        steps["checklist"][0]["title"],
        "Buy amoxicillin 500 mg capsules today"
    );
    assert_eq!(steps["plan"][0]["title"], "Take amoxicillin 500 mg");
    assert_eq!(
        steps["plan"][0]["schedule"],
        json!({"kind": "times_per_day", "times_per_day": 3})
    );
    let reminders = flow
        .get(
            &patient,
            &format!("/patients/{patient_id}/reminders?status=upcoming"),
        )
        .await;
    let upcoming = reminders["items"].as_array().unwrap();
    assert!(!upcoming.is_empty(), "{reminders}");
    assert!(upcoming
        .iter()
        .all(|r| r["title"] == "Take amoxicillin 500 mg"));
    // The doctor sees the same plan.
    assert_eq!(
        flow.get(&doctor, &steps_path).await["note_id"],
        first.as_str()
    );

    // A newer note replaces the plan.
    let second = flow
        .write_note(
            &doctor,
            &patient_id,
            "Take ibuprofen 400 mg twice daily for 3 days.",
        )
        .await;
    let steps = eventually(WITHIN, "the steps of the newer note", || async {
        let steps = flow.get(&patient, &steps_path).await;
        (steps["note_id"] == second.as_str()).then_some(steps)
    })
    .await;
    let active: Vec<&Value> = steps["plan"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|step| step["status"] == "active")
        .collect();
    assert_eq!(active.len(), 1, "{steps}");
    assert_eq!(active[0]["title"], "Take ibuprofen 400 mg");
    flow.stop_and_clean().await;
}

#[tokio::test]
async fn a_note_travels_through_the_gateway_with_the_sizes_the_api_promises() {
    let flow = spawn_flow().await;
    let (doctor, patient_id, patient) = flow.patient_with_doctor().await;

    let notes = flow.url(&format!("/patients/{patient_id}/notes"));
    // The longest note in the widest characters: 20,000 four-byte characters, about 80 KB.
    let widest = "🩺".repeat(20_000);
    for text in ["Take one tablet of aspirin 75 mg daily.", widest.as_str()] {
        flow.write_note(&doctor, &patient_id, text).await;
    }
    // Over 128 KiB: the notes-service's 413, through the gateway.
    let response = flow
        .client
        .post(&notes)
        .bearer_auth(&doctor)
        .json(&json!({"text": "x".repeat(140_000)}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);

    let list = flow
        .get(&patient, &format!("/patients/{patient_id}/notes"))
        .await;
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["text"], widest.as_str());

    // No token: the gateway answers itself.
    let response = flow.client.get(&notes).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    flow.stop_and_clean().await;
}

#[tokio::test]
async fn a_model_reads_the_notes_and_the_late_steps_of_an_older_note_change_nothing() {
    // The first note's answer comes late, after the newer note's.
    let model = FakeModel::start(ProviderKind::OpenAi, Reply::Honest);
    model.script([Reply::After(
        Duration::from_secs(3),
        Box::new(Reply::Honest),
    )]);
    let flow = spawn_flow_with(asking(&model)).await;
    let (doctor, patient_id, patient) = flow.patient_with_doctor().await;

    let older = flow
        .write_note(
            &doctor,
            &patient_id,
            "Take metformin 500 mg twice daily for 30 days.",
        )
        .await;
    eventually(WITHIN, "the model asked about the older note", || async {
        (!model.requests().is_empty()).then_some(())
    })
    .await;
    let newer = flow
        .write_note(
            &doctor,
            &patient_id,
            "Take ibuprofen 400 mg twice daily for 3 days. Book a follow-up visit in 2 weeks.",
        )
        .await;
    let steps_path = format!("/patients/{patient_id}/actionable-steps");
    let steps = eventually(WITHIN, "the newer note's steps", || async {
        let steps = flow.get(&patient, &steps_path).await;
        (steps["note_id"] == newer.as_str()).then_some(steps)
    })
    .await;
    assert_eq!(steps["extractor"], "openai", "{steps}");
    assert_eq!(
        steps["checklist"][0]["title"],
        "Book a follow-up visit in 2 weeks"
    );
    assert_eq!(steps["plan"][0]["title"], "Take ibuprofen 400 mg");

    // The older note's steps arrive now: the note is processed, the plan stays the newer one.
    let older_path = format!("/patients/{patient_id}/notes/{older}");
    eventually(WITHIN, "the older note processed late", || async {
        (flow.get(&doctor, &older_path).await["status"] == "processed").then_some(())
    })
    .await;
    let deadline = std::time::Instant::now() + Duration::from_secs(1);
    while std::time::Instant::now() < deadline {
        let steps = flow.get(&patient, &steps_path).await;
        assert_eq!(steps["note_id"], newer.as_str(), "{steps}");
        let titles: Vec<&Value> = steps["plan"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|step| step["status"] == "active")
            .map(|step| &step["title"])
            .collect();
        assert_eq!(titles, [&json!("Take ibuprofen 400 mg")], "{steps}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let reminders = flow
        .get(
            &patient,
            &format!("/patients/{patient_id}/reminders?status=upcoming"),
        )
        .await;
    assert!(reminders["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|reminder| reminder["title"] == "Take ibuprofen 400 mg"));
    assert_eq!(model.requests().len(), 2, "each note asked once");
    flow.stop_and_clean().await;
    model.stop().await;
}

/// Every value stored under `prefix` in Redis, read by type (not DUMP, whose compression
/// could hide clear text).
async fn redis_values(prefix: &str) -> Vec<u8> {
    fn flatten(value: &redis::Value, out: &mut Vec<u8>) {
        match value {
            redis::Value::BulkString(bytes) => out.extend_from_slice(bytes),
            redis::Value::SimpleString(text) => out.extend_from_slice(text.as_bytes()),
            redis::Value::Array(items) | redis::Value::Set(items) => {
                for item in items {
                    flatten(item, out);
                    out.push(b'\n');
                }
            }
            redis::Value::Map(pairs) => {
                for (key, value) in pairs {
                    flatten(key, out);
                    flatten(value, out);
                    out.push(b'\n');
                }
            }
            other => out.extend_from_slice(format!("{other:?}").as_bytes()),
        }
    }
    let client = redis::Client::open(redis_url()).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(&mut connection)
        .await
        .unwrap();
    assert!(!keys.is_empty(), "the reminder-service stored something");
    let mut out = Vec::new();
    for key in keys {
        let kind: String = redis::cmd("TYPE")
            .arg(&key)
            .query_async(&mut connection)
            .await
            .unwrap();
        let mut read = match kind.as_str() {
            "string" => redis::cmd("GET"),
            "hash" => redis::cmd("HGETALL"),
            "list" => {
                let mut cmd = redis::cmd("LRANGE");
                cmd.arg(&key).arg(0).arg(-1);
                cmd
            }
            "set" => redis::cmd("SMEMBERS"),
            "zset" => {
                let mut cmd = redis::cmd("ZRANGE");
                cmd.arg(&key).arg(0).arg(-1).arg("WITHSCORES");
                cmd
            }
            "stream" => {
                let mut cmd = redis::cmd("XRANGE");
                cmd.arg(&key).arg("-").arg("+");
                cmd
            }
            _ => continue,
        };
        if matches!(kind.as_str(), "string" | "hash" | "set") {
            read.arg(&key);
        }
        let value: redis::Value = read.query_async(&mut connection).await.unwrap();
        out.extend_from_slice(key.as_bytes());
        flatten(&value, &mut out);
    }
    out
}

/// A database's every row, as `pg_dump --data-only` writes it.
fn postgres_rows(url: &str) -> Vec<u8> {
    let dump = std::process::Command::new("pg_dump")
        .args(["--data-only", "--no-owner", url])
        .output()
        .expect("pg_dump runs");
    assert!(
        dump.status.success(),
        "{}",
        String::from_utf8_lossy(&dump.stderr)
    );
    dump.stdout
}

#[tokio::test]
async fn the_words_of_a_note_are_nowhere_in_clear_on_the_broker_in_redis_or_in_postgres() {
    let marker = format!("zebra{}", uuid::Uuid::new_v4().simple());
    let model = FakeModel::start(ProviderKind::OpenAi, Reply::Honest);
    let flow = spawn_flow_with(asking(&model)).await;
    // Sees every message of the flow's exchange.
    let observer =
        hospital_events::QueueSpec::new(format!("{}.observer", flow.redis_prefix), ["#"])
            .auto_delete();
    let broker =
        hospital_events::BrokerConfig::new(amqp_url()).with_exchange(flow.exchange.clone());
    let mut observed = hospital_events::Subscriber::connect(&broker, &observer)
        .await
        .unwrap();

    let (doctor, patient_id, patient) = flow.patient_with_doctor().await;
    let note = flow
        .write_note(
            &doctor,
            &patient_id,
            &format!("Patient mentions {marker} at home. Buy {marker} drops today. Take {marker} 5 mg twice daily for 3 days."),
        )
        .await;
    let steps_path = format!("/patients/{patient_id}/actionable-steps");
    let steps = eventually(WITHIN, "the note's steps", || async {
        let steps = flow.get(&patient, &steps_path).await;
        (steps["note_id"] == note.as_str()).then_some(steps)
    })
    .await;
    // The patient reads it in clear: the marker is in the steps, so a scan can find it.
    assert!(steps.to_string().contains(&marker), "{steps}");
    assert_eq!(steps["extractor"], "openai");
    // The doctor reads the note (an access-log row is written).
    flow.get(&doctor, &format!("/patients/{patient_id}/notes/{note}"))
        .await;

    let hex_marker = marker.bytes().fold(String::new(), |mut hex, byte| {
        use std::fmt::Write as _;
        let _ = write!(hex, "{byte:02x}");
        hex
    });
    let leaks = |place: &str, bytes: &[u8]| {
        let text = String::from_utf8_lossy(bytes).to_lowercase();
        assert!(
            !text.contains(&marker),
            "the note's words in clear in {place}"
        );
        assert!(
            !text.contains(&hex_marker),
            "the note's words hex-encoded in {place}"
        );
    };
    let mut messages = 0;
    while let Some(incoming) = observed
        .next_message(Duration::from_millis(500))
        .await
        .unwrap()
    {
        leaks(incoming.routing_key(), incoming.payload());
        messages += 1;
        incoming.ack().await.unwrap();
    }
    assert!(
        messages >= 4,
        "user.registered ×2, assignment, note.submitted, steps.extracted: {messages}"
    );
    leaks("Redis", &redis_values(&flow.redis_prefix).await);
    leaks("the notes database", &postgres_rows(&flow.dbs.1.url));
    leaks("the auth database", &postgres_rows(&flow.dbs.0.url));
    observed.delete_queue().await.unwrap();
    flow.stop_and_clean().await;
    model.stop().await;
}

#[tokio::test]
async fn a_note_the_llm_worker_cannot_open_becomes_failed_and_is_parked() {
    // The worker holds other keys than the notes-service (a rotation gone wrong).
    let other_keys = format!(
        "k9:{}",
        hospital_crypto::Keyring::generate_key().unwrap().as_str()
    );
    let flow = spawn_flow_with(|worker| worker.crypto.keys = other_keys).await;
    let (doctor, patient_id, patient) = flow.patient_with_doctor().await;
    let note = flow
        .write_note(
            &doctor,
            &patient_id,
            "Take amoxicillin 500 mg three times a day for 7 days.",
        )
        .await;
    let note_path = format!("/patients/{patient_id}/notes/{note}");
    let failed = eventually(WITHIN, "the note failed", || async {
        let note = flow.get(&doctor, &note_path).await;
        (note["status"] == "failed").then_some(note)
    })
    .await;
    assert_eq!(failed["failure_code"], "note_unreadable", "{failed}");
    assert!(
        failed["failure_reason"].as_str().unwrap().len() > 20,
        "{failed}"
    );
    // The patient has no steps from it.
    let steps = flow
        .get(
            &patient,
            &format!("/patients/{patient_id}/actionable-steps"),
        )
        .await;
    assert_ne!(steps["note_id"], note.as_str(), "{steps}");

    // The message waits for an operator in the llm-worker's dead-letter queue.
    let worker_queue = flow
        .queues
        .iter()
        .find(|config| config.queue.name.contains(".llm."))
        .unwrap();
    let dead = worker_queue.dead_queue();
    let connection =
        lapin::Connection::connect(&amqp_url(), lapin::ConnectionProperties::default())
            .await
            .unwrap();
    let channel = connection.create_channel().await.unwrap();
    eventually(WITHIN, "the note.submitted parked", || async {
        let queue = channel
            .queue_declare(
                dead.as_str().into(),
                lapin::options::QueueDeclareOptions {
                    passive: true,
                    ..lapin::options::QueueDeclareOptions::default()
                },
                lapin::types::FieldTable::default(),
            )
            .await
            .unwrap();
        (queue.message_count() == 1).then_some(())
    })
    .await;
    let _ = connection.close(200, "done".into()).await;
    flow.stop_and_clean().await;
}
