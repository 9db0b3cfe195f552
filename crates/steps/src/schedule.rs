//! When a plan step repeats and for how long.
//!
//! The JSON shapes are written once, in [`UncheckedSchedule`] and [`UncheckedDuration`]:
//! numbers and times as they were written, before their bounds are checked. [`Schedule`]
//! and [`Duration`] read and write JSON through them, and a caller that must tell its
//! users which rule they broke (the `reminder-service schedule` command gives each its own
//! error code) reads the unchecked form and checks it itself, getting the [`InvalidStep`].

use serde::{Deserialize, Serialize};

use crate::{
    ClockTime, ClockTimes, DurationDays, IntervalHours, InvalidStep, Occurrences, TimesPerDay,
};

/// When a plan step repeats (shared/extraction.md), tagged by `kind`; unknown kinds and
/// fields are refused.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "UncheckedSchedule", into = "UncheckedSchedule")]
pub enum Schedule {
    /// `{"kind": "fixed_times", "times": ["08:00", "20:00"]}`: clock times in the patient's
    /// time zone.
    FixedTimes { times: ClockTimes },
    /// `{"kind": "interval", "every_hours": 6}`: every N hours from the first dose.
    Interval { every_hours: IntervalHours },
    /// `{"kind": "times_per_day", "times_per_day": 3}`: N doses over the waking window.
    TimesPerDay { times_per_day: TimesPerDay },
}

impl Schedule {
    /// `fixed_times`, refusing a time listed twice (see [`ClockTimes::distinct`] for text).
    pub fn fixed_times(times: Vec<ClockTime>) -> Result<Self, InvalidStep> {
        Ok(Self::FixedTimes {
            times: ClockTimes::new(times)?,
        })
    }

    pub fn every_hours(hours: impl Into<i64>) -> Result<Self, InvalidStep> {
        Ok(Self::Interval {
            every_hours: IntervalHours::new(hours)?,
        })
    }

    pub fn times_per_day(doses: impl Into<i64>) -> Result<Self, InvalidStep> {
        Ok(Self::TimesPerDay {
            times_per_day: TimesPerDay::new(doses)?,
        })
    }
}

/// How long a plan step lasts: `{"days": N}` or `{"occurrences": N}`. An open-ended step
/// has none: `Option::<Duration>::None`, JSON `null`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "UncheckedDuration", into = "UncheckedDuration")]
pub enum Duration {
    Days(DurationDays),
    Occurrences(Occurrences),
}

impl Duration {
    pub fn days(days: impl Into<i64>) -> Result<Self, InvalidStep> {
        DurationDays::new(days).map(Self::Days)
    }

    pub fn occurrences(doses: impl Into<i64>) -> Result<Self, InvalidStep> {
        Occurrences::new(doses).map(Self::Occurrences)
    }
}

/// A [`Schedule`] as written: the JSON shape, with any integer and any strings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum UncheckedSchedule {
    FixedTimes { times: Vec<String> },
    Interval { every_hours: i64 },
    TimesPerDay { times_per_day: i64 },
}

impl UncheckedSchedule {
    /// Checks it as the contract does: a time listed twice is refused.
    pub fn check(self) -> Result<Schedule, InvalidStep> {
        self.check_with(ClockTimes::new)
    }

    /// Checks it, taking a time listed twice once ([`ClockTimes::distinct`]).
    pub fn check_distinct(self) -> Result<Schedule, InvalidStep> {
        self.check_with(ClockTimes::distinct)
    }

    fn check_with(
        self,
        clock_times: fn(Vec<ClockTime>) -> Result<ClockTimes, InvalidStep>,
    ) -> Result<Schedule, InvalidStep> {
        match self {
            Self::FixedTimes { times } => {
                let times = times.iter().map(|t| t.parse()).collect::<Result<_, _>>()?;
                Ok(Schedule::FixedTimes {
                    times: clock_times(times)?,
                })
            }
            Self::Interval { every_hours } => Schedule::every_hours(every_hours),
            Self::TimesPerDay { times_per_day } => Schedule::times_per_day(times_per_day),
        }
    }
}

impl TryFrom<UncheckedSchedule> for Schedule {
    type Error = InvalidStep;

    fn try_from(unchecked: UncheckedSchedule) -> Result<Self, Self::Error> {
        unchecked.check()
    }
}

impl From<Schedule> for UncheckedSchedule {
    fn from(schedule: Schedule) -> Self {
        match schedule {
            Schedule::FixedTimes { times } => Self::FixedTimes {
                times: times.as_slice().iter().map(ToString::to_string).collect(),
            },
            Schedule::Interval { every_hours } => Self::Interval {
                every_hours: i64::from(every_hours.get()),
            },
            Schedule::TimesPerDay { times_per_day } => Self::TimesPerDay {
                times_per_day: i64::from(times_per_day.get()),
            },
        }
    }
}

/// A [`Duration`] as written: the JSON shape, with any integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UncheckedDuration {
    Days(i64),
    Occurrences(i64),
}

impl UncheckedDuration {
    pub fn check(self) -> Result<Duration, InvalidStep> {
        match self {
            Self::Days(days) => Duration::days(days),
            Self::Occurrences(doses) => Duration::occurrences(doses),
        }
    }
}

impl TryFrom<UncheckedDuration> for Duration {
    type Error = InvalidStep;

    fn try_from(unchecked: UncheckedDuration) -> Result<Self, Self::Error> {
        unchecked.check()
    }
}

impl From<Duration> for UncheckedDuration {
    fn from(duration: Duration) -> Self {
        match duration {
            Duration::Days(days) => Self::Days(i64::from(days.get())),
            Duration::Occurrences(doses) => Self::Occurrences(i64::from(doses.get())),
        }
    }
}
