//! The benchmark's part of RabbitMQ around its own services.
//!
//! - `setup`: binds a sink queue for `note.submitted` to the benchmark's exchange, as the
//!   llm-worker's queue is bound in production, so every note the service publishes is
//!   routed and stored (not returned as unroutable, which the service would log as a
//!   warning each time). The sink keeps the newest 1,000 messages and drops older ones:
//!   nothing consumes it, and it must not grow with the run.
//! - `declare --service NAME=PREFIX`: declares the queues a reminder-service or llm-worker
//!   with that queue prefix consumes, before it runs, so the events published meanwhile
//!   wait for it (the reminder-service must hear every `user.registered` of the seeding).
//! - `delete --service NAME=PREFIX`: deletes those queues again, once that service has
//!   stopped (an llm-worker's queue left bound would keep every later note).
//! - `drop-note-sink`: deletes the `note.submitted` sink, once an llm-worker's queue takes
//!   the notes instead.
//! - `steps-sink`: declares (and empties) a queue bound for `steps.extracted`, which
//!   `count-steps` reads.
//! - `cleanup`: deletes the sinks, every queue the notes-service with queue prefix P
//!   declared and those of each `--service` (each consumer's queue with its `.retry.*` and
//!   `.dead` queues), named by the services' own consumer configurations; with
//!   `--delete-exchange yes` the exchange too. Run it after the services have stopped.

use std::time::Duration;

use anyhow::{bail, Context, Result};
use hospital_events::{
    declare_exchange, declare_queue, BrokerError, ConsumerConfig, Event, EventConsumer, Message,
    NoteSubmitted,
};
use lapin::options::{
    ExchangeDeleteOptions, QueueBindOptions, QueueDeclareOptions, QueueDeleteOptions,
    QueuePurgeOptions,
};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{Channel, Connection, ConnectionProperties};

use crate::args::Args;
use crate::llm::steps_sink_spec;

/// Every broker step together stays within this.
const DEADLINE: Duration = Duration::from_secs(30);
/// How many notes the sink keeps.
const SINK_LENGTH: i64 = 1_000;

struct Broker<'a> {
    amqp_url: &'a str,
    exchange: &'a str,
    queue_prefix: &'a str,
    note_sink: String,
}

pub async fn run(args: &Args) -> Result<()> {
    let action = args
        .positional()
        .first()
        .context(
            "broker: name an action: setup, declare, delete, drop-note-sink, steps-sink or cleanup",
        )?
        .clone();
    let amqp_url = args.required("amqp-url")?;
    if !amqp_url.starts_with("amqp://") {
        bail!("--amqp-url must be an amqp:// URL");
    }
    let exchange = args.required("exchange")?;
    let queue_prefix = args.required("queue-prefix")?;
    check_prefix(queue_prefix)?;
    let services = args
        .all("service")
        .iter()
        .map(|s| {
            let (name, prefix) = s
                .split_once('=')
                .with_context(|| format!("--service {s:?}: expected NAME=PREFIX"))?;
            check_prefix(prefix)?;
            Ok((name, prefix))
        })
        .collect::<Result<Vec<_>>>()?;
    let broker = Broker {
        amqp_url,
        exchange,
        queue_prefix,
        note_sink: format!("{queue_prefix}.bench-sink.{}", NoteSubmitted::TYPE),
    };
    let work = async {
        match action.as_str() {
            "setup" => broker.setup().await,
            "declare" => broker.declare(&services).await,
            "delete" => broker.delete(&services).await,
            "drop-note-sink" => broker.drop_note_sink().await,
            "steps-sink" => broker.steps_sink().await,
            "cleanup" => {
                broker
                    .cleanup(&services, args.get("delete-exchange") == Some("yes"))
                    .await
            }
            other => bail!("broker: unknown action {other:?}"),
        }
    };
    tokio::time::timeout(DEADLINE, work)
        .await
        .with_context(|| format!("broker {action}: no answer within {DEADLINE:?}"))?
}

fn check_prefix(prefix: &str) -> Result<()> {
    if prefix.is_empty()
        || !prefix
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        bail!("queue prefixes must be letters, digits and dashes: {prefix:?}");
    }
    Ok(())
}

/// The queues a service with this queue prefix consumes from `exchange`.
fn consumer_configs(
    service: &str,
    amqp_url: &str,
    exchange: &str,
    queue_prefix: &str,
) -> Result<Vec<ConsumerConfig>> {
    Ok(match service {
        "notes-service" => {
            let mut settings = hospital_notes_service::Settings::default();
            amqp_url.clone_into(&mut settings.events.amqp_url);
            exchange.clone_into(&mut settings.events.exchange);
            queue_prefix.clone_into(&mut settings.events.queue_prefix);
            hospital_notes_service::startup::consumer_configs(&settings)
        }
        "reminder-service" => {
            let mut settings = hospital_reminder_service::Settings::default();
            amqp_url.clone_into(&mut settings.events.amqp_url);
            exchange.clone_into(&mut settings.events.exchange);
            queue_prefix.clone_into(&mut settings.events.queue_prefix);
            hospital_reminder_service::startup::consumer_configs(&settings)
        }
        "llm-worker" => {
            let mut settings = hospital_llm_worker::Settings::default();
            amqp_url.clone_into(&mut settings.events.amqp_url);
            exchange.clone_into(&mut settings.events.exchange);
            queue_prefix.clone_into(&mut settings.events.queue_prefix);
            vec![hospital_llm_worker::startup::consumer_config(&settings)]
        }
        other => bail!("--service {other}: expected notes-service, reminder-service or llm-worker"),
    })
}

// A consumer that never runs, with a handler that is never called: only its topology
// counts.
async fn declare_topology(config: ConsumerConfig) -> Result<(), BrokerError> {
    EventConsumer::new(config, |_: Message| async { Ok(()) })
        .declare_topology()
        .await
}

async fn delete_topology(config: ConsumerConfig) -> Result<(), BrokerError> {
    EventConsumer::new(config, |_: Message| async { Ok(()) })
        .delete_topology()
        .await
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

impl Broker<'_> {
    async fn setup(&self) -> Result<()> {
        let (connection, channel) = connect(self.amqp_url).await?;
        declare_exchange(&channel, self.exchange).await?;
        let sink = &self.note_sink;
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
                short(self.exchange)?,
                short(NoteSubmitted::ROUTING_KEY)?,
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .with_context(|| format!("binding {sink}"))?;
        let _ = connection.close(200, "bench set up".into()).await;
        println!(
            "broker: {sink} bound to {} for {}",
            self.exchange,
            NoteSubmitted::ROUTING_KEY
        );
        Ok(())
    }

    async fn declare(&self, services: &[(&str, &str)]) -> Result<()> {
        for (service, prefix) in services {
            for config in consumer_configs(service, self.amqp_url, self.exchange, prefix)? {
                let queue = config.queue.name.clone();
                declare_topology(config)
                    .await
                    .with_context(|| format!("declaring {queue}"))?;
            }
            println!("broker: the queues of {service} under {prefix}. are declared");
        }
        Ok(())
    }

    /// Deletes the queues of `services`; how many deletions failed (each said on stderr).
    async fn delete_queues<'s>(
        &self,
        services: impl IntoIterator<Item = (&'s str, &'s str)>,
    ) -> Result<usize> {
        let mut failed = 0;
        for (service, prefix) in services {
            for config in consumer_configs(service, self.amqp_url, self.exchange, prefix)? {
                let queue = config.queue.name.clone();
                if let Err(err) = delete_topology(config).await {
                    eprintln!(
                        "broker: could not delete {queue} and its retry and dead queues: {err}"
                    );
                    failed += 1;
                }
            }
        }
        Ok(failed)
    }

    async fn delete(&self, services: &[(&str, &str)]) -> Result<()> {
        let failed = self.delete_queues(services.iter().copied()).await?;
        if failed > 0 {
            bail!("{failed} deletions failed");
        }
        Ok(())
    }

    async fn drop_note_sink(&self) -> Result<()> {
        let (connection, channel) = connect(self.amqp_url).await?;
        channel
            .queue_delete(short(&self.note_sink)?, QueueDeleteOptions::default())
            .await
            .with_context(|| format!("deleting {}", self.note_sink))?;
        let _ = connection.close(200, "bench sink dropped".into()).await;
        Ok(())
    }

    async fn steps_sink(&self) -> Result<()> {
        let spec = steps_sink_spec(self.queue_prefix);
        let (connection, channel) = connect(self.amqp_url).await?;
        declare_exchange(&channel, self.exchange).await?;
        declare_queue(&channel, self.exchange, &spec)
            .await
            .with_context(|| format!("declaring {}", spec.name))?;
        // What an earlier run left in it would be counted as this run's.
        channel
            .queue_purge(short(&spec.name)?, QueuePurgeOptions::default())
            .await
            .with_context(|| format!("emptying {}", spec.name))?;
        let _ = connection.close(200, "bench steps sink".into()).await;
        Ok(())
    }

    async fn cleanup(&self, services: &[(&str, &str)], delete_exchange: bool) -> Result<()> {
        let mut failed = 0;
        let all =
            std::iter::once(("notes-service", self.queue_prefix)).chain(services.iter().copied());
        for (service, prefix) in all {
            for config in consumer_configs(service, self.amqp_url, self.exchange, prefix)? {
                let queue = config.queue.name.clone();
                if let Err(err) = delete_topology(config).await {
                    eprintln!(
                        "broker: could not delete {queue} and its retry and dead queues: {err}"
                    );
                    failed += 1;
                }
            }
        }
        let (connection, channel) = connect(self.amqp_url).await?;
        for sink in [
            self.note_sink.clone(),
            steps_sink_spec(self.queue_prefix).name,
        ] {
            if let Err(err) = channel
                .queue_delete(short(&sink)?, QueueDeleteOptions::default())
                .await
            {
                eprintln!("broker: could not delete {sink}: {err}");
                failed += 1;
            }
        }
        if delete_exchange {
            if let Err(err) = channel
                .exchange_delete(short(self.exchange)?, ExchangeDeleteOptions::default())
                .await
            {
                eprintln!(
                    "broker: could not delete the exchange {}: {err}",
                    self.exchange
                );
                failed += 1;
            }
        }
        let _ = connection.close(200, "bench cleaned up".into()).await;
        if failed > 0 {
            bail!("{failed} deletions failed");
        }
        println!(
            "broker: the queues under {}. are deleted",
            self.queue_prefix
        );
        Ok(())
    }
}
