//! The typed input of the engine: a plan step whose every part is already valid.
//!
//! Each type checks its range when it is built, so an invalid state (no times, 0 doses a
//! day, a waking window that ends before it begins) cannot reach the engine.

use std::fmt;
use std::str::FromStr;

use jiff::tz::TimeZone;
use jiff::Timestamp;

/// Why a part of a step is refused (the "Bad input" rules of shared/schedule.md).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidStep {
    #[error("clock time {0:?} is not a 24-hour HH:MM time (00:00 to 23:59)")]
    ClockTime(String),
    #[error("a fixed-times schedule needs 1 to {max} times, got {0}", max = FixedTimes::MAX)]
    TimesCount(usize),
    #[error("times_per_day {0} is outside 1..={max}", max = TimesPerDay::MAX)]
    TimesPerDay(i64),
    #[error("every_hours {0} is outside 1..={max}", max = IntervalHours::MAX)]
    IntervalHours(i64),
    #[error("a duration of {0} days is outside 1..={max}", max = Duration::MAX_DAYS)]
    Days(i64),
    #[error("a duration of {0} occurrences is outside 1..={max}", max = Duration::MAX_OCCURRENCES)]
    Occurrences(i64),
    #[error("the waking window {start}–{end} does not end after it begins")]
    WakingWindow { start: ClockTime, end: ClockTime },
}

/// A local clock time to the minute, written `HH:MM` (24-hour).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClockTime {
    minutes: u16,
}

impl ClockTime {
    /// Minutes in a day: a clock time is below this.
    const DAY: u16 = 24 * 60;

    pub fn new(hour: u8, minute: u8) -> Result<Self, InvalidStep> {
        if hour < 24 && minute < 60 {
            Ok(ClockTime {
                minutes: u16::from(hour) * 60 + u16::from(minute),
            })
        } else {
            Err(InvalidStep::ClockTime(format!("{hour:02}:{minute:02}")))
        }
    }

    /// Minutes since midnight, 0 to 1439.
    pub fn minutes(self) -> u16 {
        self.minutes
    }

    pub fn hour(self) -> u8 {
        (self.minutes / 60) as u8
    }

    pub fn minute(self) -> u8 {
        (self.minutes % 60) as u8
    }

    /// The same wall time as a jiff civil time.
    #[allow(clippy::cast_possible_wrap)] // hour < 24 and minute < 60 fit in an i8
    pub fn to_civil(self) -> jiff::civil::Time {
        jiff::civil::Time::constant(self.hour() as i8, self.minute() as i8, 0, 0)
    }

    fn from_minutes(minutes: u16) -> Self {
        debug_assert!(minutes < Self::DAY);
        ClockTime { minutes }
    }
}

impl fmt::Display for ClockTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.hour(), self.minute())
    }
}

impl FromStr for ClockTime {
    type Err = InvalidStep;

    /// Exactly `HH:MM`, two digits each, 00:00 to 23:59.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let b = s.as_bytes();
        let bad = || InvalidStep::ClockTime(s.chars().take(16).collect());
        if b.len() != 5 || b[2] != b':' || ![0, 1, 3, 4].iter().all(|&i| b[i].is_ascii_digit()) {
            return Err(bad());
        }
        let d = |i: usize| b[i] - b'0';
        ClockTime::new(d(0) * 10 + d(1), d(3) * 10 + d(4)).map_err(|_| bad())
    }
}

/// The clock times of a `fixed_times` schedule: 1 to 24 given, kept sorted and distinct.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FixedTimes(Vec<ClockTime>);

impl FixedTimes {
    pub const MAX: usize = 24;

    /// Refuses an empty list or one of more than 24 entries; sorts and drops repeats
    /// (each listed time is taken once).
    pub fn new(mut times: Vec<ClockTime>) -> Result<Self, InvalidStep> {
        if times.is_empty() || times.len() > Self::MAX {
            return Err(InvalidStep::TimesCount(times.len()));
        }
        times.sort_unstable();
        times.dedup();
        Ok(FixedTimes(times))
    }

    pub fn as_slice(&self) -> &[ClockTime] {
        &self.0
    }
}

/// Doses a day of a `times_per_day` schedule, 1 to 24.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimesPerDay(u8);

impl TimesPerDay {
    pub const MAX: u8 = 24;

    pub fn new(n: i64) -> Result<Self, InvalidStep> {
        match u8::try_from(n) {
            Ok(v) if (1..=Self::MAX).contains(&v) => Ok(TimesPerDay(v)),
            _ => Err(InvalidStep::TimesPerDay(n)),
        }
    }

    pub fn get(self) -> u8 {
        self.0
    }
}

/// Hours between doses of an `interval` schedule, 1 to 8760 (a year).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IntervalHours(u16);

impl IntervalHours {
    pub const MAX: u16 = 8760;

    pub fn new(n: i64) -> Result<Self, InvalidStep> {
        match u16::try_from(n) {
            Ok(v) if (1..=Self::MAX).contains(&v) => Ok(IntervalHours(v)),
            _ => Err(InvalidStep::IntervalHours(n)),
        }
    }

    pub fn get(self) -> u16 {
        self.0
    }
}

/// When a step's reminders repeat (the `schedule` shapes of shared/extraction.md).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Schedule {
    /// The listed local clock times, every day.
    FixedTimes(FixedTimes),
    /// N doses a day spread over the waking window, both ends included.
    TimesPerDay(TimesPerDay),
    /// Every H hours of elapsed time from the start.
    Interval(IntervalHours),
}

impl Schedule {
    pub fn fixed_times(times: Vec<ClockTime>) -> Result<Self, InvalidStep> {
        FixedTimes::new(times).map(Schedule::FixedTimes)
    }

    pub fn times_per_day(n: i64) -> Result<Self, InvalidStep> {
        TimesPerDay::new(n).map(Schedule::TimesPerDay)
    }

    pub fn every_hours(n: i64) -> Result<Self, InvalidStep> {
        IntervalHours::new(n).map(Schedule::Interval)
    }
}

/// How long a step lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Duration {
    /// `{"days": D}`, 1 to 3650.
    Days(u16),
    /// `{"occurrences": N}`, 1 to 10000.
    Occurrences(u16),
    /// `null`: no end.
    Open,
}

impl Duration {
    pub const MAX_DAYS: u16 = 3650;
    pub const MAX_OCCURRENCES: u16 = 10_000;

    pub fn days(d: i64) -> Result<Self, InvalidStep> {
        match u16::try_from(d) {
            Ok(v) if (1..=Self::MAX_DAYS).contains(&v) => Ok(Duration::Days(v)),
            _ => Err(InvalidStep::Days(d)),
        }
    }

    pub fn occurrences(n: i64) -> Result<Self, InvalidStep> {
        match u16::try_from(n) {
            Ok(v) if (1..=Self::MAX_OCCURRENCES).contains(&v) => Ok(Duration::Occurrences(v)),
            _ => Err(InvalidStep::Occurrences(n)),
        }
    }
}

/// The part of the day a `times_per_day` schedule spreads its doses over; it ends after it
/// begins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct WakingWindow {
    start: ClockTime,
    end: ClockTime,
}

impl WakingWindow {
    pub fn new(start: ClockTime, end: ClockTime) -> Result<Self, InvalidStep> {
        if end > start {
            Ok(WakingWindow { start, end })
        } else {
            Err(InvalidStep::WakingWindow { start, end })
        }
    }

    pub fn start(self) -> ClockTime {
        self.start
    }

    pub fn end(self) -> ClockTime {
        self.end
    }
}

impl Default for WakingWindow {
    /// 08:00 to 20:00.
    fn default() -> Self {
        WakingWindow {
            start: ClockTime::from_minutes(8 * 60),
            end: ClockTime::from_minutes(20 * 60),
        }
    }
}

/// One plan step, ready to be turned into instants with [`Step::occurrences`].
#[derive(Debug, Clone)]
pub struct Step {
    pub(crate) schedule: Schedule,
    pub(crate) duration: Duration,
    pub(crate) start: Timestamp,
    pub(crate) zone: TimeZone,
    pub(crate) window: WakingWindow,
    pub(crate) missed: u32,
}

impl Step {
    /// A step with the default waking window (08:00–20:00) and no missed doses.
    ///
    /// `start` is taken to the whole second (rounded down), since instants are whole
    /// seconds.
    pub fn new(schedule: Schedule, duration: Duration, start: Timestamp, zone: TimeZone) -> Self {
        let start = Timestamp::from_second(start.as_second()).unwrap_or(start);
        Step {
            schedule,
            duration,
            start,
            zone,
            window: WakingWindow::default(),
            missed: 0,
        }
    }

    #[must_use]
    pub fn with_waking_window(mut self, window: WakingWindow) -> Self {
        self.window = window;
        self
    }

    /// Doses missed so far: each adds one instant at the end of a bounded course.
    #[must_use]
    pub fn with_missed(mut self, missed: u32) -> Self {
        self.missed = missed;
        self
    }

    pub fn schedule(&self) -> &Schedule {
        &self.schedule
    }

    pub fn duration(&self) -> Duration {
        self.duration
    }

    pub fn start(&self) -> Timestamp {
        self.start
    }

    pub fn zone(&self) -> &TimeZone {
        &self.zone
    }

    pub fn waking_window(&self) -> WakingWindow {
        self.window
    }

    pub fn missed(&self) -> u32 {
        self.missed
    }

    /// The local clock times of one day, sorted and distinct (empty for `interval`).
    ///
    /// `times_per_day` N over the window [a, b]: a for N = 1, otherwise
    /// a + ⌊i·(b − a)/(N − 1)⌋ minutes for i = 0 … N − 1. A window too short for N
    /// distinct minutes gives fewer slots.
    pub fn daily_slots(&self) -> Vec<ClockTime> {
        match &self.schedule {
            Schedule::FixedTimes(times) => times.as_slice().to_vec(),
            Schedule::TimesPerDay(n) => {
                let n = u32::from(n.get());
                let a = u32::from(self.window.start.minutes);
                let b = u32::from(self.window.end.minutes);
                let mut slots: Vec<ClockTime> = if n == 1 {
                    vec![ClockTime::from_minutes(a as u16)]
                } else {
                    (0..n)
                        .map(|i| ClockTime::from_minutes((a + i * (b - a) / (n - 1)) as u16))
                        .collect()
                };
                slots.dedup();
                slots
            }
            Schedule::Interval(_) => Vec::new(),
        }
    }

    /// How many instants the step has: `None` when it has no end.
    ///
    /// `occurrences` N: N. `days` D: D × slots a day, or ⌈D·24 / H⌉ for `interval`.
    /// Then each missed dose adds one.
    pub fn count(&self) -> Option<u64> {
        let base = match (self.duration, &self.schedule) {
            (Duration::Open, _) => return None,
            (Duration::Occurrences(n), _) => u64::from(n),
            (Duration::Days(d), Schedule::Interval(h)) => {
                (u64::from(d) * 24).div_ceil(u64::from(h.get()))
            }
            (Duration::Days(d), _) => u64::from(d) * self.daily_slots().len() as u64,
        };
        Some(base + u64::from(self.missed))
    }
}
