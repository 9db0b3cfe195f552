//! The counts of a schedule and a duration, each an integer within its bounds.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::InvalidStep;

macro_rules! bounded {
    ($(#[$doc:meta])* $name:ident($int:ty), $min:literal..=$max:literal, $error:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "i64", into = "u32")]
        pub struct $name($int);

        impl $name {
            pub const MIN: u32 = $min;
            pub const MAX: u32 = $max;

            /// Refuses a value outside `MIN..=MAX`.
            pub fn new(value: impl Into<i64>) -> Result<Self, InvalidStep> {
                let value = value.into();
                if !(i64::from(Self::MIN)..=i64::from(Self::MAX)).contains(&value) {
                    return Err(InvalidStep::$error(value));
                }
                <$int>::try_from(value)
                    .map(Self)
                    .map_err(|_| InvalidStep::$error(value))
            }

            pub fn get(self) -> u32 {
                u32::from(self.0)
            }
        }

        impl TryFrom<i64> for $name {
            type Error = InvalidStep;

            fn try_from(value: i64) -> Result<Self, Self::Error> {
                Self::new(value)
            }
        }

        impl From<$name> for u32 {
            fn from(value: $name) -> Self {
                value.get()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

bounded!(
    /// Doses a day of a `times_per_day` schedule, 1 to 24 (more often than hourly is not a
    /// patient's schedule).
    TimesPerDay(u8), 1..=24, TimesPerDay
);
bounded!(
    /// Hours between doses of an `interval` schedule, 1 to 8,760 (a year).
    IntervalHours(u16), 1..=8760, IntervalHours
);
bounded!(
    /// A course in days, 1 to 3,650 (ten years; longer is open-ended, `null`).
    DurationDays(u16), 1..=3650, Days
);
bounded!(
    /// A course in doses, 1 to 10,000.
    Occurrences(u16), 1..=10000, Occurrences
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_edges_are_in_and_one_past_them_is_out() {
        assert_eq!(TimesPerDay::new(1).map(TimesPerDay::get), Ok(1));
        assert_eq!(TimesPerDay::new(24).map(TimesPerDay::get), Ok(24));
        assert_eq!(TimesPerDay::new(0), Err(InvalidStep::TimesPerDay(0)));
        assert_eq!(TimesPerDay::new(25), Err(InvalidStep::TimesPerDay(25)));
        assert_eq!(TimesPerDay::new(-1), Err(InvalidStep::TimesPerDay(-1)));
        assert!(IntervalHours::new(8760).is_ok() && IntervalHours::new(8761).is_err());
        assert!(DurationDays::new(3650).is_ok() && DurationDays::new(3651).is_err());
        assert!(Occurrences::new(10_000).is_ok() && Occurrences::new(10_001).is_err());
        assert_eq!(
            Occurrences::new(i64::MAX),
            Err(InvalidStep::Occurrences(i64::MAX))
        );
        assert_eq!(IntervalHours::new(6u8).unwrap().to_string(), "6");
    }
}
