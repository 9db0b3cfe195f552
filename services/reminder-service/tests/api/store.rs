//! The store's rules, called directly against the real Redis: once per event id, newest
//! assignment wins, events for users not registered yet.

use chrono::{Duration as Delta, Utc};
use hospital_reminder_service::store::{Applied, Store, UserChange};
use hospital_test_support::unique_name;
use uuid::Uuid;

use crate::helpers::{delete_keys_under, keys_under, redis_url};

fn store() -> (Store, String) {
    let prefix = format!("test:{}:", unique_name("store"));
    (Store::connect(&redis_url(), &prefix).unwrap(), prefix)
}

#[tokio::test]
async fn an_event_id_is_applied_once() {
    let (store, prefix) = store();
    let user = Uuid::now_v7();
    let (first, second) = (Uuid::now_v7(), Uuid::now_v7());
    let tz = |timezone| UserChange::Timezone { timezone };
    assert_eq!(
        store.apply(first, user, &tz("Europe/Paris")).await.unwrap(),
        Applied::Applied
    );
    assert_eq!(
        store.apply(second, user, &tz("Asia/Tokyo")).await.unwrap(),
        Applied::Applied
    );
    assert_eq!(
        store.apply(first, user, &tz("Europe/Paris")).await.unwrap(),
        Applied::Duplicate
    );
    let record = store.user(user).await.unwrap().unwrap();
    assert_eq!(record.timezone.as_deref(), Some("Asia/Tokyo"));
    // The two ids and the user, all under the prefix.
    assert_eq!(keys_under(&prefix).await.len(), 3);
    delete_keys_under(&prefix).await;
}

#[tokio::test]
async fn an_older_assignment_is_ignored_and_equal_or_newer_ones_win() {
    let (store, prefix) = store();
    let patient = Uuid::now_v7();
    let (old_doctor, new_doctor) = (Uuid::now_v7(), Uuid::now_v7());
    let now = Utc::now();
    let assign = |doctor_id, changed_at| UserChange::Assignment {
        doctor_id,
        changed_at,
    };
    let newer = assign(Some(new_doctor), now);
    assert_eq!(
        store.apply(Uuid::now_v7(), patient, &newer).await.unwrap(),
        Applied::Applied
    );
    let older = assign(Some(old_doctor), now - Delta::milliseconds(1));
    assert_eq!(
        store.apply(Uuid::now_v7(), patient, &older).await.unwrap(),
        Applied::Stale
    );
    let record = store.user(patient).await.unwrap().unwrap();
    assert_eq!(record.doctor_id, Some(new_doctor));

    let cleared = assign(None, now + Delta::seconds(1));
    assert_eq!(
        store
            .apply(Uuid::now_v7(), patient, &cleared)
            .await
            .unwrap(),
        Applied::Applied
    );
    let record = store.user(patient).await.unwrap().unwrap();
    assert_eq!(record.doctor_id, None);
    assert_eq!(
        record.assignment_changed_at.as_deref(),
        Some(
            (now + Delta::seconds(1))
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
                .as_str()
        )
    );
    delete_keys_under(&prefix).await;
}

#[tokio::test]
async fn a_registration_after_a_timezone_change_keeps_the_newer_zone() {
    let (store, prefix) = store();
    let user = Uuid::now_v7();
    store
        .apply(
            Uuid::now_v7(),
            user,
            &UserChange::Timezone {
                timezone: "Asia/Tokyo",
            },
        )
        .await
        .unwrap();
    let record = store.user(user).await.unwrap().unwrap();
    assert_eq!(record.role, None, "not registered yet");
    assert_eq!(record.timezone.as_deref(), Some("Asia/Tokyo"));

    store
        .apply(
            Uuid::now_v7(),
            user,
            &UserChange::Registered {
                role: "patient",
                timezone: "Europe/Paris",
            },
        )
        .await
        .unwrap();
    let record = store.user(user).await.unwrap().unwrap();
    assert_eq!(record.role.as_deref(), Some("patient"));
    assert_eq!(record.timezone.as_deref(), Some("Asia/Tokyo"));
    assert!(record.updated_at.is_some());
    delete_keys_under(&prefix).await;
}

#[tokio::test]
async fn a_wake_up_reaches_the_listeners_of_other_replicas() {
    let (replica_a, prefix) = store();
    let replica_b = Store::connect(&redis_url(), &prefix).unwrap();
    let other_prefix = Store::connect(&redis_url(), &format!("{prefix}other:")).unwrap();
    let heard = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let listening = {
        let heard = std::sync::Arc::clone(&heard);
        tokio::spawn(async move {
            let _ = replica_b
                .on_wake(move || {
                    heard.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                })
                .await;
        })
    };
    // Announce until the subscription is in place (it connects in the background).
    hospital_test_support::eventually(
        std::time::Duration::from_secs(5),
        "the other replica to hear the wake-up",
        || async {
            replica_a.announce_wake().await.unwrap();
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            (heard.load(std::sync::atomic::Ordering::SeqCst) > 0).then_some(())
        },
    )
    .await;
    // Another prefix (another deployment, another test) is not heard.
    let before = heard.load(std::sync::atomic::Ordering::SeqCst);
    other_prefix.announce_wake().await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(heard.load(std::sync::atomic::Ordering::SeqCst), before);
    listening.abort();
    delete_keys_under(&prefix).await;
}
