//! One test's stage on the real RabbitMQ: its own exchange and queue prefix, the worker's
//! queues declared before any note is published, a queue that records everything the
//! worker publishes, notes sealed with a test keyring and carrying a marker word.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hospital_crypto::Keyring;
use hospital_events::contracts::{note_text_binding, step_title_binding};
use hospital_events::{
    BrokerConfig, Envelope, EventConsumer, ExtractionFailed, Message, NoteSubmitted, Outgoing,
    Publisher, QueueSpec, StepsExtracted, Subscriber,
};
use hospital_llm_worker::startup::consumer_config;
use hospital_llm_worker::Settings;
use hospital_test_support::{amqp_url, unique_name};
use lapin::options::{BasicGetOptions, ExchangeDeleteOptions, QueueDeleteOptions};
use lapin::{Connection, ConnectionProperties};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// A message the worker published, as the recording queue got it.
#[derive(Debug, Clone)]
pub struct Published {
    pub routing_key: String,
    pub body: Vec<u8>,
}

pub struct Stage {
    pub exchange: String,
    pub queue_prefix: String,
    /// `LLM__CRYPTO__KEYS`.
    pub keys: String,
    pub keyring: Keyring,
    /// In every note; must never show in a log or a message body.
    pub marker: String,
    publisher: Publisher,
    recorded: Arc<Mutex<Vec<Published>>>,
    recorder_stop: CancellationToken,
    recorder: JoinHandle<Subscriber>,
}

impl Stage {
    pub async fn new() -> Self {
        let id = unique_name("llmfaults");
        let exchange = format!("test.{id}");
        let queue_prefix = format!("test.{id}");
        let keys = format!("k1:{}", Keyring::generate_key().unwrap().as_str());
        let keyring = Keyring::from_spec(&keys).unwrap();
        let marker = format!("zebra{}", &Uuid::new_v4().simple().to_string()[..12]);
        let stage_settings = {
            let mut settings = Settings::default();
            settings.events.amqp_url = amqp_url();
            settings.events.exchange.clone_from(&exchange);
            settings.events.queue_prefix.clone_from(&queue_prefix);
            settings
        };
        // The worker's queue exists before the first note is published, so none is lost
        // while no worker runs.
        EventConsumer::new(consumer_config(&stage_settings), |_: Message| async {
            Ok(())
        })
        .declare_topology()
        .await
        .unwrap();
        let broker = BrokerConfig::new(amqp_url()).with_exchange(exchange.clone());
        let subscriber = Subscriber::connect(
            &broker,
            &QueueSpec::new(
                format!("{queue_prefix}.recorder"),
                ["steps.#", "extraction.#"],
            )
            .with_prefetch(500),
        )
        .await
        .unwrap();
        let recorded = Arc::new(Mutex::new(Vec::new()));
        let recorder_stop = CancellationToken::new();
        let recorder = tokio::spawn(record(
            subscriber,
            Arc::clone(&recorded),
            recorder_stop.clone(),
        ));
        Self {
            exchange,
            queue_prefix,
            keys,
            keyring,
            marker,
            publisher: Publisher::new(broker),
            recorded,
            recorder_stop,
            recorder,
        }
    }

    /// Settings of an in-process worker on this stage, offline, on a free port.
    pub fn settings(&self) -> Settings {
        let mut settings = Settings::default();
        settings.http.port = 0;
        settings.http.workers = 1;
        settings.http.shutdown_timeout_secs = 1;
        settings.events.amqp_url = amqp_url();
        settings.events.exchange.clone_from(&self.exchange);
        settings.events.queue_prefix.clone_from(&self.queue_prefix);
        settings.crypto.keys.clone_from(&self.keys);
        settings
    }

    /// The `i`th note's text: a plan step and a checklist item, both naming the marker.
    pub fn note_text(&self, i: usize) -> String {
        let marker = &self.marker;
        format!(
            "Seen today for follow-up number {i}. Take {marker} {dose} mg twice daily for 5 days. \
             Buy {marker} tablets today.",
            dose = 10 + i
        )
    }

    /// `count` notes, sealed as the notes-service seals them.
    pub fn notes(&self, count: usize) -> Vec<Envelope<NoteSubmitted>> {
        (0..count)
            .map(|i| {
                let (note_id, patient_id, doctor_id) =
                    (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
                let text = self
                    .keyring
                    .seal_str(
                        &self.note_text(i),
                        &note_text_binding(note_id, patient_id, doctor_id),
                    )
                    .unwrap();
                Envelope::new(NoteSubmitted {
                    note_id,
                    patient_id,
                    doctor_id,
                    created_at: chrono::Utc::now(),
                    text,
                })
            })
            .collect()
    }

    /// Publishes the notes to the real broker in one confirmed batch.
    pub async fn publish(&self, notes: &[Envelope<NoteSubmitted>]) {
        let bodies: Vec<(String, Vec<u8>)> = notes
            .iter()
            .map(|note| (note.id.to_string(), note.to_bytes().unwrap()))
            .collect();
        let outgoing: Vec<Outgoing<'_>> = bodies
            .iter()
            .map(|(id, body)| Outgoing {
                routing_key: "note.submitted.v1",
                message_id: id,
                payload: body,
            })
            .collect();
        let (confirmed, failure) = self.publisher.publish_in_order(&outgoing).await;
        assert!(failure.is_none(), "publishing the notes: {failure:?}");
        assert_eq!(confirmed, notes.len());
    }

    /// Everything the worker published so far.
    pub fn published(&self) -> Vec<Published> {
        self.recorded.lock().unwrap().clone()
    }

    /// `steps.extracted` so far, as note id → the distinct event ids and how many came.
    pub fn steps_by_note(&self) -> BTreeMap<Uuid, StepsOfNote> {
        let mut by_note: BTreeMap<Uuid, StepsOfNote> = BTreeMap::new();
        for message in self.published() {
            if message.routing_key != "steps.extracted.v1" {
                continue;
            }
            let steps: Envelope<StepsExtracted> = Envelope::from_bytes(&message.body).unwrap();
            let entry = by_note.entry(steps.data.note_id).or_default();
            entry.ids.insert(steps.id);
            entry.deliveries += 1;
            entry.events.push(steps);
        }
        by_note
    }

    /// `extraction.failed` so far, as note ids.
    pub fn failed_notes(&self) -> Vec<Uuid> {
        self.published()
            .iter()
            .filter(|message| message.routing_key == "extraction.failed.v1")
            .map(|message| {
                Envelope::<ExtractionFailed>::from_bytes(&message.body)
                    .unwrap()
                    .data
                    .note_id
            })
            .collect()
    }

    /// Waits until every note has its steps, then `settle` longer for stragglers
    /// (redeliveries, a second publish); asserts one event id a note, steps for these notes
    /// only and no failure.
    pub async fn assert_each_extracted_once(
        &self,
        notes: &[Envelope<NoteSubmitted>],
        within: Duration,
        settle: Duration,
    ) -> BTreeMap<Uuid, StepsOfNote> {
        let wanted: BTreeSet<Uuid> = notes.iter().map(|note| note.data.note_id).collect();
        let deadline = std::time::Instant::now() + within;
        loop {
            let done = self.steps_by_note();
            if wanted.iter().all(|note| done.contains_key(note)) {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{} of {} notes extracted within {within:?}",
                wanted.iter().filter(|note| done.contains_key(note)).count(),
                wanted.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::time::sleep(settle).await;
        let done = self.steps_by_note();
        let extracted: BTreeSet<Uuid> = done.keys().copied().collect();
        assert_eq!(extracted, wanted, "steps for exactly the submitted notes");
        for (note, steps) in &done {
            assert_eq!(
                steps.ids.len(),
                1,
                "note {note}: steps.extracted under {} event ids ({} deliveries)",
                steps.ids.len(),
                steps.deliveries
            );
        }
        assert_eq!(
            self.failed_notes(),
            Vec::<Uuid>::new(),
            "no extraction failed"
        );
        done
    }

    /// The title of the first plan step of `steps`, opened: shows the marker travels
    /// through the extraction (sealed), so a scan for it would see it in the clear.
    pub fn first_plan_title(&self, steps: &Envelope<StepsExtracted>) -> String {
        let step = &steps.data.plan[0];
        self.keyring
            .open_str(
                &step.title,
                &step_title_binding(step.step_id, steps.data.patient_id),
            )
            .unwrap()
            .to_string()
    }

    /// Takes every message out of the worker's dead queue and its retry queues.
    pub async fn drain_parked(&self, settings: &Settings) -> Parked {
        let config = consumer_config(settings);
        let connection = Connection::connect(&amqp_url(), ConnectionProperties::default())
            .await
            .unwrap();
        let channel = connection.create_channel().await.unwrap();
        let mut parked = Parked::default();
        let retry_queues: Vec<String> = config
            .retry_delays
            .iter()
            .map(|delay| config.retry_queue(*delay))
            .collect();
        parked.dead = drain(&channel, &config.dead_queue()).await;
        for queue in retry_queues {
            parked.retrying.extend(drain(&channel, &queue).await);
        }
        let _ = connection.close(200, "drained".into()).await;
        parked
    }

    /// Asserts no message body holds the marker: what the worker published, and what is
    /// parked or waiting to be retried.
    pub fn assert_no_marker_in_bodies(&self, parked: &Parked) {
        let published = self.published();
        assert!(!published.is_empty(), "the bodies were recorded");
        for message in &published {
            assert_no_marker(
                &self.marker,
                &format!("a {} body", message.routing_key),
                &message.body,
            );
        }
        for body in parked.dead.iter().chain(&parked.retrying) {
            assert_no_marker(&self.marker, "a parked or retried body", body);
        }
    }

    /// Deletes the worker's queues, the recording queue and the exchange.
    pub async fn clean(self) {
        self.publisher.close().await;
        self.recorder_stop.cancel();
        if let Ok(subscriber) = self.recorder.await {
            let _ = subscriber.delete_queue().await;
        }
        let mut settings = Settings::default();
        settings.events.amqp_url = amqp_url();
        settings.events.exchange.clone_from(&self.exchange);
        settings.events.queue_prefix.clone_from(&self.queue_prefix);
        let _ = EventConsumer::new(consumer_config(&settings), |_: Message| async { Ok(()) })
            .delete_topology()
            .await;
        let connection = Connection::connect(&amqp_url(), ConnectionProperties::default())
            .await
            .unwrap();
        let channel = connection.create_channel().await.unwrap();
        let _ = channel
            .queue_delete(
                format!("{}.recorder", self.queue_prefix).as_str().into(),
                QueueDeleteOptions::default(),
            )
            .await;
        let _ = channel
            .exchange_delete(
                self.exchange.as_str().into(),
                ExchangeDeleteOptions::default(),
            )
            .await;
        let _ = connection.close(200, "done".into()).await;
    }
}

/// The `steps.extracted` of one note.
#[derive(Debug, Default)]
pub struct StepsOfNote {
    pub ids: BTreeSet<Uuid>,
    pub deliveries: usize,
    pub events: Vec<Envelope<StepsExtracted>>,
}

/// Bodies taken from the dead queue and the retry queues.
#[derive(Debug, Default)]
pub struct Parked {
    pub dead: Vec<Vec<u8>>,
    pub retrying: Vec<Vec<u8>>,
}

async fn drain(channel: &lapin::Channel, queue: &str) -> Vec<Vec<u8>> {
    let mut bodies = Vec::new();
    while let Some(message) = channel
        .basic_get(queue.into(), BasicGetOptions { no_ack: true })
        .await
        .unwrap()
    {
        bodies.push(message.delivery.data.clone());
    }
    bodies
}

/// Records and acknowledges every message until stopped; hands the subscriber back.
async fn record(
    mut subscriber: Subscriber,
    recorded: Arc<Mutex<Vec<Published>>>,
    stop: CancellationToken,
) -> Subscriber {
    while !stop.is_cancelled() {
        match subscriber.next_message(Duration::from_millis(50)).await {
            Ok(Some(incoming)) => {
                recorded.lock().unwrap().push(Published {
                    routing_key: incoming.routing_key().to_owned(),
                    body: incoming.payload().to_vec(),
                });
                incoming.ack().await.unwrap();
            }
            Ok(None) => {}
            Err(err) => panic!("the recording queue failed: {err}"),
        }
    }
    subscriber
}

#[track_caller]
pub fn assert_no_marker(marker: &str, what: &str, bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    if let Some(at) = text.find(marker) {
        let before: String = text[..at]
            .chars()
            .rev()
            .take(200)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        let after: String = text[at..].chars().take(200).collect();
        panic!("the note's marker {marker} is in {what}: …{before}{after}…");
    }
}
