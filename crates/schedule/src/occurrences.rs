//! The lazy iterator of a step's instants.
//!
//! Daily schedules resolve one local day at a time into a small fixed buffer (no
//! allocation per day or per instant); intervals add a fixed number of seconds. Either
//! way the next instant costs a few zone look-ups at most, and an open-ended step costs
//! nothing until it is asked for more.

use std::iter::FusedIterator;

use hospital_steps::{ClockTime, Schedule};
use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;
use jiff::Timestamp;

use crate::step::Step;

/// Most slots a day can have (24 fixed times, or 24 doses a day).
const MAX_SLOTS: usize = 24;

/// The instants of a step, ascending and distinct: see [`Step::occurrences`].
#[derive(Debug, Clone)]
pub struct Occurrences {
    /// Instants still to give; `None` when the step has no end.
    remaining: Option<u64>,
    kind: Kind,
}

#[derive(Debug, Clone)]
enum Kind {
    Daily(Box<Daily>),
    Interval {
        /// The next instant, in seconds since the Unix epoch.
        next: i64,
        /// Seconds between two instants.
        every: i64,
    },
    /// Past the end of the representable time line.
    Done,
}

#[derive(Debug, Clone)]
struct Daily {
    zone: TimeZone,
    slots: [Time; MAX_SLOTS],
    slot_count: usize,
    /// The local date whose slots are resolved next; `None` past the year 9999.
    date: Option<Date>,
    /// The resolved, sorted, distinct instants of the last day still to give.
    day: [Timestamp; MAX_SLOTS],
    day_len: usize,
    day_pos: usize,
    /// An instant is given only if it is at or after this: the start at first, then one
    /// second after the last instant given (instants are whole seconds).
    floor: Timestamp,
}

impl Step {
    /// The step's instants, lazily: the first at or after the start, then each following
    /// one, as many as [`Step::count`] says (without end for an open-ended step).
    ///
    /// Daily slots are local wall times in the step's zone, day after day from the local
    /// date of the start. A time in a gap moves forward by the length of the gap; a time
    /// that occurs twice is the first of the two (jiff's "compatible" disambiguation).
    /// Within a day the instants are taken in time order and an instant never counts
    /// twice. The iterator ends early only at the end of the time line jiff can represent
    /// (year 9999).
    pub fn occurrences(&self) -> Occurrences {
        let remaining = self.count();
        let kind = match &self.schedule {
            Schedule::Interval { every_hours } => Kind::Interval {
                next: self.start.as_second(),
                every: i64::from(every_hours.get()) * 3600,
            },
            Schedule::FixedTimes { .. } | Schedule::TimesPerDay { .. } => {
                let mut slots = [Time::midnight(); MAX_SLOTS];
                let clock = self.daily_slots();
                for (slot, t) in slots.iter_mut().zip(&clock) {
                    *slot = civil(*t);
                }
                Kind::Daily(Box::new(Daily {
                    zone: self.zone.clone(),
                    slots,
                    slot_count: clock.len().min(MAX_SLOTS),
                    date: Some(self.zone.to_datetime(self.start).date()),
                    day: [Timestamp::UNIX_EPOCH; MAX_SLOTS],
                    day_len: 0,
                    day_pos: 0,
                    floor: self.start,
                }))
            }
        };
        Occurrences { remaining, kind }
    }
}

/// The same wall time as a jiff civil time.
#[allow(clippy::cast_possible_wrap)] // hour < 24 and minute < 60 fit in an i8
fn civil(t: ClockTime) -> Time {
    Time::constant(t.hour() as i8, t.minute() as i8, 0, 0)
}

impl Daily {
    /// The next instant: from the current day's buffer, or from the next day that has one.
    fn next(&mut self) -> Option<Timestamp> {
        while self.day_pos == self.day_len {
            self.resolve_day()?;
        }
        let t = self.day[self.day_pos];
        self.day_pos += 1;
        // Instants are whole seconds: the next one is at least a second later.
        self.floor = t
            .checked_add(jiff::SignedDuration::from_secs(1))
            .unwrap_or(Timestamp::MAX);
        Some(t)
    }

    /// Resolves the slots of `self.date` into instants at or after the floor, sorted and
    /// distinct, and moves to the next date. `None` past the year 9999.
    fn resolve_day(&mut self) -> Option<()> {
        let date = self.date?;
        self.date = date.tomorrow().ok();
        let mut len = 0;
        for &slot in &self.slots[..self.slot_count] {
            let Ok(t) = self
                .zone
                .to_ambiguous_timestamp(date.to_datetime(slot))
                .compatible()
            else {
                continue;
            };
            if t >= self.floor {
                self.day[len] = t;
                len += 1;
            }
        }
        let day = &mut self.day[..len];
        // Usually already in order; a gap can reorder (02:30 → 03:30 after 03:15).
        if !day.is_sorted() {
            day.sort_unstable();
        }
        let mut kept = 0;
        for i in 0..len {
            if kept == 0 || self.day[i] != self.day[kept - 1] {
                self.day[kept] = self.day[i];
                kept += 1;
            }
        }
        self.day_len = kept;
        self.day_pos = 0;
        Some(())
    }
}

impl Iterator for Occurrences {
    type Item = Timestamp;

    fn next(&mut self) -> Option<Timestamp> {
        if self.remaining == Some(0) {
            return None;
        }
        let t = match &mut self.kind {
            Kind::Daily(daily) => daily.next(),
            Kind::Interval { next, every } => {
                let t = Timestamp::from_second(*next).ok();
                match next.checked_add(*every) {
                    Some(n) => *next = n,
                    None => self.kind = Kind::Done,
                }
                t
            }
            Kind::Done => None,
        };
        if let Some(t) = t {
            if let Some(r) = &mut self.remaining {
                *r -= 1;
            }
            Some(t)
        } else {
            self.kind = Kind::Done;
            self.remaining = Some(0);
            None
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match self.remaining {
            Some(r) => (0, Some(usize::try_from(r).unwrap_or(usize::MAX))),
            None => (0, None),
        }
    }
}

impl FusedIterator for Occurrences {}
