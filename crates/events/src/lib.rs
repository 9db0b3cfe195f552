//! The event contracts every service shares, and the RabbitMQ plumbing that carries them.
//!
//! - [`Envelope`] and [`Event`]: the versioned JSON envelope of every message and the trait of
//!   its data; [`contracts`] holds the data types (their JSON Schemas live in `proto-schemas/`).
//! - [`Publisher`]: publishes to the one durable topic exchange with publisher confirms.
//! - [`OutboxRelay`]: publishes a service's transactional outbox through a [`Publisher`].
//! - [`Subscriber`]: a durable queue bound to the exchange, consumed with manual acks.
//! - [`EventConsumer`]: how a service consumes its queue `<service>.<event type>`: manual
//!   acks after the handler's effect, retries through per-delay queues
//!   (`<queue>.retry.<delay>`, TTL and dead-lettering back), poison and exhausted messages
//!   parked in `<queue>.dead`, and [`Idempotent`] to skip an event id already applied.
//!
//! A producer writes events into its outbox in the same transaction as the change, wakes the
//! relay after commit, and the relay publishes them:
//!
//! ```no_run
//! use std::sync::Arc;
//! use hospital_events::{
//!     BrokerConfig, Envelope, OutboxMessage, OutboxRelay, OutboxStore, Publisher, RelayConfig,
//!     UserTimezoneChanged,
//! };
//! use tokio::sync::Notify;
//! use tokio_util::sync::CancellationToken;
//!
//! async fn start<S: OutboxStore + 'static>(store: S) -> Result<(), Box<dyn std::error::Error>> {
//!     let config = BrokerConfig::new("amqp://guest:guest@127.0.0.1:5672/%2f")
//!         .with_connection_name("auth-service");
//!     let publisher = Arc::new(Publisher::new(config));
//!     let wake = Arc::new(Notify::new());
//!     let cancel = CancellationToken::new();
//!     let relay = tokio::spawn(OutboxRelay::run(store, publisher.clone(), wake.clone(), cancel.clone()));
//!
//!     // In a request handler, inside the database transaction:
//!     let envelope = Envelope::new(UserTimezoneChanged {
//!         user_id: uuid::Uuid::now_v7(),
//!         timezone: "Europe/Paris".into(),
//!     })
//!     .with_correlation_id("request id");
//!     let row = OutboxMessage::from_envelope(&envelope)?; // INSERT it with the change
//!     // ...and after COMMIT:
//!     wake.notify_one();
//!
//!     // GET /readyz:
//!     let ready = publisher.is_healthy().await;
//!
//!     // On SIGTERM:
//!     cancel.cancel();
//!     relay.await?;
//!     publisher.close().await;
//!     # let _ = (row, ready, RelayConfig::default());
//!     Ok(())
//! }
//! ```

pub mod broker;
pub mod consumer;
pub mod contracts;
pub mod envelope;
pub mod outbox;
pub mod publisher;
pub mod runner;

pub use broker::{
    declare_exchange, declare_queue, queue_name, BrokerConfig, BrokerError, QueueSpec,
    DEFAULT_AMQP_URL, DEFAULT_EXCHANGE,
};
pub use consumer::{Incoming, Subscriber};
pub use contracts::{
    AssignmentChanged, CheckinRecorded, ExtractionFailed, NoteSubmitted, ReminderDue,
    ReminderDueBatch, ReminderMissed, StepsExtracted, UserRegistered, UserTimezoneChanged,
};
pub use envelope::{DecodeError, Envelope, Event, RawEnvelope};
pub use outbox::{OutboxMessage, OutboxRelay, OutboxStore, RelayConfig};
pub use publisher::{Outgoing, PublishError, Publisher};
pub use runner::{
    ConsumerConfig, ConsumerError, ConsumerStatus, EventConsumer, Handler, HandlerError,
    Idempotent, Message, ProcessedEvents,
};
