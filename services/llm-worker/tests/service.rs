//! The llm-worker as a service, on the real RabbitMQ: `note.submitted` in, `steps.extracted`
//! (sealed) or `extraction.failed` out, each under an id a redelivery repeats; with a model
//! provider (a local server speaking its wire format), and with one that answers garbage.

// Test helpers may fail loudly: a panic is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod fake_model;

use std::time::Duration;

use fake_model::{FakeModel, Reply};
use hospital_crypto::Keyring;
use hospital_events::contracts::{
    note_text_binding, step_title_binding, ExtractionFailure, Extractor,
};
use hospital_events::{
    declare_exchange, declare_queue, BrokerConfig, Envelope, EventConsumer, ExtractionFailed,
    Message, NoteSubmitted, Publisher, QueueSpec, StepsExtracted,
};
use hospital_llm_worker::provider::ProviderKind;
use hospital_llm_worker::startup::consumer_config;
use hospital_llm_worker::{Application, Settings};
use hospital_test_support::{amqp_url, unique_name};
use lapin::options::{BasicGetOptions, ExchangeDeleteOptions, QueueDeleteOptions};
use lapin::{Connection, ConnectionProperties};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

const NOTE: &str =
    "Buy amoxicillin 500 mg capsules today. Take one capsule three times a day for 7 days.";

struct Worker {
    settings: Settings,
    port: u16,
    keyring: Keyring,
    publisher: Publisher,
    observer: String,
    shutdown: CancellationToken,
}

async fn spawn_worker() -> Worker {
    spawn_worker_with(|_| {}).await
}

async fn spawn_worker_with(configure: impl FnOnce(&mut Settings)) -> Worker {
    let id = unique_name("llm");
    let mut settings = Settings::default();
    settings.http.port = 0;
    settings.http.shutdown_timeout_secs = 1;
    settings.events.amqp_url = amqp_url();
    settings.events.exchange = format!("test.{id}");
    settings.events.queue_prefix = format!("test.{id}");
    settings.crypto.keys = format!("k1:{}", Keyring::generate_key().unwrap().as_str());
    EventConsumer::new(consumer_config(&settings), |_: Message| async { Ok(()) })
        .declare_topology()
        .await
        .unwrap();
    let observer = format!("test.{id}.observer");
    let connection = Connection::connect(&amqp_url(), ConnectionProperties::default())
        .await
        .unwrap();
    let channel = connection.create_channel().await.unwrap();
    declare_exchange(&channel, &settings.events.exchange)
        .await
        .unwrap();
    declare_queue(
        &channel,
        &settings.events.exchange,
        &QueueSpec::new(observer.clone(), ["steps.#", "extraction.#"]),
    )
    .await
    .unwrap();
    let _ = connection.close(200, "done".into()).await;

    // After the topology is declared on the real broker (a test may route the worker
    // through a gate that is still closed).
    configure(&mut settings);
    let app = Application::build(settings.clone()).await.unwrap();
    let port = app.port();
    let shutdown = app.shutdown_token();
    tokio::spawn(app.run_until_stopped());
    Worker {
        keyring: Keyring::from_spec(&settings.crypto.keys).unwrap(),
        publisher: Publisher::new(
            BrokerConfig::new(amqp_url()).with_exchange(settings.events.exchange.clone()),
        ),
        settings,
        port,
        observer,
        shutdown,
    }
}

impl Worker {
    fn submitted(&self, text: &str, bound_to: Option<Uuid>) -> Envelope<NoteSubmitted> {
        let (note_id, patient_id, doctor_id) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let sealed_for = bound_to.unwrap_or(note_id);
        let text = self
            .keyring
            .seal_str(text, &note_text_binding(sealed_for, patient_id, doctor_id))
            .unwrap();
        Envelope::new(NoteSubmitted {
            note_id,
            patient_id,
            doctor_id,
            created_at: chrono::Utc::now(),
            text,
        })
    }

    /// Waits for `count` messages on the observer queue: (routing key, body).
    async fn receive(&self, count: usize) -> Vec<(String, Vec<u8>)> {
        let connection = Connection::connect(&amqp_url(), ConnectionProperties::default())
            .await
            .unwrap();
        let channel = connection.create_channel().await.unwrap();
        let mut received = Vec::new();
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        while received.len() < count {
            assert!(
                std::time::Instant::now() < deadline,
                "got {} of {count}",
                received.len()
            );
            match channel
                .basic_get(
                    self.observer.as_str().into(),
                    BasicGetOptions { no_ack: true },
                )
                .await
                .unwrap()
            {
                Some(message) => received.push((
                    message.delivery.routing_key.to_string(),
                    message.delivery.data.clone(),
                )),
                None => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
        let _ = connection.close(200, "done".into()).await;
        received
    }

    async fn stop_and_clean(self) {
        self.shutdown.cancel();
        self.publisher.close().await;
        let _ = EventConsumer::new(consumer_config(&self.settings), |_: Message| async {
            Ok(())
        })
        .delete_topology()
        .await;
        let connection = Connection::connect(&amqp_url(), ConnectionProperties::default())
            .await
            .unwrap();
        let channel = connection.create_channel().await.unwrap();
        let _ = channel
            .queue_delete(self.observer.as_str().into(), QueueDeleteOptions::default())
            .await;
        let _ = channel
            .exchange_delete(
                self.settings.events.exchange.as_str().into(),
                ExchangeDeleteOptions::default(),
            )
            .await;
        let _ = connection.close(200, "done".into()).await;
    }
}

#[tokio::test]
async fn a_submitted_note_becomes_sealed_steps_and_a_redelivery_repeats_the_event_id() {
    let worker = spawn_worker().await;
    let submitted = worker.submitted(NOTE, None);
    worker.publisher.publish_event(&submitted).await.unwrap();
    let first = worker.receive(1).await;
    assert_eq!(first[0].0, "steps.extracted.v1");
    let body = String::from_utf8_lossy(&first[0].1).into_owned();
    assert!(!body.contains("amoxicillin"), "the steps travel sealed");
    let steps: Envelope<StepsExtracted> = Envelope::from_bytes(&first[0].1).unwrap();
    assert_eq!(steps.data.note_id, submitted.data.note_id);
    assert_eq!(steps.data.note_created_at, submitted.data.created_at);
    assert_eq!((steps.data.checklist.len(), steps.data.plan.len()), (1, 1));
    let plan = &steps.data.plan[0];
    let title = worker
        .keyring
        .open_str(
            &plan.title,
            &step_title_binding(plan.step_id, submitted.data.patient_id),
        )
        .unwrap();
    assert_eq!(title.as_str(), "Take amoxicillin 500 mg");
    assert_eq!(steps.id.get_version_num(), 7);

    // The same message again (a redelivery after a crash): the same event id.
    worker.publisher.publish_event(&submitted).await.unwrap();
    let again = worker.receive(1).await;
    let repeated: Envelope<StepsExtracted> = Envelope::from_bytes(&again[0].1).unwrap();
    assert_eq!(repeated.id, steps.id);
    worker.stop_and_clean().await;
}

#[tokio::test]
async fn an_unreadable_note_fails_and_is_parked_for_an_operator() {
    let worker = spawn_worker().await;
    // Sealed for another note: the binding does not match, the envelope does not open.
    let moved = worker.submitted(NOTE, Some(Uuid::now_v7()));
    worker.publisher.publish_event(&moved).await.unwrap();
    let out = worker.receive(1).await;
    assert_eq!(out[0].0, "extraction.failed.v1");
    let failed: Envelope<ExtractionFailed> = Envelope::from_bytes(&out[0].1).unwrap();
    assert_eq!(failed.data.note_id, moved.data.note_id);
    assert_eq!(failed.data.reason, ExtractionFailure::NoteUnreadable);

    let dead = consumer_config(&worker.settings).dead_queue();
    let connection = Connection::connect(&amqp_url(), ConnectionProperties::default())
        .await
        .unwrap();
    let channel = connection.create_channel().await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let parked = channel
            .basic_get(dead.as_str().into(), BasicGetOptions { no_ack: true })
            .await
            .unwrap();
        if let Some(parked) = parked {
            // With the reason an operator reads, and no word of the note.
            let headers = parked.properties.headers().clone().unwrap_or_default();
            let header = |name: &str| {
                headers
                    .inner()
                    .get(name)
                    .map(|value| match value {
                        lapin::types::AMQPValue::LongString(text) => {
                            String::from_utf8_lossy(text.as_bytes()).into_owned()
                        }
                        other => format!("{other:?}"),
                    })
                    .unwrap_or_default()
            };
            assert!(header("x-death-reason").contains("poison"), "{headers:?}");
            assert!(
                header("x-hospital-error").contains("envelope did not open"),
                "{headers:?}"
            );
            assert!(!String::from_utf8_lossy(&parked.data).contains("amoxicillin"));
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "nothing parked in {dead}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = connection.close(200, "done".into()).await;
    worker.stop_and_clean().await;
}

#[tokio::test]
async fn a_model_providers_steps_are_published_as_its_own_and_garbage_forever_falls_back_offline() {
    for (reply, extractor, fallback) in [
        (Reply::Honest, Extractor::Openai, false),
        (
            Reply::Answer("```\nI'd rather not.\n```".into()),
            Extractor::Offline,
            true,
        ),
    ] {
        let model = FakeModel::start(ProviderKind::OpenAi, reply);
        let worker = spawn_worker_with(|settings| {
            settings.extraction.provider = "openai".into();
            settings.extraction.base_url = model.base_url();
        })
        .await;
        let submitted = worker.submitted(NOTE, None);
        worker.publisher.publish_event(&submitted).await.unwrap();
        let out = worker.receive(1).await;
        assert_eq!(out[0].0, "steps.extracted.v1");
        let body = String::from_utf8_lossy(&out[0].1).into_owned();
        assert!(!body.contains("amoxicillin"), "the steps travel sealed");
        let steps: Envelope<StepsExtracted> = Envelope::from_bytes(&out[0].1).unwrap();
        assert_eq!(steps.data.note_id, submitted.data.note_id);
        assert_eq!(
            (steps.data.extractor, steps.data.fallback),
            (extractor, fallback)
        );
        assert_eq!((steps.data.checklist.len(), steps.data.plan.len()), (1, 1));
        // The model saw the note; a garbage answer was asked again once.
        let requests = model.requests();
        assert_eq!(requests.len(), if fallback { 2 } else { 1 });
        assert_eq!(
            fake_model::note_of(ProviderKind::OpenAi, &requests[0].body).as_deref(),
            Some(NOTE)
        );
        let metrics = reqwest::get(format!("http://127.0.0.1:{}/metrics", worker.port))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let counted = format!(
            "hospital_llm_extractions_total{{service=\"llm-worker\",extractor=\"{}\",fallback=\"{fallback}\"}} 1",
            if fallback { "offline" } else { "openai" }
        );
        assert!(metrics.contains(&counted), "{counted} in {metrics}");
        worker.stop_and_clean().await;
        model.stop().await;
    }
}

#[tokio::test]
async fn it_is_ready_only_while_subscribed_to_its_queue() {
    let gate = hospital_test_support::amqp::broker_gate().expect("a gate in front of the broker");
    let worker = spawn_worker_with(|settings| {
        settings.events.amqp_url = hospital_test_support::amqp::amqp_url_via(gate.port());
    })
    .await;
    let readyz = format!("http://127.0.0.1:{}/readyz", worker.port);
    let ready = || async {
        let response = reqwest::get(&readyz).await.unwrap();
        let status = response.status().as_u16();
        let body: serde_json::Value = response.json().await.unwrap();
        (status, body["checks"]["consumer"].clone())
    };
    // The broker is behind a closed gate: not subscribed, not ready.
    assert_eq!(ready().await, (503, serde_json::json!("unavailable")));
    gate.open().await.expect("the gate opens");
    hospital_test_support::eventually(Duration::from_secs(10), "ready", || async {
        (ready().await == (200, serde_json::json!("ok"))).then_some(())
    })
    .await;
    // The broker goes away: not ready until the consumer has subscribed again.
    gate.close().await;
    hospital_test_support::eventually(Duration::from_secs(10), "unready", || async {
        (ready().await.1 == serde_json::json!("unavailable")).then_some(())
    })
    .await;
    gate.open().await.expect("the gate opens");
    hospital_test_support::eventually(Duration::from_secs(15), "ready again", || async {
        (ready().await == (200, serde_json::json!("ok"))).then_some(())
    })
    .await;
    worker.stop_and_clean().await;
    gate.close().await;
}
