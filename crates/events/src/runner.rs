//! The consumer runner services use for their queues: manual acks after the handler's effect is
//! durable, retries with backoff through per-delay queues, poison messages parked in a
//! dead-letter queue, bounded concurrency, reconnection, and a graceful stop.
//!
//! Topology of a queue `<service>.<event type>` (declared idempotently on every connect):
//!
//! ```text
//! exchange --routing keys--> <queue>                       (consumed)
//! runner --Retry, via ""---> <queue>.retry.<delay>         (TTL, then dead-lettered back to <queue>)
//! runner --Poison/last-----> <queue>.dead                  (parked for operators)
//! ```
//!
//! RabbitMQ 3.10 has no delayed-message plugin, so each delay is its own queue with a per-queue
//! TTL: every message in it waits the same time, so expiry at the head of the queue is never
//! blocked by a longer-lived message behind it.
//!
//! A service wires a consumer like this:
//!
//! ```no_run
//! use hospital_events::runner::{ConsumerConfig, EventConsumer, HandlerError, Message};
//! use hospital_events::{BrokerConfig, QueueSpec, UserRegistered};
//! use tokio_util::sync::CancellationToken;
//!
//! async fn start(cancel: CancellationToken) -> Result<(), Box<dyn std::error::Error>> {
//!     let broker = BrokerConfig::default().with_connection_name("reminder-service");
//!     let queue = QueueSpec::for_event::<UserRegistered>("reminder-service");
//!     let consumer = EventConsumer::new(ConsumerConfig::new(broker, queue), |message: Message| async move {
//!         let event = message.decode::<UserRegistered>()?; // wrong shape: Poison
//!         // Store the effect durably, idempotently on `message.id` (or wrap the handler in
//!         // `Idempotent`); a store that is down answers `HandlerError::retry("store down")`.
//!         let _ = event;
//!         Ok(())
//!     });
//!     tokio::spawn(consumer.run(cancel)).await??;
//!     Ok(())
//! }
//! ```

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicNackOptions,
    BasicPublishOptions, BasicQosOptions, ConfirmSelectOptions, QueueDeclareOptions,
    QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{Channel, Confirmation, Connection};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::broker::{declare_queue, open, short, BrokerConfig, BrokerError, QueueSpec};
use crate::envelope::{DecodeError, Envelope, RawEnvelope};
use crate::Event;

/// Header: which attempt the next delivery of this message is (1 for the first delivery).
pub const ATTEMPT_HEADER: &str = "x-hospital-attempt";
/// Header: why the last attempt failed (the handler's reason or the decode error's category;
/// never payload text).
pub const ERROR_HEADER: &str = "x-hospital-error";
/// Header on parked messages: `poison`, `undecodable` or `retries-exhausted`.
pub const DEATH_REASON_HEADER: &str = "x-death-reason";
/// Header: the routing key the message first arrived with (retries travel under the queue name).
pub const ROUTING_KEY_HEADER: &str = "x-hospital-routing-key";

/// Why a handler did not apply a message.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// Transient (a store is down): try again later through the retry queues.
    #[error("transient failure: {0}")]
    Retry(String),
    /// Permanent (schema or validation failure): park in `<queue>.dead` at once.
    #[error("permanent failure: {0}")]
    Poison(String),
}

impl HandlerError {
    /// A transient failure. The reason goes into logs and headers: no clinical content.
    pub fn retry(reason: impl Into<String>) -> Self {
        Self::Retry(reason.into())
    }

    /// A permanent failure. The reason goes into logs and headers: no clinical content.
    pub fn poison(reason: impl Into<String>) -> Self {
        Self::Poison(reason.into())
    }
}

impl From<DecodeError> for HandlerError {
    fn from(err: DecodeError) -> Self {
        Self::Poison(describe_decode_error(&err))
    }
}

/// One message handed to a handler.
#[derive(Debug, Clone)]
pub struct Message {
    /// The event id: the idempotency key. A message may arrive more than once (redelivery after
    /// a crash or a lost ack, a publisher retrying); its effect must be applied once.
    pub id: Uuid,
    /// 1 on the first delivery, 2 on the first retry, and so on.
    pub attempt: u32,
    /// The envelope, its data still JSON.
    pub envelope: RawEnvelope,
}

impl Message {
    /// The envelope with its data read as `T`; a mismatch is [`HandlerError::Poison`].
    pub fn decode<T: Event>(&self) -> Result<Envelope<T>, HandlerError> {
        if self.envelope.event_type != T::TYPE || self.envelope.version != T::VERSION {
            return Err(HandlerError::poison(format!(
                "expected a {} event, found {}",
                T::ROUTING_KEY,
                self.envelope.type_key()
            )));
        }
        let data = serde_json::from_value(self.envelope.data.clone())
            .map_err(|err| HandlerError::poison(describe_json_error(&err)))?;
        Ok(Envelope {
            id: self.envelope.id,
            event_type: self.envelope.event_type.clone(),
            version: self.envelope.version,
            occurred_at: self.envelope.occurred_at,
            correlation_id: self.envelope.correlation_id.clone(),
            traceparent: self.envelope.traceparent.clone(),
            data,
        })
    }
}

/// What a consumer does with each message. Closures `Fn(Message) -> impl Future` implement it.
pub trait Handler: Send + Sync + 'static {
    /// Applies the message's effect durably, or says why not. `Ok` leads to the ack.
    fn handle(&self, message: Message) -> impl Future<Output = Result<(), HandlerError>> + Send;
}

impl<F, Fut> Handler for F
where
    F: Fn(Message) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), HandlerError>> + Send,
{
    fn handle(&self, message: Message) -> impl Future<Output = Result<(), HandlerError>> + Send {
        self(message)
    }
}

/// Which event ids a consumer has already applied (e.g. a table or a Redis set of the service).
pub trait ProcessedEvents: Send + Sync + 'static {
    /// Whether `id`'s effect was applied already.
    fn seen(&self, id: Uuid) -> impl Future<Output = Result<bool, HandlerError>> + Send;
    /// Records that `id`'s effect is applied.
    fn mark(&self, id: Uuid) -> impl Future<Output = Result<(), HandlerError>> + Send;
}

/// A handler that skips events already applied and records the ones it applies.
///
/// Between the handler's `Ok` and `mark` a crash leaves the effect applied but unmarked, so the
/// event can be applied twice; where that matters, write the id in the same transaction as the
/// effect and make `mark` a no-op.
#[derive(Debug)]
pub struct Idempotent<H, P> {
    handler: H,
    processed: P,
}

impl<H: Handler, P: ProcessedEvents> Idempotent<H, P> {
    pub fn new(handler: H, processed: P) -> Self {
        Self { handler, processed }
    }
}

impl<H: Handler, P: ProcessedEvents> Handler for Idempotent<H, P> {
    async fn handle(&self, message: Message) -> Result<(), HandlerError> {
        let id = message.id;
        if self.processed.seen(id).await? {
            tracing::info!(event_id = %id, "event already applied; acknowledging the duplicate");
            return Ok(());
        }
        self.handler.handle(message).await?;
        self.processed.mark(id).await
    }
}

/// A consumer's settings.
#[derive(Debug, Clone)]
pub struct ConsumerConfig {
    pub broker: BrokerConfig,
    /// The main queue, its bindings and prefetch.
    pub queue: QueueSpec,
    /// One retry queue per delay; a message is tried `retry_delays.len() + 1` times.
    pub retry_delays: Vec<Duration>,
    /// How many handler calls run at once (at most the prefetch).
    pub concurrency: usize,
    /// First wait before reconnecting; doubles up to `max_reconnect_backoff`.
    pub reconnect_backoff: Duration,
    pub max_reconnect_backoff: Duration,
}

impl ConsumerConfig {
    /// Retries after 1 s, 10 s and 60 s; concurrency 4; reconnect backoff 200 ms to 10 s.
    pub fn new(broker: BrokerConfig, queue: QueueSpec) -> Self {
        Self {
            broker,
            queue,
            retry_delays: vec![
                Duration::from_secs(1),
                Duration::from_secs(10),
                Duration::from_secs(60),
            ],
            concurrency: 4,
            reconnect_backoff: Duration::from_millis(200),
            max_reconnect_backoff: Duration::from_secs(10),
        }
    }

    #[must_use]
    pub fn with_retry_delays(mut self, delays: impl IntoIterator<Item = Duration>) -> Self {
        self.retry_delays = delays.into_iter().collect();
        self
    }

    #[must_use]
    pub fn with_concurrency(mut self, concurrency: usize) -> Self {
        self.concurrency = concurrency;
        self
    }

    /// The queue a message waits in for `delay`: `<queue>.retry.<delay>` (e.g. `.retry.10s`).
    /// Named by its delay, so changing the delays declares new queues instead of conflicting
    /// with the TTL of existing ones.
    pub fn retry_queue(&self, delay: Duration) -> String {
        let millis = delay.as_millis();
        if millis.is_multiple_of(1000) {
            format!("{}.retry.{}s", self.queue.name, millis / 1000)
        } else {
            format!("{}.retry.{millis}ms", self.queue.name)
        }
    }

    /// The queue poison messages are parked in, for operators: `<queue>.dead`.
    pub fn dead_queue(&self) -> String {
        format!("{}.dead", self.queue.name)
    }
}

/// Why a consumer stopped for good.
#[derive(Debug, thiserror::Error)]
pub enum ConsumerError {
    #[error("invalid consumer configuration: {0}")]
    Config(&'static str),
    #[error(transparent)]
    Broker(#[from] BrokerError),
}

/// Consumes one queue with a [`Handler`] until cancelled.
pub struct EventConsumer<H> {
    config: Arc<ConsumerConfig>,
    handler: Arc<H>,
    status: ConsumerStatus,
}

/// Whether a consumer is taking deliveries right now, for `/readyz` (name `consumer`): false
/// until it has subscribed, and while it reconnects.
#[derive(Clone, Debug, Default)]
pub struct ConsumerStatus {
    consuming: Arc<std::sync::atomic::AtomicBool>,
}

impl ConsumerStatus {
    pub fn is_consuming(&self) -> bool {
        self.consuming.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn set(&self, consuming: bool) {
        self.consuming
            .store(consuming, std::sync::atomic::Ordering::Relaxed);
    }
}

impl hospital_platform::health::ReadinessCheck for ConsumerStatus {
    fn name(&self) -> &'static str {
        "consumer"
    }

    fn check(&self) -> hospital_platform::health::CheckFuture<'_> {
        let consuming = self.is_consuming();
        Box::pin(async move {
            if consuming {
                Ok(())
            } else {
                Err(
                    "not subscribed to its queue (starting, or reconnecting to the broker)"
                        .to_owned(),
                )
            }
        })
    }
}

impl<H> std::fmt::Debug for EventConsumer<H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventConsumer")
            .field("queue", &self.config.queue.name)
            .finish_non_exhaustive()
    }
}

impl<H: Handler> EventConsumer<H> {
    pub fn new(config: ConsumerConfig, handler: H) -> Self {
        Self {
            config: Arc::new(config),
            handler: Arc::new(handler),
            status: ConsumerStatus::default(),
        }
    }

    pub fn config(&self) -> &ConsumerConfig {
        &self.config
    }

    /// A handle that says whether [`EventConsumer::run`] is subscribed right now.
    pub fn status(&self) -> ConsumerStatus {
        self.status.clone()
    }

    /// Declares the exchange, the queue and its retry and dead queues, then closes the
    /// connection. [`EventConsumer::run`] does the same on every connect; this is for start-up
    /// checks, tooling and tests that publish before the consumer runs.
    pub async fn declare_topology(&self) -> Result<(), BrokerError> {
        let (connection, channel) = open(&self.config.broker).await?;
        let declared = declare_topology(&channel, &self.config).await;
        let _ = connection.close(200, "declared".into()).await;
        declared
    }

    /// Deletes the queue, its retry queues and its dead queue (tests and tooling; the exchange
    /// stays).
    pub async fn delete_topology(&self) -> Result<(), BrokerError> {
        let (connection, channel) = open(&self.config.broker).await?;
        let mut queues = vec![self.config.queue.name.clone(), self.config.dead_queue()];
        queues.extend(
            self.config
                .retry_delays
                .iter()
                .map(|delay| self.config.retry_queue(*delay)),
        );
        for queue in queues {
            channel
                .queue_delete(
                    short("queue name", &queue)?,
                    // Unconditional: whatever is in it goes.
                    QueueDeleteOptions {
                        if_unused: false,
                        if_empty: false,
                        nowait: false,
                    },
                )
                .await?;
        }
        let _ = connection.close(200, "deleted".into()).await;
        Ok(())
    }

    /// Consumes until `cancel` fires, reconnecting with backoff when the connection drops. On
    /// cancel it stops taking deliveries, lets in-flight handler calls finish and acks them,
    /// then returns. Unacknowledged deliveries of a dropped connection are redelivered by the
    /// broker.
    pub async fn run(self, cancel: CancellationToken) -> Result<(), ConsumerError> {
        let config = &self.config;
        if config.concurrency == 0 {
            return Err(ConsumerError::Config("concurrency must be at least 1"));
        }
        if config.retry_delays.iter().any(Duration::is_zero) {
            return Err(ConsumerError::Config("retry delays must be positive"));
        }
        let mut backoff = config.reconnect_backoff;
        while !cancel.is_cancelled() {
            match self.session(&cancel, &mut backoff).await {
                Ok(()) => break,
                Err(err) => {
                    tracing::warn!(queue = %config.queue.name, error = %err, ?backoff, "consumer lost the broker; reconnecting");
                }
            }
            tokio::select! {
                () = cancel.cancelled() => break,
                () = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(config.max_reconnect_backoff);
        }
        Ok(())
    }

    /// One connection's worth of consuming: `Ok` when cancelled, `Err` when the broker is lost.
    async fn session(
        &self,
        cancel: &CancellationToken,
        backoff: &mut Duration,
    ) -> Result<(), BrokerError> {
        let config = &self.config;
        let (connection, channel) = open(&config.broker).await?;
        let setup = async {
            declare_topology(&channel, config).await?;
            // Retries and parked messages go out on their own channel in confirm mode: the
            // original is acked only once the broker has stored its copy.
            let publish = connection.create_channel().await?;
            publish
                .confirm_select(ConfirmSelectOptions { nowait: false })
                .await?;
            channel
                .basic_qos(
                    // At most this many unacknowledged deliveries: bounds memory, leaves the
                    // rest to other replicas.
                    config.queue.prefetch,
                    // Per consumer (RabbitMQ's meaning of `global: false`).
                    BasicQosOptions { global: false },
                )
                .await?;
            let consumer = channel
                .basic_consume(
                    short("queue name", &config.queue.name)?,
                    // Empty: the broker generates a unique consumer tag.
                    "".into(),
                    BasicConsumeOptions {
                        // Manual acks, after the effect is durable.
                        no_ack: false,
                        // Replicas compete on the queue.
                        exclusive: false,
                        // Ignored by RabbitMQ.
                        no_local: false,
                        // Wait for consume-ok so failures surface here.
                        nowait: false,
                    },
                    FieldTable::default(),
                )
                .await?;
            Ok::<_, BrokerError>((publish, consumer))
        };
        let ready = tokio::time::timeout(config.broker.connect_timeout, setup)
            .await
            .map_err(|_| BrokerError::ConnectTimeout(config.broker.connect_timeout))
            .and_then(|ready| ready);
        let (publish, mut consumer) = match ready {
            Ok(ready) => ready,
            Err(err) => {
                close_quietly(&connection).await;
                return Err(err);
            }
        };
        tracing::info!(queue = %config.queue.name, "consuming");
        self.status.set(true);
        *backoff = config.reconnect_backoff;

        let limit = config
            .concurrency
            .min(usize::from(config.queue.prefetch.max(1)));
        let mut in_flight = JoinSet::new();
        let outcome = loop {
            if in_flight.len() >= limit {
                in_flight.join_next().await;
                continue;
            }
            tokio::select! {
                biased;
                () = cancel.cancelled() => {
                    // Stop deliveries; prefetched ones not yet handed out go back to the queue
                    // when the channel closes.
                    let _ = channel
                        .basic_cancel(consumer.tag(), BasicCancelOptions { nowait: false })
                        .await;
                    break Ok(());
                }
                Some(_) = in_flight.join_next(), if !in_flight.is_empty() => {}
                next = consumer.next() => match next {
                    Some(Ok(delivery)) => {
                        let work = process(config.clone(), self.handler.clone(), publish.clone(), delivery);
                        in_flight.spawn(work);
                    }
                    Some(Err(err)) => break Err(err.into()),
                    None => break Err(BrokerError::ConsumerCancelled),
                },
            }
        };
        self.status.set(false);
        // Let in-flight calls finish and ack (their acks fail harmlessly if the link is gone:
        // the broker redelivers those messages). When the broker is lost, wait no longer than
        // a confirm would take: an ack sent as the connection died can stay pending for good
        // (lapin), and a consumer that never gets past this point never reconnects.
        if outcome.is_ok() {
            while in_flight.join_next().await.is_some() {}
        } else {
            let drained = tokio::time::timeout(config.broker.confirm_timeout, async {
                while in_flight.join_next().await.is_some() {}
            })
            .await;
            if drained.is_err() {
                tracing::warn!(
                    queue = %config.queue.name,
                    abandoned = in_flight.len(),
                    "deliveries still being handled when the broker was lost are left for redelivery"
                );
                in_flight.shutdown().await;
            }
        }
        close_quietly(&connection).await;
        outcome
    }
}

/// Closes a connection politely, giving up quickly when it is already dead.
async fn close_quietly(connection: &Connection) {
    let _ = tokio::time::timeout(
        Duration::from_secs(1),
        connection.close(200, "consumer stopping".into()),
    )
    .await;
}

/// Declares the exchange's queue with its bindings, the retry queues and the dead queue.
async fn declare_topology(channel: &Channel, config: &ConsumerConfig) -> Result<(), BrokerError> {
    declare_queue(channel, &config.broker.exchange, &config.queue).await?;
    for delay in &config.retry_delays {
        let mut arguments = FieldTable::default();
        // Every message waits this long, then expires...
        arguments.insert(
            "x-message-ttl".into(),
            AMQPValue::LongLongInt(i64::try_from(delay.as_millis()).unwrap_or(i64::MAX)),
        );
        // ...and is dead-lettered through the default exchange, which routes by queue name...
        arguments.insert(
            "x-dead-letter-exchange".into(),
            AMQPValue::LongString("".into()),
        );
        // ...straight back to the main queue (and to no other consumer's queue).
        arguments.insert(
            "x-dead-letter-routing-key".into(),
            AMQPValue::LongString(config.queue.name.as_str().into()),
        );
        declare_plain(channel, &config.retry_queue(*delay), arguments).await?;
    }
    // No arguments: parked messages stay until an operator moves or purges them in the console.
    declare_plain(channel, &config.dead_queue(), FieldTable::default()).await
}

async fn declare_plain(
    channel: &Channel,
    name: &str,
    arguments: FieldTable,
) -> Result<(), BrokerError> {
    channel
        .queue_declare(
            short("queue name", name)?,
            QueueDeclareOptions {
                // Survives a broker restart (RabbitMQ 4 refuses transient shared queues).
                durable: true,
                // Shared by every replica.
                exclusive: false,
                // They hold messages nobody consumes; they must stay until expired or handled.
                auto_delete: false,
                // Create it if missing.
                passive: false,
                // Wait for declare-ok so a conflicting existing queue fails here.
                nowait: false,
            },
            arguments,
        )
        .await?;
    Ok(())
}

/// Where a delivery goes after its handler ran.
enum Verdict {
    Done,
    Retry { queue: String, reason: String },
    Dead { why: &'static str, reason: String },
}

/// Handles one delivery and acknowledges it. Never panics; broker failures leave the delivery
/// unacknowledged for redelivery.
async fn process<H: Handler>(
    config: Arc<ConsumerConfig>,
    handler: Arc<H>,
    publish: Channel,
    delivery: Delivery,
) {
    let attempt = header_u32(&delivery, ATTEMPT_HEADER).unwrap_or(1).max(1);
    let (id, verdict) = match RawEnvelope::raw_from_bytes(&delivery.data) {
        Err(err) => (
            None,
            Verdict::Dead {
                why: "undecodable",
                reason: describe_decode_error(&err),
            },
        ),
        Ok(envelope) => {
            let id = envelope.id;
            let message = Message {
                id,
                attempt,
                envelope,
            };
            let verdict = match handler.handle(message).await {
                Ok(()) => Verdict::Done,
                Err(HandlerError::Poison(reason)) => Verdict::Dead {
                    why: "poison",
                    reason,
                },
                Err(HandlerError::Retry(reason)) => {
                    match config.retry_delays.get(attempt as usize - 1) {
                        Some(delay) => Verdict::Retry {
                            queue: config.retry_queue(*delay),
                            reason,
                        },
                        None => Verdict::Dead {
                            why: "retries-exhausted",
                            reason,
                        },
                    }
                }
            };
            (Some(id), verdict)
        }
    };

    let queue = config.queue.name.as_str();
    let event_id = id.map(|id| id.to_string());
    let forwarded = match &verdict {
        Verdict::Done => Ok(()),
        Verdict::Retry { queue: to, reason } => {
            tracing::warn!(queue, event_id, attempt, %reason, retry_queue = %to, "handler failed; retrying later");
            forward(
                &publish,
                config.broker.confirm_timeout,
                &delivery,
                to,
                attempt + 1,
                reason,
                None,
            )
            .await
        }
        Verdict::Dead { why, reason } => {
            tracing::error!(queue, event_id, attempt, why, %reason, "parking the message in the dead queue");
            let dead = config.dead_queue();
            forward(
                &publish,
                config.broker.confirm_timeout,
                &delivery,
                &dead,
                attempt,
                reason,
                Some(why),
            )
            .await
        }
    };
    // An ack or nack sent as the connection dies can stay pending for good: bounded, so the
    // delivery's task ends and the consumer can reconnect (the broker redelivers it).
    let settle_within = config.broker.confirm_timeout;
    let acked = match forwarded {
        Ok(()) => tokio::time::timeout(
            settle_within,
            delivery.ack(BasicAckOptions { multiple: false }),
        )
        .await
        .map(|acked| acked.map(drop)),
        Err(err) => {
            tracing::warn!(queue, event_id, error = %err, "could not forward the message; leaving it for redelivery");
            // Back to the queue for another try (or, if the link is gone, the broker does it).
            tokio::time::timeout(
                settle_within,
                delivery.nack(BasicNackOptions {
                    multiple: false,
                    requeue: true,
                }),
            )
            .await
            .map(|nacked| nacked.map(drop))
        }
    };
    match acked {
        Ok(Ok(())) => {}
        Ok(Err(err)) => {
            tracing::warn!(queue, event_id, error = %err, "could not acknowledge; the broker will redeliver");
        }
        Err(_) => {
            tracing::warn!(queue, event_id, timeout = ?settle_within, "the acknowledgement did not go out in time; the broker will redeliver");
        }
    }
}

/// Why a retry or parked copy was not stored: the original stays unacknowledged.
#[derive(Debug, thiserror::Error)]
enum ForwardError {
    #[error(transparent)]
    Broker(#[from] BrokerError),
    #[error("broker error: {0}")]
    Amqp(#[from] lapin::Error),
    #[error("the broker did not store the copy (nacked or returned)")]
    NotStored,
    #[error("the broker did not confirm the copy within {0:?}")]
    Timeout(Duration),
}

/// Publishes a copy of `delivery` straight to `queue` (default exchange) with the failure
/// headers, and waits for the broker's confirm.
async fn forward(
    channel: &Channel,
    confirm_timeout: Duration,
    delivery: &Delivery,
    queue: &str,
    attempt: u32,
    reason: &str,
    why: Option<&str>,
) -> Result<(), ForwardError> {
    let mut headers = delivery.properties.headers().clone().unwrap_or_default();
    headers.insert(
        ATTEMPT_HEADER.into(),
        AMQPValue::LongLongInt(attempt.into()),
    );
    headers.insert(ERROR_HEADER.into(), AMQPValue::LongString(reason.into()));
    if !headers.contains_key(ROUTING_KEY_HEADER) {
        headers.insert(
            ROUTING_KEY_HEADER.into(),
            AMQPValue::LongString(delivery.routing_key.as_str().into()),
        );
    }
    if let Some(why) = why {
        headers.insert(
            DEATH_REASON_HEADER.into(),
            AMQPValue::LongString(why.into()),
        );
    }
    let properties = delivery
        .properties
        .clone()
        .with_headers(headers)
        // Persistent, as the original: the copy must survive a broker restart too.
        .with_delivery_mode(2);
    let routing_key = short("queue name", queue)?;
    let publish_and_confirm = async {
        channel
            .basic_publish(
                // The default exchange routes by queue name, to exactly this queue.
                ShortString::from(""),
                routing_key,
                BasicPublishOptions {
                    // The queue was declared on connect; if it vanished, get the message back
                    // rather than lose it silently.
                    mandatory: true,
                    // Not supported by RabbitMQ.
                    immediate: false,
                },
                &delivery.data,
                properties,
            )
            .await?
            .await
    };
    let confirmation = tokio::time::timeout(confirm_timeout, publish_and_confirm)
        .await
        .map_err(|_| ForwardError::Timeout(confirm_timeout))??;
    match confirmation {
        Confirmation::Ack(None) => Ok(()),
        Confirmation::Ack(Some(_)) | Confirmation::Nack(_) | Confirmation::NotRequested => {
            Err(ForwardError::NotStored)
        }
    }
}

fn header_u32(delivery: &Delivery, name: &str) -> Option<u32> {
    let value = delivery.properties.headers().as_ref()?.inner().get(name)?;
    let number = match value {
        AMQPValue::LongLongInt(n) => *n,
        AMQPValue::LongInt(n) => (*n).into(),
        AMQPValue::LongUInt(n) => (*n).into(),
        AMQPValue::ShortInt(n) => (*n).into(),
        AMQPValue::ShortUInt(n) => (*n).into(),
        _ => return None,
    };
    u32::try_from(number).ok()
}

/// A decode error without any text of the payload (serde's messages can quote it).
fn describe_decode_error(err: &DecodeError) -> String {
    match err {
        DecodeError::Json(err) => describe_json_error(err),
        DecodeError::WrongType { expected, found } => {
            format!("expected a {expected} event, found {found}")
        }
    }
}

fn describe_json_error(err: &serde_json::Error) -> String {
    format!(
        "not a valid envelope: {:?} error at line {} column {}",
        err.classify(),
        err.line(),
        err.column()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_queues_are_named_by_their_delay() {
        let config =
            ConsumerConfig::new(BrokerConfig::default(), QueueSpec::new("svc.ev", ["ev.v1"]));
        assert_eq!(
            config.retry_queue(Duration::from_secs(10)),
            "svc.ev.retry.10s"
        );
        assert_eq!(
            config.retry_queue(Duration::from_millis(250)),
            "svc.ev.retry.250ms"
        );
        assert_eq!(config.dead_queue(), "svc.ev.dead");
    }

    #[test]
    fn decode_errors_do_not_quote_the_payload() {
        let err = RawEnvelope::raw_from_bytes(br#"{"id": "secret diagnosis"}"#).unwrap_err();
        let described = describe_decode_error(&err);
        assert!(!described.contains("secret"), "{described}");
    }
}
