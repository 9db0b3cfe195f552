//! Events published to the test's exchange end up in Redis: once, newest assignment wins,
//! broken messages parked in `<queue>.dead`.

use std::time::Duration;

use chrono::{Duration as Delta, Utc};
use hospital_events::{AssignmentChanged, Envelope, UserRegistered, UserTimezoneChanged};
use hospital_platform::token::Role;
use hospital_test_support::eventually;
use serde_json::json;
use uuid::Uuid;

use crate::helpers::{spawn_app, TestApp, WITHIN};

fn registered(user_id: Uuid, role: Role, timezone: &str) -> Envelope<UserRegistered> {
    Envelope::new(UserRegistered {
        user_id,
        role,
        timezone: timezone.into(),
    })
}

fn timezone_changed(user_id: Uuid, timezone: &str) -> Envelope<UserTimezoneChanged> {
    Envelope::new(UserTimezoneChanged {
        user_id,
        timezone: timezone.into(),
    })
}

fn assignment(
    patient_id: Uuid,
    doctor_id: Option<Uuid>,
    changed_at: chrono::DateTime<Utc>,
) -> Envelope<AssignmentChanged> {
    Envelope::new(AssignmentChanged {
        patient_id,
        doctor_id,
        previous_doctor_id: None,
        changed_at,
    })
}

/// Publishes `envelope` and waits until the service has recorded its id.
async fn deliver<E: hospital_events::Event>(app: &TestApp, envelope: &Envelope<E>) {
    app.publish(envelope).await;
    app.wait_for_event(envelope.id).await;
}

#[tokio::test]
async fn a_registration_is_stored() {
    let app = spawn_app().await;
    let patient = Uuid::now_v7();
    app.publish(&registered(patient, Role::Patient, "Europe/Paris"))
        .await;
    let user = app
        .wait_for_user(patient, "the registration", |u| u.role.is_some())
        .await;
    assert_eq!(user.role.as_deref(), Some("patient"));
    assert_eq!(user.timezone.as_deref(), Some("Europe/Paris"));
    assert_eq!(user.doctor_id, None);
    assert!(user.updated_at.is_some());
    let prefix = &app.settings.redis.key_prefix;
    assert!(app
        .keys()
        .await
        .contains(&format!("{prefix}user:{patient}")));
    app.stop_and_clean().await;
}

#[tokio::test]
async fn a_timezone_change_is_applied_and_a_redelivered_one_changes_nothing() {
    let app = spawn_app().await;
    let user = Uuid::now_v7();
    deliver(&app, &registered(user, Role::Doctor, "UTC")).await;
    let first = timezone_changed(user, "Europe/Paris");
    deliver(&app, &first).await;
    assert_eq!(
        app.user(user).await.unwrap().timezone.as_deref(),
        Some("Europe/Paris")
    );
    deliver(&app, &timezone_changed(user, "Asia/Tokyo")).await;

    // The first change again, same id: ignored, Tokyo stays.
    app.publish(&first).await;
    // A later event of the same queue, to know the duplicate went through the consumer.
    let other = Uuid::now_v7();
    deliver(&app, &timezone_changed(other, "UTC")).await;
    assert_stays(&app, user, "Asia/Tokyo").await;
    let record = app.user(user).await.unwrap();
    assert_eq!(record.role.as_deref(), Some("doctor"));
    app.stop_and_clean().await;
}

/// The stored zone of `user` stays `timezone` for a moment.
async fn assert_stays(app: &TestApp, user: Uuid, timezone: &str) {
    for _ in 0..10 {
        assert_eq!(
            app.user(user).await.unwrap().timezone.as_deref(),
            Some(timezone)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn an_assignment_is_set_replaced_and_cleared() {
    let app = spawn_app().await;
    let patient = Uuid::now_v7();
    let (first, second) = (Uuid::now_v7(), Uuid::now_v7());
    let start = Utc::now();
    deliver(&app, &registered(patient, Role::Patient, "UTC")).await;

    deliver(&app, &assignment(patient, Some(first), start)).await;
    assert_eq!(app.user(patient).await.unwrap().doctor_id, Some(first));

    deliver(
        &app,
        &assignment(patient, Some(second), start + Delta::seconds(1)),
    )
    .await;
    assert_eq!(app.user(patient).await.unwrap().doctor_id, Some(second));

    deliver(&app, &assignment(patient, None, start + Delta::seconds(2))).await;
    let record = app.user(patient).await.unwrap();
    assert_eq!(record.doctor_id, None);
    assert_eq!(record.role.as_deref(), Some("patient"));
    app.stop_and_clean().await;
}

#[tokio::test]
async fn an_older_assignment_after_a_newer_one_is_ignored() {
    let app = spawn_app().await;
    let patient = Uuid::now_v7();
    let (old_doctor, new_doctor) = (Uuid::now_v7(), Uuid::now_v7());
    let now = Utc::now();
    deliver(&app, &assignment(patient, Some(new_doctor), now)).await;
    deliver(
        &app,
        &assignment(patient, Some(old_doctor), now - Delta::minutes(5)),
    )
    .await;
    let record = app.user(patient).await.unwrap();
    assert_eq!(record.doctor_id, Some(new_doctor));
    // Never registered here: the assignment is kept, the role comes with the registration.
    assert_eq!(record.role, None);
    deliver(&app, &registered(patient, Role::Patient, "UTC")).await;
    let record = app.user(patient).await.unwrap();
    assert_eq!(record.role.as_deref(), Some("patient"));
    assert_eq!(record.doctor_id, Some(new_doctor));
    app.stop_and_clean().await;
}

#[tokio::test]
async fn a_malformed_message_is_parked_and_changes_nothing() {
    let app = spawn_app().await;
    let user = Uuid::now_v7();
    let id = Uuid::now_v7();
    let broken = json!({
        "id": id,
        "type": "user.timezone_changed",
        "version": 1,
        "occurred_at": "2026-11-26T12:00:00Z",
        "correlation_id": null,
        "traceparent": null,
        "data": {"user_id": user, "timezone": 42},
    });
    app.publish_raw::<UserTimezoneChanged>(broken.to_string().as_bytes())
        .await;
    // Not even JSON.
    app.publish_raw::<UserTimezoneChanged>(b"not an envelope")
        .await;
    // The right shape, but no such time zone.
    let unknown_zone = timezone_changed(user, "Mars/Olympus_Mons");
    app.publish(&unknown_zone).await;
    let dead = format!("{}.dead", app.queue::<UserTimezoneChanged>());
    eventually(WITHIN, "the three messages in the dead queue", || async {
        (app.ready(&dead).await == 3).then_some(())
    })
    .await;
    assert!(!app.store.event_applied(unknown_zone.id).await.unwrap());
    assert_eq!(app.user(user).await, None);
    assert!(!app.store.event_applied(id).await.unwrap());
    assert!(app.keys().await.is_empty(), "{:?}", app.keys().await);
    app.stop_and_clean().await;
}
