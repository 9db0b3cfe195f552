//! The service killed with SIGKILL in the middle of a burst of reminders, then started
//! again: every reminder reaches its patient's feed exactly once.

use std::time::{Duration, Instant};

use hospital_reminder_service::store::Store;
use hospital_test_support::{eventually, unique_name};

use crate::support::{
    assert_feeds_exactly_once, declare_queues, due_count, feed_total, now_ms, ready, redis,
    redis_url, seed, test_settings, Cleanup, ServiceProcess,
};

const PATIENTS: usize = 300;
const PER_PATIENT: u32 = 10;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_killed_mid_burst_delivers_each_reminder_exactly_once_after_restart() {
    let mut settings = test_settings(&redis_url());
    // Small batches, so the burst takes many; a short lease, so the claims of the killed
    // process come back quickly.
    settings.reminders.batch = 10;
    settings.reminders.dispatchers = 2;
    settings.reminders.lease_secs = 1;
    let prefix = settings.redis.key_prefix.clone();
    let _cleanup = Cleanup {
        settings: settings.clone(),
        delete_keys: true,
    };
    let mut observed = declare_queues(&settings).await;
    let store = Store::connect(&settings.redis.url, &prefix).unwrap();
    let keyring = hospital_crypto::Keyring::from_spec(&settings.crypto.keys).unwrap();
    let log = std::env::temp_dir().join(format!("{}.log", unique_name("reminder-service")));
    let _remove_log = RemoveOnDrop(log.clone());

    let first = ServiceProcess::spawn(&settings, log.clone());
    eventually(
        Duration::from_secs(20),
        "the service to be ready",
        || async {
            first.assert_running();
            ready(first.port).await.then_some(())
        },
    )
    .await;

    let total = PATIENTS * PER_PATIENT as usize;
    let seeded = seed(
        &store,
        &keyring,
        PATIENTS,
        PER_PATIENT,
        now_ms() + 1000,
        1000,
    )
    .await;
    let mut connection = redis(&settings.redis.url).await;

    // Kill it once a fifth of the burst is in the feeds.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let sent = feed_total(&mut connection, &store, &seeded).await;
        if sent >= total / 5 {
            break;
        }
        first.assert_running();
        assert!(
            Instant::now() < deadline,
            "only {sent} of {total} reminders sent in 15 s; the log ends with:\n{}",
            first.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    first.kill();
    let at_kill = feed_total(&mut connection, &store, &seeded).await;
    let left = due_count(&mut connection, &prefix).await;
    assert!(
        at_kill < total && left > 0,
        "the whole burst was sent before the kill ({at_kill} in the feeds, {left} due): \
         the test proves nothing"
    );

    let second = ServiceProcess::spawn(&settings, log.clone());
    eventually(
        Duration::from_secs(20),
        "every reminder to be sent and acknowledged after the restart",
        || async {
            second.assert_running();
            let mut connection = redis(&settings.redis.url).await;
            let due = due_count(&mut connection, &prefix).await;
            let sent = feed_total(&mut connection, &store, &seeded).await;
            (due == 0 && sent >= total).then_some(())
        },
    )
    .await;

    assert_feeds_exactly_once(&mut connection, &store, &seeded).await;
    // Every publication is confirmed before its reminder leaves the due set: all are in
    // the queue now.
    observed.drain().await;
    let repeated = observed.assert_at_least_once(&seeded);
    eprintln!(
        "killed with {at_kill} of {total} in the feeds and {left} due; \
         {repeated} reminder.due events published twice (same event id), {} events in all",
        observed.total
    );
    second.kill();
}

/// Removes the service's log when the test ends; prints its end first when the test failed.
struct RemoveOnDrop(std::path::PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let log = std::fs::read_to_string(&self.0).unwrap_or_default();
            let lines: Vec<&str> = log.lines().collect();
            eprintln!(
                "the reminder-service log ends with:\n{}",
                lines[lines.len().saturating_sub(30)..].join("\n")
            );
        }
        let _ = std::fs::remove_file(&self.0);
    }
}
