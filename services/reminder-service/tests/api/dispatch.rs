//! Dispatch under load and the compact Redis layout: a backlog goes out in due order
//! whatever the steps' shapes, a corrupt record is parked without holding up the others,
//! reminders claimed ahead wait for their instant, senders that want one event per reminder
//! still get them; a patient's history and a redelivered note read as before without the
//! keys that cost every pending reminder bytes.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use chrono::Utc;
use hospital_platform::token::Role;
use hospital_reminder_service::dispatch::DueEvents;
use hospital_reminder_service::domain::{OccurrenceRecord, StepStem};
use hospital_reminder_service::planner::sortable_instant;
use hospital_reminder_service::store::{
    Claim, NewOccurrence, NewPlanStep, ReplaceOutcome, Replacement, Store,
};
use hospital_test_support::{eventually, unique_name};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::{
    delete_keys_under, redis, redis_url, spawn_app_with_clock_and, test_settings, WITHIN,
};

const HOUR: i64 = 3600;
/// 1 June 2026 00:00 UTC.
const T0: i64 = 1_780_272_000;

fn store() -> (Store, String) {
    let prefix = format!("test:{}:", unique_name("dispatch"));
    (Store::connect(&redis_url(), &prefix).unwrap(), prefix)
}

/// Stores one plan step for a new patient with occurrences due at `dues` (seconds), each
/// with a grace period of ten days (so none is missed here); returns the step's stem.
async fn seed_step(store: &Store, dues: &[i64]) -> String {
    seed_step_of(store, Uuid::now_v7(), dues).await
}

/// [`seed_step`] for `patient`, replacing the steps they had.
async fn seed_step_of(store: &Store, patient: Uuid, dues: &[i64]) -> String {
    let (stem, replacement) = one_step(patient, dues);
    let outcome = store
        .replace_steps(Uuid::now_v7(), patient, &replacement)
        .await
        .unwrap();
    assert!(
        matches!(outcome, ReplaceOutcome::Applied { .. }),
        "{outcome:?}"
    );
    stem
}

/// A note's steps for `patient`: one plan step due at `dues`; and its stem.
fn one_step(patient: Uuid, dues: &[i64]) -> (String, Replacement) {
    let step_id = Uuid::now_v7();
    let occurrences = dues
        .iter()
        .zip(0..)
        .map(|(due, n)| NewOccurrence {
            n,
            record: OccurrenceRecord::pending(*due, 10 * 24 * HOUR).to_string(),
            score: due * 1000,
        })
        .collect::<Vec<_>>();
    let stem = StepStem::of(step_id).to_string();
    let replacement = Replacement {
        patient: patient.to_string(),
        note_id: Uuid::now_v7().to_string(),
        note_created_at: sortable_instant(Utc::now()),
        extractor: "offline".to_owned(),
        fallback: "false".to_owned(),
        timezone: "UTC".to_owned(),
        now: T0.to_string(),
        event_ttl: 60,
        checklist: Vec::new(),
        plan: vec![NewPlanStep {
            stem: stem.clone(),
            id: step_id.to_string(),
            // Sealed texts are not needed by the claim; the title stays empty.
            text: b"{}\n{}".to_vec(),
            schedule: r#"{"kind":"interval","every_hours":1}"#.to_owned(),
            duration: format!(r#"{{"occurrences":{}}}"#, dues.len()),
            start: dues[0].to_string(),
            count: dues.len().to_string(),
            next: u32::try_from(dues.len()).unwrap(),
            last_due: dues[dues.len() - 1].to_string(),
            occurrences,
        }],
    };
    (stem, replacement)
}

/// Writes `fields` into the hash of step `stem`, as something other than the service would.
async fn set_step_fields(prefix: &str, stem: &str, fields: &[(&str, String)]) {
    let mut connection = redis().await;
    let _: () = redis::cmd("HSET")
        .arg(format!("{prefix}step:{stem}"))
        .arg(fields)
        .query_async(&mut connection)
        .await
        .unwrap();
}

/// A claim at `now_ms` of at most `batch` reminders under `lease` (30 s).
fn claim(lease: Uuid, now_ms: i64, batch: usize) -> Claim {
    Claim {
        now_ms,
        horizon_ms: now_ms,
        lease_ms: 30_000,
        batch,
        lease,
        lookahead: 3,
    }
}

/// Claims and acknowledges at `now` (ms) until nothing is left, as one dispatcher does:
/// each claim's reminders ordered by due instant. Returns the claims' due instants.
async fn drain(store: &Store, now_ms: i64, batch: usize) -> Vec<Vec<i64>> {
    let mut claims = Vec::new();
    loop {
        let lease = Uuid::new_v4();
        let claimed = store
            .claim_and_send(claim(lease, now_ms, batch))
            .await
            .unwrap();
        assert!(claimed.parked.is_empty(), "{:?}", claimed.parked);
        if claimed.sent.is_empty() {
            return claims;
        }
        assert!(
            claimed.sent.len() <= batch,
            "a claim takes at most its batch"
        );
        assert!(claimed.sent.iter().all(|r| !r.missed));
        let mut dues: Vec<i64> = claimed.sent.iter().map(|r| r.due).collect();
        dues.sort_unstable();
        claims.push(dues);
        store
            .acknowledge_sent(lease, &claimed.sent, &vec![true; claimed.sent.len()], 1000)
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn a_backlog_goes_out_in_due_order_and_no_patient_holds_up_the_others() {
    let (store, prefix) = store();
    // One patient with two days of hourly reminders, all overdue (the dispatchers were
    // down); four with a few reminders each, interleaved with theirs; one due last.
    let hourly: Vec<i64> = (0..48).map(|h| T0 + h * HOUR).collect();
    seed_step(&store, &hourly).await;
    let mut expected: Vec<i64> = hourly.clone();
    for offset in [30 * 60, 90 * 60, 5 * HOUR + 10, 20 * HOUR + 1] {
        let dues = [T0 + offset, T0 + offset + 24 * HOUR];
        seed_step(&store, &dues).await;
        expected.extend(dues);
    }
    seed_step(&store, &[T0 + 47 * HOUR + 1]).await;
    expected.push(T0 + 47 * HOUR + 1);
    expected.sort_unstable();

    let batch = 5;
    let claims = drain(&store, (T0 + 48 * HOUR) * 1000, batch).await;
    let delivered: Vec<i64> = claims.iter().flatten().copied().collect();
    let mut sorted = delivered.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, expected, "every reminder once, none lost");
    // Due order, up to one batch: no reminder waits behind more than a batch of reminders
    // due after it.
    for (i, due) in delivered.iter().enumerate() {
        let overtaken_by = delivered[..i].iter().filter(|d| *d > due).count();
        assert!(
            overtaken_by <= batch,
            "the reminder due at +{} s went out after {overtaken_by} due later: {claims:?}",
            due - T0
        );
    }
    // And the claims were full: the backlog did not trickle out a step at a time.
    assert!(
        claims.len() <= expected.len().div_ceil(batch) + 2,
        "{claims:?}"
    );
    delete_keys_under(&prefix).await;
}

/// The lengths of these patients' feeds.
async fn feed_lens(store: &Store, patients: &[Uuid]) -> Vec<usize> {
    let mut connection = redis().await;
    let mut lens = Vec::new();
    for patient in patients {
        let len: usize = redis::cmd("XLEN")
            .arg(store.keys().feed(*patient))
            .query_async(&mut connection)
            .await
            .unwrap();
        lens.push(len);
    }
    lens
}

/// The leases not ended (members of `leases`), and the keys of lease lists left.
async fn leases_left(prefix: &str) -> (Vec<String>, Vec<String>) {
    let mut connection = redis().await;
    let leases: Vec<String> = redis::cmd("ZRANGE")
        .arg(format!("{prefix}leases"))
        .arg(0)
        .arg(-1)
        .query_async(&mut connection)
        .await
        .unwrap();
    let lists: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}lease:*"))
        .query_async(&mut connection)
        .await
        .unwrap();
    (leases, lists)
}

#[tokio::test]
async fn a_lease_that_runs_out_is_taken_over_and_the_late_acknowledgement_writes_nothing() {
    let (store, prefix) = store();
    let patients = [Uuid::now_v7(), Uuid::now_v7()];
    for patient in patients {
        seed_step_of(&store, patient, &[T0, T0 + HOUR]).await;
    }
    let ids = |sent: &[hospital_reminder_service::store::Sent]| -> HashSet<String> {
        sent.iter().map(|r| r.reminder_id.clone()).collect()
    };

    // A dispatcher claims both 00:00 reminders and dies before acknowledging.
    let crashed = Uuid::new_v4();
    let first = store
        .claim_and_send(claim(crashed, T0 * 1000, 100))
        .await
        .unwrap();
    assert_eq!(first.sent.len(), 2);
    // While its lease lasts nobody else sends them.
    let other = Uuid::new_v4();
    let during = store
        .claim_and_send(claim(other, (T0 + 20) * 1000, 100))
        .await
        .unwrap();
    assert!(during.sent.is_empty(), "{:?}", during.sent);
    // Once it has run out, the next claim takes over what it held: the same reminders.
    let after = store
        .claim_and_send(claim(other, (T0 + 31) * 1000, 100))
        .await
        .unwrap();
    assert_eq!(ids(&after.sent), ids(&first.sent));
    // The crashed dispatcher's late acknowledgement finds its lease gone: no feed entry.
    let late = store
        .acknowledge_sent(crashed, &first.sent, &[true, true], 1000)
        .await
        .unwrap();
    assert!(!late);
    assert_eq!(feed_lens(&store, &patients).await, [0, 0]);
    let owned = store
        .acknowledge_sent(other, &after.sent, &[true, true], 1000)
        .await
        .unwrap();
    assert!(owned);
    assert_eq!(feed_lens(&store, &patients).await, [1, 1]);
    assert_eq!(leases_left(&prefix).await, (Vec::new(), Vec::new()));

    // At 01:00 one of the two cannot be published: the other goes to its feed, and the
    // unpublished one stays held until the lease runs out, then goes out again.
    let partial = Uuid::new_v4();
    let second = store
        .claim_and_send(claim(partial, (T0 + HOUR) * 1000, 100))
        .await
        .unwrap();
    assert_eq!(second.sent.len(), 2);
    assert!(store
        .acknowledge_sent(partial, &second.sent, &[true, false], 1000)
        .await
        .unwrap());
    let published = second.sent[0].patient_id.clone();
    let lens = feed_lens(&store, &patients).await;
    assert_eq!(lens.iter().sum::<usize>(), 3, "{lens:?}");
    let retry = Uuid::new_v4();
    let early = store
        .claim_and_send(claim(retry, (T0 + HOUR + 10) * 1000, 100))
        .await
        .unwrap();
    assert!(early.sent.is_empty());
    let again = store
        .claim_and_send(claim(retry, (T0 + HOUR + 31) * 1000, 100))
        .await
        .unwrap();
    assert_eq!(again.sent.len(), 1);
    assert_eq!(again.sent[0].reminder_id, second.sent[1].reminder_id);
    assert_ne!(again.sent[0].patient_id, published);
    assert!(store
        .acknowledge_sent(retry, &again.sent, &[true], 1000)
        .await
        .unwrap());
    assert_eq!(feed_lens(&store, &patients).await, [2, 2]);
    assert_eq!(leases_left(&prefix).await, (Vec::new(), Vec::new()));
    // Every sent reminder waits for its check-in once.
    let mut connection = redis().await;
    let grace: usize = redis::cmd("ZCARD")
        .arg(format!("{prefix}grace"))
        .query_async(&mut connection)
        .await
        .unwrap();
    assert_eq!(grace, 4);
    delete_keys_under(&prefix).await;
}

#[tokio::test]
async fn reminders_an_older_version_left_in_flight_in_the_step_go_out_again() {
    // Before leases per round, a claim noted a step's reminders in flight in the step's own
    // `inflight` field and moved the step's score to the end of its lease.
    let (store, prefix) = store();
    let patient = Uuid::now_v7();
    let stem = seed_step_of(&store, patient, &[T0, T0 + HOUR]).await;
    let step_key = format!("{prefix}step:{stem}");
    let mut connection = redis().await;
    let sent_record = OccurrenceRecord::pending(T0, 10 * 24 * HOUR)
        .to_string()
        .replace("|p|", "|s|");
    set_step_fields(
        &prefix,
        &stem,
        &[
            ("o0", sent_record),
            ("inflight", "0".to_owned()),
            ("first_unsent", "1".to_owned()),
            ("unsent", "1".to_owned()),
            ("head", ((T0 + HOUR) * 1000).to_string()),
        ],
    )
    .await;
    let _: () = redis::cmd("ZADD")
        .arg(format!("{prefix}due"))
        .arg((T0 + 30) * 1000)
        .arg(&stem)
        .query_async(&mut connection)
        .await
        .unwrap();

    let lease = Uuid::new_v4();
    let claimed = store
        .claim_and_send(claim(lease, (T0 + 31) * 1000, 100))
        .await
        .unwrap();
    assert_eq!(claimed.sent.len(), 1);
    assert_eq!((claimed.sent[0].n, claimed.sent[0].due), (0, T0));
    assert!(store
        .acknowledge_sent(lease, &claimed.sent, &[true], 1000)
        .await
        .unwrap());
    assert_eq!(feed_lens(&store, &[patient]).await, [1]);
    let inflight: Option<String> = redis::cmd("HGET")
        .arg(&step_key)
        .arg("inflight")
        .query_async(&mut connection)
        .await
        .unwrap();
    assert_eq!(inflight, None);
    // The step's next reminder still comes, once.
    let rest = drain(&store, (T0 + 2 * HOUR) * 1000, 100).await;
    assert_eq!(rest, [vec![T0 + HOUR]]);
    assert_eq!(feed_lens(&store, &[patient]).await, [2]);
    delete_keys_under(&prefix).await;
}

#[tokio::test]
async fn a_corrupt_record_is_parked_the_other_steps_go_out_and_once_repaired_it_goes_out_too() {
    let (store, prefix) = store();
    let broken = seed_step(&store, &[T0, T0 + HOUR]).await;
    let bad_fields = seed_step(&store, &[T0]).await;
    let healthy = seed_step(&store, &[T0 + 60, T0 + 3 * HOUR]).await;
    let mut connection = redis().await;
    set_step_fields(&prefix, &broken, &[("o1", "garbage".to_owned())]).await;
    set_step_fields(&prefix, &bad_fields, &[("first_unsent", "x".to_owned())]).await;

    let now_ms = (T0 + 2 * HOUR) * 1000;
    let lease = Uuid::new_v4();
    let claimed = store
        .claim_and_send(claim(lease, now_ms, 100))
        .await
        .unwrap();
    let parked: HashSet<(String, String)> = claimed.parked.iter().cloned().collect();
    assert_eq!(
        parked,
        HashSet::from([
            (broken.clone(), "o1".to_owned()),
            (bad_fields, "fields".to_owned())
        ])
    );
    // The broken step's readable first reminder and the healthy step's go out.
    let per_step: HashMap<&str, usize> = claimed.sent.iter().fold(HashMap::new(), |mut m, r| {
        *m.entry(r.stem.as_str()).or_default() += 1;
        m
    });
    assert_eq!(per_step.get(broken.as_str()), Some(&1));
    assert_eq!(per_step.get(healthy.as_str()), Some(&1));
    store
        .acknowledge_sent(lease, &claimed.sent, &vec![true; claimed.sent.len()], 1000)
        .await
        .unwrap();
    // The healthy step's second reminder still comes; the parked steps stay out of `due`.
    let rest = drain(&store, (T0 + 4 * HOUR) * 1000, 100).await;
    assert_eq!(rest, [vec![T0 + 3 * HOUR]]);
    let parked_set: Vec<String> = redis::cmd("SMEMBERS")
        .arg(format!("{prefix}parked"))
        .query_async(&mut connection)
        .await
        .unwrap();
    assert_eq!(parked_set.len(), 2);

    // Read again while still unreadable, both stay parked.
    assert_eq!(store.unpark(100).await.unwrap(), 0);
    // Once the broken record is repaired (as the service stores it: seconds after the
    // step's start, T0), that step goes back into `due` and its second reminder goes out.
    set_step_fields(
        &prefix,
        &broken,
        &[("o1", format!("{HOUR}:{}:p:", 10 * 24 * HOUR))],
    )
    .await;
    assert_eq!(store.unpark(100).await.unwrap(), 1);
    let rest = drain(&store, (T0 + 5 * HOUR) * 1000, 100).await;
    assert_eq!(rest, [vec![T0 + HOUR]]);
    let parked_set: Vec<String> = redis::cmd("SMEMBERS")
        .arg(format!("{prefix}parked"))
        .query_async(&mut connection)
        .await
        .unwrap();
    assert_eq!(parked_set.len(), 1);
    delete_keys_under(&prefix).await;
}

fn daily_at_eight() -> (&'static str, Value, Value) {
    (
        "Take amoxicillin 500 mg",
        json!({"kind": "fixed_times", "times": ["08:00"]}),
        json!({"days": 2}),
    )
}

/// Two patients (UTC) whose one plan step falls due at 08:00 on 1 June 2026.
async fn two_patients_due_at_eight(app: &crate::helpers::TestApp) -> [Uuid; 2] {
    let patients = [app.patient("UTC").await, app.patient("UTC").await];
    for patient in patients {
        let event = app.steps_event(patient, "2026-06-01T06:00:00Z", &[], &[daily_at_eight()]);
        app.deliver(&event).await;
    }
    patients
}

/// The routing keys and bodies of the due reminders published so far.
async fn due_messages(app: &crate::helpers::TestApp) -> Vec<(String, Value)> {
    app.published
        .drain()
        .await
        .into_iter()
        .filter(|(k, _)| k.starts_with("reminder.due"))
        .map(|(k, body)| (k, serde_json::from_slice(&body).unwrap()))
        .collect()
}

#[tokio::test]
async fn reminders_claimed_ahead_go_out_at_their_instant_not_before() {
    let mut settings = test_settings();
    settings.reminders.claim_ahead_ms = 1000;
    // One reminder a claim: the dispatcher claims again while all it holds is ahead.
    settings.reminders.batch = 1;
    settings.reminders.dispatchers = 1;
    let app = spawn_app_with_clock_and(settings).await;
    let patients = two_patients_due_at_eight(&app).await;
    // Within the claim-ahead window: claimed, but neither published nor in a feed.
    app.set_time("2026-06-01T07:59:59.200Z");
    let claimed = eventually(WITHIN, "the reminders to be claimed ahead", || async {
        let mut connection = redis().await;
        let leases: Vec<String> = redis::cmd("ZRANGEBYSCORE")
            .arg(app.store.keys().leases())
            .arg("-inf")
            .arg("+inf")
            .arg("WITHSCORES")
            .query_async(&mut connection)
            .await
            .unwrap();
        // Held under the round's one lease (ending after 08:00, its list of (stem, n) pairs).
        let mut held = 0;
        for lease in leases.chunks(2) {
            assert!(lease[1].parse::<i64>().unwrap() > 1_780_300_800_000);
            let pairs: usize = redis::cmd("LLEN")
                .arg(format!("{}lease:{}", app.store.keys().prefix(), lease[0]))
                .query_async(&mut connection)
                .await
                .unwrap();
            held += pairs / 2;
        }
        (held == 2).then_some(held)
    })
    .await;
    assert_eq!(claimed, 2);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        due_messages(&app).await.is_empty(),
        "nothing published early"
    );
    for patient in patients {
        assert!(
            app.feed(patient).await.is_empty(),
            "nothing in a feed early"
        );
        let upcoming = app.reminders(patient, Some("upcoming")).await;
        assert_eq!(
            upcoming[0]["due_at"], "2026-06-01T08:00:00Z",
            "still upcoming"
        );
    }
    // At the instant both go out together, in one batch message.
    app.set_time("2026-06-01T08:00:00Z");
    let messages = eventually(WITHIN, "the batch at 08:00", || async {
        let messages = due_messages(&app).await;
        (!messages.is_empty()).then_some(messages)
    })
    .await;
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert_eq!(messages[0].0, "reminder.due_batch.v1");
    let reminders = messages[0].1["data"]["reminders"].as_array().unwrap();
    assert_eq!(reminders.len(), 2);
    assert!(reminders
        .iter()
        .all(|r| r["due_at"] == "2026-06-01T08:00:00Z"));
    for patient in patients {
        let feed = app.feed(patient).await;
        assert_eq!(feed.len(), 1, "one feed entry each, after publication");
        let (_, listed) = app
            .json_as(
                &format!("/patients/{patient}/reminders?status=due"),
                patient,
                Role::Patient,
            )
            .await;
        assert_eq!(listed["items"].as_array().unwrap().len(), 1, "{listed}");
    }
    app.stop_and_clean().await;
}

#[tokio::test]
async fn senders_that_want_one_event_per_reminder_get_them() {
    let mut settings = test_settings();
    settings.reminders.due_events = DueEvents::Single;
    let app = spawn_app_with_clock_and(settings).await;
    two_patients_due_at_eight(&app).await;
    app.set_time("2026-06-01T08:00:05Z");
    let messages = eventually(WITHIN, "two reminder.due events", || async {
        let messages = due_messages(&app).await;
        (messages.len() >= 2).then_some(messages)
    })
    .await;
    assert_eq!(messages.len(), 2, "{messages:?}");
    let mut seen_patients = HashSet::new();
    for (key, body) in &messages {
        assert_eq!(key, "reminder.due.v1");
        assert_eq!(body["data"]["due_at"], "2026-06-01T08:00:00Z");
        seen_patients.insert(body["data"]["patient_id"].as_str().unwrap().to_owned());
    }
    assert_eq!(seen_patients.len(), 2);
    app.stop_and_clean().await;
}

#[tokio::test]
async fn a_patients_history_lists_replaced_steps_then_current_ones_once() {
    let (store, prefix) = store();
    let patient = Uuid::now_v7();
    let first = seed_step_of(&store, patient, &[T0]).await;
    assert_eq!(
        store.history(patient).await.unwrap(),
        std::slice::from_ref(&first)
    );
    let second = seed_step_of(&store, patient, &[T0 + HOUR]).await;
    let third = seed_step_of(&store, patient, &[T0 + 2 * HOUR]).await;
    let expected = [first, second, third.clone()];
    assert_eq!(store.history(patient).await.unwrap(), expected);
    // Only replaced steps are kept in the list; the current one is read from `steps:`.
    let mut connection = redis().await;
    let key = store.keys().history(patient);
    let listed: Vec<String> = redis::cmd("LRANGE")
        .arg(&key)
        .arg(0)
        .arg(-1)
        .query_async(&mut connection)
        .await
        .unwrap();
    assert_eq!(listed, expected[..2]);
    // A patient from before, whose list holds the current step too, reads the same.
    let _: () = redis::cmd("RPUSH")
        .arg(&key)
        .arg(&third)
        .query_async(&mut connection)
        .await
        .unwrap();
    assert_eq!(store.history(patient).await.unwrap(), expected);
    delete_keys_under(&prefix).await;
}

#[tokio::test]
async fn applied_steps_keep_no_event_key_and_a_redelivery_still_changes_nothing() {
    let (store, prefix) = store();
    let patient = Uuid::now_v7();
    let (_, replacement) = one_step(patient, &[T0]);
    let event = Uuid::now_v7();
    let applied = store
        .replace_steps(event, patient, &replacement)
        .await
        .unwrap();
    assert!(
        matches!(applied, ReplaceOutcome::Applied { .. }),
        "{applied:?}"
    );
    assert!(
        !store.event_applied(event).await.unwrap(),
        "no key for an applied note"
    );
    let before = crate::helpers::dump_under(&prefix).await;
    // Redelivered: the stored note id answers it, and from then on its id does.
    let again = store
        .replace_steps(event, patient, &replacement)
        .await
        .unwrap();
    assert_eq!(again, ReplaceOutcome::Stale);
    assert!(store.event_applied(event).await.unwrap());
    let third = store
        .replace_steps(event, patient, &replacement)
        .await
        .unwrap();
    assert_eq!(third, ReplaceOutcome::Duplicate);
    let after: Vec<_> = crate::helpers::dump_under(&prefix)
        .await
        .into_iter()
        .filter(|(k, _)| !k.contains(":event:"))
        .collect();
    assert_eq!(after, before, "nothing else changed");
    delete_keys_under(&prefix).await;
}
