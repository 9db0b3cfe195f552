//! A publisher that waits for the broker's confirm of every message.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::types::ShortString;
use lapin::{BasicProperties, Channel, Confirmation, Connection};
use tokio::sync::Mutex;

use crate::broker::{open, BrokerConfig, BrokerError};
use crate::{Envelope, Event};

/// AMQP delivery mode 2: the broker writes the message to disk in a durable queue.
const PERSISTENT: u8 = 2;

/// Why a message was not confirmed. The message may or may not have reached the broker, so the
/// caller publishes it again (consumers deduplicate on the message id).
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("could not reach the broker")]
    Connect(#[source] BrokerError),
    #[error("the broker did not confirm the message within {0:?}")]
    ConfirmTimeout(Duration),
    #[error("the broker refused the message (nack)")]
    Nacked,
    #[error("the channel is not in confirm mode, so the message is unconfirmed")]
    NotConfirmed,
    #[error("publishing failed: {0}")]
    Amqp(#[from] lapin::Error),
    #[error("could not serialize the event: {0}")]
    Serialize(#[from] serde_json::Error),
    #[error("{what} is longer than AMQP's 255-byte limit")]
    TooLong { what: &'static str },
    #[error("no queue is bound for {routing_key}, which must reach its consumer: the broker returned it (is the consumer deployed?)")]
    Unroutable { routing_key: String },
}

/// An AMQP short string for a publish argument.
fn arg(what: &'static str, value: &str) -> Result<ShortString, PublishError> {
    ShortString::try_new(value).map_err(|_| PublishError::TooLong { what })
}

/// One connection and its confirm-mode channel; `generation` tells a broken one from its
/// replacement when several publishes fail at once.
struct Link {
    generation: u64,
    connection: Connection,
    channel: Channel,
}

impl Link {
    fn is_usable(&self) -> bool {
        self.connection.status().connected() && self.channel.status().connected()
    }
}

#[derive(Default)]
struct State {
    link: Option<Link>,
    generation: u64,
}

/// Publishes to the events exchange with publisher confirms.
///
/// Connects on first use, not on construction, so a service starts while the broker is down
/// (its readiness probe says so through [`Publisher::check`]). A connection that fails is
/// dropped and the next call opens a new one. Cheap to share behind an `Arc`; publishes from
/// several tasks share one channel.
pub struct Publisher {
    config: BrokerConfig,
    state: Mutex<State>,
    /// Routing keys whose messages must reach a queue: a returned one is an error.
    required_routes: Vec<String>,
}

impl std::fmt::Debug for Publisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Publisher")
            .field("exchange", &self.config.exchange)
            .finish_non_exhaustive()
    }
}

impl Publisher {
    /// A publisher for `config`; nothing is opened until the first call.
    pub fn new(config: BrokerConfig) -> Self {
        Self {
            config,
            state: Mutex::new(State::default()),
            required_routes: Vec::new(),
        }
    }

    /// Makes a message with `routing_key` that no queue is bound for an error
    /// ([`PublishError::Unroutable`]) instead of a warning, for events whose consumer must get
    /// them (a note for the llm-worker): an outbox keeps the message and tries again, rather
    /// than losing it on a broker where the consumer has not declared its queue yet.
    #[must_use]
    pub fn requiring_route(mut self, routing_key: &str) -> Self {
        self.required_routes.push(routing_key.to_owned());
        self
    }

    pub fn config(&self) -> &BrokerConfig {
        &self.config
    }

    /// Connects if needed and says whether the broker is reachable and the exchange declared.
    /// For `GET /readyz`.
    pub async fn check(&self) -> Result<(), BrokerError> {
        self.channel().await.map(|_| ())
    }

    /// [`Publisher::check`] as a yes or no.
    pub async fn is_healthy(&self) -> bool {
        self.check().await.is_ok()
    }

    /// Publishes an envelope with its routing key, its id as the message id.
    pub async fn publish_event<T: Event>(
        &self,
        envelope: &Envelope<T>,
    ) -> Result<(), PublishError> {
        let payload = envelope.to_bytes()?;
        self.publish(T::ROUTING_KEY, &envelope.id.to_string(), &payload)
            .await
    }

    /// Publishes `payload` (a serialized envelope) to the exchange with `routing_key` and waits
    /// for the broker's confirm, at most `confirm_timeout`.
    ///
    /// `Ok` means the broker has taken responsibility for the message (written it to every
    /// durable queue it routes to). A message that no queue is bound for is confirmed too, and
    /// logged as a warning: with a topic exchange that only means nobody subscribes yet;
    /// unless its routing key was named with [`Publisher::requiring_route`].
    pub async fn publish(
        &self,
        routing_key: &str,
        message_id: &str,
        payload: &[u8],
    ) -> Result<(), PublishError> {
        let (confirmed, failure) = self
            .publish_in_order(&[Outgoing {
                routing_key,
                message_id,
                payload,
            }])
            .await;
        match failure {
            Some(err) => Err(err),
            None if confirmed == 1 => Ok(()),
            None => Err(PublishError::NotConfirmed),
        }
    }

    /// Publishes `messages` in order on one channel without waiting between them, then waits
    /// for their confirms (all within `confirm_timeout`). Returns how many, counted from the
    /// first, the broker confirmed, and what stopped the rest: the caller publishes those
    /// again (a message after a failed one may have arrived too; consumers deduplicate).
    ///
    /// One round trip for a whole batch instead of one a message: an outbox drains several
    /// times faster, and the broker keeps a channel's messages in the order they were sent.
    pub async fn publish_in_order(
        &self,
        messages: &[Outgoing<'_>],
    ) -> (usize, Option<PublishError>) {
        if messages.is_empty() {
            return (0, None);
        }
        let exchange = match arg("exchange name", &self.config.exchange) {
            Ok(exchange) => exchange,
            Err(err) => return (0, Some(err)),
        };
        let (generation, channel) = match self.channel().await {
            Ok(link) => link,
            Err(err) => return (0, Some(PublishError::Connect(err))),
        };
        let timeout = self.config.confirm_timeout;
        let mut confirmed = 0;
        let outcome = tokio::time::timeout(timeout, async {
            let mut pending = Vec::with_capacity(messages.len());
            for message in messages {
                let properties = properties(
                    message.routing_key,
                    message.message_id,
                    &self.config.connection_name,
                )?;
                let confirm = channel
                    .basic_publish(
                        exchange.clone(),
                        arg("routing key", message.routing_key)?,
                        BasicPublishOptions {
                            // Ask the broker to hand back a message no queue is bound for, so
                            // that it is at least logged instead of vanishing silently.
                            mandatory: true,
                            // Not supported by RabbitMQ; must stay false.
                            immediate: false,
                        },
                        message.payload,
                        properties,
                    )
                    .await?;
                pending.push(confirm);
            }
            for (message, confirm) in messages.iter().zip(pending) {
                let required = self
                    .required_routes
                    .iter()
                    .any(|route| route == message.routing_key);
                settle(confirm.await?, message, required)?;
                confirmed += 1;
            }
            Ok::<(), PublishError>(())
        })
        .await;
        let failure = match outcome {
            Ok(Ok(())) => None,
            // A confirm that never comes means a stuck connection (e.g. a broker blocked by a
            // memory alarm, or a half-open TCP link): start afresh next time.
            Err(_) => Some(PublishError::ConfirmTimeout(timeout)),
            Ok(Err(err)) => Some(err),
        };
        if matches!(
            failure,
            Some(
                PublishError::ConfirmTimeout(_)
                    | PublishError::Amqp(_)
                    | PublishError::NotConfirmed
            )
        ) {
            self.discard(generation).await;
        }
        (confirmed, failure)
    }

    /// Closes the connection, if any (on shutdown, after the last publish).
    pub async fn close(&self) {
        let link = self.state.lock().await.link.take();
        if let Some(link) = link {
            close_link(link).await;
        }
    }

    /// The current channel, opening a connection first when there is none or it broke.
    async fn channel(&self) -> Result<(u64, Channel), BrokerError> {
        let mut state = self.state.lock().await;
        if let Some(link) = &state.link {
            if link.is_usable() {
                return Ok((link.generation, link.channel.clone()));
            }
            tracing::warn!(exchange = %self.config.exchange, "broker connection lost; reconnecting");
        }
        if let Some(old) = state.link.take() {
            tokio::spawn(close_link(old));
        }
        let (connection, channel) = open(&self.config).await?;
        // Publisher confirms: the broker acks each message once it is safely routed and stored,
        // or nacks it; without this, `basic_publish` succeeding says nothing.
        tokio::time::timeout(
            self.config.connect_timeout,
            channel.confirm_select(ConfirmSelectOptions { nowait: false }),
        )
        .await
        .map_err(|_| BrokerError::ConnectTimeout(self.config.connect_timeout))??;
        state.generation += 1;
        let generation = state.generation;
        tracing::info!(exchange = %self.config.exchange, "connected to the broker");
        state.link = Some(Link {
            generation,
            connection,
            channel: channel.clone(),
        });
        Ok((generation, channel))
    }

    /// Drops the link of `generation` if it is still the current one, so the next call reconnects.
    async fn discard(&self, generation: u64) {
        let mut state = self.state.lock().await;
        if state
            .link
            .as_ref()
            .is_some_and(|link| link.generation == generation)
        {
            if let Some(link) = state.link.take() {
                tokio::spawn(close_link(link));
            }
        }
    }
}

/// One message for [`Publisher::publish_in_order`].
#[derive(Debug, Clone, Copy)]
pub struct Outgoing<'a> {
    /// E.g. `user.registered.v1`.
    pub routing_key: &'a str,
    /// The event id: the AMQP message id.
    pub message_id: &'a str,
    /// The serialized envelope.
    pub payload: &'a [u8],
}

fn properties(
    routing_key: &str,
    message_id: &str,
    app_id: &str,
) -> Result<BasicProperties, PublishError> {
    Ok(BasicProperties::default()
        // Persistent: together with durable queues, survives a broker restart.
        .with_delivery_mode(PERSISTENT)
        // The body is the JSON envelope; the admin console shows it as text.
        .with_content_type("application/json".into())
        // The event id: consumers deduplicate on it, operators search by it.
        .with_message_id(arg("message id", message_id)?)
        // The event type without its version, shown in the admin console.
        .with_type(arg("message type", message_type(routing_key))?)
        // Which service published it, for operators reading a queue.
        .with_app_id(arg("app id", app_id)?)
        // When it was sent (seconds); `occurred_at` in the body is when it happened.
        .with_timestamp(unix_seconds()))
}

/// What the broker's answer to one message means.
fn settle(
    confirmation: Confirmation,
    message: &Outgoing<'_>,
    required: bool,
) -> Result<(), PublishError> {
    match confirmation {
        Confirmation::Nack(_) => Err(PublishError::Nacked),
        Confirmation::Ack(Some(_)) if required => Err(PublishError::Unroutable {
            routing_key: message.routing_key.to_owned(),
        }),
        Confirmation::Ack(returned) => {
            if let Some(returned) = returned {
                tracing::warn!(
                    routing_key = message.routing_key,
                    message_id = message.message_id,
                    reply_code = returned.reply_code,
                    reply_text = %returned.reply_text,
                    "no queue is bound for this event; the broker dropped it"
                );
            }
            Ok(())
        }
        // confirm_select is always on for our channels; a channel without it cannot say
        // whether the message arrived, so treat it as broken.
        Confirmation::NotRequested => Err(PublishError::NotConfirmed),
    }
}

/// Closes a connection politely, giving up quickly when it is already dead.
async fn close_link(link: Link) {
    let _ = tokio::time::timeout(
        Duration::from_secs(1),
        link.connection.close(200, "closing".into()),
    )
    .await;
}

/// `user.registered` for `user.registered.v1`: the routing key without its version suffix.
fn message_type(routing_key: &str) -> &str {
    match routing_key.rsplit_once(".v") {
        Some((event_type, version))
            if !version.is_empty() && version.bytes().all(|b| b.is_ascii_digit()) =>
        {
            event_type
        }
        _ => routing_key,
    }
}

fn unix_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

/// The broker as a `/readyz` check: reachable, exchange declared.
impl hospital_platform::health::ReadinessCheck for Publisher {
    fn name(&self) -> &'static str {
        "rabbitmq"
    }

    fn check(&self) -> hospital_platform::health::CheckFuture<'_> {
        Box::pin(async move { Publisher::check(self).await.map_err(|e| e.to_string()) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_type_strips_the_version() {
        assert_eq!(message_type("user.registered.v1"), "user.registered");
        assert_eq!(message_type("assignment.changed.v12"), "assignment.changed");
        assert_eq!(message_type("user.vip"), "user.vip");
        assert_eq!(message_type("plain"), "plain");
    }
}
