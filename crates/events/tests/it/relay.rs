use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hospital_events::{
    BrokerConfig, Envelope, Event, OutboxMessage, OutboxRelay, OutboxStore, Publisher, QueueSpec,
    RelayConfig, Subscriber, UserRegistered,
};
use hospital_platform::token::Role;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::helpers::{amqp_url_via, broker_gate, delete_exchange, eventually, test_config, unique};

/// An outbox in memory: rows in insertion order, a published flag, and a log of calls.
#[derive(Default)]
struct MemoryOutbox {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    rows: Vec<(OutboxMessage, bool)>,
    pending_calls: usize,
    marked: Vec<Uuid>,
}

impl MemoryOutbox {
    fn insert(&self, message: OutboxMessage) {
        self.inner.lock().unwrap().rows.push((message, false));
    }

    fn pending_calls(&self) -> usize {
        self.inner.lock().unwrap().pending_calls
    }

    fn marked(&self) -> Vec<Uuid> {
        self.inner.lock().unwrap().marked.clone()
    }

    fn unpublished(&self) -> usize {
        self.inner
            .lock()
            .unwrap()
            .rows
            .iter()
            .filter(|(_, done)| !done)
            .count()
    }
}

impl OutboxStore for MemoryOutbox {
    type Error = Infallible;

    async fn pending(&self, limit: usize) -> Result<Vec<OutboxMessage>, Infallible> {
        let mut inner = self.inner.lock().unwrap();
        inner.pending_calls += 1;
        Ok(inner
            .rows
            .iter()
            .filter(|(_, done)| !done)
            .take(limit)
            .map(|(message, _)| message.clone())
            .collect())
    }

    async fn mark_published(&self, ids: &[Uuid]) -> Result<(), Infallible> {
        let mut inner = self.inner.lock().unwrap();
        for id in ids {
            if let Some(row) = inner.rows.iter_mut().find(|(m, _)| m.id == *id) {
                row.1 = true;
            }
        }
        inner.marked.extend_from_slice(ids);
        Ok(())
    }
}

fn outbox_message() -> OutboxMessage {
    OutboxMessage::from_envelope(&Envelope::new(UserRegistered {
        user_id: Uuid::now_v7(),
        role: Role::Doctor,
        timezone: "Africa/Abidjan".into(),
    }))
    .unwrap()
}

#[tokio::test]
async fn the_relay_retries_until_the_broker_is_reachable_then_delivers_each_message_once_in_order()
{
    let config = test_config("relay");
    let spec = QueueSpec::new(unique("relay"), ["user.registered.v1"]).auto_delete();
    let mut subscriber = Subscriber::connect(&config, &spec).await.unwrap();

    // The relay's broker is a port where nothing listens yet.
    let gate = broker_gate().expect("a gate in front of the broker");
    let publisher = Arc::new(Publisher::new(BrokerConfig {
        url: amqp_url_via(gate.port()).into(),
        connect_timeout: Duration::from_secs(1),
        ..config.clone()
    }));
    let store = Arc::new(MemoryOutbox::default());
    // Batches of 2, so a drain spans several fetches; a long poll interval, so only the
    // wake-up can explain a prompt delivery at the end.
    let relay = OutboxRelay::new(RelayConfig {
        batch_size: 2,
        poll_interval: Duration::from_secs(30),
        min_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(100),
    });
    let mut expected: Vec<OutboxMessage> = (0..5).map(|_| outbox_message()).collect();
    for message in &expected {
        store.insert(message.clone());
    }

    let wake = Arc::new(Notify::new());
    let cancel = CancellationToken::new();
    let task = tokio::spawn({
        let (store, publisher, wake, cancel) = (
            store.clone(),
            publisher.clone(),
            wake.clone(),
            cancel.clone(),
        );
        async move {
            relay
                .run_until_cancelled(&store, &publisher, &wake, &cancel)
                .await;
        }
    });

    // It keeps trying, and marks nothing while it cannot publish.
    eventually(Duration::from_secs(5), "several failed attempts", || {
        let calls = store.pending_calls();
        async move { calls >= 3 }
    })
    .await;
    assert!(store.marked().is_empty());
    assert_eq!(store.unpublished(), 5);

    // The broker becomes reachable on the same port.
    gate.open().await.expect("the gate opens");
    eventually(Duration::from_secs(10), "the outbox to drain", || {
        let left = store.unpublished();
        async move { left == 0 }
    })
    .await;

    // A message written later goes out on the wake-up, well before the poll interval.
    let late = outbox_message();
    store.insert(late.clone());
    wake.notify_one();
    expected.push(late);
    eventually(Duration::from_secs(3), "the woken relay to publish", || {
        let left = store.unpublished();
        async move { left == 0 }
    })
    .await;

    // Each message marked exactly once, in order; each delivered exactly once, in order.
    let expected_ids: Vec<Uuid> = expected.iter().map(|m| m.id).collect();
    assert_eq!(store.marked(), expected_ids);
    let mut delivered = Vec::new();
    while let Some(incoming) = subscriber
        .next_message(Duration::from_millis(500))
        .await
        .unwrap()
    {
        assert_eq!(
            incoming.message_id(),
            Some(
                incoming
                    .decode::<UserRegistered>()
                    .unwrap()
                    .id
                    .to_string()
                    .as_str()
            )
        );
        delivered.push(incoming.payload().to_vec());
        incoming.ack().await.unwrap();
    }
    let expected_payloads: Vec<Vec<u8>> = expected.iter().map(|m| m.payload.clone()).collect();
    assert_eq!(delivered, expected_payloads);

    // Cancelling stops it promptly.
    cancel.cancel();
    tokio::time::timeout(Duration::from_secs(1), task)
        .await
        .expect("the relay did not stop promptly")
        .unwrap();

    publisher.close().await;
    gate.close().await;
    subscriber.delete_queue().await.unwrap();
    delete_exchange(&config.exchange).await;
}

#[tokio::test]
async fn the_relay_stops_promptly_while_backing_off() {
    let publisher = Arc::new(Publisher::new(
        BrokerConfig::new(amqp_url_via(
            broker_gate().expect("a gate in front of the broker").port(),
        ))
        .with_exchange(unique("stop")),
    ));
    let store = Arc::new(MemoryOutbox::default());
    store.insert(outbox_message());
    let cancel = CancellationToken::new();
    let task = tokio::spawn(OutboxRelay::run(
        store.clone(),
        publisher,
        Arc::new(Notify::new()),
        cancel.clone(),
    ));
    eventually(Duration::from_secs(5), "a failed attempt", || {
        let calls = store.pending_calls();
        async move { calls >= 1 }
    })
    .await;
    cancel.cancel();
    tokio::time::timeout(Duration::from_secs(1), task)
        .await
        .expect("the relay did not stop promptly")
        .unwrap();
    assert!(store.marked().is_empty());
}

#[tokio::test]
async fn an_event_that_must_reach_its_consumer_waits_in_the_outbox_until_its_queue_exists() {
    let config = test_config("relay-route");
    let publisher =
        Arc::new(Publisher::new(config.clone()).requiring_route(UserRegistered::ROUTING_KEY));
    let store = Arc::new(MemoryOutbox::default());
    let message = outbox_message();
    store.insert(message.clone());
    let cancel = CancellationToken::new();
    let task = tokio::spawn(OutboxRelay::run(
        store.clone(),
        publisher.clone(),
        Arc::new(Notify::new()),
        cancel.clone(),
    ));

    // No queue is bound: the broker returns the message, and the outbox keeps it.
    eventually(Duration::from_secs(5), "several returned attempts", || {
        let calls = store.pending_calls();
        async move { calls >= 3 }
    })
    .await;
    assert!(store.marked().is_empty());

    // The consumer declares its queue: the message arrives, once.
    let spec = QueueSpec::new(unique("relay-route"), [UserRegistered::ROUTING_KEY]).auto_delete();
    let mut subscriber = Subscriber::connect(&config, &spec).await.unwrap();
    eventually(Duration::from_secs(5), "the outbox to drain", || {
        let left = store.unpublished();
        async move { left == 0 }
    })
    .await;
    let incoming = subscriber
        .next_message(Duration::from_secs(5))
        .await
        .unwrap()
        .expect("the message arrived");
    assert_eq!(incoming.payload(), message.payload.as_slice());
    incoming.ack().await.unwrap();
    assert!(subscriber
        .next_message(Duration::from_millis(300))
        .await
        .unwrap()
        .is_none());

    cancel.cancel();
    task.await.unwrap();
    publisher.close().await;
    subscriber.delete_queue().await.unwrap();
    delete_exchange(&config.exchange).await;
}
