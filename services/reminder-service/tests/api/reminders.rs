//! Steps become reminders, sent when due (manual clock), checked in or missed; checklist,
//! adherence, replacement by newer notes, time-zone changes, access rules.

use std::collections::HashMap;
use std::time::Duration;

use hospital_platform::token::Role;
use hospital_test_support::eventually;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::{redis, spawn_app_with_auth_service, spawn_app_with_clock, TestApp, WITHIN};

fn twice_daily_for_two_days() -> (&'static str, Value, Value) {
    (
        "Take amoxicillin 500 mg",
        json!({"kind": "fixed_times", "times": ["08:00", "20:00"]}),
        json!({"days": 2}),
    )
}

/// A patient (UTC) with one checklist item and one twice-daily plan step for two days,
/// steps arrived at 07:00 on 1 June 2026.
async fn patient_with_steps(app: &TestApp) -> Uuid {
    let patient = app.patient("UTC").await;
    give_steps(app, patient).await;
    patient
}

/// One checklist item and one twice-daily plan step for two days for `patient`, known
/// here already, from a note written at 06:00 on 1 June 2026.
pub async fn give_steps(app: &TestApp, patient: Uuid) {
    let event = app.steps_event(
        patient,
        "2026-06-01T06:00:00Z",
        &["Buy amoxicillin"],
        &[twice_daily_for_two_days()],
    );
    app.deliver(&event).await;
}

fn ids(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn steps_become_reminders_that_are_sent_when_due_and_checked_in() {
    let app = spawn_app_with_clock().await;
    let patient = patient_with_steps(&app).await;

    let (status, steps) = app
        .json_as(
            &format!("/patients/{patient}/actionable-steps"),
            patient,
            Role::Patient,
        )
        .await;
    assert_eq!(status, 200, "{steps}");
    assert_eq!(steps["extractor"], "offline");
    assert_eq!(steps["checklist"][0]["title"], "Buy amoxicillin");
    assert_eq!(steps["checklist"][0]["status"], "pending");
    assert_eq!(steps["checklist"][0]["source"], "Please Buy amoxicillin.");
    let plan = &steps["plan"][0];
    assert_eq!(plan["title"], "Take amoxicillin 500 mg");
    assert_eq!(plan["status"], "active");
    assert_eq!(plan["next_due_at"], "2026-06-01T08:00:00Z");
    assert_eq!(plan["schedule"]["kind"], "fixed_times");
    assert_eq!(plan["duration"], json!({"days": 2}));

    // Only the next few are materialised (lookahead 3 of the course's 4).
    let upcoming = app.reminders(patient, Some("upcoming")).await;
    let dues: Vec<&str> = upcoming
        .iter()
        .map(|r| r["due_at"].as_str().unwrap())
        .collect();
    assert_eq!(
        dues,
        [
            "2026-06-01T08:00:00Z",
            "2026-06-01T20:00:00Z",
            "2026-06-02T08:00:00Z"
        ]
    );
    assert!(app.feed(patient).await.is_empty());

    // Nothing goes out a second early.
    app.set_time("2026-06-01T07:59:59Z");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(app.feed(patient).await.is_empty());

    app.set_time("2026-06-01T08:00:00Z");
    let due = app.wait_for_reminders(patient, "due", 1).await;
    let first = due[0]["id"].as_str().unwrap().to_owned();
    let feed = eventually(WITHIN, "the feed entry", || async {
        let feed = app.feed(patient).await;
        (!feed.is_empty()).then_some(feed)
    })
    .await;
    assert_eq!(feed.len(), 1);
    assert_eq!(feed[0].1, first);
    // The course's last occurrence was materialised when the first went out.
    app.wait_for_reminders(patient, "upcoming", 3).await;

    app.set_time("2026-06-01T08:10:00Z");
    let response = app.check_in(&first, patient).await;
    assert_eq!(response.status(), 200);
    let checked: Value = response.json().await.unwrap();
    assert_eq!(checked["status"], "done");
    assert_eq!(checked["checked_in_at"], "2026-06-01T08:10:00Z");
    assert_eq!(checked["title"], "Take amoxicillin 500 mg");

    // Twice: the same answer, nothing new.
    app.set_time("2026-06-01T08:20:00Z");
    let again: Value = app.check_in(&first, patient).await.json().await.unwrap();
    assert_eq!(again, checked);
    assert_eq!(
        ids(&app.reminders(patient, Some("done")).await),
        [first.as_str()]
    );

    // The checklist item.
    let item = steps["checklist"][0]["id"].as_str().unwrap();
    let completed = app
        .post_as(
            &format!("/checklist/{item}/complete"),
            patient,
            Role::Patient,
        )
        .await;
    assert_eq!(completed.status(), 200);
    let completed: Value = completed.json().await.unwrap();
    assert_eq!(completed["status"], "done");
    assert_eq!(completed["title"], "Buy amoxicillin");

    // Events: one reminder.due and one checkin.recorded for the reminder.
    let published = eventually(WITHIN, "the check-in to be announced", || async {
        let messages = app.published.drain().await;
        let keys: Vec<String> = messages.iter().map(|(k, _)| k.clone()).collect();
        keys.iter()
            .any(|k| k == "checkin.recorded.v1")
            .then_some(messages)
    })
    .await;
    // By default due reminders travel in batches: one here, holding the one reminder.
    let due_events: Vec<Value> = published
        .iter()
        .filter(|(k, _)| k == "reminder.due_batch.v1")
        .map(|(_, body)| serde_json::from_slice(body).unwrap())
        .collect();
    assert_eq!(due_events.len(), 1);
    let due = &due_events[0]["data"]["reminders"];
    assert_eq!(due.as_array().unwrap().len(), 1);
    assert_eq!(due[0]["reminder_id"], first.as_str());
    assert_eq!(due[0]["due_at"], "2026-06-01T08:00:00Z");
    assert!(due[0]["title"]["ciphertext"].is_string());
    assert!(published.iter().all(|(k, _)| k != "reminder.due.v1"));

    let (_, adherence) = app
        .json_as(
            &format!("/patients/{patient}/adherence"),
            patient,
            Role::Patient,
        )
        .await;
    assert_eq!(adherence["plan"][0]["done"], 1);
    assert_eq!(adherence["plan"][0]["missed"], 0);
    assert_eq!(adherence["plan"][0]["remaining"], 3);
    app.stop_and_clean().await;
}

#[tokio::test]
async fn check_in_is_open_only_within_the_grace_period_and_a_miss_extends_the_course() {
    let app = spawn_app_with_clock().await;
    let patient = patient_with_steps(&app).await;
    let upcoming = app.reminders(patient, Some("upcoming")).await;
    let (first, second) = (
        upcoming[0]["id"].as_str().unwrap().to_owned(),
        upcoming[1]["id"].as_str().unwrap().to_owned(),
    );
    assert_eq!(upcoming[0]["grace_ends_at"], "2026-06-01T09:00:00Z");

    // 61 minutes early: refused, nothing changed.
    app.set_time("2026-06-01T06:59:00Z");
    let early = app.check_in(&first, patient).await;
    assert_eq!(early.status(), 409);
    let body: Value = early.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_yet_due");

    // 30 minutes early is within the grace period.
    app.set_time("2026-06-01T07:30:00Z");
    let response = app.check_in(&first, patient).await;
    assert_eq!(response.status(), 200);

    // The second is sent, then passes its grace period unanswered: missed.
    app.set_time("2026-06-01T20:00:00Z");
    app.wait_for_reminders(patient, "due", 1).await;
    eventually(WITHIN, "the second reminder in the feed", || async {
        (app.feed(patient).await.len() == 1).then_some(())
    })
    .await;
    app.set_time("2026-06-01T21:00:01Z");
    app.wait_for_reminders(patient, "missed", 1).await;
    let late = app.check_in(&second, patient).await;
    assert_eq!(late.status(), 409);
    let body: Value = late.json().await.unwrap();
    assert_eq!(body["error"]["code"], "already_missed");

    // One more occurrence at the end of the course: 5 in all.
    let all = eventually(WITHIN, "the extra occurrence", || async {
        let all = app.reminders(patient, None).await;
        (all.len() == 5).then_some(all)
    })
    .await;
    assert_eq!(all[4]["due_at"], "2026-06-03T08:00:00Z");
    let (_, adherence) = app
        .json_as(
            &format!("/patients/{patient}/adherence"),
            patient,
            Role::Patient,
        )
        .await;
    assert_eq!(adherence["plan"][0]["missed"], 1);
    assert_eq!(adherence["plan"][0]["remaining"], 3);
    let missed = eventually(WITHIN, "reminder.missed", || async {
        let messages = app.published.drain().await;
        messages
            .into_iter()
            .find(|(k, _)| k == "reminder.missed.v1")
            .map(|(_, body)| serde_json::from_slice::<Value>(&body).unwrap())
    })
    .await;
    assert_eq!(missed["data"]["reminder_id"], second.as_str());
    app.stop_and_clean().await;
}

#[tokio::test]
async fn only_the_patient_and_their_current_doctor_get_in() {
    // Real users: a doctor's access is confirmed with the auth-service.
    let app = spawn_app_with_auth_service().await;
    let auth = app.auth();
    let patient = auth.signup_patient().await;
    app.wait_until_known_patient(&patient).await;
    give_steps(&app, patient.id).await;
    let doctor = auth.signup_doctor().await;
    assert_eq!(auth.select_doctor(&patient, &doctor).await, 200);
    let stranger = auth.signup_patient().await;
    let other_doctor = auth.signup_doctor().await;
    let (status, upcoming) = app
        .json_with(
            &format!("/patients/{}/reminders?status=upcoming", patient.id),
            &patient,
        )
        .await;
    assert_eq!(status, 200, "{upcoming}");
    let reminder = upcoming["items"][0]["id"].as_str().unwrap().to_owned();
    let paths = [
        format!("/patients/{}/actionable-steps", patient.id),
        format!("/patients/{}/reminders", patient.id),
        format!("/patients/{}/adherence", patient.id),
    ];
    for path in &paths {
        assert_eq!(app.get_with(path, &doctor).await.status(), 200, "{path}");
        assert_eq!(app.get_with(path, &stranger).await.status(), 403, "{path}");
        assert_eq!(
            app.get_with(path, &other_doctor).await.status(),
            403,
            "{path}"
        );
        assert_eq!(app.get(path).await.status(), 401, "{path}");
    }
    let unknown = Uuid::now_v7();
    let (status, body) = app
        .json_with(&format!("/patients/{unknown}/reminders"), &doctor)
        .await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["code"], "not_found");
    let (status, body) = app
        .json_with("/patients/not-a-uuid/reminders", &patient)
        .await;
    assert_eq!(status, 400, "{body}");
    let (status, _) = app
        .json_with(
            &format!("/patients/{}/reminders?status=late", patient.id),
            &patient,
        )
        .await;
    assert_eq!(status, 422);

    // Check-ins: a doctor, a stranger, an unknown or malformed id.
    app.set_time("2026-06-01T08:00:00Z");
    let check_in = |id: String| format!("/reminders/{id}/check-in");
    assert_eq!(
        app.post_with(&check_in(reminder.clone()), &doctor)
            .await
            .status(),
        403
    );
    assert_eq!(
        app.post_with(&check_in(reminder.clone()), &stranger)
            .await
            .status(),
        403
    );
    assert_eq!(
        app.post_with(&check_in(Uuid::now_v7().to_string()), &patient)
            .await
            .status(),
        404
    );
    assert_eq!(
        app.post_with(&check_in("42".into()), &patient)
            .await
            .status(),
        400
    );
    // Nothing was checked in by any of them.
    let (status, done) = app
        .json_with(
            &format!("/patients/{}/reminders?status=done", patient.id),
            &patient,
        )
        .await;
    assert_eq!(status, 200, "{done}");
    assert!(done["items"].as_array().unwrap().is_empty(), "{done}");

    // A new doctor: the old one loses access at once, as soon as the switch returns.
    let new_doctor = auth.signup_doctor().await;
    assert_eq!(auth.select_doctor(&patient, &new_doctor).await, 200);
    assert_eq!(app.get_with(&paths[0], &doctor).await.status(), 403);
    assert_eq!(app.get_with(&paths[0], &new_doctor).await.status(), 200);
    app.stop_and_clean().await;
}

#[tokio::test]
async fn a_newer_note_replaces_the_steps_and_an_older_one_is_ignored() {
    let app = spawn_app_with_clock().await;
    let patient = patient_with_steps(&app).await;
    let old_item = app
        .json_as(
            &format!("/patients/{patient}/actionable-steps"),
            patient,
            Role::Patient,
        )
        .await
        .1["checklist"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let newer = app.steps_event(
        patient,
        "2026-06-01T06:30:00Z",
        &["Book a blood test"],
        &[(
            "Take ibuprofen 200 mg",
            json!({"kind": "interval", "every_hours": 8}),
            json!({"occurrences": 3}),
        )],
    );
    app.deliver(&newer).await;
    let (_, steps) = app
        .json_as(
            &format!("/patients/{patient}/actionable-steps"),
            patient,
            Role::Patient,
        )
        .await;
    assert_eq!(steps["note_id"], newer.data.note_id.to_string());
    assert_eq!(steps["checklist"][0]["title"], "Book a blood test");
    assert_eq!(steps["plan"][0]["title"], "Take ibuprofen 200 mg");
    assert_eq!(steps["plan"][0]["next_due_at"], "2026-06-01T07:00:00Z");
    // The old note's three reminders are cancelled, kept as history.
    let cancelled = app.reminders(patient, Some("cancelled")).await;
    assert_eq!(cancelled.len(), 3);
    assert!(cancelled
        .iter()
        .all(|r| r["title"] == "Take amoxicillin 500 mg"));
    let complete_old = app
        .post_as(
            &format!("/checklist/{old_item}/complete"),
            patient,
            Role::Patient,
        )
        .await;
    assert_eq!(complete_old.status(), 409);
    let check_in_old = app
        .post_as(
            &format!(
                "/reminders/{}/check-in",
                cancelled[0]["id"].as_str().unwrap()
            ),
            patient,
            Role::Patient,
        )
        .await;
    assert_eq!(check_in_old.status(), 409);

    // An older note arriving late changes nothing; nor does a redelivery.
    let older = app.steps_event(patient, "2026-05-31T06:00:00Z", &["Old"], &[]);
    app.deliver(&older).await;
    app.deliver(&newer).await;
    let (_, after) = app
        .json_as(
            &format!("/patients/{patient}/actionable-steps"),
            patient,
            Role::Patient,
        )
        .await;
    assert_eq!(after, steps);

    // The cancelled ones never go out; the new one does.
    app.set_time("2026-06-01T08:00:00Z");
    let feed = eventually(WITHIN, "the new step's first reminder", || async {
        let feed = app.feed(patient).await;
        (!feed.is_empty()).then_some(feed)
    })
    .await;
    let sent = &feed[0].1;
    assert!(cancelled.iter().all(|r| r["id"] != sent.as_str()));
    app.stop_and_clean().await;
}

#[tokio::test]
async fn a_time_zone_change_moves_wall_clock_reminders() {
    let app = spawn_app_with_clock().await;
    let patient = app.patient("Europe/London").await;
    let event = app.steps_event(
        patient,
        "2026-06-01T06:00:00Z",
        &[],
        &[
            (
                "Take vitamin D",
                json!({"kind": "fixed_times", "times": ["09:00"]}),
                json!(null),
            ),
            (
                "Use the inhaler",
                json!({"kind": "interval", "every_hours": 12}),
                json!(null),
            ),
        ],
    );
    app.deliver(&event).await;
    let before = app.reminders(patient, Some("upcoming")).await;
    let at = |title: &str, items: &[Value]| -> Vec<String> {
        items
            .iter()
            .filter(|r| r["title"] == title)
            .map(|r| r["due_at"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(at("Take vitamin D", &before)[0], "2026-06-01T08:00:00Z");
    // The inhaler's first dose fell due at once (07:00); the next ones are 12 h apart.
    assert_eq!(
        at("Use the inhaler", &before)[..2],
        ["2026-06-01T19:00:00Z", "2026-06-02T07:00:00Z"]
    );

    let change = hospital_events::Envelope::new(hospital_events::UserTimezoneChanged {
        user_id: patient,
        timezone: "Asia/Tokyo".into(),
    });
    app.deliver(&change).await;
    let after = eventually(WITHIN, "the reminders to move", || async {
        let items = app.reminders(patient, Some("upcoming")).await;
        (at("Take vitamin D", &items)[0] == "2026-06-02T00:00:00Z").then_some(items)
    })
    .await;
    // 09:00 in Tokyo, day after day; the interval step does not move.
    assert_eq!(
        at("Take vitamin D", &after),
        [
            "2026-06-02T00:00:00Z",
            "2026-06-03T00:00:00Z",
            "2026-06-04T00:00:00Z"
        ]
    );
    assert_eq!(
        at("Use the inhaler", &after)[..2],
        ["2026-06-01T19:00:00Z", "2026-06-02T07:00:00Z"]
    );
    app.stop_and_clean().await;
}

#[tokio::test]
async fn a_reminder_whose_window_closed_before_it_went_out_is_missed_not_sent() {
    let app = spawn_app_with_clock().await;
    let patient = patient_with_steps(&app).await;
    let first = app.reminders(patient, Some("upcoming")).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // The dispatchers see the clock again only at 09:30: the 08:00 reminder's check-in
    // window closed at 09:00.
    app.set_time("2026-06-01T09:30:00Z");
    let missed = app.wait_for_reminders(patient, "missed", 1).await;
    assert_eq!(missed[0]["id"], first.as_str());
    assert!(
        app.feed(patient).await.is_empty(),
        "not sent to the patient"
    );
    let events = eventually(WITHIN, "reminder.missed", || async {
        let messages = app.published.drain().await;
        messages
            .iter()
            .any(|(k, _)| k == "reminder.missed.v1")
            .then_some(messages)
    })
    .await;
    assert!(events
        .iter()
        .all(|(k, _)| k != "reminder.due.v1" && k != "reminder.due_batch.v1"));
    // The course gained its extra occurrence, and the next reminders still go out.
    let (_, adherence) = app
        .json_as(
            &format!("/patients/{patient}/adherence"),
            patient,
            Role::Patient,
        )
        .await;
    assert_eq!(adherence["plan"][0]["missed"], 1);
    assert_eq!(adherence["plan"][0]["remaining"], 4);
    app.wait_for_reminders(patient, "upcoming", 3).await;
    app.set_time("2026-06-01T20:00:00Z");
    eventually(WITHIN, "the 20:00 reminder in the feed", || async {
        (app.feed(patient).await.len() == 1).then_some(())
    })
    .await;
    app.stop_and_clean().await;
}

#[tokio::test]
async fn a_step_stored_without_its_head_is_still_sent_and_rescheduled() {
    // Steps written before the service kept `head` (the first unsent occurrence's instant)
    // have none: acknowledging their reminders finds it from the occurrences instead.
    let app = spawn_app_with_clock().await;
    let patient = patient_with_steps(&app).await;
    let mut redis = redis().await;
    let steps: Vec<String> = app
        .keys()
        .await
        .into_iter()
        .filter(|key| key.contains(":step:"))
        .collect();
    for step in &steps {
        let _: () = redis::cmd("HDEL")
            .arg(step)
            .arg("head")
            .query_async(&mut redis)
            .await
            .unwrap();
    }

    app.set_time("2026-06-01T08:00:00Z");
    app.wait_for_reminders(patient, "due", 1).await;
    // The first one's grace period ends (missed) and the second goes out at 20:00.
    app.set_time("2026-06-01T20:00:00Z");
    let feed = eventually(WITHIN, "the second reminder in the feed", || async {
        let feed = app.feed(patient).await;
        (feed.len() == 2).then_some(feed)
    })
    .await;
    assert_ne!(feed[0].1, feed[1].1);
    app.wait_for_reminders(patient, "due", 1).await;
    app.wait_for_reminders(patient, "missed", 1).await;
    app.stop_and_clean().await;
}

/// Every step hash of `app`'s prefix, by key.
async fn step_hashes(app: &TestApp) -> Vec<(String, HashMap<String, String>)> {
    let mut redis = redis().await;
    let mut steps = Vec::new();
    for key in app
        .keys()
        .await
        .into_iter()
        .filter(|k| k.contains(":step:"))
    {
        let step: HashMap<String, String> = redis::cmd("HGETALL")
            .arg(&key)
            .query_async(&mut redis)
            .await
            .unwrap();
        steps.push((key, step));
    }
    steps
}

#[tokio::test]
async fn steps_stored_with_records_in_epoch_seconds_are_still_sent_listed_and_checked_in() {
    // Before records counted from the step's `start`, a step stored each occurrence as
    // `<due>|<grace>|<state>|<checked in at>` in seconds since the epoch.
    let app = spawn_app_with_clock().await;
    let patient = patient_with_steps(&app).await;
    let mut redis = redis().await;
    let mut rewritten = 0;
    for (key, step) in step_hashes(&app).await {
        let Some(start) = step.get("start").map(|s| s.parse::<i64>().unwrap()) else {
            continue;
        };
        for (field, record) in step.iter().filter(|(f, _)| f.starts_with('o')) {
            let parts: Vec<&str> = record.split(':').collect();
            let old = format!(
                "{}|{}|{}|",
                start + parts[0].parse::<i64>().unwrap(),
                parts[1],
                parts[2]
            );
            let _: () = redis::cmd("HSET")
                .arg(&key)
                .arg(field)
                .arg(old)
                .query_async(&mut redis)
                .await
                .unwrap();
            rewritten += 1;
        }
    }
    assert!(rewritten >= 3, "{rewritten}");

    let upcoming = app.wait_for_reminders(patient, "upcoming", 3).await;
    assert_eq!(upcoming[0]["due_at"], "2026-06-01T08:00:00Z");
    app.set_time("2026-06-01T08:00:00Z");
    let due = app.wait_for_reminders(patient, "due", 1).await;
    let first = due[0]["id"].as_str().unwrap().to_owned();
    app.set_time("2026-06-01T08:10:00Z");
    let response = app.check_in(&first, patient).await;
    assert_eq!(response.status(), 200);
    let checked: Value = response.json().await.unwrap();
    assert_eq!(checked["status"], "done");
    assert_eq!(checked["due_at"], "2026-06-01T08:00:00Z");
    assert_eq!(checked["checked_in_at"], "2026-06-01T08:10:00Z");
    assert_eq!(ids(&app.reminders(patient, Some("done")).await), [first]);
    app.stop_and_clean().await;
}

#[tokio::test]
async fn during_a_rolling_upgrade_records_can_be_written_in_the_older_form() {
    // `REMINDER__REDIS__RECORD_FORM=epoch`: what replicas of the version before compact
    // records read, for every record written (stored steps and top-ups alike).
    let mut settings = crate::helpers::test_settings();
    settings.redis.record_form = hospital_reminder_service::store::RecordForm::Epoch;
    let app = crate::helpers::spawn_app_with_clock_and(settings).await;
    let patient = patient_with_steps(&app).await;
    let records = || async {
        step_hashes(&app)
            .await
            .into_iter()
            .flat_map(|(_, step)| step.into_iter())
            .filter(|(field, _)| field.starts_with('o'))
            .map(|(_, record)| record)
            .collect::<Vec<String>>()
    };
    let stored = records().await;
    assert!(!stored.is_empty());
    assert!(
        stored.iter().all(|r| r.contains('|') && !r.contains(':')),
        "{stored:?}"
    );

    app.set_time("2026-06-01T08:00:00Z");
    let due = app.wait_for_reminders(patient, "due", 1).await;
    // The first one went out and the course's next occurrence was added, in the same form.
    app.wait_for_reminders(patient, "upcoming", 3).await;
    let topped_up = records().await;
    assert!(topped_up.len() > stored.len(), "{topped_up:?}");
    assert!(
        topped_up
            .iter()
            .all(|r| r.contains('|') && !r.contains(':')),
        "{topped_up:?}"
    );
    let first = due[0]["id"].as_str().unwrap().to_owned();
    app.set_time("2026-06-01T08:10:00Z");
    let checked = app.check_in(&first, patient).await;
    assert_eq!(checked.status(), 200);
    assert!(records()
        .await
        .iter()
        .any(|r| r.ends_with(&format!("|d|{}", 1_780_301_400))));
    app.stop_and_clean().await;
}

#[tokio::test]
async fn a_grace_entry_left_for_a_checked_in_reminder_ends_without_a_miss() {
    // A check-in can land while its reminder is in flight, before the dispatcher's
    // acknowledgement starts the grace period: that grace entry must come to nothing.
    let app = spawn_app_with_clock().await;
    let patient = patient_with_steps(&app).await;
    app.set_time("2026-06-01T08:00:00Z");
    let due = app.wait_for_reminders(patient, "due", 1).await;
    let first = due[0]["id"].as_str().unwrap().to_owned();
    app.set_time("2026-06-01T08:10:00Z");
    let checked = app.check_in(&first, patient).await;
    assert_eq!(checked.status(), 200);

    let grace = format!("{}grace", app.settings.redis.key_prefix);
    let mut redis = redis().await;
    // What the late acknowledgement writes: the entry the check-in had removed.
    let ends_ms = jiff::Timestamp::from_second(1_780_304_400).unwrap(); // 09:00
    let _: () = redis::cmd("ZADD")
        .arg(&grace)
        .arg(ends_ms.as_millisecond())
        .arg(&first)
        .query_async(&mut redis)
        .await
        .unwrap();

    app.set_time("2026-06-01T09:01:00Z");
    eventually(WITHIN, "the stray grace entry to be consumed", || async {
        let mut redis = redis.clone();
        let left: Vec<String> = redis::cmd("ZRANGE")
            .arg(&grace)
            .arg(0)
            .arg(-1)
            .query_async(&mut redis)
            .await
            .unwrap();
        (!left.contains(&first)).then_some(())
    })
    .await;
    assert_eq!(
        ids(&app.reminders(patient, Some("done")).await),
        [first.as_str()]
    );
    assert!(app.reminders(patient, Some("missed")).await.is_empty());
    let missed = app
        .published
        .drain()
        .await
        .into_iter()
        .filter(|(key, _)| key == "reminder.missed.v1")
        .count();
    assert_eq!(missed, 0);
    app.stop_and_clean().await;
}
