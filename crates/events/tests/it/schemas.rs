//! The Rust event types and the JSON Schemas in `proto-schemas/` must describe the same
//! messages: every serialized instance validates, and both sides list the same fields.

use std::collections::BTreeSet;
use std::path::PathBuf;

use chrono::{TimeZone, Utc};
use hospital_crypto::{Keyring, SealedEnvelope};
use hospital_events::contracts::{
    note_text_binding, step_source_binding, step_title_binding, ChecklistStep, Duration,
    ExtractionFailure, Extractor, InvalidReminderDueBatch, PlanStep, Schedule, ALL_ROUTING_KEYS,
    MAX_STEPS,
};
use hospital_events::{
    queue_name, AssignmentChanged, CheckinRecorded, Envelope, Event, ExtractionFailed,
    NoteSubmitted, ReminderDue, ReminderDueBatch, ReminderMissed, StepsExtracted, UserRegistered,
    UserTimezoneChanged,
};
use hospital_platform::token::Role;
use hospital_steps::Title;
use serde_json::{json, Value};
use uuid::Uuid;

const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

fn schemas_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../proto-schemas")
}

fn load_schema(routing_key: &str) -> Value {
    let path = schemas_dir().join(format!("{routing_key}.json"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|err| panic!("no schema for {routing_key} at {}: {err}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn validator(schema: &Value) -> jsonschema::Validator {
    jsonschema::draft202012::meta::validate(schema)
        .unwrap_or_else(|err| panic!("not a valid draft 2020-12 schema: {err}"));
    jsonschema::draft202012::options()
        .should_validate_formats(true)
        .build(schema)
        .unwrap()
}

fn errors(validator: &jsonschema::Validator, instance: &Value) -> Vec<String> {
    validator
        .iter_errors(instance)
        .map(|err| format!("{} at {}", err, err.instance_path()))
        .collect()
}

fn keys(value: &Value) -> BTreeSet<String> {
    value.as_object().unwrap().keys().cloned().collect()
}

fn strings(value: &Value) -> BTreeSet<String> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

/// Checks one event type against its schema file. `full` has every optional set; `samples`
/// are further instances (options unset, edge values) that must validate too.
fn check_contract<T: Event + Clone>(full: &T, samples: &[T]) {
    let schema = load_schema(T::ROUTING_KEY);
    let validator = validator(&schema);

    // The schema names the type and version the Rust type declares.
    assert_eq!(schema["properties"]["type"]["const"], T::TYPE);
    assert_eq!(schema["properties"]["version"]["const"], T::VERSION);

    // Same field lists, envelope and data, with everything required (optionals are `null`).
    let envelope = serde_json::to_value(
        Envelope::new(full.clone())
            .with_correlation_id("req-123")
            .with_traceparent(TRACEPARENT),
    )
    .unwrap();
    assert_eq!(
        keys(&schema["properties"]),
        keys(&envelope),
        "envelope fields"
    );
    assert_eq!(
        strings(&schema["required"]),
        keys(&envelope),
        "envelope required"
    );
    let data_schema = &schema["properties"]["data"];
    assert_eq!(data_schema["additionalProperties"], false);
    assert_eq!(
        keys(&data_schema["properties"]),
        keys(&envelope["data"]),
        "{}: data fields of the schema vs the Rust type",
        T::ROUTING_KEY
    );
    assert_eq!(
        strings(&data_schema["required"]),
        keys(&envelope["data"]),
        "{}: required data fields of the schema vs the Rust type",
        T::ROUTING_KEY
    );

    // Every instance validates, with and without the envelope's optionals.
    for data in std::iter::once(full).chain(samples) {
        let bare = serde_json::to_value(Envelope::new(data.clone())).unwrap();
        let traced = serde_json::to_value(
            Envelope::new(data.clone())
                .with_correlation_id("req-123")
                .with_traceparent(TRACEPARENT),
        )
        .unwrap();
        for instance in [bare, traced] {
            let errors = errors(&validator, &instance);
            assert!(
                errors.is_empty(),
                "{}: {instance} fails: {errors:?}",
                T::ROUTING_KEY
            );
            // And it reads back into the same value.
            let back: Envelope<T> = serde_json::from_value(instance.clone()).unwrap();
            assert_eq!(serde_json::to_value(back).unwrap(), instance);
        }
    }

    // The schema is strict: a missing or an unknown data field, or a wrong type, fails.
    for field in keys(&envelope["data"]) {
        let mut missing = envelope.clone();
        missing["data"].as_object_mut().unwrap().remove(&field);
        assert!(
            !validator.is_valid(&missing),
            "{}: accepts a missing {field}",
            T::ROUTING_KEY
        );
    }
    let mut extra = envelope.clone();
    extra["data"]["email"] = json!("someone@example.com");
    assert!(!validator.is_valid(&extra), "accepts an extra data field");
    let mut wrong_type = envelope.clone();
    wrong_type["type"] = json!("something.else");
    assert!(!validator.is_valid(&wrong_type), "accepts another type");
    let mut local_time = envelope.clone();
    local_time["occurred_at"] = json!("2026-03-29T03:30:00+02:00");
    assert!(
        !validator.is_valid(&local_time),
        "accepts a non-UTC occurred_at"
    );
    let mut bad_trace = envelope;
    bad_trace["traceparent"] = json!("not-a-traceparent");
    assert!(
        !validator.is_valid(&bad_trace),
        "accepts a malformed traceparent"
    );
}

#[test]
fn user_registered_matches_its_schema() {
    let patient = UserRegistered {
        user_id: Uuid::now_v7(),
        role: Role::Patient,
        timezone: "Europe/Paris".into(),
    };
    let doctor = UserRegistered {
        user_id: Uuid::now_v7(),
        role: Role::Doctor,
        timezone: "America/Argentina/ComodRivadavia".into(),
    };
    check_contract(&patient, &[doctor]);

    let validator = validator(&load_schema(UserRegistered::ROUTING_KEY));
    let mut admin = serde_json::to_value(Envelope::new(patient)).unwrap();
    admin["data"]["role"] = json!("admin");
    assert!(!validator.is_valid(&admin), "accepts an unknown role");
}

#[test]
fn user_timezone_changed_matches_its_schema() {
    let changed = UserTimezoneChanged {
        user_id: Uuid::now_v7(),
        timezone: "Asia/Kolkata".into(),
    };
    let utc = UserTimezoneChanged {
        user_id: Uuid::now_v7(),
        timezone: "UTC".into(),
    };
    check_contract(&changed, &[utc]);
}

#[test]
fn assignment_changed_matches_its_schema() {
    let switched = AssignmentChanged {
        patient_id: Uuid::now_v7(),
        doctor_id: Some(Uuid::now_v7()),
        previous_doctor_id: Some(Uuid::now_v7()),
        changed_at: Utc::now(),
    };
    let first_choice = AssignmentChanged {
        previous_doctor_id: None,
        changed_at: Utc.with_ymd_and_hms(2026, 3, 29, 1, 30, 0).unwrap(),
        ..switched.clone()
    };
    let removed = AssignmentChanged {
        doctor_id: None,
        ..switched.clone()
    };
    let none_at_all = AssignmentChanged {
        doctor_id: None,
        previous_doctor_id: None,
        changed_at: Utc.timestamp_nanos(1_790_000_000_123_456_789),
        ..switched.clone()
    };
    check_contract(&switched, &[first_choice, removed, none_at_all]);
}

/// A keyring for sealing test content, and the three kinds of content it seals.
fn keyring() -> Keyring {
    let spec = format!("2026-11:{}", Keyring::generate_key().unwrap().as_str());
    Keyring::from_spec(&spec).unwrap()
}

fn step_envelopes(
    keyring: &Keyring,
    step_id: Uuid,
    patient_id: Uuid,
    title: &str,
    source: &str,
) -> (SealedEnvelope, SealedEnvelope) {
    (
        keyring
            .seal_str(title, &step_title_binding(step_id, patient_id))
            .unwrap(),
        keyring
            .seal_str(source, &step_source_binding(step_id, patient_id))
            .unwrap(),
    )
}

/// `node`, or the `$defs` entry it refers to.
fn resolve<'a>(schema: &'a Value, node: &'a Value) -> &'a Value {
    match node["$ref"].as_str() {
        Some(reference) => {
            let name = reference.strip_prefix("#/$defs/").unwrap();
            &schema["$defs"][name]
        }
        None => node,
    }
}

/// The object schema `node` (after `$ref`) lists exactly `value`'s fields, all required.
fn assert_same_fields(schema: &Value, node: &Value, value: &Value, what: &str) {
    let node = resolve(schema, node);
    assert_eq!(node["additionalProperties"], false, "{what}: not closed");
    assert_eq!(keys(&node["properties"]), keys(value), "{what}: fields");
    assert_eq!(strings(&node["required"]), keys(value), "{what}: required");
}

/// The `oneOf` branch of `node` whose `kind` (or single field) matches `value`.
fn branch<'a>(node: &'a Value, value: &Value) -> &'a Value {
    node["oneOf"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| match value.get("kind") {
            Some(kind) => b["properties"]["kind"]["const"] == *kind,
            None => b["type"] == "object" && keys(&b["properties"]) == keys(value),
        })
        .unwrap_or_else(|| panic!("no branch for {value}"))
}

/// A validator of one `$defs` entry of an event's schema.
fn def_validator(routing_key: &str, name: &str) -> jsonschema::Validator {
    let schema = load_schema(routing_key);
    let wrapper = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$defs": schema["$defs"],
        "$ref": format!("#/$defs/{name}"),
    });
    validator(&wrapper)
}

fn sealed_fields_match(routing_key: &str, envelope: &SealedEnvelope) {
    let schema = load_schema(routing_key);
    let value = serde_json::to_value(envelope).unwrap();
    assert_same_fields(
        &schema,
        &json!({"$ref": "#/$defs/SealedEnvelope"}),
        &value,
        "SealedEnvelope",
    );
}

#[test]
fn note_submitted_matches_its_schema_and_carries_no_clear_text() {
    let keyring = keyring();
    let (note_id, patient_id, doctor_id) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    let text = "Take amoxicillin 500 mg three times a day for 7 days.";
    let note = NoteSubmitted {
        note_id,
        patient_id,
        doctor_id,
        created_at: Utc::now(),
        text: keyring
            .seal_str(text, &note_text_binding(note_id, patient_id, doctor_id))
            .unwrap(),
    };
    let long = NoteSubmitted {
        created_at: Utc.with_ymd_and_hms(2026, 3, 29, 1, 30, 0).unwrap(),
        text: keyring
            .seal_str(
                &"é".repeat(20_000),
                &note_text_binding(note_id, patient_id, doctor_id),
            )
            .unwrap(),
        ..note.clone()
    };
    check_contract(&note, &[long]);
    sealed_fields_match(NoteSubmitted::ROUTING_KEY, &note.text);

    let wire = String::from_utf8(Envelope::new(note.clone()).to_bytes().unwrap()).unwrap();
    assert!(!wire.to_lowercase().contains("amoxicillin"), "{wire}");
    let back = Envelope::<NoteSubmitted>::from_bytes(wire.as_bytes()).unwrap();
    let aad = note_text_binding(note_id, patient_id, doctor_id);
    assert_eq!(
        keyring.open_str(&back.data.text, &aad).unwrap().as_str(),
        text
    );

    // The schema refuses clear text, and an envelope that is not hospital-crypto's v1.
    let validator = validator(&load_schema(NoteSubmitted::ROUTING_KEY));
    let instance = serde_json::to_value(Envelope::new(note)).unwrap();
    let mut edits: Vec<(&str, Value)> = vec![
        ("text", json!(text)),
        ("v", json!(2)),
        ("kid", json!("bad kid")),
        ("key_nonce", json!("AAAA")),
        ("wrapped_key", json!("not base64!")),
        ("ciphertext", json!("AAAA")),
        ("plaintext", json!(text)),
    ];
    for (field, bad) in edits.drain(..) {
        let mut broken = instance.clone();
        if field == "text" {
            broken["data"]["text"] = bad;
        } else {
            broken["data"]["text"][field] = bad;
        }
        assert!(
            !validator.is_valid(&broken),
            "accepts text with {field} = {}",
            broken["data"]["text"]
        );
    }
}

fn sample_steps(keyring: &Keyring, patient_id: Uuid) -> (Vec<ChecklistStep>, Vec<PlanStep>) {
    let mut checklist = Vec::new();
    for (title, source) in [
        (
            "Buy amoxicillin 500 mg capsules",
            "Buy amoxicillin 500 mg capsules today.",
        ),
        ("Book a blood test", "Book a blood test for next week."),
    ] {
        let step_id = Uuid::now_v7();
        let (title, source) = step_envelopes(keyring, step_id, patient_id, title, source);
        checklist.push(ChecklistStep {
            step_id,
            title,
            source,
        });
    }
    let schedules = [
        (
            json!({"kind": "times_per_day", "times_per_day": 3}),
            json!({"days": 7}),
        ),
        (
            json!({"kind": "fixed_times", "times": ["08:00", "20:00"]}),
            json!({"occurrences": 10}),
        ),
        (json!({"kind": "interval", "every_hours": 6}), json!(null)),
        (
            json!({"kind": "interval", "every_hours": 8760}),
            json!({"days": 3650}),
        ),
        (
            json!({"kind": "times_per_day", "times_per_day": 24}),
            json!({"occurrences": 10000}),
        ),
        (
            json!({"kind": "fixed_times", "times": ["00:00", "23:59"]}),
            json!({"days": 1}),
        ),
    ];
    let mut plan = Vec::new();
    for (schedule, duration) in schedules {
        let step_id = Uuid::now_v7();
        let (title, source) = step_envelopes(
            keyring,
            step_id,
            patient_id,
            "Take amoxicillin 500 mg",
            "Take one capsule.",
        );
        plan.push(PlanStep {
            step_id,
            title,
            source,
            schedule: serde_json::from_value(schedule).unwrap(),
            duration: serde_json::from_value(duration).unwrap(),
        });
    }
    (checklist, plan)
}

#[test]
fn steps_extracted_matches_its_schema() {
    let keyring = keyring();
    let patient_id = Uuid::now_v7();
    let (checklist, plan) = sample_steps(&keyring, patient_id);
    let full = StepsExtracted {
        note_id: Uuid::now_v7(),
        patient_id,
        note_created_at: Utc::now(),
        extractor: Extractor::Gemini,
        fallback: false,
        checklist: checklist.clone(),
        plan: plan.clone(),
    };
    let fallen_back = StepsExtracted {
        extractor: Extractor::Offline,
        fallback: true,
        ..full.clone()
    };
    let openai = StepsExtracted {
        extractor: Extractor::Openai,
        checklist: vec![],
        ..full.clone()
    };
    let nothing = StepsExtracted {
        extractor: Extractor::Offline,
        checklist: vec![],
        plan: vec![],
        ..full.clone()
    };
    let most = StepsExtracted {
        checklist: vec![checklist[0].clone(); MAX_STEPS],
        plan: vec![plan[0].clone(); MAX_STEPS],
        ..full.clone()
    };
    check_contract(&full, &[fallen_back, openai, nothing, most]);

    // The nested objects list the same fields as the Rust types, every schedule kind too.
    let schema = load_schema(StepsExtracted::ROUTING_KEY);
    let data = &schema["properties"]["data"]["properties"];
    let value = serde_json::to_value(&full).unwrap();
    assert_same_fields(
        &schema,
        &data["checklist"]["items"],
        &value["checklist"][0],
        "ChecklistStep",
    );
    assert_same_fields(
        &schema,
        &data["plan"]["items"],
        &value["plan"][0],
        "PlanStep",
    );
    sealed_fields_match(StepsExtracted::ROUTING_KEY, &full.plan[0].title);
    let plan_item = resolve(&schema, &data["plan"]["items"]);
    let schedule_schema = resolve(&schema, &plan_item["properties"]["schedule"]);
    let duration_schema = resolve(&schema, &plan_item["properties"]["duration"]);
    let mut kinds = BTreeSet::new();
    for step in value["plan"].as_array().unwrap() {
        let schedule = &step["schedule"];
        kinds.insert(schedule["kind"].as_str().unwrap().to_owned());
        assert_same_fields(
            &schema,
            branch(schedule_schema, schedule),
            schedule,
            "schedule",
        );
        if !step["duration"].is_null() {
            assert_same_fields(
                &schema,
                branch(duration_schema, &step["duration"]),
                &step["duration"],
                "duration",
            );
        }
    }
    assert_eq!(
        kinds.len(),
        schedule_schema["oneOf"].as_array().unwrap().len()
    );
    assert_eq!(
        strings(&data["extractor"]["enum"]),
        [Extractor::Offline, Extractor::Gemini, Extractor::Openai]
            .iter()
            .map(|e| serde_json::to_value(e)
                .unwrap()
                .as_str()
                .unwrap()
                .to_owned())
            .collect()
    );

    // Clear text of titles and sources never reaches the wire.
    let wire = String::from_utf8(Envelope::new(full.clone()).to_bytes().unwrap()).unwrap();
    assert!(!wire.to_lowercase().contains("amoxicillin"), "{wire}");

    let validator = validator(&schema);
    let instance = serde_json::to_value(Envelope::new(full)).unwrap();
    let mut too_many = instance.clone();
    too_many["data"]["plan"] =
        Value::Array(vec![instance["data"]["plan"][0].clone(); MAX_STEPS + 1]);
    assert!(
        !validator.is_valid(&too_many),
        "accepts more than {MAX_STEPS} plan steps"
    );
    assert!(serde_json::from_value::<Envelope<StepsExtracted>>(too_many).is_err());
    let mut gemini_fallback = instance.clone();
    gemini_fallback["data"]["fallback"] = json!(true);
    assert!(
        !validator.is_valid(&gemini_fallback),
        "accepts a fallback that is not offline"
    );
    assert!(serde_json::from_value::<Envelope<StepsExtracted>>(gemini_fallback).is_err());
    let mut clear_title = instance.clone();
    clear_title["data"]["checklist"][0]["title"] = json!("Buy amoxicillin");
    assert!(!validator.is_valid(&clear_title), "accepts a clear title");
    let mut extra = instance.clone();
    extra["data"]["plan"][0]["dose"] = json!("500 mg");
    assert!(
        !validator.is_valid(&extra),
        "accepts an unknown plan step field"
    );
    let mut unknown = instance;
    unknown["data"]["extractor"] = json!("claude");
    assert!(
        !validator.is_valid(&unknown),
        "accepts an unknown extractor"
    );
}

/// The schema's bounds and the Rust types' are the same: every edge is accepted or refused by
/// both.
#[test]
fn schedule_and_duration_bounds_agree_with_the_rust_types() {
    let schedules = def_validator(StepsExtracted::ROUTING_KEY, "Schedule");
    let mut cases: Vec<Value> = vec![
        json!({"kind": "interval", "every_hours": 0}),
        json!({"kind": "interval", "every_hours": 1}),
        json!({"kind": "interval", "every_hours": 8760}),
        json!({"kind": "interval", "every_hours": 8761}),
        json!({"kind": "interval", "every_hours": 1.5}),
        json!({"kind": "interval", "every_hours": "6"}),
        json!({"kind": "times_per_day", "times_per_day": 0}),
        json!({"kind": "times_per_day", "times_per_day": 1}),
        json!({"kind": "times_per_day", "times_per_day": 24}),
        json!({"kind": "times_per_day", "times_per_day": 25}),
        json!({"kind": "fixed_times", "times": []}),
        json!({"kind": "fixed_times", "times": ["08:00"]}),
        json!({"kind": "fixed_times", "times": ["08:00", "08:00"]}),
        json!({"kind": "fixed_times", "times": ["24:00"]}),
        json!({"kind": "fixed_times", "times": ["8:00"]}),
        json!({"kind": "fixed_times", "times": ["08:60"]}),
        json!({"kind": "fixed_times", "times": ["08:00:00"]}),
        json!({"kind": "interval", "every_hours": 6, "times": ["08:00"]}),
        json!({"kind": "weekly"}),
        json!({"every_hours": 6}),
        json!(null),
    ];
    let hours = |n: u32| {
        (0..n)
            .map(|i| format!("{:02}:00", i % 24))
            .collect::<Vec<_>>()
    };
    cases.push(json!({"kind": "fixed_times", "times": hours(24)}));
    cases.push(json!({"kind": "fixed_times", "times": (0..25).map(|i| format!("{:02}:{:02}", i % 24, i / 24)).collect::<Vec<_>>()}));
    for case in &cases {
        let rust = serde_json::from_value::<Schedule>(case.clone()).is_ok();
        assert_eq!(
            schedules.is_valid(case),
            rust,
            "schedule {case}: schema vs Rust (Rust ok = {rust})"
        );
    }

    let durations = def_validator(StepsExtracted::ROUTING_KEY, "Duration");
    let cases = [
        json!({"days": 0}),
        json!({"days": 1}),
        json!({"days": 3650}),
        json!({"days": 3651}),
        json!({"occurrences": 0}),
        json!({"occurrences": 1}),
        json!({"occurrences": 10000}),
        json!({"occurrences": 10001}),
        json!({"days": 7, "occurrences": 3}),
        json!({"weeks": 2}),
        json!({}),
        json!(null),
    ];
    for case in &cases {
        let rust = serde_json::from_value::<Option<Duration>>(case.clone()).is_ok();
        assert_eq!(
            durations.is_valid(case),
            rust,
            "duration {case}: schema vs Rust (Rust ok = {rust})"
        );
    }
}

#[test]
fn extraction_failed_matches_its_schema() {
    let reasons = [
        ExtractionFailure::ProviderUnavailable,
        ExtractionFailure::InvalidOutput,
        ExtractionFailure::NoteTooLong,
        ExtractionFailure::NoteUnreadable,
        ExtractionFailure::TooManySteps,
    ];
    let failed: Vec<ExtractionFailed> = reasons
        .iter()
        .map(|&reason| ExtractionFailed {
            note_id: Uuid::now_v7(),
            patient_id: Uuid::now_v7(),
            reason,
        })
        .collect();
    check_contract(&failed[0], &failed[1..]);

    let schema = load_schema(ExtractionFailed::ROUTING_KEY);
    let codes: BTreeSet<String> = reasons
        .iter()
        .map(|r| {
            serde_json::to_value(r)
                .unwrap()
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        strings(&schema["properties"]["data"]["properties"]["reason"]["enum"]),
        codes
    );
}

#[test]
fn reminder_due_matches_its_schema() {
    let keyring = keyring();
    let (step_id, patient_id) = (Uuid::now_v7(), Uuid::now_v7());
    let (title, _) = step_envelopes(&keyring, step_id, patient_id, "Take amoxicillin 500 mg", "");
    let due = ReminderDue {
        reminder_id: Uuid::now_v7(),
        patient_id,
        step_id,
        due_at: Utc.with_ymd_and_hms(2026, 3, 29, 1, 30, 0).unwrap(),
        title,
    };
    let later = ReminderDue {
        reminder_id: Uuid::now_v7(),
        due_at: Utc::now(),
        ..due.clone()
    };
    check_contract(&due, &[later]);
    sealed_fields_match(ReminderDue::ROUTING_KEY, &due.title);
    // The title opens with the step's binding, which is all a sender knows.
    let opened = keyring.open_str(&due.title, &step_title_binding(due.step_id, due.patient_id));
    assert_eq!(opened.unwrap().as_str(), "Take amoxicillin 500 mg");
}

/// A reminder of a fresh step for `patient_id`, its title sealed with the step's binding.
fn due_reminder(
    keyring: &Keyring,
    patient_id: Uuid,
    title: &str,
    due_at: chrono::DateTime<Utc>,
) -> ReminderDue {
    let step_id = Uuid::now_v7();
    let (title, _) = step_envelopes(keyring, step_id, patient_id, title, "");
    ReminderDue {
        reminder_id: Uuid::now_v7(),
        patient_id,
        step_id,
        due_at,
        title,
    }
}

#[test]
fn reminder_due_batch_matches_its_schema() {
    let keyring = keyring();
    let at = Utc.with_ymd_and_hms(2026, 3, 29, 1, 30, 0).unwrap();
    let first = due_reminder(&keyring, Uuid::now_v7(), "Take amoxicillin 500 mg", at);
    let second = due_reminder(&keyring, Uuid::now_v7(), "Measure blood pressure", at);
    let pair = ReminderDueBatch::new(vec![first.clone(), second.clone()]).unwrap();
    let one = ReminderDueBatch::new(vec![second.clone()]).unwrap();
    let most = ReminderDueBatch::new(vec![first.clone(); ReminderDueBatch::MAX_REMINDERS]).unwrap();
    check_contract(&pair, &[one, most]);
    sealed_fields_match(ReminderDueBatch::ROUTING_KEY, &first.title);

    // Each item is exactly reminder.due's data, so a sender reads both the same way.
    let schema = load_schema(ReminderDueBatch::ROUTING_KEY);
    let single = load_schema(ReminderDue::ROUTING_KEY);
    let reminders = &schema["properties"]["data"]["properties"]["reminders"];
    let mut item = resolve(&schema, &reminders["items"]).clone();
    item.as_object_mut().unwrap().remove("description");
    assert_eq!(
        item, single["properties"]["data"],
        "items vs reminder.due's data"
    );
    assert_eq!(
        schema["$defs"]["SealedEnvelope"],
        single["$defs"]["SealedEnvelope"]
    );
    assert_same_fields(
        &schema,
        &reminders["items"],
        &serde_json::to_value(&first).unwrap(),
        "ReminderDue",
    );
    assert_eq!(reminders["minItems"], 1);
    assert_eq!(reminders["maxItems"], ReminderDueBatch::MAX_REMINDERS);

    // A batch of two crosses the wire and splits back into the same reminders, in order,
    // whose titles open with what each reminder carries.
    let bytes = Envelope::new(pair.clone()).to_bytes().unwrap();
    let wire = String::from_utf8(bytes.clone()).unwrap();
    assert!(!wire.to_lowercase().contains("amoxicillin"), "{wire}");
    let back = Envelope::<ReminderDueBatch>::from_bytes(&bytes).unwrap();
    assert_eq!(back.data, pair);
    let split = back.data.into_reminders();
    assert_eq!(split, [first.clone(), second.clone()]);
    let titles: Vec<String> = pair
        .into_iter()
        .map(|due| {
            let binding = step_title_binding(due.step_id, due.patient_id);
            keyring
                .open_str(&due.title, &binding)
                .unwrap()
                .as_str()
                .to_owned()
        })
        .collect();
    assert_eq!(
        titles,
        ["Take amoxicillin 500 mg", "Measure blood pressure"]
    );

    // No reminders, or one too many: the schema and the Rust type both refuse.
    let validator = validator(&schema);
    let instance = serde_json::to_value(Envelope::new(
        ReminderDueBatch::new(vec![first.clone()]).unwrap(),
    ))
    .unwrap();
    let item = instance["data"]["reminders"][0].clone();
    for count in [0, ReminderDueBatch::MAX_REMINDERS + 1] {
        let mut wrong = instance.clone();
        wrong["data"]["reminders"] = Value::Array(vec![item.clone(); count]);
        assert!(
            !validator.is_valid(&wrong),
            "accepts a batch of {count} reminders"
        );
        let err = serde_json::from_value::<Envelope<ReminderDueBatch>>(wrong).unwrap_err();
        assert!(err.to_string().contains("1 to 200"), "{err}");
        assert_eq!(
            ReminderDueBatch::new(vec![first.clone(); count]),
            Err(InvalidReminderDueBatch(count))
        );
    }
    let mut bare_list = instance.clone();
    bare_list["data"] = instance["data"]["reminders"].clone();
    assert!(!validator.is_valid(&bare_list), "accepts a bare list");
    let mut clear_title = instance.clone();
    clear_title["data"]["reminders"][0]["title"] = json!("Take amoxicillin 500 mg");
    assert!(!validator.is_valid(&clear_title), "accepts a clear title");
    let mut extra = instance;
    extra["data"]["reminders"][0]["dose"] = json!("500 mg");
    assert!(
        !validator.is_valid(&extra),
        "accepts an unknown reminder field"
    );
}

/// A full batch whose titles are as long as a title may be, in 4-byte characters, stays far
/// below RabbitMQ's message size limit (128 MiB by default).
#[test]
fn a_full_batch_of_the_longest_titles_stays_small() {
    let keyring = keyring();
    let longest = "\u{1F48A}".repeat(Title::MAX_CHARS);
    let patient_id = Uuid::now_v7();
    let reminders = (0..ReminderDueBatch::MAX_REMINDERS)
        .map(|_| due_reminder(&keyring, patient_id, &longest, Utc::now()))
        .collect();
    let batch = ReminderDueBatch::new(reminders).unwrap();
    let bytes = Envelope::new(batch).to_bytes().unwrap().len();
    assert!(bytes < 400 * 1024, "a full batch is {bytes} bytes");
}

#[test]
fn reminder_missed_matches_its_schema() {
    let missed = ReminderMissed {
        reminder_id: Uuid::now_v7(),
        patient_id: Uuid::now_v7(),
        step_id: Uuid::now_v7(),
        due_at: Utc::now(),
    };
    let old = ReminderMissed {
        due_at: Utc.timestamp_nanos(1_790_000_000_123_456_789),
        ..missed.clone()
    };
    check_contract(&missed, &[old]);
}

#[test]
fn checkin_recorded_matches_its_schema() {
    let checkin = CheckinRecorded {
        reminder_id: Uuid::now_v7(),
        patient_id: Uuid::now_v7(),
        at: Utc::now(),
    };
    let whole_second = CheckinRecorded {
        at: Utc.with_ymd_and_hms(2026, 11, 26, 8, 0, 0).unwrap(),
        ..checkin.clone()
    };
    check_contract(&checkin, &[whole_second]);
}

#[test]
fn every_schema_file_belongs_to_an_event_type() {
    let mut files = BTreeSet::new();
    for entry in std::fs::read_dir(schemas_dir()).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if let Some(key) = name.strip_suffix(".json") {
            files.insert(key.to_owned());
        }
    }
    let known: BTreeSet<String> = ALL_ROUTING_KEYS.iter().map(|&k| k.to_owned()).collect();
    assert_eq!(
        files, known,
        "schema files vs event types in hospital_events::contracts"
    );
}

#[test]
fn asyncapi_names_the_exchange_routing_keys_and_queues() {
    let text = std::fs::read_to_string(schemas_dir().join("asyncapi.yaml")).unwrap();
    assert!(
        text.starts_with("asyncapi: 3."),
        "not an AsyncAPI 3 document"
    );
    assert!(text.contains("name: hospital.events"));
    assert!(text.contains("type: topic"));
    assert!(text.contains("durable: true"));
    for key in ALL_ROUTING_KEYS {
        assert!(
            text.contains(&format!("address: {key}\n")),
            "no channel for {key}"
        );
        assert!(
            text.contains(&format!("'./{key}.json'")),
            "no payload schema for {key}"
        );
    }
    // The consumers of the design's event table.
    let queues = [
        queue_name("notes-service", UserRegistered::TYPE),
        queue_name("reminder-service", UserRegistered::TYPE),
        queue_name("reminder-service", UserTimezoneChanged::TYPE),
        queue_name("notes-service", AssignmentChanged::TYPE),
        queue_name("reminder-service", AssignmentChanged::TYPE),
        queue_name("llm-worker", NoteSubmitted::TYPE),
        queue_name("reminder-service", StepsExtracted::TYPE),
        queue_name("notes-service", StepsExtracted::TYPE),
        queue_name("notes-service", ExtractionFailed::TYPE),
    ];
    for queue in queues {
        assert!(
            text.contains(&format!("name: {queue}\n")),
            "no queue {queue}"
        );
    }
}
