//! What the durability tests share: settings of their own, seeding reminders straight
//! through the store, reading feeds and published events, and guards that kill child
//! processes and delete keys, queues and the exchange even when a test panics.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use hospital_crypto::Keyring;
use hospital_events::contracts::{step_source_binding, step_title_binding};
use hospital_events::{
    declare_exchange, declare_queue, Event, EventConsumer, Message, QueueSpec, ReminderDue,
    ReminderDueBatch,
};
use hospital_reminder_service::domain::{OccurrenceRecord, StepStem};
use hospital_reminder_service::planner::{reminder_id, sortable_instant};
use hospital_reminder_service::startup::consumer_configs;
use hospital_reminder_service::store::{
    NewOccurrence, NewPlanStep, ReplaceOutcome, Replacement, Store,
};
use hospital_reminder_service::Settings;
use hospital_test_support::{amqp_url, unique_name};
use lapin::options::{BasicGetOptions, ExchangeDeleteOptions, QueueDeleteOptions};
use lapin::{Connection, ConnectionProperties};
use uuid::Uuid;

/// The grace period of seeded reminders: far longer than any test, so none is missed.
pub const GRACE_SECS: i64 = 3600;

/// The shared Redis of the tests (`TEST_REDIS_URL`).
pub fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// Settings of one test: a free port, its own key prefix, exchange and queue prefix.
pub fn test_settings(redis_url: &str) -> Settings {
    let mut settings = Settings::default();
    let id = unique_name("durability");
    settings.http.host = "127.0.0.1".into();
    settings.http.port = 0;
    settings.http.workers = 1;
    settings.http.shutdown_timeout_secs = 1;
    redis_url.clone_into(&mut settings.redis.url);
    settings.redis.key_prefix = format!("test:{id}:");
    settings.events.amqp_url = amqp_url();
    settings.events.exchange = format!("test.{id}");
    settings.events.queue_prefix = format!("test.{id}");
    settings.crypto.keys = format!("test:{}", Keyring::generate_key().unwrap().as_str());
    // Work added straight to Redis (not through this process's events) wakes nobody:
    // dispatchers look again within a second.
    settings.reminders.max_idle_secs = 1;
    settings
}

pub async fn redis(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

/// Every key starting with `prefix` (SCAN, not KEYS), sorted.
pub async fn keys_under(
    connection: &mut redis::aio::MultiplexedConnection,
    prefix: &str,
) -> Vec<String> {
    let mut keys = Vec::new();
    let mut cursor: u64 = 0;
    loop {
        let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{prefix}*"))
            .arg("COUNT")
            .arg(1000)
            .query_async(connection)
            .await
            .unwrap();
        keys.extend(batch);
        if next == 0 {
            break;
        }
        cursor = next;
    }
    keys.sort();
    keys
}

/// The declared queues of the service under `settings` (so nothing is lost before the
/// consumers connect), and the observer queue bound to `reminder.due.v1`.
pub async fn declare_queues(settings: &Settings) -> ObservedEvents {
    for config in consumer_configs(settings) {
        EventConsumer::new(config, |_: Message| async { Ok(()) })
            .declare_topology()
            .await
            .unwrap();
    }
    ObservedEvents::bind(settings).await
}

/// Plan steps seeded for one patient: the reminder ids, in due order.
pub struct SeededPatient {
    pub patient: Uuid,
    pub reminders: Vec<String>,
}

/// Seeds `patients` patients, each with one plan step of `per_patient` occurrences, all
/// materialised, due evenly spread over `window_ms` from `first_due_ms` on (patient-minor,
/// so every patient has some early and some late ones).
/// Straight through `Store::replace_steps`, the script `steps.extracted` runs.
pub async fn seed(
    store: &Store,
    keyring: &Keyring,
    patients: usize,
    per_patient: u32,
    first_due_ms: i64,
    window_ms: i64,
) -> Vec<SeededPatient> {
    let total = i64::try_from(patients).unwrap() * i64::from(per_patient);
    let now = chrono::Utc::now().timestamp();
    let mut seeded = Vec::with_capacity(patients);
    for p in 0..patients {
        let patient = Uuid::now_v7();
        let step_id = Uuid::now_v7();
        let due_ms = |n: u32| {
            let index = i64::from(n) * i64::try_from(patients).unwrap() + i64::try_from(p).unwrap();
            first_due_ms + index * window_ms / total
        };
        let title = keyring
            .seal_str("Take the tablet", &step_title_binding(step_id, patient))
            .unwrap();
        let source = keyring
            .seal_str(
                "Take one tablet every hour.",
                &step_source_binding(step_id, patient),
            )
            .unwrap();
        let text = hospital_reminder_service::store::sealed_text(&title, &source);
        // The record keeps seconds; the score keeps the milliseconds, so the burst is
        // spread over the window as it would be by many steps due in the same second.
        let occurrences: Vec<NewOccurrence> = (0..per_patient)
            .map(|n| NewOccurrence {
                n,
                record: OccurrenceRecord::pending(due_ms(n) / 1000, GRACE_SECS).to_string(),
                score: due_ms(n),
            })
            .collect();
        let step = NewPlanStep {
            stem: StepStem::of(step_id).to_string(),
            id: step_id.to_string(),
            text,
            schedule: r#"{"kind":"interval","every_hours":1}"#.to_owned(),
            duration: format!(r#"{{"occurrences":{per_patient}}}"#),
            start: (due_ms(0) / 1000).to_string(),
            count: per_patient.to_string(),
            next: per_patient,
            last_due: (due_ms(per_patient - 1) / 1000).to_string(),
            occurrences,
        };
        let replacement = Replacement {
            patient: patient.to_string(),
            note_id: Uuid::now_v7().to_string(),
            note_created_at: sortable_instant(chrono::Utc::now()),
            extractor: "offline".to_owned(),
            fallback: "false".to_owned(),
            timezone: "UTC".to_owned(),
            now: now.to_string(),
            event_ttl: 604_800,
            checklist: Vec::new(),
            plan: vec![step],
        };
        let outcome = store
            .replace_steps(Uuid::now_v7(), patient, &replacement)
            .await
            .unwrap();
        assert!(
            matches!(outcome, ReplaceOutcome::Applied { .. }),
            "seeding patient {p}: {outcome:?}"
        );
        seeded.push(SeededPatient {
            patient,
            reminders: (0..per_patient).map(|n| reminder_id(step_id, n)).collect(),
        });
    }
    seeded
}

/// The reminder ids in the patient's feed, in feed order.
pub async fn feed(
    connection: &mut redis::aio::MultiplexedConnection,
    store: &Store,
    patient: Uuid,
) -> Vec<String> {
    let entries: Vec<(String, Vec<(String, String)>)> = redis::cmd("XRANGE")
        .arg(store.keys().feed(patient))
        .arg("-")
        .arg("+")
        .query_async(connection)
        .await
        .unwrap();
    entries
        .into_iter()
        .map(|(_, fields)| {
            fields
                .into_iter()
                .find(|(k, _)| k == "reminder_id")
                .map(|(_, v)| v)
                .unwrap_or_default()
        })
        .collect()
}

/// Entries in all the patients' feeds together (XLEN each).
pub async fn feed_total(
    connection: &mut redis::aio::MultiplexedConnection,
    store: &Store,
    seeded: &[SeededPatient],
) -> usize {
    let mut pipe = redis::pipe();
    for s in seeded {
        pipe.cmd("XLEN").arg(store.keys().feed(s.patient));
    }
    let lens: Vec<usize> = pipe.query_async(connection).await.unwrap();
    lens.into_iter().sum()
}

/// Members of `<prefix>due`.
pub async fn due_count(connection: &mut redis::aio::MultiplexedConnection, prefix: &str) -> usize {
    redis::cmd("ZCARD")
        .arg(format!("{prefix}due"))
        .query_async(connection)
        .await
        .unwrap()
}

/// Asserts every seeded reminder is in its patient's feed exactly once, and nothing else is.
pub async fn assert_feeds_exactly_once(
    connection: &mut redis::aio::MultiplexedConnection,
    store: &Store,
    seeded: &[SeededPatient],
) {
    for s in seeded {
        let feed = feed(connection, store, s.patient).await;
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for id in &feed {
            *counts.entry(id.as_str()).or_default() += 1;
        }
        let twice: Vec<_> = counts.iter().filter(|(_, c)| **c > 1).collect();
        assert!(
            twice.is_empty(),
            "patient {}: reminders in the feed more than once: {twice:?}",
            s.patient
        );
        let missing: Vec<_> = s
            .reminders
            .iter()
            .filter(|r| !counts.contains_key(r.as_str()))
            .collect();
        assert!(
            missing.is_empty(),
            "patient {}: {} reminders never reached the feed, e.g. {:?}",
            s.patient,
            missing.len(),
            missing.first()
        );
        assert_eq!(
            feed.len(),
            s.reminders.len(),
            "patient {}: the feed holds reminders that were not seeded",
            s.patient
        );
    }
}

/// A queue of the test's own bound to its exchange with `reminder.due.v1` and
/// `reminder.due_batch.v1`: every due reminder the services publish.
pub struct ObservedEvents {
    pub queue: String,
    /// Per reminder id, the envelope ids of the events seen so far.
    pub seen: HashMap<String, Vec<String>>,
    pub total: usize,
}

impl ObservedEvents {
    async fn bind(settings: &Settings) -> Self {
        let queue = format!("{}.observer", settings.events.queue_prefix);
        let connection = Connection::connect(&amqp_url(), ConnectionProperties::default())
            .await
            .unwrap();
        let channel = connection.create_channel().await.unwrap();
        let exchange = &settings.events.exchange;
        declare_exchange(&channel, exchange).await.unwrap();
        declare_queue(
            &channel,
            exchange,
            &QueueSpec::new(
                queue.clone(),
                [ReminderDue::ROUTING_KEY, ReminderDueBatch::ROUTING_KEY],
            ),
        )
        .await
        .unwrap();
        let _ = connection.close(200, "done".into()).await;
        Self {
            queue,
            seen: HashMap::new(),
            total: 0,
        }
    }

    /// Takes every message waiting in the queue into `seen`.
    pub async fn drain(&mut self) {
        let connection = Connection::connect(&amqp_url(), ConnectionProperties::default())
            .await
            .unwrap();
        let channel = connection.create_channel().await.unwrap();
        while let Some(message) = channel
            .basic_get(self.queue.as_str().into(), BasicGetOptions { no_ack: true })
            .await
            .unwrap()
        {
            let body: serde_json::Value = serde_json::from_slice(&message.delivery.data).unwrap();
            let id = body["id"].as_str().unwrap().to_owned();
            if body["type"] == ReminderDueBatch::TYPE {
                // A batch's id is not a reminder's dedup key (a retry may group reminders
                // otherwise): consumers deduplicate on each reminder id.
                for reminder in body["data"]["reminders"].as_array().unwrap() {
                    let reminder = reminder["reminder_id"].as_str().unwrap().to_owned();
                    self.seen
                        .entry(reminder)
                        .or_default()
                        .push("batch".to_owned());
                    self.total += 1;
                }
            } else {
                assert_eq!(body["type"], ReminderDue::TYPE, "{body}");
                let reminder = body["data"]["reminder_id"].as_str().unwrap().to_owned();
                self.seen.entry(reminder).or_default().push(id);
                self.total += 1;
            }
        }
        let _ = connection.close(200, "done".into()).await;
    }

    /// Asserts each seeded reminder was published at least once, every copy under the same
    /// envelope id (so consumers drop the repeats), and nothing else was published.
    /// Returns how many were published more than once.
    pub fn assert_at_least_once(&self, seeded: &[SeededPatient]) -> usize {
        let mut repeated = 0;
        let mut expected = 0;
        for id in seeded.iter().flat_map(|s| &s.reminders) {
            expected += 1;
            let ids = self
                .seen
                .get(id)
                .unwrap_or_else(|| panic!("no reminder.due event for reminder {id}"));
            assert!(
                ids.iter().all(|e| *e == ids[0]),
                "reminder {id} was published under different event ids: {ids:?}"
            );
            if ids.len() > 1 {
                repeated += 1;
            }
        }
        assert_eq!(
            self.seen.len(),
            expected,
            "reminder.due events for reminders that were not seeded"
        );
        repeated
    }
}

/// Deletes, when dropped (also on a panic), the test's keys (unless its Redis is its own),
/// its queues and its exchange. Runs on a thread of its own with a runtime of its own, so
/// it works from inside a test's runtime.
pub struct Cleanup {
    pub settings: Settings,
    /// Delete the keys under the prefix (not needed when the Redis goes away with the test).
    pub delete_keys: bool,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let settings = self.settings.clone();
        let delete_keys = self.delete_keys;
        let done = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(async move {
                    let work = clean(&settings, delete_keys);
                    if tokio::time::timeout(Duration::from_secs(10), work)
                        .await
                        .is_err()
                    {
                        eprintln!("cleaning up after the test timed out");
                    }
                });
        })
        .join();
        if done.is_err() {
            eprintln!("cleaning up after the test failed");
        }
    }
}

async fn clean(settings: &Settings, delete_keys: bool) {
    for config in consumer_configs(settings) {
        let _ = EventConsumer::new(config, |_: Message| async { Ok(()) })
            .delete_topology()
            .await;
    }
    if let Ok(connection) = Connection::connect(&amqp_url(), ConnectionProperties::default()).await
    {
        if let Ok(channel) = connection.create_channel().await {
            let observer = format!("{}.observer", settings.events.queue_prefix);
            let _ = channel
                .queue_delete(observer.as_str().into(), QueueDeleteOptions::default())
                .await;
            let _ = channel
                .exchange_delete(
                    settings.events.exchange.as_str().into(),
                    ExchangeDeleteOptions::default(),
                )
                .await;
        }
        let _ = connection.close(200, "done".into()).await;
    }
    if delete_keys {
        let mut connection = redis(&settings.redis.url).await;
        let keys = keys_under(&mut connection, &settings.redis.key_prefix).await;
        for chunk in keys.chunks(500) {
            let _: redis::RedisResult<usize> = redis::cmd("DEL")
                .arg(chunk)
                .query_async(&mut connection)
                .await;
        }
    }
}

/// The `reminder-service` binary as a child process with `settings` in its environment.
/// Killed (SIGKILL) when dropped.
pub struct ServiceProcess {
    child: std::sync::Mutex<Option<Child>>,
    pub port: u16,
    log: PathBuf,
}

impl ServiceProcess {
    pub fn spawn(settings: &Settings, log: PathBuf) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .port();
        let out = std::fs::File::options()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap();
        let err = out.try_clone().unwrap();
        let r = &settings.reminders;
        let child = Command::new(env!("CARGO_BIN_EXE_reminder-service"))
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("RUST_LOG", "warn")
            .env("REMINDER__HTTP__HOST", "127.0.0.1")
            .env("REMINDER__HTTP__PORT", port.to_string())
            .env("REMINDER__HTTP__WORKERS", "1")
            .env("REMINDER__REDIS__URL", &settings.redis.url)
            .env("REMINDER__REDIS__KEY_PREFIX", &settings.redis.key_prefix)
            .env("REMINDER__EVENTS__AMQP_URL", &settings.events.amqp_url)
            .env("REMINDER__EVENTS__EXCHANGE", &settings.events.exchange)
            .env(
                "REMINDER__EVENTS__QUEUE_PREFIX",
                &settings.events.queue_prefix,
            )
            .env("REMINDER__CRYPTO__KEYS", &settings.crypto.keys)
            .env("REMINDER__REMINDERS__BATCH", r.batch.to_string())
            .env(
                "REMINDER__REMINDERS__DISPATCHERS",
                r.dispatchers.to_string(),
            )
            .env("REMINDER__REMINDERS__LEASE_SECS", r.lease_secs.to_string())
            .env(
                "REMINDER__REMINDERS__MAX_IDLE_SECS",
                r.max_idle_secs.to_string(),
            )
            .stdin(Stdio::null())
            // Never the test's own stdout/stderr: nextest would wait for the child.
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap();
        Self {
            child: std::sync::Mutex::new(Some(child)),
            port,
            log,
        }
    }

    /// SIGKILL (`Child::kill` on Unix), and waits for the process to be gone.
    pub fn kill(&self) {
        let taken = self
            .child
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(mut child) = taken {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Panics, with the end of the log, when the process has exited.
    pub fn assert_running(&self) {
        let exited = self
            .child
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .as_mut()
            .and_then(|child| child.try_wait().ok().flatten());
        if let Some(status) = exited {
            panic!(
                "reminder-service exited ({status}); its log ends with:\n{}",
                self.log_tail()
            );
        }
    }

    pub fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `GET http://127.0.0.1:<port>/readyz` answers 200.
pub async fn ready(port: u16) -> bool {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    matches!(
        client.get(format!("http://127.0.0.1:{port}/readyz")).send().await,
        Ok(response) if response.status().as_u16() == 200
    )
}

/// Milliseconds since the epoch on the system clock.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
