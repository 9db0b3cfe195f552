//! Under faults, on the real stores and broker: the broker gone during submissions, and the
//! service killed with SIGKILL between writing notes and publishing them. Every accepted
//! note is announced, under one event id each; the note's words reach no log.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use hospital_events::{Envelope, NoteSubmitted};
use hospital_notes_service::Settings;
use hospital_test_support::amqp::{amqp_url_via, broker_gate};
use hospital_test_support::{eventually, TestDatabase};
use reqwest::StatusCode;
use uuid::Uuid;

use crate::helpers::{spawn_app_with, test_settings, TestApp, User};

/// Words of the notes these tests write; none may appear in a log line.
const WORDS: [&str; 3] = ["Quetiapine", "hallucinations", "Ondansetron"];

fn note_text(i: usize) -> String {
    format!("Note {i}: persistent hallucinations. Start Quetiapine 25 mg at night; Ondansetron 4 mg as needed.")
}

/// Every `note.submitted` published so far, as note id → the distinct event ids.
async fn announced(app: &TestApp, seen: &mut BTreeMap<Uuid, BTreeSet<Uuid>>) {
    for (key, body) in app.published.drain().await {
        if key == "note.submitted.v1" {
            let event: Envelope<NoteSubmitted> = Envelope::from_bytes(&body).unwrap();
            seen.entry(event.data.note_id).or_default().insert(event.id);
        }
    }
}

/// Waits until every note in `notes` was announced, then a little longer for stragglers;
/// asserts one event id per note and nothing for any other note.
async fn assert_each_announced_once(app: &TestApp, notes: &BTreeSet<Uuid>) {
    let mut seen = BTreeMap::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        announced(app, &mut seen).await;
        if notes.iter().all(|n| seen.contains_key(n)) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{} of {} notes announced within 30 s",
            seen.len(),
            notes.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    announced(app, &mut seen).await;
    let keys: BTreeSet<Uuid> = seen.keys().copied().collect();
    assert_eq!(&keys, notes, "exactly the accepted notes were announced");
    for (note, ids) in &seen {
        assert_eq!(
            ids.len(),
            1,
            "note {note} was announced under {} event ids",
            ids.len()
        );
    }
}

#[tokio::test]
async fn notes_accepted_while_the_broker_is_gone_are_announced_once_when_it_returns() {
    let gate = broker_gate().expect("a gate in front of the broker");
    gate.open().await.expect("the gate opens");
    let db = TestDatabase::create("notes_outage")
        .await
        .expect("a test database");
    let mut settings = test_settings(&db);
    settings.events.amqp_url = amqp_url_via(gate.port());
    let app = spawn_app_with(settings, db).await;
    let (patient, doctor) = app.patient_and_doctor().await;

    let mut notes = BTreeSet::new();
    for i in 0..5 {
        notes.insert(app.accepted_note(&doctor, patient.id, &note_text(i)).await);
    }
    // The broker goes away in the middle of the submissions; the API keeps accepting.
    gate.close().await;
    for i in 5..15 {
        notes.insert(app.accepted_note(&doctor, patient.id, &note_text(i)).await);
    }
    let health = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::SERVICE_UNAVAILABLE);
    gate.open().await.expect("the gate opens");
    assert_each_announced_once(&app, &notes).await;
    app.stop_and_clean().await;
}

/// The notes-service binary, run as its own process, logging to `log`.
struct NotesProcess {
    child: Option<Child>,
    url: String,
}

impl NotesProcess {
    fn spawn(settings: &Settings, log: &PathBuf) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .port();
        let out = std::fs::File::options()
            .create(true)
            .append(true)
            .open(log)
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_notes-service"))
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            // Everything the service logs at info and above, to scan it.
            .env("RUST_LOG", "info")
            .env("NOTES__HTTP__PORT", port.to_string())
            .env("NOTES__HTTP__WORKERS", "1")
            .env("NOTES__DATABASE__URL", &settings.database.url)
            .env("NOTES__DATABASE__POOL_SIZE", "2")
            .env("NOTES__EVENTS__AMQP_URL", &settings.events.amqp_url)
            .env("NOTES__EVENTS__EXCHANGE", &settings.events.exchange)
            .env("NOTES__EVENTS__QUEUE_PREFIX", &settings.events.queue_prefix)
            .env("NOTES__AUTH__URL", &settings.auth.url)
            .env("NOTES__AUTH__JWKS_URL", &settings.auth.jwks_url)
            .env("NOTES__CRYPTO__KEYS", &settings.crypto.keys)
            .stdout(Stdio::from(out.try_clone().unwrap()))
            .stderr(Stdio::from(out))
            .spawn()
            .unwrap();
        Self {
            child: Some(child),
            url: format!("http://127.0.0.1:{port}"),
        }
    }

    async fn wait_alive(&self, http: &reqwest::Client) {
        eventually(
            Duration::from_secs(20),
            "the process answers /healthz",
            || async {
                http.get(format!("{}/healthz", self.url))
                    .send()
                    .await
                    .ok()
                    .filter(|r| r.status() == StatusCode::OK)
                    .map(drop)
            },
        )
        .await;
    }

    /// SIGKILL: no shutdown, no flush.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for NotesProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

async fn submit(
    http: &reqwest::Client,
    url: &str,
    doctor: &User,
    patient: Uuid,
    text: &str,
) -> Uuid {
    let response = http
        .post(format!("{url}/patients/{patient}/notes"))
        .bearer_auth(&doctor.token)
        .json(&serde_json::json!({"text": text}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let body: serde_json::Value = response.json().await.unwrap();
    body["id"].as_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn killed_between_writing_notes_and_publishing_them_the_service_announces_each_once_after_restart(
) {
    let app = crate::helpers::spawn_app().await;
    let (patient, doctor) = app.patient_and_doctor().await;
    let log = std::env::temp_dir().join(format!("notes-kill-{}.log", Uuid::now_v7()));

    // A process of its own whose broker is unreachable: notes are written, never published.
    let gate = broker_gate().expect("a gate in front of the broker");
    let mut unpublished = app.settings.clone();
    unpublished.events.amqp_url = amqp_url_via(gate.port());
    let mut first = NotesProcess::spawn(&unpublished, &log);
    first.wait_alive(&app.http).await;
    let mut notes = BTreeSet::new();
    for i in 0..8 {
        notes.insert(submit(&app.http, &first.url, &doctor, patient.id, &note_text(i)).await);
    }
    first.kill();

    // Restarted with the broker back: what was written and not published goes out.
    let second = NotesProcess::spawn(&app.settings, &log);
    second.wait_alive(&app.http).await;
    assert_each_announced_once(&app, &notes).await;
    // A note written after the restart goes out too, and the log never saw a word.
    let after = submit(&app.http, &second.url, &doctor, patient.id, &note_text(99)).await;
    let one_more = BTreeSet::from([after]);
    assert_each_announced_once(&app, &one_more).await;
    drop(second);
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(logged.contains("note accepted"), "the log was captured");
    for word in WORDS {
        assert!(!logged.contains(word), "{word} in the service's log");
    }
    let _ = std::fs::remove_file(&log);
    app.stop_and_clean().await;
}
