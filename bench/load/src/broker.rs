//! The benchmark's part of RabbitMQ around its own notes-service.
//!
//! - `setup`: binds a sink queue for `note.submitted` to the benchmark's exchange, as the
//!   llm-worker's queue is bound in production, so every note the service publishes is
//!   routed and stored (not returned as unroutable, which the service would log as a
//!   warning each time). The sink keeps the newest 1,000 messages and drops older ones:
//!   nothing consumes it, and it must not grow with the run.
//! - `cleanup`: deletes the sink and every queue the notes-service declared under its
//!   queue prefix (each consumer's queue with its `.retry.*` and `.dead` queues), named
//!   by the service's own `consumer_configs`. Run it after the service has stopped.
//!
//! The exchange stays: the auth-service of the benchmark publishes to it as well, and
//! nothing is bound to it once these queues are gone.

use std::time::Duration;

use anyhow::{bail, Context, Result};
use hospital_events::{declare_exchange, Event, EventConsumer, Message, NoteSubmitted};
use hospital_notes_service::startup::consumer_configs;
use hospital_notes_service::Settings;
use lapin::options::{QueueBindOptions, QueueDeclareOptions, QueueDeleteOptions};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{Channel, Connection, ConnectionProperties};

use crate::args::Args;

/// Every broker step together stays within this.
const DEADLINE: Duration = Duration::from_secs(30);
/// How many notes the sink keeps.
const SINK_LENGTH: i64 = 1_000;

pub async fn run(args: &Args) -> Result<()> {
    let action = args
        .positional()
        .first()
        .context("broker: name an action, setup or cleanup")?
        .clone();
    let amqp_url = args.required("amqp-url")?;
    if !amqp_url.starts_with("amqp://") {
        bail!("--amqp-url must be an amqp:// URL");
    }
    let exchange = args.required("exchange")?;
    let queue_prefix = args.required("queue-prefix")?;
    if queue_prefix.is_empty()
        || !queue_prefix
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        bail!("--queue-prefix must be letters, digits and dashes");
    }
    let sink = format!("{queue_prefix}.bench-sink.{}", NoteSubmitted::TYPE);
    let work = async {
        match action.as_str() {
            "setup" => setup(amqp_url, exchange, &sink).await,
            "cleanup" => cleanup(amqp_url, exchange, queue_prefix, &sink).await,
            other => bail!("broker: unknown action {other:?} (setup or cleanup)"),
        }
    };
    tokio::time::timeout(DEADLINE, work)
        .await
        .with_context(|| format!("broker {action}: no answer within {DEADLINE:?}"))?
}

async fn connect(amqp_url: &str) -> Result<(Connection, Channel)> {
    let properties = ConnectionProperties::default().with_connection_name("hospital-bench".into());
    let connection = Connection::connect(amqp_url, properties)
        .await
        .context("connecting to RabbitMQ")?;
    let channel = connection.create_channel().await?;
    Ok((connection, channel))
}

fn short(value: &str) -> Result<ShortString> {
    ShortString::try_new(value).map_err(|_| anyhow::anyhow!("{value:?} is too long for AMQP"))
}

async fn setup(amqp_url: &str, exchange: &str, sink: &str) -> Result<()> {
    let (connection, channel) = connect(amqp_url).await?;
    declare_exchange(&channel, exchange).await?;
    let mut arguments = FieldTable::default();
    arguments.insert(short("x-max-length")?, AMQPValue::LongLongInt(SINK_LENGTH));
    arguments.insert(
        short("x-overflow")?,
        AMQPValue::LongString("drop-head".into()),
    );
    channel
        .queue_declare(
            short(sink)?,
            // Durable as the llm-worker's queue, so the persistent notes are stored as they
            // are in production; deleted by `cleanup`.
            QueueDeclareOptions {
                durable: true,
                ..QueueDeclareOptions::default()
            },
            arguments,
        )
        .await
        .with_context(|| format!("declaring {sink}"))?;
    channel
        .queue_bind(
            short(sink)?,
            short(exchange)?,
            short(NoteSubmitted::ROUTING_KEY)?,
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .with_context(|| format!("binding {sink}"))?;
    let _ = connection.close(200, "bench set up".into()).await;
    println!(
        "broker: {sink} bound to {exchange} for {}",
        NoteSubmitted::ROUTING_KEY
    );
    Ok(())
}

async fn cleanup(amqp_url: &str, exchange: &str, queue_prefix: &str, sink: &str) -> Result<()> {
    let mut settings = Settings::default();
    settings.events.amqp_url = amqp_url.to_owned();
    settings.events.exchange = exchange.to_owned();
    settings.events.queue_prefix = queue_prefix.to_owned();
    let mut failed = 0;
    for config in consumer_configs(&settings) {
        let queue = config.queue.name.clone();
        // A consumer that never ran, a handler that is never called: only the names count.
        let consumer = EventConsumer::new(config, |_: Message| async { Ok(()) });
        if let Err(err) = consumer.delete_topology().await {
            eprintln!("broker: could not delete {queue} and its retry and dead queues: {err}");
            failed += 1;
        }
    }
    let (connection, channel) = connect(amqp_url).await?;
    if let Err(err) = channel
        .queue_delete(short(sink)?, QueueDeleteOptions::default())
        .await
    {
        eprintln!("broker: could not delete {sink}: {err}");
        failed += 1;
    }
    let _ = connection.close(200, "bench cleaned up".into()).await;
    if failed > 0 {
        bail!("{failed} queue deletions failed");
    }
    println!("broker: the queues under {queue_prefix}. are deleted");
    Ok(())
}
