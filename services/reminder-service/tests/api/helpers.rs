//! `spawn_app()` and what tests do with a running service.

use std::time::Duration;

use hospital_events::{
    BrokerConfig, Envelope, Event, EventConsumer, Message, Publisher, QueueSpec,
};
use hospital_reminder_service::startup::consumer_configs;
use hospital_reminder_service::store::{Store, UserRecord};
use hospital_reminder_service::{Application, Settings};
use hospital_test_support::{amqp_url, eventually, unique_name};
use lapin::options::{ExchangeDeleteOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use lapin::{Connection, ConnectionProperties};
use redis::AsyncCommands;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

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
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(test_settings()).await
}

/// Declares the test's queues (so nothing published before the consumers connect is
/// lost), builds the service and runs it in the background.
pub async fn spawn_app_with(settings: Settings) -> TestApp {
    for config in consumer_configs(&settings) {
        EventConsumer::new(config, |_: Message| async { Ok(()) })
            .declare_topology()
            .await
            .unwrap();
    }
    let app = Application::build(settings.clone()).await.unwrap();
    let address = format!("http://127.0.0.1:{}", app.port());
    let store = app.store();
    let shutdown = app.shutdown_token();
    let task = tokio::spawn(app.run_until_stopped());
    let publisher = Publisher::new(
        BrokerConfig::new(amqp_url())
            .with_exchange(settings.events.exchange.clone())
            .with_connection_name("reminder-service-test"),
    );
    TestApp {
        address,
        settings,
        store,
        publisher,
        http: reqwest::Client::new(),
        shutdown,
        task: Some(task),
    }
}

impl TestApp {
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

async fn redis() -> redis::aio::MultiplexedConnection {
    redis::Client::open(redis_url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
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
