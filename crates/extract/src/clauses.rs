//! Clause splitting inside a sentence.
//!
//! One sentence often holds several instructions: "every 2 hours for 2 days, then four
//! times daily for 5 days" (two plan steps), "clean the wound and change the dressing",
//! "take X; the first day take 200 mg", "sutures out in 10 days — book the appointment".
//! A clause ends at a semicolon, a colon, a spaced dash, "then" / "followed by", "but",
//! and at "and" or a comma when a new instruction verb follows. Commas inside one
//! instruction ("at 07:00 and 18:00, for 14 days") do not split.

use std::ops::Range;

use crate::lexicon::{
    is_admin_verb, is_checklist_verb, is_count_unit, is_form, is_imperative, is_strength_unit,
};
use crate::tokens::{Doc, Kind, View};
use crate::{duration, frequency};

/// How a clause is joined to the one before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Join {
    Start,
    Semicolon,
    Colon,
    Dash,
    Then,
    But,
    And,
    Comma,
}

#[derive(Debug, Clone)]
pub(crate) struct Clause {
    pub start: usize,
    pub end: usize,
    pub join: Join,
}

/// Words that, after a comma, open a clause of their own.
fn opens_after_comma(v: View<'_, '_>, i: usize) -> bool {
    let w = v.w(i);
    if w == "and" {
        return is_imperative(v.w(i + 1));
    }
    is_admin_verb(w)
        || is_checklist_verb(w)
        || matches!(
            w,
            "do" | "don't"
                | "dont"
                | "never"
                | "avoid"
                | "not"
                | "no"
                | "max"
                | "maximum"
                | "but"
                | "stop"
                | "please"
                | "if"
                | "unless"
                | "patient"
                | "pt"
                | "let's"
                | "lets"
                | "let’s"
                | "we'll"
                | "we’ll"
                | "was"
                | "were"
                | "previously"
                | "formerly"
                | "inform"
                | "notify"
                | "check"
                | "keep"
                | "continue"
        )
}

/// Words that open a new instruction even with no comma before them.
fn opens_run_on(v: View<'_, '_>, i: usize) -> bool {
    let w = v.w(i);
    v.has_class(i, crate::tokens::CLASS_VERB)
        || matches!(
            w,
            "please" | "inform" | "notify" | "patient" | "pt" | "instr"
        )
}

/// How far back a schedule or duration ending at a boundary is looked for.
const LOOK_BACK: usize = 8;

/// A frequency or a duration ends right before `i` ("… once a day | take …").
fn schedule_ends_at(v: View<'_, '_>, start: usize, i: usize) -> bool {
    let back = View::new(v.doc, i.saturating_sub(LOOK_BACK).max(start), i);
    frequency::scan(back).hits.iter().any(|h| h.end == i)
        || crate::clock::scan(back).iter().any(|h| h.end == i)
        || duration_ends_at(v, start, i)
}

/// A frequency is named within `n` tokens after `i`.
fn frequency_within(v: View<'_, '_>, i: usize, n: usize) -> bool {
    let ahead = View::new(v.doc, i, (i + n).min(v.end));
    frequency::scan(ahead).explicit().is_some()
}

/// A count a day or an interval (not a time of day) ends right before `i`.
fn count_ends_at(v: View<'_, '_>, start: usize, i: usize) -> bool {
    let back = View::new(v.doc, i.saturating_sub(LOOK_BACK).max(start), i);
    frequency::scan(back).hits.iter().any(|h| {
        h.end == i
            && matches!(
                h.freq,
                frequency::Freq::PerDay(_) | frequency::Freq::EveryHours(_)
            )
    })
}

/// A duration ends right before `i`, or before the comma at `i - 1`.
fn duration_ends_at(v: View<'_, '_>, start: usize, i: usize) -> bool {
    let end = if v.w(i.wrapping_sub(1)) == "," {
        i - 1
    } else {
        i
    };
    let back = View::new(v.doc, end.saturating_sub(LOOK_BACK).max(start), end);
    duration::scan(back)
        .iter()
        .any(|h| h.end == end && h.value.is_some() && !h.bare)
}

/// A dose opens at `i`: "1/2 po", "3 tabs", "two tablets", "2.5 ml".
pub(crate) fn starts_dose(v: View<'_, '_>, i: usize) -> bool {
    let quantity = v.kind(i) == Some(Kind::Number) || crate::lexicon::number_word(v.w(i)).is_some();
    // "1 extra inhalation", "2 more tablets"
    let unit_at = if matches!(v.w(i + 1), "extra" | "more" | "additional" | "further") {
        i + 2
    } else {
        i + 1
    };
    let next = v.w(unit_at);
    quantity
        && !matches!(v.w(i), "a" | "an")
        && (is_count_unit(next)
            || is_form(next)
            || is_strength_unit(next)
            || matches!(
                crate::sig::meaning(next),
                Some(crate::sig::Meaning::Route | crate::sig::Meaning::DoseUnit)
            )
            || matches!(next, "by" | "orally" | "tab" | "tabs" | "cap" | "caps"))
}

pub(crate) fn split(doc: &Doc<'_>, range: Range<usize>) -> Vec<Clause> {
    let v = View::new(doc, range.start, range.end);
    let mut out = Vec::new();
    let mut start = range.start;
    let mut join = Join::Start;
    let mut i = range.start;
    let close = |out: &mut Vec<Clause>, start: usize, end: usize, join: Join| {
        if end > start {
            out.push(Clause { start, end, join });
        }
    };
    while i < range.end {
        let w = v.w(i);
        let next = v.w(i + 1);
        // (end of current clause, start of next, join) when a boundary is here.
        let boundary = match w {
            ";" => Some((i, i + 1, Join::Semicolon)),
            // "instr:3 tabs" splits like "instr: 3 tabs"; a clock time is one token anyway.
            ":" if !v.glued(i + 1) || v.kind(i.wrapping_sub(1)) == Some(Kind::Word) => {
                Some((i, i + 1, Join::Colon))
            }
            "—" | "–" => Some((i, i + 1, Join::Dash)),
            "-" if !v.glued(i) && !v.glued(i + 1) && i > start => Some((i, i + 1, Join::Dash)),
            "then" | "thereafter" if i > start => {
                let mut end = i;
                while end > start && matches!(v.w(end.wrapping_sub(1)), "," | "and" | "&") {
                    end -= 1;
                }
                Some((end, i, Join::Then))
            }
            "followed" if next == "by" && i > start => {
                let end = if v.w(i.wrapping_sub(1)) == "," {
                    i - 1
                } else {
                    i
                };
                Some((end, i + 2, Join::Then))
            }
            "but" if i > start => {
                let end = if v.w(i.wrapping_sub(1)) == "," {
                    i - 1
                } else {
                    i
                };
                Some((end, i + 1, Join::But))
            }
            "and" | "&" | "plus" if i > start && next != "then" => {
                let mut k = i + 1;
                while matches!(v.w(k), "also" | "please" | "to") {
                    k += 1;
                }
                let verb = v.w(k);
                // "and ice the knee", "and call the clinic"; not "and 18:00", "and before dinner".
                // "1 inhalation bd and 1 extra inhalation prn": a second dose, its own clause.
                let second_dose = starts_dose(v, i + 1)
                    && (count_ends_at(v, start, i) || duration_ends_at(v, start, i));
                // "…, and she can use Fostair as her reliever": a new sentence in all but name.
                let new_subject = (v.w(i.wrapping_sub(1)) == ","
                    && matches!(v.w(i + 1), "he" | "she" | "they" | "you" | "we" | "i"))
                    // "… on day 5 and may then shower": a new modal clause.
                    || matches!(
                        v.w(i + 1),
                        "may" | "can" | "should" | "must" | "might" | "will" | "would" | "could"
                    )
                    || (matches!(v.w(i + 1), "have" | "has") && v.w(i + 2) == "given")
                    // "…has been taught the dressing and is to change it every 3 days".
                    || (matches!(v.w(i + 1), "is" | "are") && v.w(i + 2) == "to");
                // "…, and quadriceps exercises twice a day": a second thing, its own schedule.
                let second_thing = i > start + 1
                    && v.w(i.wrapping_sub(1)) == ","
                    && schedule_ends_at(v, start, i - 1)
                    && frequency_within(v, i + 1, 8);
                // "2 tablets on day 1 and 1 tablet on days 2-5": phases.
                let join = if second_dose { Join::Then } else { Join::And };
                (is_imperative(verb)
                    || is_checklist_verb(verb)
                    || second_dose
                    || new_subject
                    || second_thing)
                    .then_some((
                        if v.w(i.wrapping_sub(1)) == "," {
                            i - 1
                        } else {
                            i
                        },
                        i + 1,
                        join,
                    ))
            }
            "," | "(" if i > start && next != "then" && opens_after_comma(v, i + 1) => {
                Some((i, i + 1, Join::Comma))
            }
            // "…, increasing to 15 mg once weekly after 4 weeks": the next step of a titration.
            "," if i > start
                && matches!(
                    next,
                    "increasing" | "reducing" | "decreasing" | "rising" | "going"
                )
                && matches!(v.w(i + 2), "to" | "up") =>
            {
                Some((i, i + 1, Join::Then))
            }
            // A purpose or a reason is a clause of its own: "… today so we can compare",
            // "… because it stings".
            "so" if i > start
                && matches!(
                    next,
                    "that" | "we" | "you" | "i" | "they" | "it" | "he" | "she"
                ) =>
            {
                Some((
                    if v.w(i.wrapping_sub(1)) == "," {
                        i - 1
                    } else {
                        i
                    },
                    i,
                    Join::Comma,
                ))
            }
            // ", since he has not yet seen a dentist", ", as she usually gets…": a reason.
            "since" | "as"
                if i > start
                    && v.w(i.wrapping_sub(1)) == ","
                    && matches!(
                        next,
                        "he" | "she" | "they" | "it" | "we" | "i" | "you" | "the"
                    ) =>
            {
                Some((i - 1, i, Join::Comma))
            }
            // "…, which was held on admission": what is said of it, not a step.
            "which" | "who" if i > start && v.w(i.wrapping_sub(1)) == "," => {
                Some((i - 1, i, Join::Comma))
            }
            // "Because her hands shake, she will buy…": the reason ends at its comma.
            "," if i > start
                && matches!(
                    v.w(start),
                    "because" | "since" | "although" | "though" | "while" | "whilst"
                ) =>
            {
                Some((i, i + 1, Join::Comma))
            }
            "because" | "as"
                if i > start && w == "because"
                    || (w == "as" && next == "the" && v.w(i.wrapping_sub(1)) == ",") =>
            {
                Some((
                    if v.w(i.wrapping_sub(1)) == "," {
                        i - 1
                    } else {
                        i
                    },
                    i,
                    Join::Comma,
                ))
            }
            // A limit is its own clause: "twice daily -- max 2 tabs/day", "at bedtime
            // maximum daily dose 2 mg", "do not exceed 4 g".
            "max" | "maximum" | "mdd" if i > start => Some((i, i, Join::Comma)),
            "do" if i > start && next == "not" && v.w(i + 2) == "exceed" => {
                Some((i, i, Join::Comma))
            }
            // Run-on directions: a new instruction right after a schedule ("once a day
            // take 2 tablets on day 1", "in the morning rinse mouth after use").
            _ if i > start && opens_run_on(v, i) && schedule_ends_at(v, start, i) => {
                Some((i, i, Join::Comma))
            }
            // A taper's next phase: a dose right after a duration ("1 po bid x 3 days 1/2 po
            // bid x 3 days", "4 tabs x2d, 3 tabs x2d").
            _ if i > start && starts_dose(v, i) && duration_ends_at(v, start, i) => {
                let end = if v.w(i.wrapping_sub(1)) == "," {
                    i - 1
                } else {
                    i
                };
                Some((end, i, Join::Then))
            }
            _ => None,
        };
        if let Some((end, next_start, j)) = boundary {
            close(&mut out, start, end, join);
            start = next_start;
            join = j;
            i = next_start.max(i + 1);
            continue;
        }
        i += 1;
    }
    close(&mut out, start, range.end, join);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clauses(text: &str) -> Vec<String> {
        let doc = Doc::new(text);
        split(&doc, 0..doc.toks.len())
            .iter()
            .map(|c| doc.slice(c.start, c.end - 1).to_string())
            .collect()
    }

    #[test]
    fn then_sequences_are_two_clauses() {
        assert_eq!(
            clauses("one drop every 2 hours for 2 days, then four times daily for 5 days."),
            [
                "one drop every 2 hours for 2 days",
                "then four times daily for 5 days."
            ]
        );
        assert_eq!(
            clauses("40 mg for 5 days followed by 20 mg"),
            ["40 mg for 5 days", "20 mg"]
        );
    }

    #[test]
    fn semicolons_dashes_and_new_verbs() {
        assert_eq!(
            clauses("Start X; the first day take 200 mg"),
            ["Start X", "the first day take 200 mg"]
        );
        assert_eq!(
            clauses("Sutures out in 10 days — book it"),
            ["Sutures out in 10 days", "book it"]
        );
        assert_eq!(
            clauses("Clean the wound and change the dressing daily"),
            ["Clean the wound", "change the dressing daily"]
        );
        assert_eq!(
            clauses("Weigh yourself at 08:00 and call the clinic if worse"),
            ["Weigh yourself at 08:00", "call the clinic if worse"]
        );
        assert_eq!(
            clauses("Plan: balance exercises"),
            ["Plan", "balance exercises"]
        );
        assert_eq!(
            clauses("Take 1 g qds, do not exceed 4 g"),
            ["Take 1 g qds", "do not exceed 4 g"]
        );
    }

    #[test]
    fn one_instruction_stays_whole() {
        for text in [
            "Check blood glucose before breakfast and before dinner, at 07:00 and 18:00, for 14 days",
            "omeprazole 20 mg twice daily, amoxicillin 1 g twice daily and clarithromycin 500 mg twice daily, all for 14 days",
            "Apply emollient cream at 08:00, 14:00 and 20:00 for 14 days",
        ] {
            assert_eq!(clauses(text), [text]);
        }
    }
}
