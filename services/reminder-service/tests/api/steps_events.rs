//! `steps.extracted` that must not be applied, and what Redis and the broker may hold.

use hospital_events::{Envelope, StepsExtracted, UserRegistered};
use hospital_platform::token::Role;
use hospital_test_support::eventually;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::{dump_under, spawn_app_with_clock, WITHIN};

#[tokio::test]
async fn bad_steps_events_are_parked_with_nothing_stored() {
    let app = spawn_app_with_clock().await;
    let patient = app.patient("UTC").await;
    let doctor = Uuid::now_v7();
    let registered = Envelope::new(UserRegistered {
        user_id: doctor,
        role: Role::Doctor,
        timezone: "UTC".into(),
    });
    app.deliver(&registered).await;
    let keys_before = app.keys().await;

    let good = app.steps_event(
        patient,
        "2026-06-01T06:00:00Z",
        &["Buy a thermometer"],
        &[(
            "Take paracetamol",
            json!({"kind": "interval", "every_hours": 6}),
            json!({"days": 3}),
        )],
    );
    let mut wire: Value = serde_json::to_value(&good).unwrap();
    let mut broken = Vec::new();
    for (path, value) in [
        ("/data/plan/0/schedule", json!({"kind": "hourly"})),
        (
            "/data/plan/0/schedule",
            json!({"kind": "interval", "every_hours": 0}),
        ),
        ("/data/plan/0/duration", json!({"days": 4000})),
        ("/data/fallback", json!(true)),
        ("/data/extractor", json!("oracle")),
        ("/data/checklist/0/title", json!("Buy a thermometer")),
    ] {
        let mut event = wire.clone();
        *event.pointer_mut(path).unwrap() = value;
        if path == "/data/fallback" {
            *event.pointer_mut("/data/extractor").unwrap() = json!("gemini");
        }
        *event.pointer_mut("/id").unwrap() = json!(Uuid::now_v7());
        broken.push(event);
    }
    // Someone who is not a patient here, and someone unknown.
    *wire.pointer_mut("/data/patient_id").unwrap() = json!(doctor);
    broken.push(wire.clone());
    *wire.pointer_mut("/data/patient_id").unwrap() = json!(Uuid::now_v7());
    *wire.pointer_mut("/id").unwrap() = json!(Uuid::now_v7());
    broken.push(wire);
    for event in &broken {
        app.publish_raw::<StepsExtracted>(event.to_string().as_bytes())
            .await;
    }
    let dead = format!("{}.dead", app.queue::<StepsExtracted>());
    let expected = u32::try_from(broken.len()).unwrap();
    eventually(WITHIN, "every broken event in the dead queue", || async {
        (app.ready(&dead).await == expected).then_some(())
    })
    .await;
    assert_eq!(app.keys().await, keys_before, "nothing stored");
    let (status, steps) = app
        .json_as(
            &format!("/patients/{patient}/actionable-steps"),
            patient,
            Role::Patient,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(steps["plan"], json!([]));
    assert_eq!(steps["note_id"], Value::Null);

    // The good one still works afterwards.
    app.deliver(&good).await;
    let reminders = app.reminders(patient, None).await;
    assert_eq!(reminders[0]["due_at"], "2026-06-01T07:00:00Z");
    assert_eq!(reminders[1]["due_at"], "2026-06-01T13:00:00Z");
    app.stop_and_clean().await;
}

/// Words that appear only in the test note's steps.
const CLINICAL: [&str; 3] = ["zyloprimazine", "quixotrel", "fibrodysplasia"];

#[tokio::test]
async fn no_clinical_word_reaches_redis_or_the_broker() {
    let app = spawn_app_with_clock().await;
    let patient = app.patient("Europe/Berlin").await;
    let event = app.steps_event(
        patient,
        "2026-06-01T06:00:00Z",
        &["Collect the Quixotrel prescription for fibrodysplasia"],
        &[(
            "Take Zyloprimazine 20 mg",
            json!({"kind": "fixed_times", "times": ["10:00", "22:00"]}),
            json!({"occurrences": 2}),
        )],
    );
    app.deliver(&event).await;

    // Send one and check it in, let the other be missed, complete the item.
    app.set_time("2026-06-01T08:00:00Z");
    let due = app.wait_for_reminders(patient, "due", 1).await;
    let id = due[0]["id"].as_str().unwrap();
    assert_eq!(due[0]["title"], "Take Zyloprimazine 20 mg");
    let checked = app.check_in(id, patient).await;
    assert_eq!(checked.status(), 200);
    let (_, steps) = app
        .json_as(
            &format!("/patients/{patient}/actionable-steps"),
            patient,
            Role::Patient,
        )
        .await;
    let item = steps["checklist"][0]["id"].as_str().unwrap();
    assert_eq!(
        app.post_as(
            &format!("/checklist/{item}/complete"),
            patient,
            Role::Patient
        )
        .await
        .status(),
        200
    );
    app.set_time("2026-06-01T21:00:01Z");
    app.wait_for_reminders(patient, "missed", 1).await;
    let messages = eventually(WITHIN, "the due, missed and check-in events", || async {
        let messages = app.published.drain().await;
        let has = |key: &str| messages.iter().any(|(k, _)| k == key);
        (has("reminder.due_batch.v1") && has("reminder.missed.v1") && has("checkin.recorded.v1"))
            .then_some(messages)
    })
    .await;

    let dump = dump_under(&app.settings.redis.key_prefix).await;
    assert!(
        dump.iter().any(|(k, _)| k.contains(":text:")),
        "the sealed texts are there"
    );
    for (key, value) in &dump {
        let text = format!("{key} {value}").to_lowercase();
        for word in CLINICAL {
            assert!(!text.contains(word), "{word} in Redis at {key}");
        }
    }
    for (key, body) in &messages {
        let text = String::from_utf8_lossy(body).to_lowercase();
        for word in CLINICAL {
            assert!(!text.contains(word), "{word} in a {key} message");
        }
    }
    app.stop_and_clean().await;
}
