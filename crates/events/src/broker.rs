//! Connecting to RabbitMQ and declaring the topology every service agrees on: one durable topic
//! exchange, and one durable queue per consumer and event (`<service>.<event type>`).

use std::time::Duration;

use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{FieldTable, ShortString};
use lapin::{Channel, Connection, ConnectionProperties, ExchangeKind};
use secrecy::{ExposeSecret, SecretString};

/// The exchange every event goes through.
pub const DEFAULT_EXCHANGE: &str = "hospital.events";

/// The broker of a developer machine (and of the tests).
pub const DEFAULT_AMQP_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

/// Where the broker is and how long to wait for it.
#[derive(Debug, Clone)]
pub struct BrokerConfig {
    /// `amqp://user:password@host:port/vhost` (the vhost URL-encoded: `%2f` is `/`).
    /// Secret because it holds the password; never logged.
    pub url: SecretString,
    /// The topic exchange to publish to and bind queues on.
    pub exchange: String,
    /// Shown in the RabbitMQ admin console's connection list (e.g. `auth-service`), and sent as
    /// every published message's `app_id`.
    pub connection_name: String,
    /// How long opening a connection (TCP, AMQP handshake, channel, declarations) may take.
    pub connect_timeout: Duration,
    /// How long a publish waits for the broker's confirm before it counts as failed.
    pub confirm_timeout: Duration,
}

impl BrokerConfig {
    /// A configuration with the defaults: exchange [`DEFAULT_EXCHANGE`], 5 s connect timeout,
    /// 5 s confirm timeout.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: SecretString::from(url.into()),
            exchange: DEFAULT_EXCHANGE.to_owned(),
            connection_name: "hospital".to_owned(),
            connect_timeout: Duration::from_secs(5),
            confirm_timeout: Duration::from_secs(5),
        }
    }

    #[must_use]
    pub fn with_exchange(mut self, exchange: impl Into<String>) -> Self {
        self.exchange = exchange.into();
        self
    }

    #[must_use]
    pub fn with_connection_name(mut self, name: impl Into<String>) -> Self {
        self.connection_name = name.into();
        self
    }

    #[must_use]
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    #[must_use]
    pub fn with_confirm_timeout(mut self, timeout: Duration) -> Self {
        self.confirm_timeout = timeout;
        self
    }
}

impl Default for BrokerConfig {
    fn default() -> Self {
        Self::new(DEFAULT_AMQP_URL)
    }
}

/// The broker could not be reached or refused a declaration.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error("timed out after {0:?} connecting to the broker")]
    ConnectTimeout(Duration),
    #[error("broker error: {0}")]
    Amqp(#[from] lapin::Error),
    #[error("the broker cancelled the consumer")]
    ConsumerCancelled,
    #[error("{what} is longer than AMQP's 255-byte limit")]
    TooLong { what: &'static str },
}

/// An AMQP short string (names, routing keys, ids), refused rather than panicking when too long.
pub(crate) fn short(what: &'static str, value: &str) -> Result<ShortString, BrokerError> {
    ShortString::try_new(value).map_err(|_| BrokerError::TooLong { what })
}

/// Opens a connection and one channel, and declares the exchange, all within
/// `config.connect_timeout`.
pub(crate) async fn open(config: &BrokerConfig) -> Result<(Connection, Channel), BrokerError> {
    let timeout = config.connect_timeout;
    tokio::time::timeout(timeout, async {
        // No `enable_auto_recover()`: lapin's recovery would retry for a long time inside calls
        // that we want to fail fast (a readiness probe, a publish awaiting its confirm). Callers
        // drop a broken connection and open a new one instead, which keeps the failure visible.
        let properties = ConnectionProperties::default()
            // Names the connection in the admin console so operators see who is connected.
            .with_connection_name(config.connection_name.clone().into());
        let connection = Connection::connect(config.url.expose_secret(), properties).await?;
        let channel = connection.create_channel().await?;
        declare_exchange(&channel, &config.exchange).await?;
        Ok((connection, channel))
    })
    .await
    .map_err(|_| BrokerError::ConnectTimeout(timeout))?
}

/// Declares the events exchange. Idempotent; every publisher and consumer does it on connect so
/// that no start-up order is required.
pub async fn declare_exchange(channel: &Channel, exchange: &str) -> Result<(), BrokerError> {
    channel
        .exchange_declare(
            short("exchange name", exchange)?,
            // Topic: consumers bind exactly the `<type>.v<version>` keys they understand (or
            // patterns such as `user.#`), producers need not know who listens.
            ExchangeKind::Topic,
            ExchangeDeclareOptions {
                // Survives a broker restart; declarations must match on every declare.
                durable: true,
                // Never removed when the last queue unbinds: it is shared infrastructure.
                auto_delete: false,
                // Producers publish to it directly.
                internal: false,
                // Create it if missing instead of failing when it does not exist yet.
                passive: false,
                // Wait for declare-ok so an incompatible existing exchange fails here.
                nowait: false,
            },
            FieldTable::default(),
        )
        .await?;
    Ok(())
}

/// A consumer's queue: its name, the routing keys it binds, and its delivery settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueSpec {
    /// `<service>.<event type>`, e.g. `reminder-service.user.registered` (see [`queue_name`]).
    pub name: String,
    /// Routing keys (or topic patterns) bound from the exchange to the queue.
    pub routing_keys: Vec<String>,
    /// How many unacknowledged messages the broker hands this consumer at once.
    pub prefetch: u16,
    /// Delete the queue when its last consumer goes away (tests only: a service's queue must
    /// keep messages while the service is down).
    pub auto_delete: bool,
}

impl QueueSpec {
    /// A durable queue bound to `routing_keys`, prefetch 16.
    pub fn new<K: Into<String>>(
        name: impl Into<String>,
        routing_keys: impl IntoIterator<Item = K>,
    ) -> Self {
        Self {
            name: name.into(),
            routing_keys: routing_keys.into_iter().map(Into::into).collect(),
            prefetch: 16,
            auto_delete: false,
        }
    }

    /// The queue `<service>.<E::TYPE>` bound to `E::ROUTING_KEY`.
    pub fn for_event<E: crate::Event>(service: &str) -> Self {
        Self::new(queue_name(service, E::TYPE), [E::ROUTING_KEY])
    }

    #[must_use]
    pub fn with_prefetch(mut self, prefetch: u16) -> Self {
        self.prefetch = prefetch;
        self
    }

    /// Makes the queue disappear when its consumer goes away (for tests).
    #[must_use]
    pub fn auto_delete(mut self) -> Self {
        self.auto_delete = true;
        self
    }
}

/// The queue of `service` for `event_type`: `<service>.<event type>`, e.g.
/// `notes-service.assignment.changed`.
pub fn queue_name(service: &str, event_type: &str) -> String {
    format!("{service}.{event_type}")
}

/// Declares `spec`'s queue and binds it to `exchange` with each of its routing keys.
pub async fn declare_queue(
    channel: &Channel,
    exchange: &str,
    spec: &QueueSpec,
) -> Result<(), BrokerError> {
    let queue = short("queue name", &spec.name)?;
    channel
        .queue_declare(
            queue.clone(),
            QueueDeclareOptions {
                // Survives a broker restart (RabbitMQ 4 refuses transient non-exclusive queues
                // anyway); the messages in it are persistent too.
                durable: true,
                // Shared by every replica of the consuming service, so not exclusive.
                exclusive: false,
                // Only test queues go away with their consumer.
                auto_delete: spec.auto_delete,
                // Create it if missing.
                passive: false,
                // Wait for declare-ok so a conflicting existing queue fails here.
                nowait: false,
            },
            FieldTable::default(),
        )
        .await?;
    for key in &spec.routing_keys {
        channel
            .queue_bind(
                queue.clone(),
                short("exchange name", exchange)?,
                short("routing key", key)?,
                // Wait for bind-ok: a message published right after must be routed.
                QueueBindOptions { nowait: false },
                FieldTable::default(),
            )
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contracts::AssignmentChanged;

    #[test]
    fn queue_names_follow_service_dot_event() {
        let spec = QueueSpec::for_event::<AssignmentChanged>("notes-service");
        assert_eq!(spec.name, "notes-service.assignment.changed");
        assert_eq!(spec.routing_keys, ["assignment.changed.v1"]);
        assert!(!spec.auto_delete);
    }

    #[test]
    fn config_debug_hides_the_password() {
        let config = BrokerConfig::new("amqp://user:hunter2@example:5672/%2f");
        assert!(!format!("{config:?}").contains("hunter2"));
    }

    #[test]
    fn overlong_names_are_errors_not_panics() {
        assert!(short("routing key", &"x".repeat(256)).is_err());
        assert!(short("routing key", &"x".repeat(255)).is_ok());
    }
}
