//! Two replicas of the service, several dispatchers each, on one Redis: no reminder is
//! delivered twice.

use std::time::Duration;

use hospital_reminder_service::Application;
use hospital_test_support::eventually;

use crate::support::{
    assert_feeds_exactly_once, declare_queues, due_count, feed_total, now_ms, redis, redis_url,
    seed, test_settings, Cleanup,
};

const PATIENTS: usize = 200;
const PER_PATIENT: u32 = 10;

/// `hospital_reminders_sent_total` on the replica's `/metrics`.
async fn sent_by(port: u16) -> u64 {
    let body = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    body.lines()
        .filter(|line| line.starts_with("hospital_reminders_sent_total"))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .map(|v| v as u64)
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_deliver_each_reminder_once() {
    let mut settings = test_settings(&redis_url());
    settings.reminders.batch = 10;
    settings.reminders.dispatchers = 4;
    let prefix = settings.redis.key_prefix.clone();
    let _cleanup = Cleanup {
        settings: settings.clone(),
        delete_keys: true,
    };
    let mut observed = declare_queues(&settings).await;

    // Replicas: the same prefix, exchange and queues.
    let mut ports = Vec::new();
    let mut stops = Vec::new();
    let mut services = Vec::new();
    for _ in 0..2 {
        let app = Application::build(settings.clone()).await.unwrap();
        ports.push(app.port());
        stops.push(app.shutdown_token().drop_guard());
        services.push(tokio::spawn(app.run_until_stopped()));
    }
    let store =
        hospital_reminder_service::store::Store::connect(&settings.redis.url, &prefix).unwrap();
    let keyring = hospital_crypto::Keyring::from_spec(&settings.crypto.keys).unwrap();
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

    eventually(
        Duration::from_secs(20),
        "every reminder to be sent and acknowledged",
        || async {
            let mut connection = redis(&settings.redis.url).await;
            let due = due_count(&mut connection, &prefix).await;
            let sent = feed_total(&mut connection, &store, &seeded).await;
            (due == 0 && sent >= total).then_some(())
        },
    )
    .await;

    let mut connection = redis(&settings.redis.url).await;
    assert_feeds_exactly_once(&mut connection, &store, &seeded).await;
    observed.drain().await;
    let repeated = observed.assert_at_least_once(&seeded);
    assert_eq!(repeated, 0, "reminder.due published twice with no crash");
    assert_eq!(observed.total, total, "reminder.due events");

    let by_replica = [sent_by(ports[0]).await, sent_by(ports[1]).await];
    assert_eq!(
        by_replica.iter().sum::<u64>(),
        total as u64,
        "sent per replica: {by_replica:?}"
    );
    assert!(
        by_replica.iter().all(|sent| *sent > 0),
        "one replica sent everything, the test proves nothing: {by_replica:?}"
    );
    eprintln!("sent per replica: {by_replica:?}");

    drop(stops);
    for service in services {
        tokio::time::timeout(Duration::from_secs(10), service)
            .await
            .expect("the service stops")
            .unwrap()
            .unwrap();
    }
}
