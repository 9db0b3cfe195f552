//! The transactional-outbox relay: a service writes each event into an outbox table in the same
//! database transaction as the change it describes, and this relay publishes the outbox to the
//! broker, in order, marking each message published only after the broker confirmed it.
//!
//! Delivery is at least once: a crash between the confirm and the mark publishes the message
//! again on restart, with the same message id, and consumers deduplicate on it.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::publisher::{Outgoing, PublishError, Publisher};
use crate::{Envelope, Event};

/// One message waiting in the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxMessage {
    /// The outbox row's id, published as the AMQP message id. Use the envelope's id (see
    /// [`OutboxMessage::from_envelope`]) so that message id and event id are one.
    pub id: Uuid,
    /// E.g. `user.registered.v1`.
    pub routing_key: String,
    /// The serialized envelope, published as is.
    pub payload: Vec<u8>,
}

impl OutboxMessage {
    /// The outbox row for an envelope: its id, its routing key, its JSON.
    pub fn from_envelope<T: Event>(envelope: &Envelope<T>) -> Result<Self, serde_json::Error> {
        Ok(Self {
            id: envelope.id,
            routing_key: T::ROUTING_KEY.to_owned(),
            payload: envelope.to_bytes()?,
        })
    }
}

/// Where the outbox lives (a table in the service's database).
pub trait OutboxStore: Send + Sync {
    type Error: std::error::Error + Send + Sync + 'static;

    /// Up to `limit` unpublished messages, oldest first (in the order they were written).
    fn pending(
        &self,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<OutboxMessage>, Self::Error>> + Send;

    /// Records that these messages were confirmed by the broker (mark or delete them).
    fn mark_published(&self, ids: &[Uuid]) -> impl Future<Output = Result<(), Self::Error>> + Send;
}

impl<S: OutboxStore> OutboxStore for Arc<S> {
    type Error = S::Error;

    fn pending(
        &self,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<OutboxMessage>, Self::Error>> + Send {
        S::pending(self, limit)
    }

    fn mark_published(&self, ids: &[Uuid]) -> impl Future<Output = Result<(), Self::Error>> + Send {
        S::mark_published(self, ids)
    }
}

/// How the relay paces itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayConfig {
    /// How many messages one `pending` call fetches.
    pub batch_size: usize,
    /// How long the relay sleeps when the outbox is empty and nobody wakes it. The wake-up is
    /// the fast path; this catches rows written by another replica or before a restart.
    pub poll_interval: Duration,
    /// The first pause after a failure (store or broker); doubles up to `max_backoff`.
    pub min_backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for RelayConfig {
    fn default() -> Self {
        Self {
            batch_size: 100,
            poll_interval: Duration::from_secs(1),
            min_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(5),
        }
    }
}

/// What stopped a drain.
#[derive(Debug, thiserror::Error)]
enum DrainError<E: std::error::Error + 'static> {
    #[error("the outbox store failed: {0}")]
    Store(#[source] E),
    #[error("publishing an outbox message failed: {0}")]
    Publish(#[source] PublishError),
}

/// How a drain ended.
enum Drained {
    /// The outbox is empty (as far as the last fetch saw).
    Empty,
    /// The fetch returned a full batch: there may be more right away.
    More,
    Cancelled,
}

/// Publishes a service's outbox. One relay per service replica is fine: messages may then be
/// published twice (never lost); run a single relay per database for strictly one copy.
#[derive(Debug, Clone, Default)]
pub struct OutboxRelay {
    config: RelayConfig,
}

impl OutboxRelay {
    pub fn new(config: RelayConfig) -> Self {
        Self { config }
    }

    /// Runs the relay with [`RelayConfig::default`] until `cancel` fires. Call `wake.notify_one()`
    /// after committing a transaction that wrote to the outbox.
    pub async fn run<S: OutboxStore>(
        store: S,
        publisher: Arc<Publisher>,
        wake: Arc<Notify>,
        cancel: CancellationToken,
    ) {
        Self::default()
            .run_until_cancelled(&store, &publisher, &wake, &cancel)
            .await;
    }

    /// Drains the outbox, then waits for a wake-up or the poll interval, until `cancel` fires.
    /// On a failure it pauses (doubling backoff) and tries again from the oldest unpublished
    /// message, so nothing is skipped or reordered. Returns promptly once cancelled; a publish
    /// in flight at that moment is abandoned and published again by the next run.
    pub async fn run_until_cancelled<S: OutboxStore>(
        &self,
        store: &S,
        publisher: &Publisher,
        wake: &Notify,
        cancel: &CancellationToken,
    ) {
        tracing::info!(exchange = %publisher.config().exchange, "outbox relay started");
        let mut backoff = self.config.min_backoff;
        loop {
            // Registered before draining, so a wake-up sent while we drain is not lost (this
            // also covers `notify_waiters`, which leaves no permit behind).
            let notified = wake.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();

            match self.drain(store, publisher, cancel).await {
                Ok(Drained::Cancelled) => break,
                Ok(Drained::More) => {
                    backoff = self.config.min_backoff;
                }
                Ok(Drained::Empty) => {
                    backoff = self.config.min_backoff;
                    tokio::select! {
                        () = cancel.cancelled() => break,
                        () = &mut notified => {}
                        () = tokio::time::sleep(self.config.poll_interval) => {}
                    }
                }
                Err(err) => {
                    tracing::warn!(
                        error = %err,
                        retry_in_ms = backoff.as_millis() as u64,
                        "outbox relay failed; retrying"
                    );
                    tokio::select! {
                        () = cancel.cancelled() => break,
                        () = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(self.config.max_backoff);
                }
            }
        }
        tracing::info!("outbox relay stopped");
    }

    /// Publishes one batch in order; marks what the broker confirmed, even when a later message
    /// of the batch fails.
    async fn drain<S: OutboxStore>(
        &self,
        store: &S,
        publisher: &Publisher,
        cancel: &CancellationToken,
    ) -> Result<Drained, DrainError<S::Error>> {
        let limit = self.config.batch_size.max(1);
        let batch = store.pending(limit).await.map_err(DrainError::Store)?;
        if batch.is_empty() {
            return Ok(Drained::Empty);
        }
        let full = batch.len() >= limit;

        let ids: Vec<String> = batch.iter().map(|m| m.id.to_string()).collect();
        let outgoing: Vec<Outgoing<'_>> = batch
            .iter()
            .zip(&ids)
            .map(|(message, id)| Outgoing {
                routing_key: &message.routing_key,
                message_id: id,
                payload: &message.payload,
            })
            .collect();
        // The whole batch in one round trip of confirms; what the broker confirmed, from the
        // first message on, is marked even when a later one failed.
        let (count, failure, cancelled) = tokio::select! {
            biased;
            () = cancel.cancelled() => (0, None, true),
            (count, failure) = publisher.publish_in_order(&outgoing) => (count, failure, false),
        };
        let confirmed: Vec<Uuid> = batch.iter().take(count).map(|m| m.id).collect();
        tracing::debug!(published = count, "outbox messages published");

        if !confirmed.is_empty() {
            store
                .mark_published(&confirmed)
                .await
                .map_err(DrainError::Store)?;
        }
        if let Some(err) = failure {
            return Err(DrainError::Publish(err));
        }
        Ok(if cancelled {
            Drained::Cancelled
        } else if full {
            Drained::More
        } else {
            Drained::Empty
        })
    }
}
