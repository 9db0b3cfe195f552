//! `reminder-service schedule` as a caller sees it: the built binary, stdin in, stdout out.

// Test helpers may fail loudly: a panic is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::process::{Command, Output, Stdio};

use serde_json::{json, Value};

const EXAMPLES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/schedule/examples.jsonl"
);

fn run(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_reminder-service"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let mut input = child.stdin.take().expect("stdin");
    // The command may refuse before reading everything; a broken pipe is then expected.
    let _ = input.write_all(stdin);
    drop(input);
    child.wait_with_output().expect("the binary ends")
}

fn schedule(step: &Value) -> Output {
    run(&["schedule"], step.to_string().as_bytes())
}

fn lines(out: &Output) -> Vec<String> {
    String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

/// Exit code 2, nothing on stdout, one line of JSON error on stderr; returns its code.
fn refused(out: &Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(2),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.is_empty(), "stdout: {:?}", out.stdout);
    let err = String::from_utf8(out.stderr.clone()).unwrap();
    assert_eq!(err.lines().count(), 1, "one line: {err:?}");
    let v: Value = serde_json::from_str(&err).expect("JSON on stderr");
    assert!(v["error"]["message"]
        .as_str()
        .is_some_and(|m| !m.is_empty()));
    v["error"]["code"].as_str().expect("a code").to_string()
}

fn step() -> Value {
    json!({
        "schedule": {"kind": "times_per_day", "times_per_day": 2},
        "duration": {"days": 1},
        "start": "2026-09-01T00:00:00Z",
        "timezone": "UTC"
    })
}

fn with(path: &[&str], value: Value) -> Value {
    let mut s = step();
    let mut at = &mut s;
    for key in &path[..path.len() - 1] {
        at = &mut at[*key];
    }
    at[path[path.len() - 1]] = value;
    s
}

#[test]
fn every_example_through_the_binary() {
    let Ok(text) = std::fs::read_to_string(EXAMPLES) else {
        println!("note: {EXAMPLES} is absent; the examples were not run");
        return;
    };
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let case: Value = serde_json::from_str(line).unwrap();
        let out = schedule(&case["input"]);
        if case["expected"] == "error" {
            refused(&out);
        } else {
            assert!(
                out.status.success(),
                "{}: {}",
                case["id"],
                String::from_utf8_lossy(&out.stderr)
            );
            let expected: Vec<String> = serde_json::from_value(case["expected"].clone()).unwrap();
            assert_eq!(lines(&out), expected, "{}", case["id"]);
        }
    }
}

#[test]
fn prints_the_worked_example_of_schedule_md() {
    let out = schedule(&json!({
        "schedule": {"kind": "fixed_times", "times": ["02:30", "20:00"]},
        "duration": {"days": 3},
        "start": "2026-03-07T07:00:00-05:00",
        "timezone": "America/New_York",
        "waking_window": ["08:00", "20:00"],
        "missed": 0,
        "limit": 1000
    }));
    assert!(out.status.success());
    assert_eq!(
        lines(&out),
        [
            "2026-03-08T01:00:00Z",
            "2026-03-08T07:30:00Z",
            "2026-03-09T00:00:00Z",
            "2026-03-09T06:30:00Z",
            "2026-03-10T00:00:00Z",
            "2026-03-10T06:30:00Z"
        ]
    );
}

#[test]
fn limit_caps_the_output_and_open_ended_steps_end_there() {
    let mut s = with(&["duration"], Value::Null);
    s["limit"] = json!(100_000);
    let out = schedule(&s);
    assert!(out.status.success());
    let l = lines(&out);
    assert_eq!(l.len(), 100_000);
    assert_eq!(l[0], "2026-09-01T08:00:00Z");
    assert!(l.iter().all(|t| t.len() == 20 && t.ends_with('Z')));
    s["limit"] = json!(3);
    assert_eq!(lines(&schedule(&s)).len(), 3);
}

#[test]
fn whole_seconds_whatever_the_start() {
    let s = json!({
        "schedule": {"kind": "interval", "every_hours": 6},
        "duration": {"occurrences": 2},
        "start": "2026-09-01T05:30:15.75+05:30",
        "timezone": "Asia/Kolkata"
    });
    assert_eq!(
        lines(&schedule(&s)),
        ["2026-09-01T00:00:15Z", "2026-09-01T06:00:15Z"]
    );
}

#[test]
fn a_time_listed_twice_is_taken_once() {
    let s = with(
        &["schedule"],
        json!({"kind": "fixed_times", "times": ["20:00", "08:00", "20:00"]}),
    );
    assert_eq!(
        lines(&schedule(&s)),
        ["2026-09-01T08:00:00Z", "2026-09-01T20:00:00Z"]
    );
}

#[test]
fn each_bad_input_rule_is_refused_with_its_code() {
    let cases: Vec<(Value, &str)> = vec![
        (
            with(&["timezone"], json!("Europe/Atlantis")),
            "unknown_timezone",
        ),
        (with(&["timezone"], json!("")), "unknown_timezone"),
        (
            with(
                &["schedule"],
                json!({"kind": "fixed_times", "times": ["8:00"]}),
            ),
            "invalid_time",
        ),
        (
            with(
                &["schedule"],
                json!({"kind": "fixed_times", "times": ["24:00"]}),
            ),
            "invalid_time",
        ),
        (
            with(
                &["schedule"],
                json!({"kind": "fixed_times", "times": ["12:60"]}),
            ),
            "invalid_time",
        ),
        (
            with(&["schedule"], json!({"kind": "fixed_times", "times": []})),
            "times_count_out_of_range",
        ),
        (
            with(
                &["schedule"],
                json!({"kind": "fixed_times", "times": vec!["08:00"; 25]}),
            ),
            "times_count_out_of_range",
        ),
        (
            with(&["schedule", "times_per_day"], json!(0)),
            "times_per_day_out_of_range",
        ),
        (
            with(&["schedule", "times_per_day"], json!(25)),
            "times_per_day_out_of_range",
        ),
        (
            with(&["schedule"], json!({"kind": "interval", "every_hours": 0})),
            "every_hours_out_of_range",
        ),
        (
            with(
                &["schedule"],
                json!({"kind": "interval", "every_hours": 8761}),
            ),
            "every_hours_out_of_range",
        ),
        (with(&["duration"], json!({"days": 0})), "days_out_of_range"),
        (
            with(&["duration"], json!({"days": 3651})),
            "days_out_of_range",
        ),
        (
            with(&["duration"], json!({"occurrences": 0})),
            "occurrences_out_of_range",
        ),
        (
            with(&["duration"], json!({"occurrences": 10_001})),
            "occurrences_out_of_range",
        ),
        (
            with(&["waking_window"], json!(["20:00", "08:00"])),
            "invalid_waking_window",
        ),
        (
            with(&["waking_window"], json!(["08:00", "08:00"])),
            "invalid_waking_window",
        ),
        (
            with(&["waking_window"], json!(["08:00", "25:00"])),
            "invalid_time",
        ),
        (with(&["limit"], json!(0)), "limit_out_of_range"),
        (with(&["limit"], json!(100_001)), "limit_out_of_range"),
        (with(&["missed"], json!(-1)), "missed_out_of_range"),
        (
            with(&["start"], json!("2026-09-01T00:00:00")),
            "invalid_start",
        ),
        (with(&["start"], json!("yesterday")), "invalid_start"),
        (with(&["colour"], json!("blue")), "unknown_field"),
        (with(&["schedule", "at"], json!("08:00")), "unknown_field"),
        (
            with(&["schedule"], json!({"kind": "hourly", "times_per_day": 2})),
            "unknown_kind",
        ),
        (with(&["duration"], json!({"weeks": 2})), "unknown_kind"),
        (with(&["limit"], json!("ten")), "invalid_json"),
        (with(&["limit"], json!(1.5)), "invalid_json"),
    ];
    for (input, code) in cases {
        assert_eq!(refused(&schedule(&input)), code, "{input}");
    }
}

#[test]
fn malformed_missing_or_oversized_input_is_refused() {
    assert_eq!(refused(&run(&["schedule"], b"")), "invalid_json");
    assert_eq!(
        refused(&run(&["schedule"], b"{\"schedule\":")),
        "invalid_json"
    );
    assert_eq!(refused(&run(&["schedule"], b"[1, 2]")), "invalid_json");
    assert_eq!(refused(&run(&["schedule"], &[0xff, 0xfe])), "invalid_json");
    let mut s = step();
    s.as_object_mut().unwrap().remove("duration");
    assert_eq!(refused(&schedule(&s)), "invalid_json");
    let mut s = step();
    s.as_object_mut().unwrap().remove("timezone");
    assert_eq!(refused(&schedule(&s)), "invalid_json");
    let huge = vec![b' '; 1024 * 1024];
    assert_eq!(refused(&run(&["schedule"], &huge)), "input_too_large");
}

#[test]
fn usage_errors_exit_with_two() {
    // No arguments runs the server (tests/api); `schedule` with extra arguments is refused.
    assert_eq!(refused(&run(&["schedule", "--now"], b"")), "usage");
    assert_eq!(refused(&run(&["remind"], b"")), "unknown_command");
    let help = run(&["--help"], b"");
    assert!(help.status.success());
    assert!(String::from_utf8_lossy(&help.stdout).contains("reminder-service schedule"));
}
