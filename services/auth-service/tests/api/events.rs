use std::collections::HashMap;

use reqwest::StatusCode;
use serde_json::json;

use hospital_test_support::amqp::{amqp_url_via, broker_gate};

use crate::helpers::{spawn_app, spawn_app_with, unique_email};

#[tokio::test(flavor = "multi_thread")]
async fn signup_and_selection_publish_events_without_personal_data() {
    let mut app = spawn_app().await;
    let doctor = app.signup_doctor(&unique_email("doc"), "Cardiology").await;
    let patient = app.signup_patient(&unique_email("pat")).await;
    app.select_doctor(&patient, &doctor.id).await;

    let registered_doctor = app.next_event().await.expect("doctor registered");
    assert_eq!(registered_doctor.event_type, "user.registered");
    assert_eq!(registered_doctor.version, 1);
    assert_eq!(
        registered_doctor.data,
        json!({"user_id": doctor.id, "role": "doctor", "timezone": "UTC"})
    );
    let registered_patient = app.next_event().await.expect("patient registered");
    assert_eq!(registered_patient.data["user_id"], patient.id.as_str());
    let raw = serde_json::to_string(&registered_patient).unwrap();
    assert!(
        !raw.contains(&patient.email) && !raw.contains("Pat Patient"),
        "{raw}"
    );

    let assigned = app.next_event().await.expect("assignment changed");
    assert_eq!(assigned.event_type, "assignment.changed");
    assert_eq!(assigned.data["patient_id"], patient.id.as_str());
    assert_eq!(assigned.data["doctor_id"], doctor.id.as_str());
    assert!(assigned.data["previous_doctor_id"].is_null());
    assert!(
        assigned.correlation_id.is_some(),
        "events carry the request id"
    );
    app.assert_no_event().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn events_wait_out_a_broker_outage_and_arrive_exactly_once() {
    let gate = broker_gate().expect("a gate in front of the broker");
    let mut app = spawn_app_with(|s| s.events.amqp_url = amqp_url_via(gate.port())).await;

    // The broker is unreachable: the requests still succeed.
    let doctor = app.signup_doctor(&unique_email("doc"), "Cardiology").await;
    let other = app.signup_doctor(&unique_email("doc2"), "Oncology").await;
    let patient = app.signup_patient(&unique_email("pat")).await;
    assert_eq!(
        app.select_doctor(&patient, &doctor.id).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        app.select_doctor(&patient, &other.id).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        app.get("/readyz", None).await.status(),
        StatusCode::SERVICE_UNAVAILABLE
    );
    app.assert_no_event().await;

    gate.open().await.expect("the gate opens");
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut order = Vec::new();
    while let Some(event) = app.next_event().await {
        *seen.entry(event.id.to_string()).or_default() += 1;
        order.push(event.event_type.clone());
        if order.len() == 5 {
            break;
        }
    }
    assert_eq!(
        order,
        [
            "user.registered",
            "user.registered",
            "user.registered",
            "assignment.changed",
            "assignment.changed"
        ]
    );
    // Nothing more arrives: each event exactly once.
    app.assert_no_event().await;
    assert!(seen.values().all(|n| *n == 1), "{seen:?}");
    assert_eq!(app.get("/readyz", None).await.status(), StatusCode::OK);
    gate.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn published_events_are_purged_after_their_keep_time() {
    let mut app = spawn_app().await;
    app.signup_patient(&unique_email("purge")).await;
    assert!(app.next_event().await.is_some(), "published");
    let store = auth_service::store::Store::connect(&app.db.url, 1).unwrap();
    let now = chrono::Utc::now();
    // Marked published just after the confirm: wait for the mark, not for time.
    hospital_test_support::eventually(std::time::Duration::from_secs(5), "the mark", || async {
        store
            .pending_events(10)
            .await
            .unwrap()
            .is_empty()
            .then_some(())
    })
    .await;
    assert_eq!(
        store
            .purge_published(now - chrono::TimeDelta::hours(1))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        store
            .purge_published(now + chrono::TimeDelta::hours(1))
            .await
            .unwrap(),
        1
    );
    assert_eq!(app.count_rows("outbox").await, 0);
}
