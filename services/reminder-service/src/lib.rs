//! The reminder-service: sends plan steps' reminders when they fall due.
//!
//! Two ways to run the binary:
//!
//! - `reminder-service` (or `reminder-service serve`): the server. [`startup::Application`]
//!   consumes the user and assignment events into the service's copy of its users in Redis
//!   ([`store`], [`events`]) and serves `/healthz`, `/readyz` and `/metrics`. Settings come
//!   from `REMINDER__*` variables ([`settings`]).
//! - `reminder-service schedule`: the command of shared/schedule.md — one step as JSON on
//!   stdin, its instants on stdout, one RFC 3339 UTC instant a line — built on the schedule
//!   engine (`hospital-schedule`); `main.rs` wires the process's stdin, stdout, stderr and
//!   exit code to [`run`].

pub mod clock;
pub mod dispatch;
pub mod domain;
pub mod events;
pub mod metrics;
pub mod planner;
pub mod routes;
pub mod settings;
pub mod startup;
pub mod store;

pub use settings::Settings;
pub use startup::Application;

use std::fmt::Write as _;
use std::io::Read;

use hospital_schedule::{InvalidWakingWindow, Step, WakingWindow};
use hospital_steps::{InvalidStep, UncheckedDuration, UncheckedSchedule};
use serde::Deserialize;

/// The most bytes of stdin a step may take; a step is a few hundred bytes.
pub const MAX_INPUT_BYTES: usize = 64 * 1024;

/// `limit` when the step does not say.
pub const DEFAULT_LIMIT: u32 = 1000;

/// The largest `limit` accepted.
pub const MAX_LIMIT: u32 = 100_000;

const USAGE: &str = "usage: reminder-service [serve]\n  runs the server (settings from REMINDER__* variables)\nusage: reminder-service schedule\n  reads one plan step as JSON on stdin, prints its reminder instants (RFC 3339 UTC, one a line) on stdout";

/// Why the command refused to work. Each has a stable `code`; all but I/O failures are
/// the caller's (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error("{USAGE}")]
    Usage,
    #[error("unknown command {0:?}; {USAGE}")]
    UnknownCommand(String),
    #[error("the input is over {MAX_INPUT_BYTES} bytes")]
    InputTooLarge,
    #[error("the input is not valid UTF-8")]
    InvalidUtf8,
    #[error("{0}")]
    InvalidJson(String),
    #[error("{0}")]
    UnknownField(String),
    #[error("{0}")]
    UnknownKind(String),
    #[error("unknown time zone {0:?}: expected an IANA name such as Europe/London")]
    UnknownTimezone(String),
    #[error(
        "start {0:?} is not an RFC 3339 instant with an offset such as 2026-03-07T14:05:00Z: {1}"
    )]
    InvalidStart(String, String),
    #[error("missed {0} is outside 0..={max}", max = u32::MAX)]
    Missed(i64),
    #[error("limit {0} is outside 1..={MAX_LIMIT}")]
    Limit(i64),
    #[error(transparent)]
    Step(#[from] InvalidStep),
    #[error(transparent)]
    WakingWindow(#[from] InvalidWakingWindow),
    #[error("could not read the step from stdin: {0}")]
    Read(#[from] std::io::Error),
}

impl CommandError {
    /// The stable code of the JSON error.
    pub fn code(&self) -> &'static str {
        match self {
            CommandError::Usage => "usage",
            CommandError::UnknownCommand(_) => "unknown_command",
            CommandError::InputTooLarge => "input_too_large",
            CommandError::InvalidUtf8 | CommandError::InvalidJson(_) => "invalid_json",
            CommandError::UnknownField(_) => "unknown_field",
            CommandError::UnknownKind(_) => "unknown_kind",
            CommandError::UnknownTimezone(_) => "unknown_timezone",
            CommandError::InvalidStart(..) => "invalid_start",
            CommandError::Missed(_) => "missed_out_of_range",
            CommandError::Limit(_) => "limit_out_of_range",
            CommandError::Step(e) => match e {
                InvalidStep::ClockTime(_) => "invalid_time",
                InvalidStep::TimesCount(_) => "times_count_out_of_range",
                InvalidStep::TimesPerDay(_) => "times_per_day_out_of_range",
                InvalidStep::IntervalHours(_) => "every_hours_out_of_range",
                InvalidStep::Days(_) => "days_out_of_range",
                InvalidStep::Occurrences(_) => "occurrences_out_of_range",
                // Not reachable from a step of this command: it takes a time listed twice
                // once, and has no titles, sources or lists of steps.
                InvalidStep::DuplicateTime(_)
                | InvalidStep::EmptyTitle
                | InvalidStep::TitleTooLong(_)
                | InvalidStep::TitleControl
                | InvalidStep::EmptySource
                | InvalidStep::SourceTooLong(_)
                | InvalidStep::TooManySteps { .. } => "invalid_step",
            },
            CommandError::WakingWindow(_) => "invalid_waking_window",
            CommandError::Read(_) => "read_failed",
        }
    }

    /// The process exit code: 2 for anything the caller got wrong, 1 for I/O failures.
    pub fn exit_code(&self) -> u8 {
        match self {
            CommandError::Read(_) => 1,
            _ => 2,
        }
    }

    /// The one-line JSON error of shared/schedule.md: `{"error": {"code", "message"}}`.
    pub fn to_json(&self) -> String {
        serde_json::json!({"error": {"code": self.code(), "message": self.to_string()}}).to_string()
    }
}

/// The step as the command reads it (shared/schedule.md "Input"); unknown fields refused.
///
/// `schedule` and `duration` are the step vocabulary's shapes read unchecked, so that
/// [`into_request`](Self::into_request) gets each broken bound as a typed
/// [`InvalidStep`] with its own error code.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepInput {
    pub schedule: UncheckedSchedule,
    /// Required, `null` for no end.
    #[serde(deserialize_with = "Option::deserialize")]
    pub duration: Option<UncheckedDuration>,
    pub start: String,
    pub timezone: String,
    #[serde(default)]
    pub waking_window: Option<[String; 2]>,
    #[serde(default)]
    pub missed: Option<i64>,
    #[serde(default)]
    pub limit: Option<i64>,
}

/// A checked step and how many of its instants to print.
#[derive(Debug)]
pub struct Request {
    pub step: Step,
    pub limit: u32,
}

impl StepInput {
    /// Checks every part and builds the typed step.
    pub fn into_request(self) -> Result<Request, CommandError> {
        // shared/schedule.md takes the listed times "once each": a repeat is no error here.
        let schedule = self.schedule.check_distinct()?;
        let duration = self.duration.map(UncheckedDuration::check).transpose()?;
        let zone = jiff::tz::TimeZone::get(&self.timezone)
            .map_err(|_| CommandError::UnknownTimezone(truncate(&self.timezone)))?;
        let start: jiff::Timestamp = self.start.parse().map_err(|e: jiff::Error| {
            CommandError::InvalidStart(truncate(&self.start), e.to_string())
        })?;
        let window = match &self.waking_window {
            None => WakingWindow::default(),
            Some([a, b]) => WakingWindow::new(a.parse()?, b.parse()?)?,
        };
        let missed = self.missed.unwrap_or(0);
        let missed = u32::try_from(missed).map_err(|_| CommandError::Missed(missed))?;
        let limit = self.limit.unwrap_or(i64::from(DEFAULT_LIMIT));
        let limit = match u32::try_from(limit) {
            Ok(l) if (1..=MAX_LIMIT).contains(&l) => l,
            _ => return Err(CommandError::Limit(limit)),
        };
        let step = Step::new(schedule, duration, start, zone)
            .with_waking_window(window)
            .with_missed(missed);
        Ok(Request { step, limit })
    }
}

/// At most 64 characters of a caller's string, for a message.
fn truncate(s: &str) -> String {
    s.chars().take(64).collect()
}

/// Reads at most [`MAX_INPUT_BYTES`] bytes whatever is sent.
pub fn read_input(input: impl Read) -> Result<String, CommandError> {
    let mut bytes = Vec::new();
    input
        .take(MAX_INPUT_BYTES as u64 + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() > MAX_INPUT_BYTES {
        return Err(CommandError::InputTooLarge);
    }
    String::from_utf8(bytes).map_err(|_| CommandError::InvalidUtf8)
}

/// Parses a step's JSON, sorting serde's complaints into the error codes.
pub fn parse_step(json: &str) -> Result<Request, CommandError> {
    let input: StepInput = serde_json::from_str(json).map_err(|e| {
        let message = e.to_string();
        if message.starts_with("unknown field") {
            CommandError::UnknownField(message)
        } else if message.starts_with("unknown variant") {
            CommandError::UnknownKind(message)
        } else {
            CommandError::InvalidJson(message)
        }
    })?;
    input.into_request()
}

/// The instants of a request, one RFC 3339 UTC instant a line (whole seconds, `Z`).
pub fn render(request: &Request) -> String {
    let mut out = String::new();
    for t in request.step.occurrences().take(request.limit as usize) {
        // Writing to a String cannot fail.
        let _ = writeln!(out, "{}", t.strftime("%Y-%m-%dT%H:%M:%SZ"));
    }
    out
}

/// `reminder-service schedule`: a step in, its instants out.
pub fn run(args: &[String], input: impl Read) -> Result<String, CommandError> {
    match args.first().map(String::as_str) {
        Some("schedule") if args.len() == 1 => {}
        Some("-h" | "--help" | "help") => return Ok(format!("{USAGE}\n")),
        Some("schedule") | None => return Err(CommandError::Usage),
        Some(other) => return Err(CommandError::UnknownCommand(truncate(other))),
    }
    let json = read_input(input)?;
    let request = parse_step(&json)?;
    Ok(render(&request))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(json: &str) -> &'static str {
        parse_step(json).unwrap_err().code()
    }

    const OK: &str = r#"{"schedule": {"kind": "times_per_day", "times_per_day": 2}, "duration": {"days": 1}, "start": "2026-09-01T00:00:00Z", "timezone": "UTC"}"#;

    #[test]
    fn reads_a_step_with_defaults() {
        let r = parse_step(OK).unwrap();
        assert_eq!(r.limit, DEFAULT_LIMIT);
        assert_eq!(render(&r), "2026-09-01T08:00:00Z\n2026-09-01T20:00:00Z\n");
    }

    #[test]
    fn sorts_serde_complaints_into_codes() {
        assert_eq!(code("{"), "invalid_json");
        assert_eq!(code(&OK.replace("\"timezone\"", "\"tz\"")), "unknown_field");
        assert_eq!(
            code(&OK.replace("times_per_day\",", "hourly\",")),
            "unknown_kind"
        );
        assert_eq!(code(&OK.replace("\"days\"", "\"weeks\"")), "unknown_kind");
        assert_eq!(
            code(&OK.replace(r#""duration": {"days": 1}, "#, "")),
            "invalid_json"
        );
        assert_eq!(code(&OK.replace("2}", "2, \"x\": 1}")), "unknown_field");
    }

    #[test]
    fn input_is_bounded() {
        let huge = vec![b' '; 10 * MAX_INPUT_BYTES];
        assert!(matches!(
            read_input(&huge[..]),
            Err(CommandError::InputTooLarge)
        ));
        assert!(matches!(
            read_input(&[0xff][..]),
            Err(CommandError::InvalidUtf8)
        ));
    }
}
