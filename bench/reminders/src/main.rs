//! `hospital-bench-reminders`: the dispatch benchmark of reminder-service
//! (`bench/run.sh reminders`, see bench/README.md).
//!
//! 1. Seeds `patients × 10` pending reminders straight into a dedicated Redis through the
//!    service's own library (`Store::replace_steps`, the script `steps.extracted` runs): one
//!    plan step per patient with all ten occurrences materialised (so the dispatcher does no
//!    top-ups), due instants spread uniformly over a window of `--window` seconds that
//!    starts `--lead` seconds after seeding began.
//! 2. Reads Redis `used_memory` before and after: bytes per pending reminder.
//! 3. Binds its own queue to the service's exchange (`reminder.due.v1`), starts the
//!    reminder-service binary as a child process, and consumes every `reminder.due`:
//!    lateness = receive time − `data.due_at`, 1-s buckets, duplicates by reminder id.
//! 4. Prints a report (and writes it as JSON), stops the service, deletes its queues and
//!    the exchange.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::fs;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use chrono::{DateTime, Utc};
use futures_util::{stream, StreamExt};
use hdrhistogram::Histogram;
use hospital_crypto::Keyring;
use hospital_events::contracts::{step_source_binding, step_title_binding};
use hospital_events::{
    declare_exchange, declare_queue, Event, QueueSpec, ReminderDue, ReminderDueBatch,
};
use hospital_reminder_service::domain::{OccurrenceRecord, StepStem};
use hospital_reminder_service::planner::sortable_instant;
use hospital_reminder_service::startup::consumer_configs;
use hospital_reminder_service::store::{
    NewOccurrence, NewPlanStep, ReplaceOutcome, Replacement, Store,
};
use lapin::options::{BasicConsumeOptions, ExchangeDeleteOptions, QueueDeleteOptions};
use lapin::types::FieldTable;
use lapin::{Connection, ConnectionProperties};
use serde::Deserialize;
use serde_json::json;

const USAGE: &str = "usage: hospital-bench-reminders --redis-url URL --service-bin PATH [options]
  --redis-url URL        a dedicated, empty Redis (loopback only)
  --redis-pid PID        its process id (CPU per second in the report)
  --amqp-url URL         default amqp://guest:guest@127.0.0.1:5672/%2f
  --service-bin PATH     target/release/reminder-service
  --log PATH             the service's log (default reminder-service.log)
  --out PATH             the report as JSON
  --patients N           default 100000 (1..=1000000)
  --per-patient N        reminders per patient, default 10 (1..=50)
  --window SECS          the due instants spread over this many seconds, default 60
  --lead SECS            the window starts this long after seeding starts, default 40
  --concurrency N        replace_steps calls in flight while seeding, default 256
  --grace SECS           grace of each occurrence, default 3600 (none ends during the run)
  --deadline SECS        stop consuming this long after the window ends, default 120
  --clk-tck N            default 100
  --scripts-only yes     no broker, no service: after seeding, claim and acknowledge every
                         reminder through the service's own Store calls (one dispatcher,
                         --batch steps a claim, occurrence by occurrence) and report Redis
                         CPU per reminder (its main thread, INFO cpu): the cost of the
                         dispatch scripts themselves, without the machine's contention
  --broker-only N        no Redis, no service: publish N persistent reminder.due-sized
                         messages with confirms (as the service does: one channel,
                         --concurrency batches of --batch in flight) and consume them";

struct Args {
    redis_url: String,
    redis_pid: Option<u32>,
    amqp_url: String,
    service_bin: PathBuf,
    log: PathBuf,
    out: Option<PathBuf>,
    patients: u64,
    per_patient: u32,
    window: u64,
    lead: u64,
    concurrency: usize,
    grace: i64,
    deadline: u64,
    clk_tck: u64,
    broker_only: u64,
    scripts_only: bool,
    batch: usize,
}

fn bounded(name: &str, value: &str, min: u64, max: u64) -> Result<u64> {
    let v: u64 = value
        .parse()
        .with_context(|| format!("{name} {value:?}: expected an integer"))?;
    if v < min || v > max {
        bail!("{name} {v}: expected {min}..={max}");
    }
    Ok(v)
}

fn loopback(url: &str) -> bool {
    ["127.0.0.1", "localhost", "[::1]"]
        .iter()
        .any(|h| url.contains(&format!("@{h}:")) || url.contains(&format!("//{h}:")))
}

impl Args {
    fn parse() -> Result<Self> {
        let mut args = Args {
            redis_url: String::new(),
            redis_pid: None,
            amqp_url: hospital_events::DEFAULT_AMQP_URL.to_owned(),
            service_bin: PathBuf::new(),
            log: PathBuf::from("reminder-service.log"),
            out: None,
            patients: 100_000,
            per_patient: 10,
            window: 60,
            lead: 40,
            concurrency: 256,
            grace: 3600,
            deadline: 120,
            clk_tck: 100,
            broker_only: 0,
            scripts_only: false,
            batch: 500,
        };
        let raw: Vec<String> = std::env::args().skip(1).collect();
        let mut it = raw.iter();
        while let Some(flag) = it.next() {
            if flag == "-h" || flag == "--help" {
                println!("{USAGE}");
                std::process::exit(0);
            }
            let value = it
                .next()
                .with_context(|| format!("{flag} needs a value\n{USAGE}"))?;
            match flag.as_str() {
                "--redis-url" => args.redis_url.clone_from(value),
                "--redis-pid" => args.redis_pid = Some(bounded(flag, value, 1, 1 << 22)? as u32),
                "--amqp-url" => args.amqp_url.clone_from(value),
                "--service-bin" => args.service_bin = PathBuf::from(value),
                "--log" => args.log = PathBuf::from(value),
                "--out" => args.out = Some(PathBuf::from(value)),
                "--patients" => args.patients = bounded(flag, value, 1, 1_000_000)?,
                "--per-patient" => args.per_patient = bounded(flag, value, 1, 50)? as u32,
                "--window" => args.window = bounded(flag, value, 1, 3600)?,
                "--lead" => args.lead = bounded(flag, value, 1, 3600)?,
                "--batch" => args.batch = bounded(flag, value, 1, 10_000)? as usize,
                "--concurrency" => args.concurrency = bounded(flag, value, 1, 4096)? as usize,
                "--grace" => args.grace = i64::try_from(bounded(flag, value, 60, 86_400)?)?,
                "--deadline" => args.deadline = bounded(flag, value, 1, 3600)?,
                "--clk-tck" => args.clk_tck = bounded(flag, value, 1, 10_000)?,
                "--broker-only" => args.broker_only = bounded(flag, value, 1, 10_000_000)?,
                "--scripts-only" => match value.as_str() {
                    "yes" => args.scripts_only = true,
                    "no" => args.scripts_only = false,
                    _ => bail!("--scripts-only takes yes or no"),
                },
                _ => bail!("unknown option {flag}\n{USAGE}"),
            }
        }
        if args.broker_only == 0
            && (args.redis_url.is_empty()
                || (args.service_bin.as_os_str().is_empty() && !args.scripts_only))
        {
            bail!("--redis-url and --service-bin are required\n{USAGE}");
        }
        if (args.broker_only == 0 && !loopback(&args.redis_url)) || !loopback(&args.amqp_url) {
            bail!("only loopback Redis and RabbitMQ URLs are accepted");
        }
        Ok(args)
    }
}

// ---- /proc ------------------------------------------------------------------------------

fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

fn status_kib(pid: u32, key: &str) -> Option<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(key)?.strip_prefix(':'))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The pids whose `comm` is `name` (RabbitMQ's `beam.smp`).
fn pids_named(name: &str) -> Vec<u32> {
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == name)
        })
        .collect()
}

/// Busy and total jiffies of the whole machine.
fn machine_ticks() -> Option<(u64, u64)> {
    let stat = fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    let total: u64 = v.iter().take(8).sum();
    let idle = v.get(3)? + v.get(4)?;
    Some((total - idle, total))
}

// ---- time -------------------------------------------------------------------------------

fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

// ---- Redis ------------------------------------------------------------------------------

async fn info_field(
    con: &mut redis::aio::MultiplexedConnection,
    section: &str,
    field: &str,
) -> Result<u64> {
    let info: String = redis::cmd("INFO").arg(section).query_async(con).await?;
    info.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().parse().ok())
        .with_context(|| format!("INFO {section} has no {field}"))
}

// ---- seeding ----------------------------------------------------------------------------

const PREFIX: &str = "hospital:";
const TITLE: &str = "Take amoxicillin 500 mg with food";
const SOURCE: &str = "Amoxicillin 500 mg three times a day with food for seven days.";

struct Plan {
    window_start: i64,
    window: u64,
    patients: u64,
    per_patient: u32,
    grace: i64,
}

impl Plan {
    fn total(&self) -> u64 {
        self.patients * u64::from(self.per_patient)
    }

    /// Occurrence `n` of patient `p`: the reminders in order n-major spread evenly over the
    /// window, so each patient's occurrences come in order.
    fn due(&self, p: u64, n: u32) -> i64 {
        let idx = u64::from(n) * self.patients + p;
        self.window_start + i64::try_from(idx * self.window / self.total()).unwrap_or(0)
    }
}

fn replacement(
    plan: &Plan,
    keyring: &Keyring,
    p: u64,
    now: i64,
) -> Result<(uuid::Uuid, Replacement)> {
    let patient = uuid::Uuid::now_v7();
    let step_id = uuid::Uuid::now_v7();
    let title = keyring.seal_str(TITLE, &step_title_binding(step_id, patient))?;
    let source = keyring.seal_str(SOURCE, &step_source_binding(step_id, patient))?;
    let text = hospital_reminder_service::store::sealed_text(&title, &source);
    let occurrences: Vec<NewOccurrence> = (0..plan.per_patient)
        .map(|n| {
            let due = plan.due(p, n);
            NewOccurrence {
                n,
                record: OccurrenceRecord::pending(due, plan.grace).to_string(),
                score: due * 1000,
            }
        })
        .collect();
    let last_due = plan.due(p, plan.per_patient - 1);
    let step = NewPlanStep {
        stem: StepStem::of(step_id).to_string(),
        id: step_id.to_string(),
        text,
        schedule: r#"{"kind":"interval","every_hours":1}"#.to_owned(),
        duration: format!(r#"{{"occurrences":{}}}"#, plan.per_patient),
        start: plan.due(p, 0).to_string(),
        count: plan.per_patient.to_string(),
        next: plan.per_patient,
        last_due: last_due.to_string(),
        occurrences,
    };
    Ok((
        patient,
        Replacement {
            patient: patient.to_string(),
            note_id: uuid::Uuid::now_v7().to_string(),
            note_created_at: sortable_instant(Utc::now()),
            extractor: "offline".to_owned(),
            fallback: "false".to_owned(),
            timezone: "UTC".to_owned(),
            now: now.to_string(),
            event_ttl: 604_800,
            checklist: Vec::new(),
            plan: vec![step],
        },
    ))
}

struct Seeded {
    secs: f64,
    applied: u64,
    other: u64,
    sample_patient: Option<uuid::Uuid>,
    sample_event: uuid::Uuid,
}

async fn seed(store: &Store, keyring: &Keyring, plan: &Plan, concurrency: usize) -> Result<Seeded> {
    let started = Instant::now();
    let now = now_us() / 1_000_000;
    let done = AtomicU64::new(0);
    let results: Vec<Result<(uuid::Uuid, uuid::Uuid, ReplaceOutcome)>> =
        stream::iter(0..plan.patients)
            .map(|p| {
                let done = &done;
                async move {
                    let (patient, r) = replacement(plan, keyring, p, now)?;
                    let event = uuid::Uuid::now_v7();
                    let outcome = store
                        .replace_steps(event, patient, &r)
                        .await
                        .with_context(|| format!("replace_steps for patient {p}"))?;
                    let d = done.fetch_add(1, Ordering::Relaxed) + 1;
                    if d.is_multiple_of(20_000) {
                        eprintln!(
                            "bench: seeded {d} patients in {:.1} s",
                            started.elapsed().as_secs_f64()
                        );
                    }
                    Ok((patient, event, outcome))
                }
            })
            .buffer_unordered(concurrency)
            .collect()
            .await;
    let mut seeded = Seeded {
        secs: started.elapsed().as_secs_f64(),
        applied: 0,
        other: 0,
        sample_patient: None,
        sample_event: uuid::Uuid::nil(),
    };
    for r in results {
        let (patient, event, outcome) = r?;
        if matches!(outcome, ReplaceOutcome::Applied { .. }) {
            seeded.applied += 1;
            if seeded.sample_patient.is_none() {
                seeded.sample_patient = Some(patient);
                seeded.sample_event = event;
            }
        } else {
            seeded.other += 1;
        }
    }
    Ok(seeded)
}

// ---- consuming --------------------------------------------------------------------------

/// Declares `queue` bound to `exchange` for `reminder.due` (on `declare`) and consumes it
/// without acknowledgements (on `consume`).
async fn due_consumer(
    declare: &lapin::Channel,
    consume: &lapin::Channel,
    exchange: &str,
    queue: &str,
) -> Result<lapin::Consumer> {
    declare_exchange(declare, exchange).await?;
    declare_queue(
        declare,
        exchange,
        &QueueSpec::new(
            queue,
            [ReminderDue::ROUTING_KEY, ReminderDueBatch::ROUTING_KEY],
        ),
    )
    .await?;
    Ok(consume
        .basic_consume(
            queue.into(),
            "".into(),
            BasicConsumeOptions {
                no_ack: true,
                ..BasicConsumeOptions::default()
            },
            FieldTable::default(),
        )
        .await?)
}

#[derive(Deserialize)]
struct Body {
    data: BodyData,
}

/// `reminder.due_batch` (several reminders) or `reminder.due` (one).
#[derive(Deserialize)]
#[serde(untagged)]
enum BodyData {
    Batch { reminders: Vec<DueReminder> },
    Single(DueReminder),
}

#[derive(Deserialize)]
struct DueReminder {
    reminder_id: uuid::Uuid,
    due_at: DateTime<Utc>,
}

#[derive(Default, Clone, Copy)]
struct Sample {
    /// Seconds since the window's start, at the end of this sample.
    at: i64,
    received: u64,
    service: u64,
    redis: u64,
    rabbit: u64,
    bench: u64,
    machine_busy: u64,
    machine_total: u64,
}

fn sample(at: i64, received: u64, service: u32, redis: Option<u32>, rabbit: &[u32]) -> Sample {
    let (busy, total) = machine_ticks().unwrap_or_default();
    Sample {
        at,
        received,
        service: cpu_ticks(service).unwrap_or(0),
        redis: redis.and_then(cpu_ticks).unwrap_or(0),
        rabbit: rabbit.iter().filter_map(|p| cpu_ticks(*p)).sum(),
        bench: cpu_ticks(std::process::id()).unwrap_or(0),
        machine_busy: busy,
        machine_total: total,
    }
}

/// The service's own lateness histogram (`reminder_lateness_seconds`: due instant to the
/// claim that sent it), from its `/metrics`, as the share of reminders at or under each
/// bound: tells the dispatcher's part of the lateness from the broker's and ours.
fn service_lateness(log: &std::path::Path) -> serde_json::Value {
    use std::io::{Read, Write};
    let Ok(text) = fs::read_to_string(log) else {
        return serde_json::Value::Null;
    };
    let port = text
        .lines()
        .filter(|l| l.contains("listening"))
        .find_map(|l| {
            let rest = &l[l.find("\"port\":")? + 7..];
            rest.split(|c: char| !c.is_ascii_digit())
                .next()?
                .parse::<u16>()
                .ok()
        });
    let Some(port) = port else {
        return serde_json::Value::Null;
    };
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return serde_json::Value::Null;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let request = "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    let mut body = String::new();
    if stream.write_all(request.as_bytes()).is_err() || stream.read_to_string(&mut body).is_err() {
        return serde_json::Value::Null;
    }
    let buckets: Vec<(String, f64)> = body
        .lines()
        .filter_map(|l| {
            if l.starts_with('#') {
                return None;
            }
            // `hospital_` prefix and a `service` label from the platform's registry.
            let rest = l.split_once("reminder_lateness_seconds_bucket{")?.1;
            let le = rest.split("le=\"").nth(1)?.split('"').next()?.to_owned();
            let count: f64 = rest.rsplit(' ').next()?.parse().ok()?;
            Some((le, count))
        })
        .collect();
    let total = buckets.last().map_or(0.0, |b| b.1);
    if total <= 0.0 {
        return serde_json::Value::Null;
    }
    serde_json::Value::Object(
        buckets
            .into_iter()
            .map(|(le, count)| (le, json!((count / total * 10_000.0).round() / 10_000.0)))
            .collect(),
    )
}

/// Redis's main-thread CPU so far, in microseconds (`INFO cpu`).
async fn redis_cpu_us(con: &mut redis::aio::MultiplexedConnection) -> Result<f64> {
    let info: String = redis::cmd("INFO").arg("cpu").query_async(con).await?;
    let field = |name: &str| -> f64 {
        info.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0.0)
    };
    Ok((field("used_cpu_user_main_thread") + field("used_cpu_sys_main_thread")) * 1e6)
}

/// `--scripts-only yes`: the seeded reminders claimed and acknowledged as the dispatcher does
/// (claim-and-send with the titles' MGET, then acknowledge the batch's steps), occurrence by
/// occurrence (each round's instant is the last due instant of that occurrence), with no
/// broker and no service: Redis CPU per reminder for each of the two calls.
async fn scripts_only(
    args: &Args,
    plan: &Plan,
    store: &Store,
    con: &mut redis::aio::MultiplexedConnection,
) -> Result<()> {
    let lease_ms = 30_000;
    let (mut claim_us, mut ack_us, mut reminders, mut batches) = (0.0, 0.0, 0u64, 0u64);
    let started = Instant::now();
    for n in 0..plan.per_patient {
        let now_ms = plan.due(plan.patients - 1, n) * 1000;
        loop {
            let lease = uuid::Uuid::new_v4();
            let before = redis_cpu_us(con).await?;
            let sent = store
                .claim_and_send(hospital_reminder_service::store::Claim {
                    now_ms,
                    horizon_ms: now_ms,
                    lease_ms,
                    batch: args.batch,
                    lease,
                    lookahead: 3,
                })
                .await?
                .sent;
            let claimed = redis_cpu_us(con).await?;
            claim_us += claimed - before;
            if sent.is_empty() {
                break;
            }
            let published = vec![true; sent.len()];
            let before = redis_cpu_us(con).await?;
            store
                .acknowledge_sent(lease, &sent, &published, 1000)
                .await?;
            ack_us += redis_cpu_us(con).await? - before;
            reminders += sent.len() as u64;
            batches += 1;
        }
    }
    let secs = started.elapsed().as_secs_f64();
    if reminders != plan.total() {
        bail!("claimed {reminders} reminders of {}", plan.total());
    }
    let per = |us: f64| us / reminders as f64;
    println!(
        "scripts only: {reminders} reminders in {batches} claims of up to {} steps, {secs:.1} s ({:.0}/s, one dispatcher, no broker); Redis main-thread CPU per reminder: claim and send (with the titles' MGET) {:.1} us, acknowledge {:.1} us, together {:.1} us",
        args.batch,
        reminders as f64 / secs,
        per(claim_us),
        per(ack_us),
        per(claim_us + ack_us)
    );
    if let Some(out) = &args.out {
        let report = json!({
            "scripts_only": {
                "reminders": reminders,
                "claims": batches,
                "batch": args.batch,
                "secs": secs,
                "redis_cpu_us_per_reminder": {
                    "claim_and_send": per(claim_us),
                    "acknowledge": per(ack_us),
                    "total": per(claim_us + ack_us),
                },
            }
        });
        fs::write(out, serde_json::to_string_pretty(&report)?)
            .with_context(|| format!("writing {}", out.display()))?;
    }
    Ok(())
}

/// `--broker-only N`: RabbitMQ alone at the service's publishing pattern, to tell its share
/// of the dispatch rate: one connection and one confirm channel, `--concurrency` publishers
/// each publishing `--batch` persistent, mandatory messages at once and waiting for all
/// their confirms, into an exchange with one bound queue that this process consumes.
async fn broker_only(args: &Args) -> Result<()> {
    use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
    use lapin::BasicProperties;
    let stamp = now_us() / 1_000_000;
    let exchange = format!("bench.broker.{stamp}");
    let queue = format!("bench-broker-{stamp}.reminder.due");
    let amqp = Connection::connect(&args.amqp_url, ConnectionProperties::default()).await?;
    let channel = amqp.create_channel().await?;
    let consume_channel = amqp.create_channel().await?;
    let mut consumer = due_consumer(&channel, &consume_channel, &exchange, &queue).await?;
    let publish_channel = amqp.create_channel().await?;
    publish_channel
        .confirm_select(ConfirmSelectOptions { nowait: false })
        .await?;
    // A body the size of a reminder.due envelope with its sealed title.
    let body = vec![b'x'; 700];
    let total = args.broker_only;
    let started = Instant::now();
    let next = AtomicU64::new(0);
    let publishers = (0..args.concurrency).map(|_| {
        let channel = &publish_channel;
        let exchange = exchange.as_str();
        let body = &body;
        let next = &next;
        async move {
            loop {
                let from = next.fetch_add(args.batch as u64, Ordering::Relaxed);
                if from >= total {
                    return Ok::<(), anyhow::Error>(());
                }
                let n = (total - from).min(args.batch as u64);
                let confirms = (0..n).map(|_| async move {
                    let properties = BasicProperties::default()
                        .with_delivery_mode(2)
                        .with_content_type("application/json".into());
                    channel
                        .basic_publish(
                            exchange.into(),
                            ReminderDue::ROUTING_KEY.into(),
                            BasicPublishOptions {
                                mandatory: true,
                                immediate: false,
                            },
                            body,
                            properties,
                        )
                        .await?
                        .await
                });
                for confirm in futures_util::future::join_all(confirms).await {
                    confirm?;
                }
            }
        }
    });
    let consuming = async {
        let mut received = 0u64;
        while received < total {
            match tokio::time::timeout(Duration::from_secs(30), consumer.next()).await {
                Ok(Some(Ok(_))) => received += 1,
                _ => break,
            }
        }
        (received, started.elapsed().as_secs_f64())
    };
    let (published, (received, consumed_secs)) = tokio::join!(
        async {
            let r = futures_util::future::join_all(publishers).await;
            (r, started.elapsed().as_secs_f64())
        },
        consuming
    );
    let (results, published_secs) = published;
    for r in results {
        r?;
    }
    println!(
        "broker only: {total} published and confirmed in {published_secs:.1} s = {:.0}/s; {received} consumed by {consumed_secs:.1} s = {:.0}/s ({} publishers x {} in flight)",
        total as f64 / published_secs,
        received as f64 / consumed_secs,
        args.concurrency,
        args.batch
    );
    let _ = channel
        .queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
        .await;
    let _ = channel
        .exchange_delete(exchange.as_str().into(), ExchangeDeleteOptions::default())
        .await;
    let _ = amqp.close(200, "bench done".into()).await;
    Ok(())
}

fn stop(child: &mut Child) {
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
}

fn main() -> Result<()> {
    let args = Args::parse()?;
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?
        .block_on(async move {
            if args.broker_only > 0 {
                broker_only(&args).await
            } else {
                run(args).await
            }
        })
}

#[allow(clippy::too_many_lines)]
async fn run(args: Args) -> Result<()> {
    let stamp = now_us() / 1_000_000;
    let exchange = format!("bench.reminders.{stamp}");
    let queue_prefix = format!("bench-reminders-{stamp}");
    let bench_queue = format!("{queue_prefix}.bench.reminder.due");

    // Redis: dedicated and empty.
    let client = redis::Client::open(args.redis_url.as_str())?;
    let mut con = client.get_multiplexed_async_connection().await?;
    let keys: u64 = redis::cmd("DBSIZE").query_async(&mut con).await?;
    if keys != 0 {
        bail!(
            "the Redis at {} holds {keys} keys: the benchmark needs a dedicated, empty one",
            args.redis_url
        );
    }
    let aof: String = redis::cmd("CONFIG")
        .arg("GET")
        .arg("appendonly")
        .query_async::<Vec<String>>(&mut con)
        .await?
        .get(1)
        .cloned()
        .unwrap_or_default();
    let mem_before = info_field(&mut con, "memory", "used_memory").await?;

    let key = Keyring::generate_key()?;
    let keys_spec = format!("bench:{}", key.as_str());
    let keyring = Keyring::from_spec(&keys_spec)?;
    let store = Store::connect(&args.redis_url, PREFIX)?;

    let seed_start = now_us() / 1_000_000;
    let plan = Plan {
        window_start: seed_start + i64::try_from(args.lead)?,
        window: args.window,
        patients: args.patients,
        per_patient: args.per_patient,
        grace: args.grace,
    };
    let total = plan.total();
    eprintln!(
        "bench: seeding {} patients × {} = {total} reminders due over {} s from {} (in {} s)",
        args.patients, args.per_patient, args.window, plan.window_start, args.lead
    );
    let seeded = seed(&store, &keyring, &plan, args.concurrency).await?;
    let seed_rate = total as f64 / seeded.secs;
    eprintln!(
        "bench: seeded in {:.1} s ({:.0} reminders/s, {:.0} patients/s); {} applied, {} not",
        seeded.secs,
        seed_rate,
        args.patients as f64 / seeded.secs,
        seeded.applied,
        seeded.other
    );
    if seeded.other > 0 {
        bail!("{} replacements were not applied", seeded.other);
    }
    let seeded_at = now_us();
    let slack_ms = (plan.window_start * 1_000_000 - seeded_at) / 1000;
    if slack_ms < 0 {
        eprintln!(
            "bench: WARNING seeding ended {} ms after the window started: raise --lead",
            -slack_ms
        );
    }

    let mem_after = info_field(&mut con, "memory", "used_memory").await?;
    let pending: u64 = redis::cmd("ZCARD")
        .arg(format!("{PREFIX}due"))
        .query_async(&mut con)
        .await?;
    let per_reminder = (mem_after.saturating_sub(mem_before)) as f64 / total as f64;
    // Where the bytes go: one patient's keys, and the due set.
    let mut breakdown = serde_json::Map::new();
    if let Some(patient) = seeded.sample_patient {
        let stems: String = redis::cmd("HGET")
            .arg(format!("{PREFIX}steps:{patient}"))
            .arg("plan")
            .query_async(&mut con)
            .await?;
        let mut names = vec![
            ("event", format!("{PREFIX}event:{}", seeded.sample_event)),
            ("steps", format!("{PREFIX}steps:{patient}")),
            ("history", format!("{PREFIX}history:{patient}")),
        ];
        if let Some(stem) = stems.split_whitespace().next() {
            names.push(("step", format!("{PREFIX}step:{stem}")));
            names.push(("text", format!("{PREFIX}text:{stem}")));
        }
        for (what, k) in names {
            let bytes: Option<u64> = redis::cmd("MEMORY")
                .arg("USAGE")
                .arg(&k)
                .query_async(&mut con)
                .await?;
            breakdown.insert(what.to_owned(), json!(bytes));
        }
    }
    let due_bytes: Option<u64> = redis::cmd("MEMORY")
        .arg("USAGE")
        .arg(format!("{PREFIX}due"))
        .arg("SAMPLES")
        .arg(1000)
        .query_async(&mut con)
        .await?;
    breakdown.insert("due_set".to_owned(), json!(due_bytes));
    eprintln!(
        "bench: Redis used_memory {mem_before} → {mem_after} B: {per_reminder:.1} B per pending reminder ({pending} in due, aof {aof}); per patient keys {}",
        serde_json::Value::Object(breakdown.clone())
    );

    if args.scripts_only {
        return scripts_only(&args, &plan, &store, &mut con).await;
    }

    // The broker: our queue on the service's exchange, bound before the service starts.
    let amqp = Connection::connect(&args.amqp_url, ConnectionProperties::default()).await?;
    let channel = amqp.create_channel().await?;
    let mut consumer = due_consumer(&channel, &channel, &exchange, &bench_queue).await?;

    // The service.
    let log =
        fs::File::create(&args.log).with_context(|| format!("creating {}", args.log.display()))?;
    let mut child = Command::new(&args.service_bin)
        .env("REMINDER__HTTP__HOST", "127.0.0.1")
        .env("REMINDER__HTTP__PORT", "0")
        .env("REMINDER__REDIS__URL", &args.redis_url)
        .env("REMINDER__REDIS__KEY_PREFIX", PREFIX)
        .env("REMINDER__EVENTS__AMQP_URL", &args.amqp_url)
        .env("REMINDER__EVENTS__EXCHANGE", &exchange)
        .env("REMINDER__EVENTS__QUEUE_PREFIX", &queue_prefix)
        .env("REMINDER__CRYPTO__KEYS", &keys_spec)
        .env(
            "REMINDER__AUTH__JWKS_URL",
            "http://127.0.0.1:9/.well-known/jwks.json",
        )
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .with_context(|| format!("starting {}", args.service_bin.display()))?;
    let service_pid = child.id();
    eprintln!(
        "bench: reminder-service pid {service_pid}, log {}",
        args.log.display()
    );

    let result = consume(&args, &plan, &mut consumer, service_pid).await;
    let claim_lateness = service_lateness(&args.log);
    let hwm = status_kib(service_pid, "VmHWM");
    let rss = status_kib(service_pid, "VmRSS");
    stop(&mut child);

    let remaining: u64 = redis::cmd("ZCARD")
        .arg(format!("{PREFIX}due"))
        .query_async(&mut con)
        .await
        .unwrap_or(0);
    let mem_end = info_field(&mut con, "memory", "used_memory")
        .await
        .unwrap_or(0);

    // Clean up the broker whatever happened.
    // Ours, and every queue the service declared: its consumers' queues with their retry
    // and dead queues.
    let mut settings = hospital_reminder_service::Settings::default();
    settings.events.exchange.clone_from(&exchange);
    settings.events.queue_prefix.clone_from(&queue_prefix);
    let mut queues = vec![bench_queue.clone()];
    for config in consumer_configs(&settings) {
        queues.push(config.queue.name.clone());
        queues.push(config.dead_queue());
        queues.extend(config.retry_delays.iter().map(|d| config.retry_queue(*d)));
    }
    for q in &queues {
        if let Err(e) = channel
            .queue_delete(q.as_str().into(), QueueDeleteOptions::default())
            .await
        {
            eprintln!("bench: could not delete queue {q}: {e}");
        }
    }
    if let Err(e) = channel
        .exchange_delete(exchange.as_str().into(), ExchangeDeleteOptions::default())
        .await
    {
        eprintln!("bench: could not delete exchange {exchange}: {e}");
    }
    let _ = amqp.close(200, "bench done".into()).await;

    let measured = result?;
    let report = measured.report(&args, &plan);
    let report = json!({
        "seeding": {
            "patients": args.patients,
            "reminders": total,
            "secs": seeded.secs,
            "reminders_per_sec": seed_rate,
            "concurrency": args.concurrency,
            "slack_ms_before_window": slack_ms,
        },
        "redis": {
            "appendonly": aof,
            "used_memory_before": mem_before,
            "used_memory_seeded": mem_after,
            "used_memory_end": mem_end,
            "bytes_per_pending_reminder": per_reminder,
            "pending_after_seeding": pending,
            "due_left_at_end": remaining,
            "key_bytes": breakdown,
        },
        "service": {
            "claim_lateness_le_secs": claim_lateness,
            "vm_hwm_kib": hwm,
            "vm_rss_kib": rss,
            "settings": std::env::vars()
                .filter(|(k, _)| k.starts_with("REMINDER__REMINDERS__"))
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>(),
        },
        "dispatch": report,
    });
    println!("{}", text_report(&report));
    if let Some(out) = &args.out {
        fs::write(out, serde_json::to_string_pretty(&report)?)
            .with_context(|| format!("writing {}", out.display()))?;
    }
    Ok(())
}

struct Measured {
    received: u64,
    distinct: u64,
    early: u64,
    undecodable: u64,
    /// Broker messages: one per reminder, or one per batch.
    messages: u64,
    first_us: i64,
    last_us: i64,
    lateness_ms: Histogram<u64>,
    samples: Vec<Sample>,
    start_ticks: Sample,
    end_ticks: Sample,
}

async fn consume(
    args: &Args,
    plan: &Plan,
    consumer: &mut lapin::Consumer,
    service_pid: u32,
) -> Result<Measured> {
    let total = plan.total();
    let rabbit = pids_named("beam.smp");
    let mut seen: HashSet<u128> = HashSet::with_capacity(total as usize);
    let mut m = Measured {
        received: 0,
        distinct: 0,
        early: 0,
        undecodable: 0,
        messages: 0,
        first_us: 0,
        last_us: 0,
        lateness_ms: Histogram::new_with_bounds(1, 24 * 3_600_000, 3)?,
        samples: Vec::new(),
        start_ticks: Sample::default(),
        end_ticks: Sample::default(),
    };
    let window_start_us = plan.window_start * 1_000_000;
    let deadline_us = window_start_us + i64::try_from((args.window + args.deadline) * 1_000_000)?;
    let received = Arc::new(AtomicU64::new(0));
    // The sampler: once a second, CPU of each process and what has arrived.
    let samples = Arc::new(Mutex::new(Vec::new()));
    let sampler = {
        let received = Arc::clone(&received);
        let samples = Arc::clone(&samples);
        let redis_pid = args.redis_pid;
        let rabbit = rabbit.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
                let at = (now_us() - window_start_us).div_euclid(1_000_000);
                let s = sample(
                    at,
                    received.load(Ordering::Relaxed),
                    service_pid,
                    redis_pid,
                    &rabbit,
                );
                if let Ok(mut v) = samples.lock() {
                    v.push(s);
                }
            }
        })
    };
    while m.received < total {
        let left = deadline_us - now_us();
        if left <= 0 {
            eprintln!(
                "bench: deadline passed with {} of {total} received",
                m.received
            );
            break;
        }
        let next =
            tokio::time::timeout(Duration::from_micros(left.unsigned_abs()), consumer.next()).await;
        let delivery = match next {
            Err(_) => continue,
            Ok(None) => bail!("the broker cancelled the consumer"),
            Ok(Some(d)) => d?,
        };
        let at = now_us();
        m.messages += 1;
        if m.first_us == 0 {
            m.first_us = at;
            m.start_ticks = sample(0, 0, service_pid, args.redis_pid, &rabbit);
        }
        m.last_us = at;
        let reminders = match serde_json::from_slice::<Body>(&delivery.data) {
            Ok(Body {
                data: BodyData::Batch { reminders },
            }) => reminders,
            Ok(Body {
                data: BodyData::Single(reminder),
            }) => vec![reminder],
            Err(_) => {
                m.received += 1;
                m.undecodable += 1;
                continue;
            }
        };
        for reminder in reminders {
            m.received += 1;
            if seen.insert(reminder.reminder_id.as_u128()) {
                m.distinct += 1;
            }
            let lateness_us = at - reminder.due_at.timestamp_micros();
            if lateness_us < 0 {
                m.early += 1;
            }
            m.lateness_ms
                .saturating_record((lateness_us.max(0) / 1000).max(1).unsigned_abs());
            if m.received.is_multiple_of(100_000) {
                eprintln!(
                    "bench: received {} ({:.1} s after the window started)",
                    m.received,
                    (at - window_start_us) as f64 / 1e6
                );
            }
        }
        received.store(m.received, Ordering::Relaxed);
    }
    m.end_ticks = sample(0, m.received, service_pid, args.redis_pid, &rabbit);
    sampler.abort();
    m.samples = samples.lock().map(|v| v.clone()).unwrap_or_default();
    Ok(m)
}

impl Measured {
    fn report(&self, args: &Args, plan: &Plan) -> serde_json::Value {
        let total = plan.total();
        let span = (self.last_us - self.first_us) as f64 / 1e6;
        let throughput = if span > 0.0 {
            self.received as f64 / span
        } else {
            0.0
        };
        // Due by the end of second s of the window (s = 0 is the window's first second).
        let due_by = |s: i64| -> u64 {
            if s < 0 {
                return 0;
            }
            let s = s.unsigned_abs() + 1;
            // Reminders with offset < s: idx*window/total < s  ⇔  idx < ceil(s*total/window).
            (s * total).div_ceil(plan.window).min(total)
        };
        let hz = args.clk_tck as f64;
        let mut buckets = Vec::new();
        let mut min_backlogged: Option<f64> = None;
        for pair in self.samples.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            let delivered = b.received - a.received;
            let backlog_before = due_by(a.at).saturating_sub(a.received);
            let backlog_after = due_by(b.at).saturating_sub(b.received);
            let machine = if b.machine_total > a.machine_total {
                (b.machine_busy - a.machine_busy) as f64
                    / (b.machine_total - a.machine_total) as f64
                    * 2.0
            } else {
                0.0
            };
            if delivered == 0 && b.received == 0 {
                continue;
            }
            if backlog_before > 0 && backlog_after > 0 {
                let rate = delivered as f64;
                min_backlogged = Some(min_backlogged.map_or(rate, |m: f64| m.min(rate)));
            }
            buckets.push(json!({
                "second": b.at,
                "delivered": delivered,
                "backlog": backlog_after,
                "cpu_service": (b.service - a.service) as f64 / hz,
                "cpu_redis": (b.redis - a.redis) as f64 / hz,
                "cpu_rabbitmq": (b.rabbit - a.rabbit) as f64 / hz,
                "cpu_bench": (b.bench - a.bench) as f64 / hz,
                "machine_busy_cores": machine,
            }));
        }
        let elapsed = if self.end_ticks.machine_total > self.start_ticks.machine_total {
            (self.end_ticks.machine_total - self.start_ticks.machine_total) as f64 / 2.0 / hz
        } else {
            1.0
        };
        let cores = |a: u64, b: u64| (b.saturating_sub(a)) as f64 / hz / elapsed;
        // Where a reminder's CPU time goes, from first to last delivery.
        let us_each =
            |a: u64, b: u64| (b.saturating_sub(a)) as f64 / hz * 1e6 / self.distinct.max(1) as f64;
        let h = &self.lateness_ms;
        json!({
            "expected": total,
            "received": self.received,
            "distinct": self.distinct,
            "duplicates": self.received - self.distinct - self.undecodable,
            "undecodable": self.undecodable,
            "early": self.early,
            "first_after_window_start_ms": (self.first_us - plan.window_start * 1_000_000) / 1000,
            "last_after_window_end_ms": (self.last_us - (plan.window_start + i64::try_from(plan.window).unwrap_or(0)) * 1_000_000) / 1000,
            "throughput_per_sec": throughput,
            "min_backlogged_bucket_per_sec": min_backlogged,
            "lateness_ms": {
                "p50": h.value_at_quantile(0.5),
                "p90": h.value_at_quantile(0.9),
                "p99": h.value_at_quantile(0.99),
                "max": h.max(),
                "mean": h.mean(),
            },
            "messages": self.messages,
            "cpu_us_per_reminder": {
                "redis": us_each(self.start_ticks.redis, self.end_ticks.redis),
                "service": us_each(self.start_ticks.service, self.end_ticks.service),
                "broker": us_each(self.start_ticks.rabbit, self.end_ticks.rabbit),
                "consumer": us_each(self.start_ticks.bench, self.end_ticks.bench),
            },
            "cpu_cores_first_to_last_delivery": {
                "seconds": elapsed,
                "service": cores(self.start_ticks.service, self.end_ticks.service),
                "redis": cores(self.start_ticks.redis, self.end_ticks.redis),
                "rabbitmq": cores(self.start_ticks.rabbit, self.end_ticks.rabbit),
                "bench": cores(self.start_ticks.bench, self.end_ticks.bench),
            },
            "buckets": buckets,
        })
    }
}

/// The report as a table (short names: it is all `format!` of JSON fields).
#[allow(clippy::many_single_char_names)]
fn text_report(r: &serde_json::Value) -> String {
    let mut s = String::new();
    let d = &r["dispatch"];
    let _ = writeln!(s, "\n== reminder dispatch benchmark ==");
    let _ = writeln!(
        s,
        "seeding: {} reminders in {:.1} s = {:.0} reminders/s (slack before window {} ms)",
        r["seeding"]["reminders"],
        r["seeding"]["secs"].as_f64().unwrap_or(0.0),
        r["seeding"]["reminders_per_sec"].as_f64().unwrap_or(0.0),
        r["seeding"]["slack_ms_before_window"]
    );
    let _ = writeln!(
        s,
        "redis: {:.1} B per pending reminder (used_memory {} → {}, appendonly {}); keys {}",
        r["redis"]["bytes_per_pending_reminder"]
            .as_f64()
            .unwrap_or(0.0),
        r["redis"]["used_memory_before"],
        r["redis"]["used_memory_seeded"],
        r["redis"]["appendonly"],
        r["redis"]["key_bytes"]
    );
    let _ = writeln!(
        s,
        "delivered: {} of {} ({} distinct, {} duplicates, {} undecodable, {} early)",
        d["received"], d["expected"], d["distinct"], d["duplicates"], d["undecodable"], d["early"]
    );
    let _ = writeln!(
        s,
        "throughput: {:.0}/s first→last; min 1-s bucket while backlogged: {}",
        d["throughput_per_sec"].as_f64().unwrap_or(0.0),
        d["min_backlogged_bucket_per_sec"]
    );
    let l = &d["lateness_ms"];
    let _ = writeln!(
        s,
        "lateness ms: p50 {} p90 {} p99 {} max {} (first delivery {} ms after window start, last {} ms after window end)",
        l["p50"], l["p90"], l["p99"], l["max"], d["first_after_window_start_ms"], d["last_after_window_end_ms"]
    );
    let u = &d["cpu_us_per_reminder"];
    let _ = writeln!(
        s,
        "cpu us per reminder: redis {:.1} service {:.1} broker {:.1} consumer {:.1} ({} broker messages)",
        u["redis"].as_f64().unwrap_or(0.0),
        u["service"].as_f64().unwrap_or(0.0),
        u["broker"].as_f64().unwrap_or(0.0),
        u["consumer"].as_f64().unwrap_or(0.0),
        d["messages"]
    );
    let c = &d["cpu_cores_first_to_last_delivery"];
    let _ = writeln!(
        s,
        "cpu cores, first to last delivery ({:.1} s): service {:.2} redis {:.2} rabbitmq {:.2} bench {:.2}; service VmHWM {} KiB",
        c["seconds"].as_f64().unwrap_or(0.0),
        c["service"].as_f64().unwrap_or(0.0),
        c["redis"].as_f64().unwrap_or(0.0),
        c["rabbitmq"].as_f64().unwrap_or(0.0),
        c["bench"].as_f64().unwrap_or(0.0),
        r["service"]["vm_hwm_kib"]
    );
    let _ = writeln!(
        s,
        "service: share claimed within N s of due (its reminder_lateness_seconds): {}",
        r["service"]["claim_lateness_le_secs"]
    );
    let _ = writeln!(
        s,
        "second  delivered  backlog  service  redis  rabbit  bench  machine"
    );
    if let Some(buckets) = d["buckets"].as_array() {
        for b in buckets {
            let _ = writeln!(
                s,
                "{:>6}  {:>9}  {:>7}  {:>7.2}  {:>5.2}  {:>6.2}  {:>5.2}  {:>7.2}",
                b["second"].as_i64().unwrap_or(0),
                b["delivered"].as_u64().unwrap_or(0),
                b["backlog"].as_u64().unwrap_or(0),
                b["cpu_service"].as_f64().unwrap_or(0.0),
                b["cpu_redis"].as_f64().unwrap_or(0.0),
                b["cpu_rabbitmq"].as_f64().unwrap_or(0.0),
                b["cpu_bench"].as_f64().unwrap_or(0.0),
                b["machine_busy_cores"].as_f64().unwrap_or(0.0),
            );
        }
    }
    s
}
