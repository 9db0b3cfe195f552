//! The JSON of the step vocabulary is exactly shared/extraction.md's, and everything out of
//! bounds is refused on the way in with a message that names the field.

// A panic is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use hospital_steps::{
    ChecklistItem, ClockTime, ClockTimes, Duration, InvalidStep, PlanStep, Schedule, Source, Steps,
    Title, UncheckedDuration, UncheckedSchedule, MAX_STEPS,
};
use serde_json::{json, Value};

fn t(s: &str) -> ClockTime {
    s.parse().unwrap()
}

/// The example of shared/extraction.md, as text.
const CONTRACT_EXAMPLE: &str = r#"{
  "checklist": [
    {"title": "Buy amoxicillin 500 mg capsules", "source": "Buy amoxicillin 500 mg capsules today."}
  ],
  "plan": [
    {
      "title": "Take amoxicillin 500 mg",
      "schedule": {"kind": "times_per_day", "times_per_day": 3},
      "duration": {"days": 7},
      "source": "Take one capsule three times a day for 7 days."
    }
  ]
}"#;

#[test]
fn the_contract_example_reads_and_writes_back_the_same() {
    let steps: Steps = serde_json::from_str(CONTRACT_EXAMPLE).unwrap();
    assert_eq!(
        steps,
        Steps {
            checklist: vec![ChecklistItem {
                title: Title::new("Buy amoxicillin 500 mg capsules").unwrap(),
                source: Source::new("Buy amoxicillin 500 mg capsules today.").unwrap(),
            }],
            plan: vec![PlanStep {
                title: Title::new("Take amoxicillin 500 mg").unwrap(),
                schedule: Schedule::times_per_day(3).unwrap(),
                duration: Some(Duration::days(7).unwrap()),
                source: Source::new("Take one capsule three times a day for 7 days.").unwrap(),
            }],
        }
    );
    let expected: Value = serde_json::from_str(CONTRACT_EXAMPLE).unwrap();
    assert_eq!(serde_json::to_value(&steps).unwrap(), expected);
    // Field order too: title, schedule, duration, source.
    let text = serde_json::to_string(&steps.plan[0]).unwrap();
    assert!(
        text.starts_with(r#"{"title":"Take amoxicillin 500 mg","schedule":{"kind":"times_per_day","times_per_day":3},"duration":{"days":7},"source":"#),
        "{text}"
    );
}

#[test]
fn schedules_have_the_three_shapes() {
    let cases = [
        (
            Schedule::fixed_times(vec![t("20:00"), t("08:00")]).unwrap(),
            json!({"kind": "fixed_times", "times": ["08:00", "20:00"]}),
        ),
        (
            Schedule::every_hours(6).unwrap(),
            json!({"kind": "interval", "every_hours": 6}),
        ),
        (
            Schedule::every_hours(48).unwrap(),
            json!({"kind": "interval", "every_hours": 48}),
        ),
        (
            Schedule::times_per_day(2).unwrap(),
            json!({"kind": "times_per_day", "times_per_day": 2}),
        ),
    ];
    for (schedule, shape) in cases {
        assert_eq!(serde_json::to_value(&schedule).unwrap(), shape);
        assert_eq!(serde_json::from_value::<Schedule>(shape).unwrap(), schedule);
    }
}

#[test]
fn durations_are_days_occurrences_or_null() {
    let cases = [
        (Some(Duration::days(7).unwrap()), json!({"days": 7})),
        (
            Some(Duration::occurrences(10).unwrap()),
            json!({"occurrences": 10}),
        ),
        (None, json!(null)),
    ];
    for (duration, shape) in cases {
        assert_eq!(serde_json::to_value(duration).unwrap(), shape);
        assert_eq!(
            serde_json::from_value::<Option<Duration>>(shape).unwrap(),
            duration
        );
    }
    let open = json!({
        "title": "Take ramipril 5 mg",
        "schedule": {"kind": "times_per_day", "times_per_day": 1},
        "duration": null,
        "source": "Continue ramipril 5 mg daily."
    });
    let step: PlanStep = serde_json::from_value(open.clone()).unwrap();
    assert_eq!(step.duration, None);
    assert_eq!(serde_json::to_value(&step).unwrap(), open);
}

/// The error of deserializing `value` as `T`.
fn refusal<T: serde::de::DeserializeOwned + std::fmt::Debug>(value: &Value) -> String {
    serde_json::from_value::<T>(value.clone())
        .map(|v| panic!("{value} was accepted as {v:?}"))
        .unwrap_err()
        .to_string()
}

#[test]
fn out_of_bounds_schedules_are_refused_naming_the_field() {
    let cases = [
        (json!({"kind": "fixed_times", "times": []}), "times has 0"),
        (
            json!({"kind": "fixed_times", "times": ["8:00"]}),
            "clock time \"8:00\"",
        ),
        (
            json!({"kind": "fixed_times", "times": ["24:00"]}),
            "clock time \"24:00\"",
        ),
        (
            json!({"kind": "fixed_times", "times": ["08:60"]}),
            "clock time \"08:60\"",
        ),
        (
            json!({"kind": "fixed_times", "times": ["08:00", "20:00", "08:00"]}),
            "times lists 08:00 twice",
        ),
        (
            json!({"kind": "fixed_times", "times": vec!["08:00"; 25]}),
            "times has 25",
        ),
        (
            json!({"kind": "interval", "every_hours": 0}),
            "every_hours 0 is outside 1..=8760",
        ),
        (
            json!({"kind": "interval", "every_hours": 8761}),
            "every_hours 8761",
        ),
        (
            json!({"kind": "interval", "every_hours": 8784}),
            "every_hours 8784",
        ),
        (
            json!({"kind": "interval", "every_hours": -6}),
            "every_hours -6",
        ),
        (
            json!({"kind": "interval", "every_hours": 1.5}),
            "invalid type",
        ),
        (
            json!({"kind": "times_per_day", "times_per_day": 0}),
            "times_per_day 0 is outside 1..=24",
        ),
        (
            json!({"kind": "times_per_day", "times_per_day": 25}),
            "times_per_day 25",
        ),
        (
            json!({"kind": "interval", "every_hours": 6, "times_per_day": 4}),
            "unknown field `times_per_day`",
        ),
        (
            json!({"kind": "weekly", "every_hours": 168}),
            "unknown variant `weekly`",
        ),
        (json!({"every_hours": 6}), "missing field `kind`"),
    ];
    for (value, message) in cases {
        let err = refusal::<Schedule>(&value);
        assert!(err.contains(message), "{value}: {err:?} lacks {message:?}");
    }
}

#[test]
fn out_of_bounds_durations_are_refused_naming_the_field() {
    let cases = [
        (json!({"days": 0}), "days 0 is outside 1..=3650"),
        (json!({"days": 3651}), "days 3651"),
        (json!({"days": 3660}), "days 3660"),
        (json!({"days": -1}), "days -1"),
        (
            json!({"occurrences": 0}),
            "occurrences 0 is outside 1..=10000",
        ),
        (json!({"occurrences": 10_001}), "occurrences 10001"),
        (json!({"weeks": 2}), "unknown variant `weeks`"),
        (json!({"days": 7, "occurrences": 3}), ""),
        (json!({}), ""),
    ];
    for (value, message) in cases {
        let err = refusal::<Option<Duration>>(&value);
        assert!(err.contains(message), "{value}: {err:?} lacks {message:?}");
    }
}

fn plan_step() -> Value {
    json!({
        "title": "Take amoxicillin 500 mg",
        "schedule": {"kind": "times_per_day", "times_per_day": 3},
        "duration": {"days": 7},
        "source": "Take one capsule three times a day for 7 days."
    })
}

#[test]
fn out_of_bounds_steps_are_refused_naming_the_field() {
    let with = |field: &str, value: Value| {
        let mut step = plan_step();
        step[field] = value;
        step
    };
    let without = |field: &str| {
        let mut step = plan_step();
        step.as_object_mut().unwrap().remove(field);
        step
    };
    let cases = [
        (with("title", json!("  ")), "title is empty"),
        (
            with("title", json!("Take\nthis")),
            "title contains a control",
        ),
        (
            with("title", json!("x".repeat(201))),
            "title has 201 characters, more than 200",
        ),
        (with("source", json!("")), "source is empty"),
        (
            with("source", json!("é".repeat(20_001))),
            "source has 20001 characters, more than 20000",
        ),
        (with("dose", json!("500 mg")), "unknown field `dose`"),
        (without("duration"), "missing field `duration`"),
        (without("source"), "missing field `source`"),
        (
            with("schedule", json!({"kind": "interval", "every_hours": 0})),
            "every_hours 0",
        ),
        (with("duration", json!({"days": 3651})), "days 3651"),
    ];
    for (value, message) in cases {
        let err = refusal::<PlanStep>(&value);
        assert!(err.contains(message), "{value}: {err:?} lacks {message:?}");
    }
    // Within the bounds, a title is trimmed and a source kept verbatim.
    let step: PlanStep = serde_json::from_value(with("title", json!(" Take x "))).unwrap();
    assert_eq!(step.title, "Take x");
    let item: ChecklistItem =
        serde_json::from_value(json!({"title": "x".repeat(200), "source": " Buy x.\n"})).unwrap();
    assert_eq!(item.source, " Buy x.\n");
}

#[test]
fn at_most_max_steps_of_each_list() {
    let item = json!({"title": "Buy a thermometer", "source": "Buy a thermometer."});
    let most =
        json!({"checklist": vec![item.clone(); MAX_STEPS], "plan": vec![plan_step(); MAX_STEPS]});
    let steps: Steps = serde_json::from_value(most).unwrap();
    assert_eq!(steps.check_counts(), Ok(()));
    for list in ["checklist", "plan"] {
        let one = if list == "plan" {
            plan_step()
        } else {
            item.clone()
        };
        let mut too_many = json!({"checklist": [], "plan": []});
        too_many[list] = json!(vec![one; MAX_STEPS + 1]);
        let err = refusal::<Steps>(&too_many);
        assert!(
            err.contains(&format!("{list} has 201 steps, more than 200")),
            "{err}"
        );
    }
    let mut built = steps;
    built.plan.push(built.plan[0].clone());
    assert_eq!(
        built.check_counts(),
        Err(InvalidStep::TooManySteps {
            list: "plan",
            count: 201
        })
    );
    assert!(
        refusal::<Steps>(&json!({"checklist": [], "plan": [], "notes": []}))
            .contains("unknown field `notes`")
    );
}

#[test]
fn unchecked_forms_give_the_typed_refusal() {
    let read = |v: Value| serde_json::from_value::<UncheckedSchedule>(v).unwrap();
    assert_eq!(
        read(json!({"kind": "times_per_day", "times_per_day": 99})).check(),
        Err(InvalidStep::TimesPerDay(99))
    );
    assert_eq!(
        read(json!({"kind": "fixed_times", "times": ["8am"]})).check(),
        Err(InvalidStep::ClockTime("8am".into()))
    );
    let twice = read(json!({"kind": "fixed_times", "times": ["20:00", "08:00", "20:00"]}));
    assert_eq!(
        twice.clone().check(),
        Err(InvalidStep::DuplicateTime(t("20:00")))
    );
    assert_eq!(
        twice.check_distinct(),
        Ok(Schedule::FixedTimes {
            times: ClockTimes::new(vec![t("08:00"), t("20:00")]).unwrap()
        })
    );
    let days = serde_json::from_value::<UncheckedDuration>(json!({"days": 0})).unwrap();
    assert_eq!(days.check(), Err(InvalidStep::Days(0)));
}
