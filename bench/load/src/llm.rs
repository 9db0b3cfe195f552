//! `hospital-bench count-steps`: how fast the llm-worker turns a backlog of notes into
//! `steps.extracted`, read from a sink queue bound to that event (see `broker
//! steps-sink`), and which extractor made each: `"extractor":"openai"` when the model's
//! answer was used, `"offline"` with `"fallback":true` when the worker fell back. Both are
//! in clear in the event; the steps themselves are sealed.
//!
//! The rate is taken from the events' own `occurred_at` (when the worker published each),
//! first to last, so when the benchmark reads them does not matter; `--since-ms` (when the
//! worker was started) gives the rate including its start.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use chrono::{DateTime, Utc};
use hospital_events::{BrokerConfig, Event, QueueSpec, StepsExtracted, Subscriber};
use hyper::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::args::Args;
use crate::http::{Conn, Target};
use crate::watch::{GroupStats, MachineStats, ProcessStats, Watch};

/// What tells this result file apart from the others in `report`.
pub const KIND: &str = "llm_throughput";

/// The fake model's counters over the run (see `fake_openai`), reset before the worker
/// started.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ProviderStats {
    pub requests: u64,
    pub answered: u64,
    pub malformed: u64,
    /// The most requests it held at once.
    pub max_in_flight: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LlmRun {
    pub kind: String,
    pub label: String,
    /// `LLM__EVENTS__CONCURRENCY` (and `MAX_IN_FLIGHT`) of the worker measured.
    pub concurrency: u64,
    /// How long the fake model takes to answer.
    pub delay_ms: u64,
    /// concurrency / delay: what the worker can do at best.
    pub bound_per_s: f64,
    /// Notes waiting in the worker's queue when it started.
    pub backlog: u64,
    pub received: u64,
    /// By `extractor`, with ` (fallback)` when `fallback` was true.
    pub extractors: BTreeMap<String, u64>,
    pub openai: u64,
    pub fallback: u64,
    /// `occurred_at` of the first and last event, apart.
    pub first_to_last_s: f64,
    /// (received − 1) / first_to_last_s.
    pub per_s: f64,
    /// From the worker's start to the last event, and received / that.
    pub since_start_s: Option<f64>,
    pub per_s_since_start: Option<f64>,
    /// Not all of the backlog arrived before the deadline.
    pub timed_out: bool,
    pub provider: Option<ProviderStats>,
    pub processes: Vec<ProcessStats>,
    pub groups: Vec<GroupStats>,
    pub machine: MachineStats,
}

#[derive(Deserialize)]
struct StepsHeader {
    occurred_at: DateTime<Utc>,
    data: StepsData,
}

/// The fields of `steps.extracted` in clear.
#[derive(Deserialize)]
struct StepsData {
    extractor: String,
    fallback: bool,
}

/// The queue `broker steps-sink` binds for `steps.extracted`.
pub fn steps_sink_spec(queue_prefix: &str) -> QueueSpec {
    QueueSpec::new(
        format!("{queue_prefix}.bench-sink.{}", StepsExtracted::TYPE),
        [StepsExtracted::ROUTING_KEY],
    )
    .with_prefetch(1_000)
}

pub async fn run(args: &Args) -> Result<()> {
    let amqp_url = args.required("amqp-url")?;
    let exchange = args.required("exchange")?;
    let spec = steps_sink_spec(args.required("queue-prefix")?);
    let out = args.required("out")?;
    let label = args
        .get("label")
        .unwrap_or("llm-worker throughput")
        .to_owned();
    let backlog: u64 = args.number("expect", 100, 1..=1_000_000)?;
    let deadline_s: f64 = args.number("deadline", 300.0, 1.0..=3600.0)?;
    let concurrency: u64 = args.number("concurrency", 1, 1..=1024)?;
    let delay_ms: u64 = args.number("delay-ms", 500, 0..=60_000)?;
    let since = match args.get("since-ms") {
        Some(ms) => Some(
            DateTime::from_timestamp_millis(ms.parse().context("--since-ms is not a number")?)
                .context("--since-ms is out of range")?,
        ),
        None => None,
    };
    let fake = args.get("fake-openai").map(Target::parse).transpose()?;
    let mut watch = Watch::from_args(args)?;

    let config = BrokerConfig::new(amqp_url)
        .with_exchange(exchange)
        .with_connection_name("hospital-bench");
    let mut subscriber = Subscriber::connect(&config, &spec)
        .await
        .with_context(|| format!("consuming {}", spec.name))?;
    watch.reset_peaks();
    let started = Instant::now();
    let before = watch.sample();
    let deadline = started + Duration::from_secs_f64(deadline_s);

    let mut extractors = BTreeMap::new();
    let (mut openai, mut fallback, mut received) = (0, 0, 0);
    let mut first: Option<DateTime<Utc>> = None;
    let mut last: Option<DateTime<Utc>> = None;
    while received < backlog {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        let Some(incoming) = subscriber
            .next_message(left)
            .await
            .context("reading the steps sink")?
        else {
            break;
        };
        let header: StepsHeader = serde_json::from_slice(incoming.payload())
            .context("a steps.extracted event without occurred_at, extractor or fallback")?;
        incoming
            .ack()
            .await
            .context("acknowledging a steps.extracted")?;
        received += 1;
        let at = header.occurred_at;
        first = Some(first.map_or(at, |f| f.min(at)));
        last = Some(last.map_or(at, |l| l.max(at)));
        let key = if header.data.fallback {
            fallback += 1;
            format!("{} (fallback)", header.data.extractor)
        } else {
            if header.data.extractor == "openai" {
                openai += 1;
            }
            header.data.extractor
        };
        *extractors.entry(key).or_default() += 1;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let after = watch.sample();
    let usage = watch.usage(&before, &after, elapsed);
    subscriber.close().await;
    let provider = match &fake {
        Some(target) => Some(provider_stats(target).await?),
        None => None,
    };

    let seconds =
        |a: DateTime<Utc>, b: DateTime<Utc>| (b - a).num_microseconds().unwrap_or(0) as f64 / 1e6;
    let first_to_last_s = match (first, last) {
        (Some(f), Some(l)) => seconds(f, l),
        _ => 0.0,
    };
    let since_start_s = match (since, last) {
        (Some(s), Some(l)) => Some(seconds(s, l)),
        _ => None,
    };
    let per_s = |count: u64, s: f64| if s > 0.0 { count as f64 / s } else { 0.0 };
    let run = LlmRun {
        kind: KIND.to_owned(),
        label,
        concurrency,
        delay_ms,
        bound_per_s: if delay_ms > 0 {
            concurrency as f64 * 1000.0 / delay_ms as f64
        } else {
            f64::INFINITY
        },
        backlog,
        received,
        extractors,
        openai,
        fallback,
        first_to_last_s,
        per_s: per_s(received.saturating_sub(1), first_to_last_s),
        since_start_s,
        per_s_since_start: since_start_s.map(|s| per_s(received, s)),
        timed_out: received < backlog,
        provider,
        processes: usage.processes,
        groups: usage.groups,
        machine: usage.machine,
    };
    std::fs::write(out, serde_json::to_vec_pretty(&run)?)
        .with_context(|| format!("writing {out}"))?;
    crate::report::print_llm(std::slice::from_ref(&run));
    if received == 0 {
        bail!("no steps.extracted arrived within {deadline_s} s");
    }
    Ok(())
}

async fn provider_stats(target: &Target) -> Result<ProviderStats> {
    let mut conn = Conn::open(target).await?;
    let request = target.request(Method::GET, target.uri("/stats")?, None, None)?;
    let (status, body) = conn.send(request).await?;
    if status != StatusCode::OK {
        bail!("the fake model's /stats answered {status}");
    }
    serde_json::from_slice(&body).context("the fake model's /stats")
}
