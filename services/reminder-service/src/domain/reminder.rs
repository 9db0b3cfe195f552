//! Reminder ids and the record of one occurrence.
//!
//! A reminder is occurrence `n` (0, 1, 2, …) of a plan step. Its id is a UUID made of the
//! first 12 bytes of the step id (the step's *stem*) and `n` as 4 big-endian bytes, so the id
//! alone says where the reminder lives (`<prefix>step:<stem>`, field `o<n>`): no index from
//! reminder ids to steps is needed, which keeps Redis at a few dozen bytes per reminder. The
//! same occurrence always has the same id, which is what makes delivery idempotent.

use std::fmt;
use std::str::FromStr;

use uuid::Uuid;

/// The first 12 bytes of a step id, as 24 lowercase hex digits: the step's key in Redis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StepStem([u8; 12]);

impl StepStem {
    pub fn of(step_id: Uuid) -> Self {
        let mut stem = [0; 12];
        stem.copy_from_slice(&step_id.as_bytes()[..12]);
        Self(stem)
    }
}

impl fmt::Display for StepStem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// Occurrence `n` of the step with stem `stem`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReminderId {
    pub stem: StepStem,
    pub n: u32,
}

impl ReminderId {
    pub fn new(step_id: Uuid, n: u32) -> Self {
        Self {
            stem: StepStem::of(step_id),
            n,
        }
    }

    pub fn to_uuid(self) -> Uuid {
        let mut bytes = [0; 16];
        bytes[..12].copy_from_slice(&self.stem.0);
        bytes[12..].copy_from_slice(&self.n.to_be_bytes());
        Uuid::from_bytes(bytes)
    }

    pub fn from_uuid(id: Uuid) -> Self {
        let bytes = id.as_bytes();
        let mut n = [0; 4];
        n.copy_from_slice(&bytes[12..]);
        let mut stem = [0; 12];
        stem.copy_from_slice(&bytes[..12]);
        Self {
            stem: StepStem(stem),
            n: u32::from_be_bytes(n),
        }
    }
}

impl fmt::Display for ReminderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.to_uuid().hyphenated().fmt(f)
    }
}

/// Where an occurrence stands, as stored (one letter in Redis).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OccurrenceState {
    /// `p`: scheduled, not sent yet.
    Pending,
    /// `s`: sent to the feed and published; waiting for the check-in.
    Sent,
    /// `d`: checked in.
    Done,
    /// `m`: the grace period ended without a check-in.
    Missed,
    /// `c`: cancelled by a newer note before it was sent.
    Cancelled,
}

impl OccurrenceState {
    pub fn letter(self) -> char {
        match self {
            Self::Pending => 'p',
            Self::Sent => 's',
            Self::Done => 'd',
            Self::Missed => 'm',
            Self::Cancelled => 'c',
        }
    }

    fn from_letter(letter: &str) -> Option<Self> {
        Some(match letter {
            "p" => Self::Pending,
            "s" => Self::Sent,
            "d" => Self::Done,
            "m" => Self::Missed,
            "c" => Self::Cancelled,
            _ => return None,
        })
    }
}

/// One occurrence: its due instant (seconds since the Unix epoch), grace period (seconds),
/// state and check-in instant. Its text form (`Display`, `FromStr`) is
/// `<due>|<grace>|<state>|<checked in at>`, the last part empty until a check-in: what the
/// service hands the scripts, and how older steps store it. A step stores it in fewer bytes
/// (see [`OccurrenceRecord::from_stored`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OccurrenceRecord {
    pub due: i64,
    pub grace: i64,
    pub state: OccurrenceState,
    pub checked_in_at: Option<i64>,
}

impl OccurrenceRecord {
    pub fn pending(due: i64, grace: i64) -> Self {
        Self {
            due,
            grace,
            state: OccurrenceState::Pending,
            checked_in_at: None,
        }
    }

    /// What the API shows at `now` (seconds).
    pub fn status_at(&self, now: i64) -> ReminderStatus {
        match self.state {
            OccurrenceState::Pending | OccurrenceState::Sent if now < self.due => {
                ReminderStatus::Upcoming
            }
            OccurrenceState::Pending | OccurrenceState::Sent => ReminderStatus::Due,
            OccurrenceState::Done => ReminderStatus::Done,
            OccurrenceState::Missed => ReminderStatus::Missed,
            OccurrenceState::Cancelled => ReminderStatus::Cancelled,
        }
    }

    pub fn grace_ends_at(&self) -> i64 {
        self.due.saturating_add(self.grace)
    }
}

impl fmt::Display for OccurrenceRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}|{}|{}|", self.due, self.grace, self.state.letter())?;
        if let Some(at) = self.checked_in_at {
            write!(f, "{at}")?;
        }
        Ok(())
    }
}

impl OccurrenceRecord {
    /// Reads an occurrence as a step stores it: `<due>:<grace>:<state>:<checked in at>`,
    /// due and check-in as seconds after the step's `start` (a record of 10 occurrences is
    /// then half the bytes, which brings a step's hash under an allocation size class), or
    /// the text form, as steps stored before hold it.
    pub fn from_stored(stored: &str, start: Option<i64>) -> Result<Self, MalformedRecord> {
        if stored.contains(':') {
            Self::from_parts(stored, ':', start.ok_or(MalformedRecord)?)
        } else {
            stored.parse()
        }
    }

    /// `<due><sep><grace><sep><state><sep><checked in at>`, the instants `base` + seconds.
    fn from_parts(text: &str, sep: char, base: i64) -> Result<Self, MalformedRecord> {
        let mut parts = text.split(sep);
        let mut next = || parts.next().ok_or(MalformedRecord);
        let instant = |part: &str| -> Result<i64, MalformedRecord> {
            let seconds: i64 = part.parse().map_err(|_| MalformedRecord)?;
            base.checked_add(seconds).ok_or(MalformedRecord)
        };
        let due = instant(next()?)?;
        let grace = next()?.parse().map_err(|_| MalformedRecord)?;
        let state = OccurrenceState::from_letter(next()?).ok_or(MalformedRecord)?;
        let at = next()?;
        let checked_in_at = if at.is_empty() {
            None
        } else {
            Some(instant(at)?)
        };
        if parts.next().is_some() {
            return Err(MalformedRecord);
        }
        Ok(Self {
            due,
            grace,
            state,
            checked_in_at,
        })
    }
}

/// A stored occurrence that does not parse: Redis was written by something else.
#[derive(Debug, thiserror::Error)]
#[error("malformed occurrence record")]
pub struct MalformedRecord;

impl FromStr for OccurrenceRecord {
    type Err = MalformedRecord;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_parts(s, '|', 0)
    }
}

/// A reminder's status in the API (`?status=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReminderStatus {
    /// Its due instant is still ahead.
    Upcoming,
    /// Fell due, not checked in yet, grace period not over.
    Due,
    Done,
    Missed,
    /// A newer note replaced its step before it was sent.
    Cancelled,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reminder_id_holds_its_step_stem_and_occurrence() {
        let step: Uuid = "0192f3a4-5b6c-7d8e-9f01-23456789abcd".parse().unwrap();
        let id = ReminderId::new(step, 513);
        assert_eq!(id.to_string(), "0192f3a4-5b6c-7d8e-9f01-234500000201");
        assert_eq!(id.stem.to_string(), "0192f3a45b6c7d8e9f012345");
        assert_eq!(ReminderId::from_uuid(id.to_uuid()), id);
    }

    #[test]
    fn records_round_trip_and_refuse_garbage() {
        let mut r = OccurrenceRecord::pending(1_800_000_000, 3600);
        assert_eq!(r.to_string(), "1800000000|3600|p|");
        assert_eq!(r.to_string().parse::<OccurrenceRecord>().unwrap(), r);
        r.state = OccurrenceState::Done;
        r.checked_in_at = Some(1_800_000_100);
        assert_eq!(r.to_string(), "1800000000|3600|d|1800000100");
        assert_eq!(r.to_string().parse::<OccurrenceRecord>().unwrap(), r);
        for bad in ["", "1|2", "1|2|x|", "a|2|p|", "1|2|p|z", "1|2|p||"] {
            assert!(bad.parse::<OccurrenceRecord>().is_err(), "{bad}");
        }
    }

    #[test]
    fn stored_records_count_from_the_steps_start_and_older_ones_still_read() {
        let start = 1_800_000_000;
        let read = |stored: &str| OccurrenceRecord::from_stored(stored, Some(start));
        assert_eq!(
            read("60:3600:p:").unwrap(),
            OccurrenceRecord::pending(start + 60, 3600)
        );
        let done = read("-5:600:d:100").unwrap();
        assert_eq!(
            (done.due, done.state, done.checked_in_at),
            (start - 5, OccurrenceState::Done, Some(start + 100))
        );
        assert_eq!(
            read("1800000060|3600|p|").unwrap(),
            OccurrenceRecord::pending(start + 60, 3600)
        );
        assert!(OccurrenceRecord::from_stored("60:3600:p:", None).is_err());
        for bad in [
            "60:3600:p",
            "60:3600:x:",
            "a:1:p:",
            "60:3600:p::",
            "1:2:p:z",
        ] {
            assert!(read(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn status_depends_on_the_clock_until_resolved() {
        let r = OccurrenceRecord::pending(100, 10);
        assert_eq!(r.status_at(99), ReminderStatus::Upcoming);
        assert_eq!(r.status_at(100), ReminderStatus::Due);
        assert_eq!(r.status_at(1000), ReminderStatus::Due);
    }
}
