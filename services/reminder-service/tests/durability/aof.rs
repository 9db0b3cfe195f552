//! Redis with the append-only file on, killed with SIGKILL and restarted, keeps every
//! schedule and every pending reminder, and the service reconnects to it.

use std::collections::BTreeMap;
use std::time::Duration;

use hospital_events::contracts::{
    step_source_binding, step_title_binding, ChecklistStep, Extractor, PlanStep,
};
use hospital_events::{BrokerConfig, Envelope, Publisher, StepsExtracted, UserRegistered};
use hospital_platform::token::Role;
use hospital_reminder_service::Application;
use hospital_test_support::{amqp_url, eventually, RedisServer};
use uuid::Uuid;

use crate::support::{
    declare_queues, due_count, keys_under, now_ms, ready, redis, seed, test_settings, Cleanup,
};

/// Every key under `prefix` with its type and whole content, as text to compare.
async fn snapshot(url: &str, prefix: &str) -> BTreeMap<String, String> {
    let mut connection = redis(url).await;
    let mut out = BTreeMap::new();
    for key in keys_under(&mut connection, prefix).await {
        let kind: String = redis::cmd("TYPE")
            .arg(&key)
            .query_async(&mut connection)
            .await
            .unwrap();
        let content = match kind.as_str() {
            "string" => {
                // Texts are bytes (`store::sealed_text`): compared as hex.
                let value: Vec<u8> = redis::cmd("GET")
                    .arg(&key)
                    .query_async(&mut connection)
                    .await
                    .unwrap();
                let value = format!("{value:02x?}");
                // The instant it expires is what the AOF keeps; the time left moves.
                let ttl: i64 = redis::cmd("PTTL")
                    .arg(&key)
                    .query_async(&mut connection)
                    .await
                    .unwrap();
                format!("{value} expires:{}", ttl > 0)
            }
            "hash" => {
                let value: BTreeMap<String, String> = redis::cmd("HGETALL")
                    .arg(&key)
                    .query_async(&mut connection)
                    .await
                    .unwrap();
                format!("{value:?}")
            }
            "zset" => {
                let value: Vec<(String, String)> = redis::cmd("ZRANGE")
                    .arg(&key)
                    .arg(0)
                    .arg(-1)
                    .arg("WITHSCORES")
                    .query_async(&mut connection)
                    .await
                    .unwrap();
                format!("{value:?}")
            }
            "list" => {
                let value: Vec<String> = redis::cmd("LRANGE")
                    .arg(&key)
                    .arg(0)
                    .arg(-1)
                    .query_async(&mut connection)
                    .await
                    .unwrap();
                format!("{value:?}")
            }
            other => panic!("{key} is a {other}: the test does not expect one"),
        };
        out.insert(key, format!("{kind} {content}"));
    }
    out
}

/// `HH:MM` in UTC, `hours` from now.
fn clock_time_in(hours: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::hours(hours))
        .format("%H:%M")
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_killed_and_restarted_keeps_every_schedule_and_pending_reminder() {
    let mut server = RedisServer::start_with_aof().expect("redis-server starts");
    let mut settings = test_settings(&server.url());
    settings.reminders.lookahead = 5;
    let prefix = settings.redis.key_prefix.clone();
    // The Redis goes away with the test: only the broker's queues and exchange to delete.
    let _cleanup = Cleanup {
        settings: settings.clone(),
        delete_keys: false,
    };
    declare_queues(&settings).await;
    let app = Application::build(settings.clone()).await.unwrap();
    let port = app.port();
    let store = app.store();
    let stop = app.shutdown_token().drop_guard();
    let service = tokio::spawn(app.run_until_stopped());
    let keyring = hospital_crypto::Keyring::from_spec(&settings.crypto.keys).unwrap();

    // Through the events, as in production: a patient, then a note's steps with reminders
    // hours ahead (none falls due during the test).
    let publisher = Publisher::new(
        BrokerConfig::new(amqp_url())
            .with_exchange(settings.events.exchange.clone())
            .with_connection_name("reminder-durability-test"),
    );
    let patient = Uuid::now_v7();
    let registered = Envelope::new(UserRegistered {
        user_id: patient,
        role: Role::Patient,
        timezone: "UTC".into(),
    });
    publisher.publish_event(&registered).await.unwrap();
    eventually(
        Duration::from_secs(10),
        "the patient to be registered",
        || async {
            store
                .event_applied(registered.id)
                .await
                .unwrap()
                .then_some(())
        },
    )
    .await;
    let seal = |step_id: Uuid, title: &str| {
        (
            keyring
                .seal_str(title, &step_title_binding(step_id, patient))
                .unwrap(),
            keyring
                .seal_str(
                    &format!("{title}, as told."),
                    &step_source_binding(step_id, patient),
                )
                .unwrap(),
        )
    };
    let plan = [
        serde_json::json!({"kind": "fixed_times", "times": [clock_time_in(3), clock_time_in(9)]}),
        serde_json::json!({"kind": "fixed_times", "times": [clock_time_in(5)]}),
    ]
    .into_iter()
    .enumerate()
    .map(|(i, schedule)| {
        let step_id = Uuid::now_v7();
        let (title, source) = seal(step_id, &format!("Medicine {i}"));
        PlanStep {
            step_id,
            title,
            source,
            schedule: serde_json::from_value(schedule).unwrap(),
            duration: serde_json::from_value(serde_json::json!({"days": 4})).unwrap(),
        }
    })
    .collect();
    let checklist = ["Book a blood test", "Buy a thermometer"]
        .into_iter()
        .map(|title| {
            let step_id = Uuid::now_v7();
            let (title, source) = seal(step_id, title);
            ChecklistStep {
                step_id,
                title,
                source,
            }
        })
        .collect();
    let steps = Envelope::new(StepsExtracted {
        note_id: Uuid::now_v7(),
        patient_id: patient,
        note_created_at: chrono::Utc::now(),
        extractor: Extractor::Offline,
        fallback: false,
        checklist,
        plan,
    });
    publisher.publish_event(&steps).await.unwrap();
    eventually(
        Duration::from_secs(10),
        "the steps to be stored",
        || async {
            let stored = store.current_steps(patient).await.unwrap();
            (stored.get("note_id") == Some(&steps.data.note_id.to_string())).then_some(())
        },
    )
    .await;
    publisher.close().await;
    // And a burst of plan steps straight through the store, two hours ahead.
    let seeded = seed(&store, &keyring, 20, 10, now_ms() + 2 * 3_600_000, 60_000).await;

    let before = snapshot(&server.url(), &prefix).await;
    let mut connection = redis(&server.url()).await;
    let pending = due_count(&mut connection, &prefix).await;
    drop(connection);
    // Every plan step with a pending occurrence is in the due set (one member a step), and
    // nothing else. (A pending record is `<due>:<grace>:p:` as a step stores it.)
    let steps_pending: usize = before
        .iter()
        .filter(|(k, v)| k.starts_with(&format!("{prefix}step:")) && v.contains(":p:"))
        .count();
    let pending_records: usize = before
        .iter()
        .filter(|(k, _)| k.starts_with(&format!("{prefix}step:")))
        .map(|(_, v)| v.matches(":p:").count())
        .sum();
    assert_eq!(pending, steps_pending, "{before:#?}");
    assert!(
        pending_records > 200,
        "the event's steps added no reminders: {before:#?}"
    );
    assert!(before.contains_key(&format!("{prefix}steps:{patient}")));
    assert!(before.contains_key(&format!("{prefix}user:{patient}")));
    for s in &seeded {
        assert!(before.contains_key(&format!("{prefix}steps:{}", s.patient)));
    }

    server.wait_aof_synced();
    server.kill();
    eventually(
        Duration::from_secs(10),
        "/readyz to report Redis down",
        || async { (!ready(port).await).then_some(()) },
    )
    .await;
    server.restart();

    let after = snapshot(&server.url(), &prefix).await;
    let lost: Vec<&String> = before.keys().filter(|k| !after.contains_key(*k)).collect();
    assert!(lost.is_empty(), "keys lost in the restart: {lost:?}");
    for (key, value) in &before {
        assert_eq!(&after[key], value, "{key} changed in the restart");
    }
    assert_eq!(before.len(), after.len(), "keys appeared in the restart");

    eventually(
        Duration::from_secs(15),
        "/readyz to answer 200 after Redis restarted",
        || async { ready(port).await.then_some(()) },
    )
    .await;
    // The service works on the restarted Redis: its store answers.
    assert!(store.event_applied(registered.id).await.unwrap());

    drop(stop);
    tokio::time::timeout(Duration::from_secs(10), service)
        .await
        .expect("the service stops")
        .unwrap()
        .unwrap();
}
