//! Clock times, and the times of a fixed-times schedule.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::InvalidStep;

/// A 24-hour local clock time to the minute, written `"HH:MM"` (00:00 to 23:59).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ClockTime {
    /// Minutes since midnight, below [`ClockTime::MINUTES_A_DAY`].
    minutes: u16,
}

impl ClockTime {
    /// Minutes in a day: a clock time's minutes are below this.
    pub const MINUTES_A_DAY: u16 = 24 * 60;

    pub fn new(hour: u32, minute: u32) -> Result<Self, InvalidStep> {
        if hour < 24 && minute < 60 {
            // At most 23 * 60 + 59.
            Ok(Self {
                minutes: (hour * 60 + minute) as u16,
            })
        } else {
            Err(InvalidStep::ClockTime(format!("{hour:02}:{minute:02}")))
        }
    }

    /// The clock time `minutes` after midnight; `None` from 24:00 on.
    pub const fn from_minutes(minutes: u16) -> Option<Self> {
        if minutes < Self::MINUTES_A_DAY {
            Some(Self { minutes })
        } else {
            None
        }
    }

    /// Minutes since midnight, 0 to 1439.
    pub fn minutes(self) -> u16 {
        self.minutes
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

impl FromStr for ClockTime {
    type Err = InvalidStep;

    /// Only the canonical `HH:MM` form, two digits each: model output and people's input
    /// must match the contract exactly.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let b = s.as_bytes();
        let bad = || InvalidStep::ClockTime(s.chars().take(16).collect());
        if b.len() != 5 || b[2] != b':' || ![0, 1, 3, 4].iter().all(|&i| b[i].is_ascii_digit()) {
            return Err(bad());
        }
        let digit = |i: usize| u32::from(b[i] - b'0');
        Self::new(digit(0) * 10 + digit(1), digit(3) * 10 + digit(4)).map_err(|_| bad())
    }
}

impl TryFrom<String> for ClockTime {
    type Error = InvalidStep;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<ClockTime> for String {
    fn from(t: ClockTime) -> Self {
        t.to_string()
    }
}

/// The times of a fixed-times schedule: 1 to [`MAX`](Self::MAX), distinct, kept sorted.
///
/// Deserializing refuses a time listed twice, as the schema does (`uniqueItems`); code
/// that reads times from text builds with [`distinct`](Self::distinct) instead.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "Vec<ClockTime>", into = "Vec<ClockTime>")]
pub struct ClockTimes(Vec<ClockTime>);

impl ClockTimes {
    /// The most times a day: one an hour.
    pub const MAX: usize = 24;

    /// Sorts the times; refuses none, more than [`MAX`](Self::MAX), or one listed twice.
    pub fn new(times: Vec<ClockTime>) -> Result<Self, InvalidStep> {
        let times = Self::sorted(times)?;
        if let Some(pair) = times.windows(2).find(|pair| pair[0] == pair[1]) {
            return Err(InvalidStep::DuplicateTime(pair[0]));
        }
        Ok(Self(times))
    }

    /// Times as written, where a time written twice counts once (shared/schedule.md: the
    /// listed times, "once each"): refuses none or more than [`MAX`](Self::MAX) written,
    /// then sorts and drops repeats.
    pub fn distinct(times: Vec<ClockTime>) -> Result<Self, InvalidStep> {
        let mut times = Self::sorted(times)?;
        times.dedup();
        Ok(Self(times))
    }

    fn sorted(mut times: Vec<ClockTime>) -> Result<Vec<ClockTime>, InvalidStep> {
        if times.is_empty() || times.len() > Self::MAX {
            return Err(InvalidStep::TimesCount(times.len()));
        }
        times.sort_unstable();
        Ok(times)
    }

    pub fn as_slice(&self) -> &[ClockTime] {
        &self.0
    }

    /// How many times a day, 1 to [`MAX`](Self::MAX).
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Always `false`: there is at least one time.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl TryFrom<Vec<ClockTime>> for ClockTimes {
    type Error = InvalidStep;

    fn try_from(times: Vec<ClockTime>) -> Result<Self, Self::Error> {
        Self::new(times)
    }
}

impl From<ClockTimes> for Vec<ClockTime> {
    fn from(times: ClockTimes) -> Self {
        times.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> ClockTime {
        s.parse().unwrap()
    }

    #[test]
    fn only_the_canonical_form_parses() {
        assert_eq!(t("00:00").minutes(), 0);
        assert_eq!(t("23:59").to_string(), "23:59");
        assert_eq!((t("08:05").hour(), t("08:05").minute()), (8, 5));
        for bad in [
            "8:00",
            "24:00",
            "12:60",
            "08:00:00",
            "0800",
            "08.00",
            "+8:00",
            "",
            "٠٨:٠٠",
        ] {
            assert!(bad.parse::<ClockTime>().is_err(), "{bad}");
        }
        let long = "9".repeat(1000).parse::<ClockTime>().unwrap_err();
        assert_eq!(long, InvalidStep::ClockTime("9".repeat(16)));
        assert_eq!(ClockTime::from_minutes(1439), Some(t("23:59")));
        assert_eq!(ClockTime::from_minutes(1440), None);
    }

    #[test]
    fn new_refuses_repeats_and_distinct_drops_them() {
        let twice = vec![t("20:00"), t("08:00"), t("20:00")];
        assert_eq!(
            ClockTimes::new(twice.clone()),
            Err(InvalidStep::DuplicateTime(t("20:00")))
        );
        let times = ClockTimes::distinct(twice).unwrap();
        assert_eq!(times.as_slice(), [t("08:00"), t("20:00")]);
        assert_eq!(
            ClockTimes::distinct(vec![]),
            Err(InvalidStep::TimesCount(0))
        );
        // More than 24 written is refused even when they are fewer once repeats go.
        assert_eq!(
            ClockTimes::distinct(vec![t("08:00"); 25]),
            Err(InvalidStep::TimesCount(25))
        );
        let every_hour: Vec<ClockTime> = (0..24).map(|h| ClockTime::new(h, 0).unwrap()).collect();
        assert_eq!(ClockTimes::new(every_hour).unwrap().len(), 24);
    }
}
