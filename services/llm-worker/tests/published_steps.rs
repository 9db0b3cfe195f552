//! Whatever note the offline extractor reads, what the worker would publish is a valid
//! `steps.extracted` event: its steps, sealed with `StepsExtracted::seal` into an
//! `Envelope`, read back through the Rust types and validate against
//! `proto-schemas/steps.extracted.v1.json`; the clear steps the `extract` command prints
//! read back too.

// Test helpers may fail loudly: a panic is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::LazyLock;

use chrono::Utc;
use hospital_crypto::Keyring;
use hospital_events::contracts::{step_source_binding, step_title_binding, Extractor};
use hospital_events::{Envelope, Event, StepsExtracted};
use hospital_llm_worker::MAX_NOTE_CHARS;
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::Value;
use uuid::Uuid;

static SCHEMA: LazyLock<jsonschema::Validator> = LazyLock::new(|| {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../proto-schemas")
        .join(format!("{}.json", StepsExtracted::ROUTING_KEY));
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    jsonschema::draft202012::options()
        .should_validate_formats(true)
        .build(&schema)
        .unwrap()
});

static KEYRING: LazyLock<Keyring> = LazyLock::new(|| {
    Keyring::from_spec(&format!("k1:{}", Keyring::generate_key().unwrap().as_str())).unwrap()
});

/// Extracts `note` offline, seals the steps into an envelope, and checks both ways.
fn check(note: &str) {
    let steps = hospital_llm_worker::extract(note);
    let printed = serde_json::to_string(&steps).unwrap();
    assert_eq!(
        serde_json::from_str::<hospital_extract::Steps>(&printed).unwrap(),
        steps
    );

    let patient_id = Uuid::now_v7();
    let event = StepsExtracted::seal(
        Uuid::now_v7(),
        patient_id,
        Utc::now(),
        Extractor::Offline,
        true,
        &steps,
        &KEYRING,
    )
    .unwrap();
    let envelope = Envelope::new(event);
    let instance = serde_json::to_value(&envelope).unwrap();
    let errors: Vec<String> = SCHEMA
        .iter_errors(&instance)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .take(5)
        .collect();
    assert!(
        errors.is_empty(),
        "the schema refuses the event: {errors:?}"
    );
    let back: Envelope<StepsExtracted> = serde_json::from_value(instance).unwrap();
    assert_eq!(back, envelope);

    // The first of each list opens to its clear text with its step's binding.
    if let (Some(sealed), Some(clear)) = (back.data.plan.first(), steps.plan.first()) {
        let title = KEYRING.open_str(
            &sealed.title,
            &step_title_binding(sealed.step_id, patient_id),
        );
        assert_eq!(title.unwrap().as_str(), clear.title.as_str());
    }
    if let (Some(sealed), Some(clear)) = (back.data.checklist.first(), steps.checklist.first()) {
        let source = KEYRING.open_str(
            &sealed.source,
            &step_source_binding(sealed.step_id, patient_id),
        );
        assert_eq!(source.unwrap().as_str(), clear.source.as_str());
    }
}

/// Any text of up to the API's 20,000 characters, control characters and all.
fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::collection::vec(any::<char>(), 0..=MAX_NOTE_CHARS),
        prop::collection::vec(any::<char>(), 0..=200),
    ]
    .prop_map(String::from_iter)
}

const VERBS: &[&str] = &[
    "Take",
    "take",
    "Apply",
    "Use",
    "Inhale",
    "Give",
    "Continue",
    "Start",
    "Stop",
    "Buy",
    "Book",
    "Check",
    "Weigh yourself",
    "Have bloods taken",
    "",
];
const DRUGS: &[&str] = &[
    "amoxicillin",
    "Paracetamol",
    "ibuprofen",
    "metformin",
    "omeprazole, amoxicillin and clarithromycin, all",
    "salbutamol inhaler",
    "hydrocortisone 1% cream",
    "insulin glargine",
    "vitamin D",
    "warfarin",
    "it",
    "",
];
const UNITS: &[&str] = &["mg", "g", "ml", "units", "puffs", "tablets", "%", ""];
const FREQUENCIES: &[&str] = &[
    "once daily",
    "twice a day",
    "three times a day",
    "4 times daily",
    "25 times a day",
    "bd",
    "tds",
    "qds",
    "q6h",
    "q4-6h",
    "every 8 hours",
    "every 36 hours",
    "every 9000 hours",
    "every other day",
    "every 365 days",
    "every 366 days",
    "every 400 days",
    "weekly",
    "twice weekly",
    "monthly",
    "at night",
    "every morning",
    "mane and nocte",
    "with meals",
    "as needed",
    "",
];
const DURATIONS: &[&str] = &[
    "for 7 days",
    "for 2 weeks",
    "x 5/7",
    "for 10 doses",
    "for 3 months",
    "for 10 years",
    "for 11 years",
    "for 3651 days",
    "for 3655 days",
    "for 99999 days",
    "for 20000 doses",
    "long term",
    "indefinitely",
    "then stop",
    "",
];
const WORDS: &[&str] = &[
    "your",
    "blood",
    "pressure",
    "carefully",
    "at",
    "home",
    "and",
    "the",
    "left",
    "knee",
    "dressing",
    "Dr.",
    "e.g.",
    "(",
    ")",
    "—",
    "\"stop\"",
    "é",
    "supercalifragilisticexpialidocious",
];
const ENDS: &[&str] = &[
    ".", ".", ",", ";", ":", "!", "?", "\n", "\n\n- ", " then", "",
];

/// A clock time as a note might write it, in range or not.
fn clock() -> impl Strategy<Value = String> {
    prop_oneof![
        (0u32..30, 0u32..70).prop_map(|(h, m)| format!("{h:02}:{m:02}")),
        (1u32..13, any::<bool>())
            .prop_map(|(h, pm)| format!("{h}{}", if pm { "pm" } else { "am" })),
        select(&["noon", "midnight", "0800", "8.30", "24:00"][..]).prop_map(String::from),
    ]
}

/// One sentence of instructions (or of words around them).
fn sentence() -> impl Strategy<Value = String> {
    (
        (select(VERBS), select(DRUGS), any::<u32>(), select(UNITS)),
        (select(FREQUENCIES), prop::collection::vec(clock(), 0..4)),
        (
            select(DURATIONS),
            prop::collection::vec(select(WORDS), 0..80),
            select(ENDS),
        ),
    )
        .prop_map(
            |((verb, drug, dose, unit), (frequency, times), (duration, words, end))| {
                let times = if times.is_empty() {
                    String::new()
                } else {
                    format!("at {}", times.join(" and "))
                };
                format!(
                    "{verb} {} {drug} {dose} {unit} {frequency} {times} {duration}{end} ",
                    words.join(" ")
                )
            },
        )
}

/// Notes of such sentences, cut to the API's limit: many ask for more than MAX_STEPS.
fn note_like() -> impl Strategy<Value = String> {
    prop::collection::vec(sentence(), 0..600).prop_map(|sentences| {
        sentences
            .concat()
            .chars()
            .take(MAX_NOTE_CHARS)
            .collect::<String>()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_text_gives_a_valid_event(note in any_text()) {
        check(&note);
    }

    #[test]
    fn note_like_text_gives_a_valid_event(note in note_like()) {
        check(&note);
    }
}

#[test]
fn a_note_asking_for_more_than_max_steps_gives_a_valid_event() {
    // Each copy differs: a line copied forward unchanged asks for its steps once.
    let mut note = String::new();
    for n in 1..=120 {
        let _ = write!(
            note,
            "Take amoxicillin {n} mg three times a day for 7 days. Buy thermometer {n}. \
             Omeprazole, metformin and ramipril, all twice daily for {n} days. "
        );
    }
    let steps = hospital_llm_worker::extract(&note);
    assert_eq!(steps.plan.len(), hospital_extract::MAX_STEPS);
    check(&note);
}
