//! The typed input of the engine: a plan step whose every part is already valid.
//!
//! The schedule and duration are the step vocabulary's (`hospital-steps`), valid by
//! construction; the waking window, the start, the zone and the missed doses are the
//! engine's own, and the window is checked here when it is built.

use hospital_steps::{ClockTime, Duration, Schedule};
use jiff::tz::TimeZone;
use jiff::Timestamp;

/// 08:00 and 20:00, the default waking window's ends.
const EIGHT: ClockTime = clock(8 * 60);
const TWENTY: ClockTime = clock(20 * 60);

/// A clock time known at compile time (a bad one fails the build, not the program).
const fn clock(minutes: u16) -> ClockTime {
    match ClockTime::from_minutes(minutes) {
        Some(t) => t,
        None => panic!("not a clock time"),
    }
}

/// A waking window that does not end after it begins.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the waking window {start}–{end} does not end after it begins")]
pub struct InvalidWakingWindow {
    pub start: ClockTime,
    pub end: ClockTime,
}

/// The part of the day a `times_per_day` schedule spreads its doses over; it ends after it
/// begins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct WakingWindow {
    start: ClockTime,
    end: ClockTime,
}

impl WakingWindow {
    pub fn new(start: ClockTime, end: ClockTime) -> Result<Self, InvalidWakingWindow> {
        if end > start {
            Ok(WakingWindow { start, end })
        } else {
            Err(InvalidWakingWindow { start, end })
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
            start: EIGHT,
            end: TWENTY,
        }
    }
}

/// One plan step, ready to be turned into instants with [`Step::occurrences`].
#[derive(Debug, Clone)]
pub struct Step {
    pub(crate) schedule: Schedule,
    /// `None` when the step has no end.
    pub(crate) duration: Option<Duration>,
    pub(crate) start: Timestamp,
    pub(crate) zone: TimeZone,
    pub(crate) window: WakingWindow,
    pub(crate) missed: u32,
}

impl Step {
    /// A step with the default waking window (08:00–20:00) and no missed doses; `duration`
    /// is `None` for an open-ended step.
    ///
    /// `start` is taken to the whole second (rounded down), since instants are whole
    /// seconds.
    pub fn new(
        schedule: Schedule,
        duration: Option<Duration>,
        start: Timestamp,
        zone: TimeZone,
    ) -> Self {
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

    /// `None` when the step has no end.
    pub fn duration(&self) -> Option<Duration> {
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
            Schedule::FixedTimes { times } => times.as_slice().to_vec(),
            Schedule::TimesPerDay { times_per_day } => {
                let n = times_per_day.get();
                let a = u32::from(self.window.start.minutes());
                let b = u32::from(self.window.end.minutes());
                // Each slot is within [a, b], so a clock time.
                let slot = |minutes: u32| ClockTime::from_minutes(minutes as u16);
                let mut slots: Vec<ClockTime> = if n == 1 {
                    slot(a).into_iter().collect()
                } else {
                    (0..n)
                        .filter_map(|i| slot(a + i * (b - a) / (n - 1)))
                        .collect()
                };
                slots.dedup();
                slots
            }
            Schedule::Interval { .. } => Vec::new(),
        }
    }

    /// How many instants the step has: `None` when it has no end.
    ///
    /// `occurrences` N: N. `days` D: D × slots a day, or ⌈D·24 / H⌉ for `interval`.
    /// Then each missed dose adds one.
    pub fn count(&self) -> Option<u64> {
        let base = match (self.duration?, &self.schedule) {
            (Duration::Occurrences(n), _) => u64::from(n.get()),
            (Duration::Days(d), Schedule::Interval { every_hours }) => {
                (u64::from(d.get()) * 24).div_ceil(u64::from(every_hours.get()))
            }
            (Duration::Days(d), _) => u64::from(d.get()) * self.daily_slots().len() as u64,
        };
        Some(base + u64::from(self.missed))
    }
}
