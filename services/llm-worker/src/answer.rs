//! A language model's answer, never trusted: parsed into the step vocabulary and checked
//! against the note it claims to read.
//!
//! The answer is the steps JSON of shared/extraction.md, where a schedule may also carry
//! the fields of the other kinds as `null` (the response schema the providers are given is
//! flat, because Gemini's schema subset has no tagged unions). Accepted: the JSON alone,
//! inside a Markdown code fence, or with prose around it. Refused, each with an
//! [`InvalidAnswer`] that says what to fix (and is sent back to the model once): anything
//! that is not that object, an unknown schedule kind, a count, time or duration out of
//! bounds, an empty or overlong title, and a step whose `source` is not text of the note
//! (compared after white space is normalised) or whose title shares no word with it.

use hospital_steps::{
    ChecklistItem, Duration, InvalidStep, PlanStep, Schedule, Source, Steps, Title,
    UncheckedDuration, UncheckedSchedule, MAX_STEPS,
};
use serde::Deserialize;

/// Why an answer was refused. The messages never quote the answer or the note (they go to
/// logs); they name the step by its list and index.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidAnswer {
    #[error("the answer holds no JSON object")]
    NoJson,
    #[error("the answer is not the steps object: {0}")]
    Shape(String),
    #[error("{list} has {count} steps, more than {MAX_STEPS}")]
    TooManySteps { list: &'static str, count: usize },
    #[error("{list}[{index}]: {problem}")]
    Step {
        list: &'static str,
        index: usize,
        problem: StepProblem,
    },
}

impl InvalidAnswer {
    /// A short label for metrics and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::NoJson => "no_json",
            Self::Shape(_) => "schema",
            Self::TooManySteps { .. } => "too_many_steps",
            Self::Step { problem, .. } => match problem {
                StepProblem::SourceNotInNote => "invented_source",
                StepProblem::TitleNotFromSource => "ungrounded_title",
                StepProblem::Invalid(_)
                | StepProblem::UnknownKind
                | StepProblem::MissingField(_) => "out_of_bounds",
            },
        }
    }
}

/// What is wrong with one step.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StepProblem {
    #[error("source is not a sentence of the note (quote the note's sentence verbatim)")]
    SourceNotInNote,
    #[error("title shares no word with its source sentence")]
    TitleNotFromSource,
    #[error("schedule.kind must be fixed_times, interval or times_per_day")]
    UnknownKind,
    #[error("{0} is required for this schedule kind or duration")]
    MissingField(&'static str),
    #[error("{0}")]
    Invalid(InvalidStepMessage),
}

/// An [`InvalidStep`]'s message without the offending text (a clock time's text could be
/// anything the model wrote).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidStepMessage(String);

impl From<InvalidStep> for InvalidStepMessage {
    fn from(err: InvalidStep) -> Self {
        Self(match err {
            InvalidStep::ClockTime(_) => {
                "a clock time is not a 24-hour HH:MM time (00:00 to 23:59)".to_owned()
            }
            other => other.to_string(),
        })
    }
}

impl std::fmt::Display for InvalidStepMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AnswerWire {
    checklist: Vec<ChecklistWire>,
    plan: Vec<PlanWire>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChecklistWire {
    title: String,
    source: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PlanWire {
    title: String,
    schedule: ScheduleWire,
    duration: Option<DurationWire>,
    source: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScheduleWire {
    kind: String,
    #[serde(default)]
    times: Option<Vec<String>>,
    #[serde(default)]
    every_hours: Option<i64>,
    #[serde(default)]
    times_per_day: Option<i64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DurationWire {
    #[serde(default)]
    days: Option<i64>,
    #[serde(default)]
    occurrences: Option<i64>,
}

/// Parses and checks a model's answer about `note`.
pub fn parse(answer: &str, note: &str) -> Result<Steps, InvalidAnswer> {
    let json = json_object(answer).ok_or(InvalidAnswer::NoJson)?;
    let wire: AnswerWire = serde_json::from_str(json).map_err(|err| {
        // serde's message names the field and the line/column, never the value.
        InvalidAnswer::Shape(shape_message(&err))
    })?;
    for (list, count) in [
        ("checklist", wire.checklist.len()),
        ("plan", wire.plan.len()),
    ] {
        if count > MAX_STEPS {
            return Err(InvalidAnswer::TooManySteps { list, count });
        }
    }
    let note = Normalised::new(note);
    let checklist = wire
        .checklist
        .into_iter()
        .enumerate()
        .map(|(index, item)| {
            let at = |problem| InvalidAnswer::Step {
                list: "checklist",
                index,
                problem,
            };
            let (title, source) = grounded(&note, &item.title, &item.source).map_err(at)?;
            Ok(ChecklistItem { title, source })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let plan = wire
        .plan
        .into_iter()
        .enumerate()
        .map(|(index, step)| {
            let at = |problem| InvalidAnswer::Step {
                list: "plan",
                index,
                problem,
            };
            let (title, source) = grounded(&note, &step.title, &step.source).map_err(at)?;
            let schedule = schedule(step.schedule).map_err(at)?;
            let duration = step.duration.map(duration).transpose().map_err(at)?;
            Ok(PlanStep {
                title,
                schedule,
                duration,
                source,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Steps { checklist, plan })
}

/// The JSON object in an answer: the whole answer, the inside of a code fence, or the span
/// from the first `{` to the last `}`.
fn json_object(answer: &str) -> Option<&str> {
    let trimmed = answer.trim();
    let unfenced = match trimmed.strip_prefix("```") {
        Some(rest) => {
            // Drop the info string ("json") up to the end of the fence's line.
            let body = rest.split_once('\n').map_or("", |(_, body)| body);
            body.trim_end().strip_suffix("```").unwrap_or(body)
        }
        None => trimmed,
    };
    let start = unfenced.find('{')?;
    let end = unfenced.rfind('}')?;
    (start < end).then(|| &unfenced[start..=end])
}

fn shape_message(err: &serde_json::Error) -> String {
    // "invalid type: string \"…\", expected …" would quote the answer: keep serde's
    // category and position only, and the field names it mentions.
    let message = err.to_string();
    let message = match message.find(": string \"") {
        Some(at) => format!("{} (a string)", &message[..at]),
        None => message,
    };
    message.chars().take(300).collect()
}

fn grounded(note: &Normalised, title: &str, source: &str) -> Result<(Title, Source), StepProblem> {
    let source = normalise_whitespace(source);
    let title = Title::new(title.trim()).map_err(|err| StepProblem::Invalid(err.into()))?;
    let source_checked =
        Source::new(source.clone()).map_err(|err| StepProblem::Invalid(err.into()))?;
    if !note.contains_phrase(&source) {
        return Err(StepProblem::SourceNotInNote);
    }
    if !shares_a_word(title.as_str(), &source) {
        return Err(StepProblem::TitleNotFromSource);
    }
    Ok((title, source_checked))
}

fn schedule(wire: ScheduleWire) -> Result<Schedule, StepProblem> {
    let unchecked = match wire.kind.as_str() {
        "fixed_times" => UncheckedSchedule::FixedTimes {
            times: wire.times.ok_or(StepProblem::MissingField("times"))?,
        },
        "interval" => UncheckedSchedule::Interval {
            every_hours: wire
                .every_hours
                .ok_or(StepProblem::MissingField("every_hours"))?,
        },
        "times_per_day" => UncheckedSchedule::TimesPerDay {
            times_per_day: wire
                .times_per_day
                .ok_or(StepProblem::MissingField("times_per_day"))?,
        },
        _ => return Err(StepProblem::UnknownKind),
    };
    unchecked
        .check_distinct()
        .map_err(|err| StepProblem::Invalid(err.into()))
}

fn duration(wire: DurationWire) -> Result<Duration, StepProblem> {
    let unchecked = match (wire.days, wire.occurrences) {
        (Some(days), None) => UncheckedDuration::Days(days),
        (None, Some(doses)) => UncheckedDuration::Occurrences(doses),
        _ => {
            return Err(StepProblem::MissingField(
                "exactly one of days or occurrences",
            ))
        }
    };
    unchecked
        .check()
        .map_err(|err| StepProblem::Invalid(err.into()))
}

/// Runs of white space as one space, trimmed.
fn normalise_whitespace(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The note with normalised white space, for looking sources up in.
struct Normalised(String);

impl Normalised {
    fn new(note: &str) -> Self {
        Self(normalise_whitespace(note))
    }

    /// Whether `phrase` is in the note, starting and ending on word boundaries, with at
    /// least one letter or digit (a lone "." is in every note, and quotes nothing).
    fn contains_phrase(&self, phrase: &str) -> bool {
        if !phrase.chars().any(char::is_alphanumeric) {
            return false;
        }
        let note = self.0.as_str();
        note.match_indices(phrase).any(|(start, matched)| {
            let end = start + matched.len();
            let before = note[..start].chars().next_back();
            let after = note[end..].chars().next();
            let first = matched.chars().next();
            let last = matched.chars().next_back();
            let splits_word = |outside: Option<char>, inside: Option<char>| {
                matches!((outside, inside), (Some(o), Some(i)) if o.is_alphanumeric() && i.is_alphanumeric())
            };
            !splits_word(before, first) && !splits_word(after, last)
        })
    }
}

/// Whether the title names something the source says: a word of three or more letters or
/// digits (or any number) in both, compared without case and loosely on endings
/// ("capsules" and "capsule", "checking" and "check"), so a title may name a medicine the
/// sentence before introduced ("Take amoxicillin 500 mg" for "Take one capsule three times
/// a day") but not be about something its source does not say.
fn shares_a_word(title: &str, source: &str) -> bool {
    let words = |text: &str| -> Vec<String> {
        text.split(|c: char| !c.is_alphanumeric())
            .filter(|word| word.chars().count() >= 3 || word.chars().any(|c| c.is_ascii_digit()))
            .filter(|word| !word.is_empty())
            .map(str::to_lowercase)
            .collect()
    };
    let same_stem = |a: &str, b: &str| {
        if a == b {
            return true;
        }
        let stem = |word: &str| word.chars().take(5).collect::<String>();
        a.chars().count() >= 4
            && b.chars().count() >= 4
            && (a.starts_with(b)
                || b.starts_with(a)
                || (a.chars().count() >= 5 && b.chars().count() >= 5 && stem(a) == stem(b)))
    };
    let source_words = words(source);
    words(title)
        .iter()
        .any(|word| source_words.iter().any(|s| same_stem(word, s)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOTE: &str =
        "Patient seen today.\n Buy amoxicillin 500 mg capsules today.  Take one capsule \
                        three times a day for 7 days. Inhaler: 2 puffs at 08:00 and 20:00.";

    fn good() -> serde_json::Value {
        serde_json::json!({
            "checklist": [{"title": "Buy amoxicillin 500 mg capsules", "source": "Buy amoxicillin 500 mg capsules today."}],
            "plan": [
                {"title": "Take amoxicillin 500 mg", "source": "Take one capsule three times a day for 7 days.",
                 "schedule": {"kind": "times_per_day", "times_per_day": 3, "times": null, "every_hours": null},
                 "duration": {"days": 7, "occurrences": null}},
                {"title": "Inhaler 2 puffs", "source": "Inhaler: 2 puffs at 08:00 and 20:00.",
                 "schedule": {"kind": "fixed_times", "times": ["20:00", "08:00"]}, "duration": null}
            ]
        })
    }

    #[test]
    fn a_good_answer_becomes_steps() {
        let steps = parse(&good().to_string(), NOTE).unwrap();
        assert_eq!(steps.checklist.len(), 1);
        assert_eq!(steps.plan.len(), 2);
        assert_eq!(steps.plan[0].schedule, Schedule::times_per_day(3).unwrap());
        assert_eq!(steps.plan[0].duration, Some(Duration::days(7).unwrap()));
        assert_eq!(steps.plan[1].duration, None);
    }

    #[test]
    fn fences_and_prose_around_the_json_are_accepted() {
        let fenced = format!("```json\n{}\n```", good());
        assert_eq!(parse(&fenced, NOTE).unwrap().plan.len(), 2);
        let chatty = format!("Here are the steps:\n{}\nHope this helps!", good());
        assert_eq!(parse(&chatty, NOTE).unwrap().plan.len(), 2);
    }

    #[test]
    fn sources_match_across_white_space_but_not_inside_words_or_invented() {
        let mut answer = good();
        answer["checklist"][0]["source"] = "Buy amoxicillin\n500 mg   capsules today.".into();
        assert!(parse(&answer.to_string(), NOTE).is_ok());

        answer["checklist"][0]["source"] = "Buy amoxicillin 500 mg capsules tomorrow.".into();
        let err = parse(&answer.to_string(), NOTE).unwrap_err();
        assert_eq!(err.kind(), "invented_source");
        assert_eq!(err.to_string(), "checklist[0]: source is not a sentence of the note (quote the note's sentence verbatim)");

        answer["checklist"][0]["source"] = "uy amoxicillin".into();
        assert_eq!(
            parse(&answer.to_string(), NOTE).unwrap_err().kind(),
            "invented_source"
        );
        answer["checklist"][0]["source"] = ".".into();
        assert_eq!(
            parse(&answer.to_string(), NOTE).unwrap_err().kind(),
            "invented_source"
        );
    }

    #[test]
    fn a_title_must_share_a_word_with_its_source() {
        let mut answer = good();
        answer["checklist"][0]["title"] = "Wire money to the clinic".into();
        assert_eq!(
            parse(&answer.to_string(), NOTE).unwrap_err().kind(),
            "ungrounded_title"
        );
    }

    #[test]
    fn schema_violations_and_bounds_are_refused_without_quoting_the_answer() {
        for (pointer, value, kind) in [
            (
                "/plan/0/schedule/kind",
                serde_json::json!("sometimes"),
                "out_of_bounds",
            ),
            (
                "/plan/0/schedule/times_per_day",
                serde_json::json!(0),
                "out_of_bounds",
            ),
            (
                "/plan/0/schedule/times_per_day",
                serde_json::json!(null),
                "out_of_bounds",
            ),
            (
                "/plan/0/duration/days",
                serde_json::json!(100_000),
                "out_of_bounds",
            ),
            (
                "/plan/1/schedule/times",
                serde_json::json!(["8am secretword"]),
                "out_of_bounds",
            ),
            ("/plan/0/title", serde_json::json!(""), "out_of_bounds"),
            ("/plan/0/source", serde_json::json!(42), "schema"),
            ("/plan/0/priority", serde_json::json!("high"), "schema"),
        ] {
            let mut answer = good();
            let (parent, field) = pointer.rsplit_once('/').unwrap();
            answer.pointer_mut(parent).unwrap()[field] = value;
            let err = parse(&answer.to_string(), NOTE).unwrap_err();
            assert_eq!(err.kind(), kind, "{pointer}: {err}");
            assert!(!err.to_string().contains("secretword"), "{err}");
        }
        let err = parse("{\"checklist\": \"secretword\", \"plan\": []}", NOTE).unwrap_err();
        assert_eq!(err.kind(), "schema");
        assert!(!err.to_string().contains("secretword"), "{err}");
        assert_eq!(
            parse("I cannot help with that.", NOTE).unwrap_err(),
            InvalidAnswer::NoJson
        );
        assert_eq!(
            parse("{\"checklist\": [", NOTE).unwrap_err(),
            InvalidAnswer::NoJson
        );
    }

    #[test]
    fn more_than_the_most_steps_is_refused() {
        let item = serde_json::json!({"title": "Buy amoxicillin", "source": "Buy amoxicillin 500 mg capsules today."});
        let answer = serde_json::json!({"checklist": vec![item; MAX_STEPS + 1], "plan": []});
        assert_eq!(
            parse(&answer.to_string(), NOTE).unwrap_err().kind(),
            "too_many_steps"
        );
    }
}
