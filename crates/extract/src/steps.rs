//! The typed steps every extractor returns (shared/extraction.md).
//!
//! These types are also what a language model's answer is parsed into before anything
//! trusts it, so an invalid state cannot be built: clock times are validated `HH:MM`,
//! counts are positive and bounded, a fixed-times schedule has at least one time. Every
//! type serialises exactly as the contract shows and deserialises back through the same
//! checks.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a value cannot be a step's part.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidStep {
    #[error("clock time {0:?} is not a 24-hour HH:MM time")]
    ClockTime(String),
    #[error("times_per_day {0} is outside 1..={max}", max = TimesPerDay::MAX)]
    TimesPerDay(u32),
    #[error("every_hours {0} is outside 1..={max}", max = IntervalHours::MAX)]
    IntervalHours(u32),
    #[error("a fixed-times schedule needs between 1 and {max} distinct times, got {0}", max = ClockTimes::MAX)]
    TimesCount(usize),
    #[error("a duration of {0} days is outside 1..={max}", max = Duration::MAX_DAYS)]
    Days(u32),
    #[error("a duration of {0} occurrences is outside 1..={max}", max = Duration::MAX_OCCURRENCES)]
    Occurrences(u32),
}

/// What a note asks for: one-time tasks and scheduled actions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Steps {
    pub checklist: Vec<ChecklistItem>,
    pub plan: Vec<PlanStep>,
}

/// A one-time task ("Buy amoxicillin 500 mg capsules").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChecklistItem {
    pub title: String,
    /// The note's sentence the task came from, verbatim.
    pub source: String,
}

/// A repeated action with its schedule and how long it lasts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanStep {
    pub title: String,
    pub schedule: Schedule,
    /// `None` (JSON `null`) when the note sets no end.
    #[serde(default)]
    pub duration: Option<Duration>,
    /// The note's sentence the step came from, verbatim.
    pub source: String,
}

/// When an action repeats.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Schedule {
    /// Clock times the note names, in the patient's local time.
    FixedTimes { times: ClockTimes },
    /// Every N hours from the first dose.
    Interval { every_hours: IntervalHours },
    /// N doses spread over the waking day, no clock times named.
    TimesPerDay { times_per_day: TimesPerDay },
}

impl Schedule {
    /// Doses a day (the scorer's common measure of the three kinds).
    pub fn doses_per_day(&self) -> f64 {
        match self {
            Schedule::FixedTimes { times } => times.as_slice().len() as f64,
            Schedule::Interval { every_hours } => 24.0 / f64::from(every_hours.get()),
            Schedule::TimesPerDay { times_per_day } => f64::from(times_per_day.get()),
        }
    }

    pub fn times_per_day(n: u32) -> Result<Self, InvalidStep> {
        Ok(Schedule::TimesPerDay {
            times_per_day: TimesPerDay::new(n)?,
        })
    }

    pub fn every_hours(n: u32) -> Result<Self, InvalidStep> {
        Ok(Schedule::Interval {
            every_hours: IntervalHours::new(n)?,
        })
    }

    pub fn fixed_times(times: Vec<ClockTime>) -> Result<Self, InvalidStep> {
        Ok(Schedule::FixedTimes {
            times: ClockTimes::new(times)?,
        })
    }
}

/// A 24-hour clock time, serialised as `"HH:MM"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ClockTime {
    minutes: u16,
}

impl ClockTime {
    pub fn new(hour: u32, minute: u32) -> Result<Self, InvalidStep> {
        if hour < 24 && minute < 60 {
            Ok(ClockTime {
                minutes: (hour * 60 + minute) as u16,
            })
        } else {
            Err(InvalidStep::ClockTime(format!("{hour}:{minute:02}")))
        }
    }

    pub fn hour(self) -> u32 {
        u32::from(self.minutes / 60)
    }

    pub fn minute(self) -> u32 {
        u32::from(self.minutes % 60)
    }
}

impl fmt::Display for ClockTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.hour(), self.minute())
    }
}

impl TryFrom<String> for ClockTime {
    type Error = InvalidStep;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl std::str::FromStr for ClockTime {
    type Err = InvalidStep;

    /// Only the canonical `HH:MM` form: model output must match the contract exactly.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let b = s.as_bytes();
        let bad = || InvalidStep::ClockTime(s.chars().take(16).collect());
        if b.len() != 5 || b[2] != b':' || ![0, 1, 3, 4].iter().all(|&i| b[i].is_ascii_digit()) {
            return Err(bad());
        }
        let d = |i: usize| u32::from(b[i] - b'0');
        ClockTime::new(d(0) * 10 + d(1), d(3) * 10 + d(4)).map_err(|_| bad())
    }
}

impl From<ClockTime> for String {
    fn from(t: ClockTime) -> Self {
        t.to_string()
    }
}

/// The clock times of a fixed-times schedule: sorted, distinct, 1 to 24 of them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "Vec<ClockTime>", into = "Vec<ClockTime>")]
pub struct ClockTimes(Vec<ClockTime>);

impl ClockTimes {
    pub const MAX: usize = 24;

    /// Sorts and de-duplicates; refuses an empty or over-long list.
    pub fn new(mut times: Vec<ClockTime>) -> Result<Self, InvalidStep> {
        times.sort_unstable();
        times.dedup();
        if times.is_empty() || times.len() > Self::MAX {
            return Err(InvalidStep::TimesCount(times.len()));
        }
        Ok(ClockTimes(times))
    }

    pub fn as_slice(&self) -> &[ClockTime] {
        &self.0
    }
}

impl TryFrom<Vec<ClockTime>> for ClockTimes {
    type Error = InvalidStep;

    fn try_from(v: Vec<ClockTime>) -> Result<Self, Self::Error> {
        ClockTimes::new(v)
    }
}

impl From<ClockTimes> for Vec<ClockTime> {
    fn from(t: ClockTimes) -> Self {
        t.0
    }
}

/// Doses a day, 1 to 24 (more often than hourly is not a patient's schedule).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct TimesPerDay(u8);

impl TimesPerDay {
    pub const MAX: u32 = 24;

    pub fn new(n: u32) -> Result<Self, InvalidStep> {
        if (1..=Self::MAX).contains(&n) {
            Ok(TimesPerDay(n as u8))
        } else {
            Err(InvalidStep::TimesPerDay(n))
        }
    }

    pub fn get(self) -> u32 {
        u32::from(self.0)
    }
}

impl TryFrom<u32> for TimesPerDay {
    type Error = InvalidStep;

    fn try_from(n: u32) -> Result<Self, Self::Error> {
        TimesPerDay::new(n)
    }
}

impl From<TimesPerDay> for u32 {
    fn from(n: TimesPerDay) -> Self {
        n.get()
    }
}

/// Hours between doses, 1 to a year (8,784 h).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct IntervalHours(u32);

impl IntervalHours {
    pub const MAX: u32 = 8_784;

    pub fn new(n: u32) -> Result<Self, InvalidStep> {
        if (1..=Self::MAX).contains(&n) {
            Ok(IntervalHours(n))
        } else {
            Err(InvalidStep::IntervalHours(n))
        }
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

impl TryFrom<u32> for IntervalHours {
    type Error = InvalidStep;

    fn try_from(n: u32) -> Result<Self, Self::Error> {
        IntervalHours::new(n)
    }
}

impl From<IntervalHours> for u32 {
    fn from(n: IntervalHours) -> Self {
        n.get()
    }
}

/// How long a plan lasts: `{"days": N}` or `{"occurrences": N}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "RawDuration", into = "RawDuration")]
pub enum Duration {
    Days(u32),
    Occurrences(u32),
}

impl Duration {
    /// Ten years: longer is "indefinitely", which is `None`.
    pub const MAX_DAYS: u32 = 3_660;
    pub const MAX_OCCURRENCES: u32 = 10_000;

    pub fn days(n: u32) -> Result<Self, InvalidStep> {
        if (1..=Self::MAX_DAYS).contains(&n) {
            Ok(Duration::Days(n))
        } else {
            Err(InvalidStep::Days(n))
        }
    }

    pub fn occurrences(n: u32) -> Result<Self, InvalidStep> {
        if (1..=Self::MAX_OCCURRENCES).contains(&n) {
            Ok(Duration::Occurrences(n))
        } else {
            Err(InvalidStep::Occurrences(n))
        }
    }
}

/// The wire shape of [`Duration`], checked on the way in.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum RawDuration {
    Days(u32),
    Occurrences(u32),
}

impl TryFrom<RawDuration> for Duration {
    type Error = InvalidStep;

    fn try_from(raw: RawDuration) -> Result<Self, Self::Error> {
        match raw {
            RawDuration::Days(n) => Duration::days(n),
            RawDuration::Occurrences(n) => Duration::occurrences(n),
        }
    }
}

impl From<Duration> for RawDuration {
    fn from(d: Duration) -> Self {
        match d {
            Duration::Days(n) => RawDuration::Days(n),
            Duration::Occurrences(n) => RawDuration::Occurrences(n),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn t(h: u32, m: u32) -> ClockTime {
        ClockTime::new(h, m).unwrap()
    }

    #[test]
    fn schedules_serialise_exactly_as_the_contract() {
        let fixed = Schedule::fixed_times(vec![t(20, 0), t(8, 0)]).unwrap();
        assert_eq!(
            serde_json::to_value(&fixed).unwrap(),
            json!({"kind": "fixed_times", "times": ["08:00", "20:00"]})
        );
        assert_eq!(
            serde_json::to_value(Schedule::every_hours(6).unwrap()).unwrap(),
            json!({"kind": "interval", "every_hours": 6})
        );
        assert_eq!(
            serde_json::to_value(Schedule::times_per_day(2).unwrap()).unwrap(),
            json!({"kind": "times_per_day", "times_per_day": 2})
        );
    }

    #[test]
    fn durations_serialise_as_days_occurrences_or_null() {
        let step = PlanStep {
            title: "Take x".into(),
            schedule: Schedule::times_per_day(1).unwrap(),
            duration: None,
            source: "s".into(),
        };
        assert_eq!(
            serde_json::to_value(&step).unwrap()["duration"],
            json!(null)
        );
        assert_eq!(
            serde_json::to_value(Duration::days(7).unwrap()).unwrap(),
            json!({"days": 7})
        );
        assert_eq!(
            serde_json::to_value(Duration::occurrences(10).unwrap()).unwrap(),
            json!({"occurrences": 10})
        );
    }

    #[test]
    fn steps_round_trip() {
        let steps = Steps {
            checklist: vec![ChecklistItem {
                title: "Buy a brace".into(),
                source: "Buy a brace.".into(),
            }],
            plan: vec![
                PlanStep {
                    title: "Take amoxicillin 500 mg".into(),
                    schedule: Schedule::times_per_day(3).unwrap(),
                    duration: Some(Duration::days(7).unwrap()),
                    source: "Take one three times a day for 7 days.".into(),
                },
                PlanStep {
                    title: "Weigh yourself".into(),
                    schedule: Schedule::fixed_times(vec![t(8, 0)]).unwrap(),
                    duration: Some(Duration::occurrences(3).unwrap()),
                    source: "Weigh yourself at 08:00.".into(),
                },
                PlanStep {
                    title: "Apply patch".into(),
                    schedule: Schedule::every_hours(168).unwrap(),
                    duration: None,
                    source: "Weekly.".into(),
                },
            ],
        };
        let text = serde_json::to_string(&steps).unwrap();
        let back: Steps = serde_json::from_str(&text).unwrap();
        assert_eq!(back, steps);
    }

    #[test]
    fn invalid_states_are_refused_on_the_way_in() {
        for bad in [
            json!({"kind": "fixed_times", "times": []}),
            json!({"kind": "fixed_times", "times": ["24:00"]}),
            json!({"kind": "fixed_times", "times": ["8:00"]}),
            json!({"kind": "fixed_times", "times": ["08:60"]}),
            json!({"kind": "interval", "every_hours": 0}),
            json!({"kind": "times_per_day", "times_per_day": 0}),
            json!({"kind": "times_per_day", "times_per_day": 25}),
            json!({"kind": "weekly", "n": 1}),
        ] {
            assert!(
                serde_json::from_value::<Schedule>(bad.clone()).is_err(),
                "{bad}"
            );
        }
        for bad in [
            json!({"days": 0}),
            json!({"occurrences": 0}),
            json!({"weeks": 2}),
            json!({}),
        ] {
            assert!(
                serde_json::from_value::<Duration>(bad.clone()).is_err(),
                "{bad}"
            );
        }
        assert!(Duration::days(Duration::MAX_DAYS + 1).is_err());
    }

    #[test]
    fn fixed_times_are_sorted_and_distinct() {
        let s: Schedule = serde_json::from_value(
            json!({"kind": "fixed_times", "times": ["20:00", "08:00", "20:00"]}),
        )
        .unwrap();
        assert_eq!(
            serde_json::to_value(&s).unwrap(),
            json!({"kind": "fixed_times", "times": ["08:00", "20:00"]})
        );
        assert!((s.doses_per_day() - 2.0).abs() < 1e-9);
    }
}
