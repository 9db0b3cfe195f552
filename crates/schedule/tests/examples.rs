//! Every case of shared/schedule/examples.jsonl through the engine.

// Test helpers may fail loudly: a panic is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use hospital_schedule::{Step, WakingWindow};
use hospital_steps::{ClockTime, InvalidStep, UncheckedDuration, UncheckedSchedule};
use serde_json::Value;

const EXAMPLES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/schedule/examples.jsonl"
);

/// Builds the step of an example's input as `reminder-service schedule` does (a time
/// listed twice counts once); `Err` for input the engine must refuse.
fn step_of(input: &Value) -> Result<Step, String> {
    let time = |v: &Value| -> Result<ClockTime, String> {
        v.as_str()
            .ok_or("not a string")?
            .parse()
            .map_err(|e: InvalidStep| e.to_string())
    };
    let schedule = serde_json::from_value::<UncheckedSchedule>(input["schedule"].clone())
        .map_err(|e| e.to_string())?
        .check_distinct()
        .map_err(|e| e.to_string())?;
    let duration = serde_json::from_value::<Option<UncheckedDuration>>(input["duration"].clone())
        .map_err(|e| e.to_string())?
        .map(UncheckedDuration::check)
        .transpose()
        .map_err(|e| e.to_string())?;
    let start = input["start"]
        .as_str()
        .ok_or("start")?
        .parse()
        .map_err(|e: jiff::Error| e.to_string())?;
    let zone = jiff::tz::TimeZone::get(input["timezone"].as_str().ok_or("timezone")?)
        .map_err(|e| e.to_string())?;
    let mut step = Step::new(schedule, duration, start, zone);
    if let Some(w) = input.get("waking_window") {
        let window = WakingWindow::new(time(&w[0])?, time(&w[1])?).map_err(|e| e.to_string())?;
        step = step.with_waking_window(window);
    }
    if let Some(m) = input.get("missed") {
        let missed = m.as_u64().ok_or_else(|| format!("not a count: {m}"))?;
        step = step.with_missed(u32::try_from(missed).map_err(|e| e.to_string())?);
    }
    Ok(step)
}

#[test]
fn every_example_gives_its_expected_instants() {
    let Ok(text) = std::fs::read_to_string(EXAMPLES) else {
        println!("note: {EXAMPLES} is absent; the examples were not run");
        return;
    };
    let mut ran = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let case: Value = serde_json::from_str(line).unwrap();
        let id = case["id"].as_str().unwrap();
        let limit = case["input"]["limit"].as_u64().unwrap_or(1000) as usize;
        match (&case["expected"], step_of(&case["input"])) {
            (Value::String(e), Err(_)) if e == "error" => {}
            (Value::String(e), Ok(step)) if e == "error" => {
                panic!("{id}: expected an error, got {step:?}")
            }
            (_, Err(e)) => panic!("{id}: refused: {e}"),
            (expected, Ok(step)) => {
                let got: Vec<Value> = step
                    .occurrences()
                    .take(limit)
                    .map(|t| Value::String(t.to_string()))
                    .collect();
                assert_eq!(&Value::Array(got), expected, "{id}");
            }
        }
        ran += 1;
    }
    assert!(ran >= 12, "only {ran} examples");
}
