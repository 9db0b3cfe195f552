//! The Rust event types and the JSON Schemas in `proto-schemas/` must describe the same
//! messages: every serialized instance validates, and both sides list the same fields.

use std::collections::BTreeSet;
use std::path::PathBuf;

use chrono::{TimeZone, Utc};
use hospital_events::contracts::ALL_ROUTING_KEYS;
use hospital_events::{
    queue_name, AssignmentChanged, Envelope, Event, UserRegistered, UserTimezoneChanged,
};
use hospital_platform::token::Role;
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
    ];
    for queue in queues {
        assert!(
            text.contains(&format!("name: {queue}\n")),
            "no queue {queue}"
        );
    }
}
