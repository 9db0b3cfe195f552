use crate::{
    ClockTime, ClockTimes, DurationDays, IntervalHours, Occurrences, Source, TimesPerDay, Title,
    MAX_STEPS,
};

/// Why a value cannot be a step or a part of one. Each message names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidStep {
    /// Not `HH:MM` with two digits each, or past 23:59 (the text is cut to 16 characters).
    #[error("clock time {0:?} is not a 24-hour HH:MM time (00:00 to 23:59)")]
    ClockTime(String),
    /// A fixed-times schedule with no times, or more than [`ClockTimes::MAX`].
    #[error("times has {0} entries; a fixed-times schedule has 1 to {max}", max = ClockTimes::MAX)]
    TimesCount(usize),
    /// A fixed-times schedule that lists a time twice.
    #[error("times lists {0} twice")]
    DuplicateTime(ClockTime),
    #[error("times_per_day {0} is outside 1..={max}", max = TimesPerDay::MAX)]
    TimesPerDay(i64),
    #[error("every_hours {0} is outside 1..={max}", max = IntervalHours::MAX)]
    IntervalHours(i64),
    #[error("days {0} is outside 1..={max}", max = DurationDays::MAX)]
    Days(i64),
    #[error("occurrences {0} is outside 1..={max}", max = Occurrences::MAX)]
    Occurrences(i64),
    /// A title with nothing but white space.
    #[error("title is empty")]
    EmptyTitle,
    #[error("title has {0} characters, more than {max}", max = Title::MAX_CHARS)]
    TitleTooLong(usize),
    /// A title is one line: no line breaks, tabs or other control characters.
    #[error("title contains a control character")]
    TitleControl,
    /// A source with nothing but white space.
    #[error("source is empty")]
    EmptySource,
    #[error("source has {0} characters, more than {max}", max = Source::MAX_CHARS)]
    SourceTooLong(usize),
    /// More than [`MAX_STEPS`] checklist items, or plan steps.
    #[error("{list} has {count} steps, more than {MAX_STEPS}")]
    TooManySteps { list: &'static str, count: usize },
}
