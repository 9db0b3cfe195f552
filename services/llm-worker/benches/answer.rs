//! What the worker adds to a model's own time: the prompt for a note, and the validation of
//! an answer (parsing, bounds, every source looked up in the note).
//!
//! `nice -n 19 cargo bench -p hospital-llm-worker` — a typical 1,000-character note, and
//! the worst the contract allows: a 20,000-character note with 200 plan steps.

// A benchmark's setup may fail loudly.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use hospital_llm_worker::answer;
use hospital_llm_worker::provider::{openai, prompt, Turn};

const TYPICAL: &str = "Patient seen today with productive cough and fever for 4 days. \
Chest clear on the left, crackles right base. Previously on amoxicillin last winter. \
Start doxycycline 100 mg twice daily for 7 days. \
Paracetamol 1 g up to four times a day if needed. Continue ramipril 5 mg once daily. \
Salbutamol inhaler 2 puffs q6h for 5 days, then twice daily for a week. \
Check your temperature every morning at 08:00 and call the surgery if it is above 38.5. \
Buy a thermometer today. Book a chest X-ray in 6 weeks. \
Omeprazole, amoxicillin and clarithromycin, all twice daily for 14 days. \
Drink plenty of fluids and rest at home until the fever settles down completely.";

/// A note of `sentences` numbered instructions, and a model's answer quoting each one.
fn long_note(sentences: usize) -> (String, String) {
    let lines: Vec<String> = (0..sentences)
        .map(|i| {
            format!("Take medicine number {i} at a dose of 10 mg twice daily for 7 days with food and water.")
        })
        .collect();
    let plan: Vec<serde_json::Value> = lines
        .iter()
        .enumerate()
        .map(|(i, line)| {
            serde_json::json!({"title": format!("Take medicine number {i} 10 mg"), "source": line,
                "schedule": {"kind": "times_per_day", "times": null, "every_hours": null, "times_per_day": 2},
                "duration": {"days": 7, "occurrences": null}})
        })
        .collect();
    let note = lines.join(" ");
    let answer = serde_json::json!({"checklist": [], "plan": plan}).to_string();
    (note, answer)
}

fn validation(c: &mut Criterion) {
    let steps = hospital_extract::extract(TYPICAL);
    let typical_answer = serde_json::to_string(&steps).expect("serializes");
    c.bench_function("answer/typical_1000_chars", |b| {
        b.iter(|| answer::parse(black_box(&typical_answer), black_box(TYPICAL)));
    });
    let (note, long_answer) = long_note(200);
    assert!(note.chars().count() <= 20_000, "{}", note.chars().count());
    assert!(answer::parse(&long_answer, &note).is_ok());
    c.bench_function("answer/200_steps_of_a_20000_char_note", |b| {
        b.iter(|| answer::parse(black_box(&long_answer), black_box(&note)));
    });
}

fn request(c: &mut Criterion) {
    c.bench_function("prompt/openai_request_body_typical", |b| {
        b.iter(|| {
            let turns = [Turn::User(prompt::note_message(black_box(TYPICAL)))];
            serde_json::to_vec(&openai::request_body("gpt-4o-mini", Some(0.0), &turns))
        });
    });
}

criterion_group!(benches, validation, request);
criterion_main!(benches);
