//! The consumer runner against the real broker: acks, retries through delay queues, parking in
//! the dead queue, deduplication, graceful stop and reconnection.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hospital_events::runner::{ATTEMPT_HEADER, DEATH_REASON_HEADER, ERROR_HEADER};
use hospital_events::{
    BrokerConfig, ConsumerConfig, Envelope, Event, EventConsumer, Handler, HandlerError,
    Idempotent, Message, ProcessedEvents, Publisher, QueueSpec, UserTimezoneChanged,
};
use lapin::options::{BasicGetOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Connection, ConnectionProperties};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::helpers::{
    amqp_url, amqp_url_via, broker_gate, delete_exchange, eventually, test_config, unique,
};

const WITHIN: Duration = Duration::from_secs(10);

fn event() -> Envelope<UserTimezoneChanged> {
    Envelope::new(UserTimezoneChanged {
        user_id: Uuid::now_v7(),
        timezone: "Europe/Paris".into(),
    })
}

/// A consumer config on a fresh exchange and queue, with short retry delays.
fn consumer_config(name: &str) -> ConsumerConfig {
    // Not auto-delete: the tests stop and restart consumers and read the queues afterwards;
    // `delete_topology` removes them.
    let queue = QueueSpec::new(unique(name), [UserTimezoneChanged::ROUTING_KEY]);
    ConsumerConfig::new(test_config(name), queue)
        .with_retry_delays([Duration::from_millis(100), Duration::from_millis(200)])
}

/// A running consumer, with what it needs to be stopped and cleaned up.
struct Running {
    config: ConsumerConfig,
    publisher: Publisher,
    cancel: CancellationToken,
    task: Option<JoinHandle<Result<(), hospital_events::ConsumerError>>>,
}

async fn start<H: Handler>(config: ConsumerConfig, handler: H) -> Running {
    let consumer = EventConsumer::new(config.clone(), handler);
    consumer.declare_topology().await.unwrap();
    let cancel = CancellationToken::new();
    let task = Some(tokio::spawn(consumer.run(cancel.clone())));
    let publisher = Publisher::new(BrokerConfig {
        url: amqp_url().into(),
        ..config.broker.clone()
    });
    Running {
        config,
        publisher,
        cancel,
        task,
    }
}

impl Running {
    /// Cancels the consumer and waits (at most 5 s) for it to return.
    async fn stop(&mut self) {
        self.cancel.cancel();
        if let Some(task) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(5), task)
                .await
                .expect("the consumer stops")
                .unwrap()
                .unwrap();
        }
    }

    async fn stop_and_clean(mut self) {
        self.stop().await;
        self.publisher.close().await;
        let cleaner = EventConsumer::new(self.config.clone(), |_: Message| async { Ok(()) });
        cleaner.delete_topology().await.unwrap();
        delete_exchange(&self.config.broker.exchange).await;
    }

    /// Messages ready in `queue` (not counting unacknowledged ones).
    async fn ready(&self, queue: &str) -> u32 {
        with_channel(|channel| async move {
            channel
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
                .message_count()
        })
        .await
    }

    /// Waits for one message in the dead queue and returns its headers.
    async fn dead_letter(&self) -> FieldTable {
        let dead = self.config.dead_queue();
        eventually(WITHIN, "a message in the dead queue", || async {
            self.ready(&dead).await == 1
        })
        .await;
        with_channel(|channel| async move {
            let message = channel
                .basic_get(dead.as_str().into(), BasicGetOptions { no_ack: true })
                .await
                .unwrap()
                .expect("the dead message");
            message.delivery.properties.headers().clone().unwrap()
        })
        .await
    }
}

async fn with_channel<T, F, Fut>(f: F) -> T
where
    F: FnOnce(lapin::Channel) -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let connection = Connection::connect(&amqp_url(), ConnectionProperties::default())
        .await
        .unwrap();
    let channel = connection.create_channel().await.unwrap();
    let value = f(channel).await;
    // The dropped channel may still be closing; the connection goes either way.
    let _ = connection.close(200, "done".into()).await;
    value
}

fn header_str(headers: &FieldTable, name: &str) -> String {
    match headers.inner().get(name) {
        Some(AMQPValue::LongString(s)) => s.to_string(),
        other => panic!("header {name}: {other:?}"),
    }
}

fn header_int(headers: &FieldTable, name: &str) -> i64 {
    match headers.inner().get(name) {
        Some(AMQPValue::LongLongInt(n)) => *n,
        other => panic!("header {name}: {other:?}"),
    }
}

/// Records what a handler saw.
#[derive(Default, Clone)]
struct Seen(Arc<Mutex<Vec<(Uuid, u32)>>>);

impl Seen {
    fn push(&self, message: &Message) {
        self.0.lock().unwrap().push((message.id, message.attempt));
    }
    fn all(&self) -> Vec<(Uuid, u32)> {
        self.0.lock().unwrap().clone()
    }
}

#[tokio::test]
async fn a_handled_message_is_acked() {
    let seen = Seen::default();
    let handler = {
        let seen = seen.clone();
        move |message: Message| {
            let seen = seen.clone();
            async move {
                let typed = message.decode::<UserTimezoneChanged>()?;
                assert_eq!(typed.data.timezone, "Europe/Paris");
                seen.push(&message);
                Ok(())
            }
        }
    };
    let mut running = start(consumer_config("ack"), handler).await;
    let sent = event();
    running.publisher.publish_event(&sent).await.unwrap();

    eventually(WITHIN, "the message handled", || async {
        seen.all().len() == 1
    })
    .await;
    assert_eq!(seen.all(), [(sent.id, 1)]);
    // Acked: once the consumer is gone, nothing comes back to the queue.
    running.stop().await;
    assert_eq!(running.ready(&running.config.queue.name).await, 0);
    assert_eq!(running.ready(&running.config.dead_queue()).await, 0);
    running.stop_and_clean().await;
}

#[tokio::test]
async fn a_transient_failure_is_retried_with_the_attempt_counted() {
    let seen = Seen::default();
    let handler = {
        let seen = seen.clone();
        move |message: Message| {
            let seen = seen.clone();
            async move {
                seen.push(&message);
                if message.attempt == 1 {
                    Err(HandlerError::retry("store down"))
                } else {
                    Ok(())
                }
            }
        }
    };
    let running = start(consumer_config("retry"), handler).await;
    let sent = event();
    running.publisher.publish_event(&sent).await.unwrap();

    eventually(WITHIN, "the second attempt", || async {
        seen.all().len() == 2
    })
    .await;
    assert_eq!(seen.all(), [(sent.id, 1), (sent.id, 2)]);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(seen.all().len(), 2, "no third attempt after success");
    assert_eq!(running.ready(&running.config.dead_queue()).await, 0);
    running.stop_and_clean().await;
}

#[tokio::test]
async fn exhausted_retries_park_the_message_with_the_reason() {
    let seen = Seen::default();
    let handler = {
        let seen = seen.clone();
        move |message: Message| {
            let seen = seen.clone();
            async move {
                seen.push(&message);
                Err(HandlerError::retry("store down"))
            }
        }
    };
    let running = start(consumer_config("exhausted"), handler).await;
    let sent = event();
    running.publisher.publish_event(&sent).await.unwrap();

    let headers = running.dead_letter().await;
    assert_eq!(seen.all(), [(sent.id, 1), (sent.id, 2), (sent.id, 3)]);
    assert_eq!(
        header_str(&headers, DEATH_REASON_HEADER),
        "retries-exhausted"
    );
    assert_eq!(header_str(&headers, ERROR_HEADER), "store down");
    assert_eq!(header_int(&headers, ATTEMPT_HEADER), 3);
    assert_eq!(
        header_str(&headers, "x-hospital-routing-key"),
        UserTimezoneChanged::ROUTING_KEY
    );
    assert_eq!(running.ready(&running.config.queue.name).await, 0);
    running.stop_and_clean().await;
}

#[tokio::test]
async fn a_poison_message_is_parked_at_once() {
    let seen = Seen::default();
    let handler = {
        let seen = seen.clone();
        move |message: Message| {
            let seen = seen.clone();
            async move {
                seen.push(&message);
                Err(HandlerError::poison("timezone unknown"))
            }
        }
    };
    let running = start(consumer_config("poison"), handler).await;
    running.publisher.publish_event(&event()).await.unwrap();

    let headers = running.dead_letter().await;
    assert_eq!(seen.all().len(), 1);
    assert_eq!(header_str(&headers, DEATH_REASON_HEADER), "poison");
    assert_eq!(header_str(&headers, ERROR_HEADER), "timezone unknown");
    assert_eq!(header_int(&headers, ATTEMPT_HEADER), 1);
    running.stop_and_clean().await;
}

#[tokio::test]
async fn an_undecodable_message_is_parked_without_reaching_the_handler() {
    let seen = Seen::default();
    let handler = {
        let seen = seen.clone();
        move |message: Message| {
            let seen = seen.clone();
            async move {
                seen.push(&message);
                Ok(())
            }
        }
    };
    let running = start(consumer_config("undecodable"), handler).await;
    running
        .publisher
        .publish(
            UserTimezoneChanged::ROUTING_KEY,
            &Uuid::now_v7().to_string(),
            br#"{"id": "patient has secret condition"#,
        )
        .await
        .unwrap();

    let headers = running.dead_letter().await;
    assert!(seen.all().is_empty());
    assert_eq!(header_str(&headers, DEATH_REASON_HEADER), "undecodable");
    let error = header_str(&headers, ERROR_HEADER);
    assert!(!error.contains("secret"), "{error}");
    running.stop_and_clean().await;
}

/// Applied ids, in memory (a service uses its store).
#[derive(Default, Clone)]
struct InMemoryProcessed(Arc<Mutex<HashSet<Uuid>>>);

impl ProcessedEvents for InMemoryProcessed {
    async fn seen(&self, id: Uuid) -> Result<bool, HandlerError> {
        Ok(self.0.lock().unwrap().contains(&id))
    }
    async fn mark(&self, id: Uuid) -> Result<(), HandlerError> {
        self.0.lock().unwrap().insert(id);
        Ok(())
    }
}

#[tokio::test]
async fn a_duplicate_delivery_is_applied_once() {
    let applied = Seen::default();
    let handler = {
        let applied = applied.clone();
        move |message: Message| {
            let applied = applied.clone();
            async move {
                applied.push(&message);
                Ok(())
            }
        }
    };
    let processed = InMemoryProcessed::default();
    // One at a time, so the duplicate arrives after the first is marked.
    let config = consumer_config("duplicate").with_concurrency(1);
    let running = start(config, Idempotent::new(handler, processed.clone())).await;
    let sent = event();
    running.publisher.publish_event(&sent).await.unwrap();
    running.publisher.publish_event(&sent).await.unwrap();
    let other = event();
    running.publisher.publish_event(&other).await.unwrap();

    eventually(WITHIN, "both events marked", || async {
        processed.0.lock().unwrap().len() == 2
    })
    .await;
    eventually(WITHIN, "the queue drained", || async {
        running.ready(&running.config.queue.name).await == 0
    })
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(applied.all(), [(sent.id, 1), (other.id, 1)]);
    running.stop_and_clean().await;
}

#[tokio::test]
async fn cancelling_finishes_the_in_flight_message_and_acks_it() {
    let started = Arc::new(tokio::sync::Notify::new());
    let finished = Seen::default();
    let handler = {
        let started = started.clone();
        let finished = finished.clone();
        move |message: Message| {
            let started = started.clone();
            let finished = finished.clone();
            async move {
                started.notify_one();
                tokio::time::sleep(Duration::from_millis(500)).await;
                finished.push(&message);
                Ok(())
            }
        }
    };
    let mut running = start(consumer_config("cancel"), handler).await;
    let sent = event();
    running.publisher.publish_event(&sent).await.unwrap();

    started.notified().await;
    running.stop().await;
    assert_eq!(finished.all(), [(sent.id, 1)]);
    // Acked before the connection closed, so it is not back in the queue.
    assert_eq!(running.ready(&running.config.queue.name).await, 0);
    running.stop_and_clean().await;
}

#[tokio::test]
async fn consumption_resumes_after_the_connection_drops_and_nothing_is_lost() {
    let gate = broker_gate().expect("a gate in front of the broker");
    gate.open().await.expect("the gate opens");
    let seen = Seen::default();
    let handler = {
        let seen = seen.clone();
        move |message: Message| {
            let seen = seen.clone();
            async move {
                tokio::time::sleep(Duration::from_millis(50)).await;
                seen.push(&message);
                Ok(())
            }
        }
    };
    let mut config = consumer_config("reconnect");
    config.broker.url = amqp_url_via(gate.port()).into();
    let running = start(config, handler).await;

    let mut sent = HashSet::new();
    for _ in 0..20 {
        let envelope = event();
        sent.insert(envelope.id);
        running.publisher.publish_event(&envelope).await.unwrap();
    }
    eventually(WITHIN, "some messages handled", || async {
        seen.all().len() >= 3
    })
    .await;
    gate.cut().await.expect("the gate reopens");
    assert!(seen.all().len() < 20, "the cut came after the last message");
    for _ in 0..10 {
        let envelope = event();
        sent.insert(envelope.id);
        running.publisher.publish_event(&envelope).await.unwrap();
    }

    eventually(WITHIN, "every message handled", || async {
        let handled: HashSet<Uuid> = seen.all().into_iter().map(|(id, _)| id).collect();
        handled == sent
    })
    .await;
    running.stop_and_clean().await;
    gate.close().await;
}
