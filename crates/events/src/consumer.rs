//! Consuming events: a queue bound to the exchange, deliveries acknowledged by hand once their
//! effect is durable.

use std::time::Duration;

use futures_util::StreamExt;
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions, QueueDeleteOptions,
};
use lapin::types::FieldTable;
use lapin::{Channel, Connection, Consumer};

use crate::broker::{declare_queue, open, short, BrokerConfig, BrokerError, QueueSpec};
use crate::envelope::{DecodeError, Envelope, RawEnvelope};
use crate::Event;

/// A consumer on one queue, with its own connection.
pub struct Subscriber {
    connection: Connection,
    channel: Channel,
    consumer: Consumer,
    queue: String,
}

impl std::fmt::Debug for Subscriber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscriber")
            .field("queue", &self.queue)
            .finish_non_exhaustive()
    }
}

impl Subscriber {
    /// Connects, declares the exchange and `spec`'s queue with its bindings, and starts
    /// consuming with manual acknowledgements.
    pub async fn connect(config: &BrokerConfig, spec: &QueueSpec) -> Result<Self, BrokerError> {
        let (connection, channel) = open(config).await?;
        let setup = async {
            declare_queue(&channel, &config.exchange, spec).await?;
            channel
                .basic_qos(
                    // At most this many unacknowledged deliveries in flight: bounds memory and
                    // lets other replicas take the rest.
                    spec.prefetch,
                    // Per consumer, not per channel (RabbitMQ's meaning of `global: false`).
                    BasicQosOptions { global: false },
                )
                .await?;
            let consumer = channel
                .basic_consume(
                    short("queue name", &spec.name)?,
                    // Empty: the broker generates a unique consumer tag.
                    "".into(),
                    BasicConsumeOptions {
                        // Manual acks: a message is removed only after its effect is durable;
                        // a crash before that redelivers it.
                        no_ack: false,
                        // Several replicas share the queue (competing consumers).
                        exclusive: false,
                        // Ignored by RabbitMQ.
                        no_local: false,
                        // Wait for consume-ok so failures surface here.
                        nowait: false,
                    },
                    FieldTable::default(),
                )
                .await?;
            Ok::<_, BrokerError>(consumer)
        };
        let consumer = tokio::time::timeout(config.connect_timeout, setup)
            .await
            .map_err(|_| BrokerError::ConnectTimeout(config.connect_timeout))??;
        Ok(Self {
            connection,
            channel,
            consumer,
            queue: spec.name.clone(),
        })
    }

    pub fn queue(&self) -> &str {
        &self.queue
    }

    /// The next delivery, or `None` if none arrives within `timeout`. An error means the
    /// connection or channel broke: drop this subscriber and connect again (unacknowledged
    /// deliveries are redelivered).
    pub async fn next_message(
        &mut self,
        timeout: Duration,
    ) -> Result<Option<Incoming>, BrokerError> {
        match tokio::time::timeout(timeout, self.consumer.next()).await {
            Err(_) => Ok(None),
            Ok(Some(Ok(delivery))) => Ok(Some(Incoming { delivery })),
            Ok(Some(Err(err))) => Err(err.into()),
            Ok(None) => Err(BrokerError::ConsumerCancelled),
        }
    }

    /// Deletes the queue (tests and tooling) and closes the connection. Returns how many
    /// messages were still in it.
    pub async fn delete_queue(self) -> Result<u32, BrokerError> {
        let count = self
            .channel
            .queue_delete(
                short("queue name", &self.queue)?,
                QueueDeleteOptions {
                    // Delete even while other consumers use it or messages wait in it.
                    if_unused: false,
                    if_empty: false,
                    // Wait for delete-ok.
                    nowait: false,
                },
            )
            .await?;
        self.close().await;
        Ok(count)
    }

    /// Closes the connection; unacknowledged deliveries go back to the queue.
    pub async fn close(self) {
        let _ = tokio::time::timeout(
            Duration::from_secs(1),
            self.connection.close(200, "closing".into()),
        )
        .await;
    }
}

/// One delivery, to acknowledge once its effect is durable.
#[derive(Debug)]
pub struct Incoming {
    delivery: Delivery,
}

impl Incoming {
    pub fn routing_key(&self) -> &str {
        self.delivery.routing_key.as_str()
    }

    /// The AMQP message id (the event id, for messages from [`crate::Publisher`]).
    pub fn message_id(&self) -> Option<&str> {
        self.delivery
            .properties
            .message_id()
            .as_ref()
            .map(lapin::types::ShortString::as_str)
    }

    /// The AMQP `type` property (the event type).
    pub fn message_type(&self) -> Option<&str> {
        self.delivery
            .properties
            .kind()
            .as_ref()
            .map(lapin::types::ShortString::as_str)
    }

    /// The AMQP delivery mode (2 = persistent).
    pub fn delivery_mode(&self) -> Option<u8> {
        *self.delivery.properties.delivery_mode()
    }

    pub fn content_type(&self) -> Option<&str> {
        self.delivery
            .properties
            .content_type()
            .as_ref()
            .map(lapin::types::ShortString::as_str)
    }

    /// True when the broker delivered it before and it was not acknowledged.
    pub fn redelivered(&self) -> bool {
        self.delivery.redelivered
    }

    pub fn payload(&self) -> &[u8] {
        &self.delivery.data
    }

    /// The body as an envelope of `T` (type and version checked).
    pub fn decode<T: Event>(&self) -> Result<Envelope<T>, DecodeError> {
        Envelope::from_bytes(&self.delivery.data)
    }

    /// The body as an envelope of any type.
    pub fn decode_raw(&self) -> Result<RawEnvelope, DecodeError> {
        RawEnvelope::raw_from_bytes(&self.delivery.data)
    }

    /// Acknowledges: the broker forgets the message.
    pub async fn ack(&self) -> Result<(), BrokerError> {
        // Just this delivery, not every earlier one.
        self.delivery
            .ack(BasicAckOptions { multiple: false })
            .await?;
        Ok(())
    }

    /// Refuses the message: back to the queue with `requeue`, otherwise dropped (or
    /// dead-lettered, when the queue has a dead-letter exchange).
    pub async fn nack(&self, requeue: bool) -> Result<(), BrokerError> {
        self.delivery
            .nack(BasicNackOptions {
                multiple: false,
                requeue,
            })
            .await?;
        Ok(())
    }
}
