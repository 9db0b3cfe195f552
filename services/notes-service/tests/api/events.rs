//! What goes out (`note.submitted`, sealed, once) and what comes in (steps, failures,
//! poison), and a scan for the note's words on the broker and in the database.

use diesel::sql_types::Text;
use diesel::QueryableByName;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use hospital_events::contracts::{note_text_binding, ExtractionFailure, Extractor};
use hospital_events::{Envelope, ExtractionFailed, NoteSubmitted, Publisher, StepsExtracted};
use hospital_notes_service::startup::consumer_configs;
use hospital_test_support::eventually;
use reqwest::StatusCode;
use serde_json::Value;
use uuid::Uuid;

use crate::helpers::{spawn_app, TestApp, User, WITHIN};

/// Words no operator may see: each is checked on the broker and in every table.
const SECRET_WORDS: &[&str] = &["Zyloprim", "gout", "allopurinol", "kidney"];
const NOTE: &str = "History of gout with kidney stones. Start Zyloprim (allopurinol) 100 mg once daily for 30 days.";

async fn note_status(app: &TestApp, reader: &User, patient_id: Uuid, note: Uuid) -> Value {
    app.json_as(reader, &format!("/patients/{patient_id}/notes/{note}"))
        .await
}

async fn submitted_events(app: &TestApp) -> Vec<(Envelope<NoteSubmitted>, Vec<u8>)> {
    app.published
        .drain()
        .await
        .into_iter()
        .filter(|(key, _)| key == "note.submitted.v1")
        .map(|(_, body)| (Envelope::from_bytes(&body).unwrap(), body))
        .collect()
}

#[tokio::test]
async fn each_note_is_announced_once_sealed_and_its_status_follows_extraction() {
    let app = spawn_app().await;
    let (patient, doctor) = app.patient_and_doctor().await;
    let processed = app.accepted_note(&doctor, patient.id, NOTE).await;
    let failed = app
        .accepted_note(&doctor, patient.id, "Continue the current plan.")
        .await;

    let events = eventually(WITHIN, "two note.submitted events", || async {
        let events = submitted_events(&app).await;
        (!events.is_empty()).then_some(events)
    })
    .await;
    let mut events = events;
    if events.len() < 2 {
        let more = eventually(WITHIN, "the second event", || async {
            let more = submitted_events(&app).await;
            (!more.is_empty()).then_some(more)
        })
        .await;
        events.extend(more);
    }
    assert_eq!(events.len(), 2, "one event per note");
    let (event, body) = events
        .iter()
        .find(|(e, _)| e.data.note_id == processed)
        .unwrap();
    assert_eq!(event.data.patient_id, patient.id);
    assert_eq!(event.data.doctor_id, doctor.id);
    let body = String::from_utf8_lossy(body);
    for word in SECRET_WORDS {
        assert!(!body.contains(word), "{word} in clear on the broker");
    }
    let opened = app
        .keyring
        .open_str(
            &event.data.text,
            &note_text_binding(processed, patient.id, doctor.id),
        )
        .unwrap();
    assert_eq!(opened.as_str(), NOTE);

    // Steps arrive: processed. A failure arrives: failed, with a reason the doctor reads.
    let created_at = event.data.created_at;
    app.publish(StepsExtracted {
        note_id: processed,
        patient_id: patient.id,
        note_created_at: created_at,
        extractor: Extractor::Offline,
        fallback: false,
        checklist: vec![],
        plan: vec![],
    })
    .await;
    app.publish(ExtractionFailed {
        note_id: failed,
        patient_id: patient.id,
        reason: ExtractionFailure::ProviderUnavailable,
    })
    .await;
    eventually(WITHIN, "the note processed", || async {
        (note_status(&app, &patient, patient.id, processed).await["status"] == "processed")
            .then_some(())
    })
    .await;
    let failed_note = eventually(WITHIN, "the note failed", || async {
        let note = note_status(&app, &doctor, patient.id, failed).await;
        (note["status"] == "failed").then_some(note)
    })
    .await;
    assert_eq!(failed_note["failure_code"], "provider_unavailable");
    assert!(failed_note["failure_reason"].as_str().unwrap().len() > 20);

    // A late failure does not undo processed steps; a duplicate changes nothing.
    app.publish(ExtractionFailed {
        note_id: processed,
        patient_id: patient.id,
        reason: ExtractionFailure::InvalidOutput,
    })
    .await;
    let marker = app.accepted_note(&doctor, patient.id, "Drink water.").await;
    app.publish(StepsExtracted {
        note_id: marker,
        patient_id: patient.id,
        note_created_at: created_at,
        extractor: Extractor::Offline,
        fallback: false,
        checklist: vec![],
        plan: vec![],
    })
    .await;
    eventually(WITHIN, "the marker processed", || async {
        (note_status(&app, &patient, patient.id, marker).await["status"] == "processed")
            .then_some(())
    })
    .await;
    assert_eq!(
        note_status(&app, &patient, patient.id, processed).await["status"],
        "processed"
    );

    scan_database_for(&app, SECRET_WORDS).await;
    app.stop_and_clean().await;
}

#[tokio::test]
async fn a_poison_event_is_parked_in_the_dead_letter_queue_and_changes_nothing() {
    let app = spawn_app().await;
    let (patient, doctor) = app.patient_and_doctor().await;
    let note = app.accepted_note(&doctor, patient.id, NOTE).await;
    // Steps for a note of another patient, and for a note that does not exist.
    for (note_id, patient_id) in [(note, Uuid::now_v7()), (Uuid::now_v7(), patient.id)] {
        app.publish(StepsExtracted {
            note_id,
            patient_id,
            note_created_at: chrono::Utc::now(),
            extractor: Extractor::Offline,
            fallback: false,
            checklist: vec![],
            plan: vec![],
        })
        .await;
    }
    // And a message that is not JSON at all.
    let raw = Publisher::new(
        hospital_events::BrokerConfig::new(hospital_test_support::amqp_url())
            .with_exchange(app.settings.events.exchange.clone()),
    );
    raw.publish(
        "steps.extracted.v1",
        &Uuid::now_v7().to_string(),
        b"not json",
    )
    .await
    .unwrap();
    raw.close().await;

    let dead = consumer_configs(&app.settings)
        .into_iter()
        .find(|c| c.queue.name.ends_with("steps.extracted"))
        .unwrap()
        .dead_queue();
    let parked = eventually(WITHIN, "three parked messages", || async {
        let count = queue_depth(&dead).await;
        (count >= 3).then_some(count)
    })
    .await;
    assert_eq!(parked, 3);
    let one = app
        .json_as(&patient, &format!("/patients/{}/notes/{note}", patient.id))
        .await;
    assert_eq!(one["status"], "processing");
    assert_eq!(
        app.get_as(&patient, &format!("/patients/{}/notes/{note}", patient.id))
            .await
            .status(),
        StatusCode::OK
    );
    app.stop_and_clean().await;
}

async fn queue_depth(queue: &str) -> u32 {
    let connection = lapin::Connection::connect(
        &hospital_test_support::amqp_url(),
        lapin::ConnectionProperties::default(),
    )
    .await
    .unwrap();
    let channel = connection.create_channel().await.unwrap();
    let declared = channel
        .queue_declare(
            queue.into(),
            lapin::options::QueueDeclareOptions {
                passive: true,
                ..Default::default()
            },
            lapin::types::FieldTable::default(),
        )
        .await
        .unwrap();
    let _ = connection.close(200, "done".into()).await;
    declared.message_count()
}

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = Text)]
    row: String,
}

/// Every row of every table of the service's database, as text: none holds the words.
pub async fn scan_database_for(app: &TestApp, words: &[&str]) {
    let mut conn = AsyncPgConnection::establish(&app.settings.database.url)
        .await
        .unwrap();
    let mut seen = 0;
    for table in ["notes", "outbox", "access_log", "idempotency_keys", "users"] {
        let rows: Vec<Row> = diesel::sql_query(format!("SELECT t::text AS row FROM {table} t"))
            .load(&mut conn)
            .await
            .unwrap();
        for row in rows {
            seen += 1;
            for word in words {
                assert!(!row.row.contains(word), "{word} in clear in {table}");
            }
        }
    }
    assert!(seen > 0, "the scan read something");
}

#[tokio::test]
async fn the_llm_worker_turns_a_submitted_note_into_steps_and_the_note_becomes_processed() {
    let app = spawn_app().await;
    // The real llm-worker on the test's exchange, with the same content keys.
    let mut worker = hospital_llm_worker::Settings::default();
    worker.http.port = 0;
    worker.http.shutdown_timeout_secs = 1;
    worker.events.amqp_url = hospital_test_support::amqp_url();
    worker
        .events
        .exchange
        .clone_from(&app.settings.events.exchange);
    worker.events.queue_prefix = format!("{}.llm", app.settings.events.queue_prefix);
    worker.crypto.keys.clone_from(&app.settings.crypto.keys);
    let worker_topology = hospital_llm_worker::startup::consumer_config(&worker);
    // Its queue exists before the first note is published, as in a deployment.
    hospital_events::EventConsumer::new(
        worker_topology.clone(),
        |_: hospital_events::Message| async { Ok(()) },
    )
    .declare_topology()
    .await
    .unwrap();
    let worker = hospital_llm_worker::Application::build(worker)
        .await
        .unwrap();
    let worker_shutdown = worker.shutdown_token();
    tokio::spawn(worker.run_until_stopped());

    let (patient, doctor) = app.patient_and_doctor().await;
    let note = app.accepted_note(&doctor, patient.id, NOTE).await;
    eventually(WITHIN, "the note processed by the llm-worker", || async {
        let status = note_status(&app, &patient, patient.id, note).await;
        (status["status"] == "processed").then_some(())
    })
    .await;
    let one = note_status(&app, &doctor, patient.id, note).await;
    assert_eq!(one["status"], "processed");
    assert!(one.get("failure_reason").is_none());

    worker_shutdown.cancel();
    let _ =
        hospital_events::EventConsumer::new(worker_topology, |_: hospital_events::Message| async {
            Ok(())
        })
        .delete_topology()
        .await;
    app.stop_and_clean().await;
}
