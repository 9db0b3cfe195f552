//! How long: "for 7 days", "x 5 days", "x 7/7", "for one week", "a fortnight",
//! "for 3 months" (30 days a month), "for 10 doses", "2 applications in total", and the
//! open-ended forms ("ongoing", "long term", "lifelong", "indefinitely") that are `null`.
//!
//! A duration needs a lead ("for", "x", "over", "course of", "in total") to be sure; a bare
//! "5 days" right after a schedule ("tds 5 days") is taken only when nothing better is
//! there and nothing marks it as a point in time ("in 6 weeks", "3 days ago").

// Token scanners read best in the notation of their patterns: `v` the view, `i`/`j`/`k`
// positions, `w` the word, `n` a number.
#![allow(clippy::many_single_char_names)]

use hospital_steps::Duration;

use crate::tokens::{Kind, View};

#[derive(Debug, Clone, Copy)]
pub(crate) struct Hit {
    pub at: usize,
    pub end: usize,
    /// `None`: the note says the plan has no end.
    pub value: Option<Duration>,
    /// Found without a lead word: used only when no led duration exists.
    pub bare: bool,
}

/// The duration a clause names: the first led one, else the first bare one.
pub(crate) fn pick(hits: &[Hit]) -> Option<Hit> {
    hits.iter()
        .find(|h| !h.bare)
        .or_else(|| hits.first())
        .copied()
}

pub(crate) fn scan(v: View<'_, '_>) -> Vec<Hit> {
    let mut out = Vec::new();
    let mut i = v.start;
    while i < v.end {
        if let Some(hit) = at(v, i) {
            i = hit.end.max(i + 1);
            out.push(hit);
        } else {
            i += 1;
        }
    }
    out
}

enum Amount {
    Days(u32),
    Doses(u32),
    /// Minutes or hours that are not whole days: a length of a session, not a course.
    Short,
}

/// "7 days", "two weeks", "a fortnight", "10 doses", "5/7"; returns the amount and end.
fn amount(v: View<'_, '_>, j: usize) -> Option<(Amount, usize)> {
    // Fractions: 5/7 days, 2/52 weeks, 3/12 months.
    if v.kind(j) == Some(Kind::Number) {
        if let Some((n, d)) = v.w(j).split_once('/') {
            let n = crate::lexicon::integer(n)?;
            let days = match d {
                "7" => n,
                "52" => n.checked_mul(7)?,
                "12" => n.checked_mul(30)?,
                _ => return None,
            };
            return Some((Amount::Days(days), j + 1));
        }
    }
    let w = v.w(j);
    if w == "fortnight" || w == "week" || w == "month" || w == "year" {
        // "for week"/"a fortnight" with the article handled by the caller.
        return None;
    }
    let mut n = v.qty(j)?;
    let mut k = j + 1;
    if v.w(j) == "couple" && v.w(k) == "of" {
        k += 1;
    }
    // Ranges: "5-7 days", "5 to 7 days" — the first figure is the course prescribed.
    if v.is_any(k, &["-", "to", "or"])
        && v.qty(k + 1).is_some()
        && !matches!(v.w(k + 1), "a" | "an")
    {
        k += 2;
    }
    if v.w(k) == "-" && v.glued(k) && v.glued(k + 1) {
        // "7-day course"
        k += 1;
    }
    while v.is_any(
        k,
        &[
            "more",
            "further",
            "additional",
            "extra",
            "consecutive",
            "whole",
            "full",
        ],
    ) {
        k += 1;
    }
    let unit = v.w(k);
    // "four doses a day" is a frequency, not a course.
    if matches!(unit, "dose" | "doses" | "times") && v.is_any(k + 1, &["a", "per", "each", "every"])
    {
        return None;
    }
    let mul = |m: u32| n.checked_mul(m);
    let amount = match unit {
        "day" | "days" | "d" | "night" | "nights" => Amount::Days(n),
        "week" | "weeks" | "wk" | "wks" | "w" => Amount::Days(mul(7)?),
        "fortnight" | "fortnights" => Amount::Days(mul(14)?),
        "month" | "months" | "mo" | "mos" | "mth" | "mths" | "mnth" | "mnths" => {
            Amount::Days(mul(30)?)
        }
        "year" | "years" | "yr" | "yrs" => Amount::Days(mul(365)?),
        "hour" | "hours" | "hr" | "hrs" | "h" => {
            if n % 24 == 0 {
                Amount::Days(n / 24)
            } else {
                Amount::Short
            }
        }
        "minute" | "minutes" | "min" | "mins" | "second" | "seconds" | "secs" => Amount::Short,
        "dose" | "doses" | "application" | "applications" | "occurrence" | "occurrences"
        | "occasions" | "treatments" | "injections" | "instillations" | "administrations"
        | "sessions" | "courses" => Amount::Doses(n),
        _ => {
            n = 0;
            Amount::Short
        }
    };
    if n == 0 {
        return None;
    }
    Some((amount, k + 1))
}

fn hit(at: usize, end: usize, a: &Amount, bare: bool) -> Option<Hit> {
    // An out-of-range figure ("for 99999 days") is no duration we can keep.
    let value = match *a {
        Amount::Days(n) => Duration::days(n).ok()?,
        Amount::Doses(n) => Duration::occurrences(n).ok()?,
        Amount::Short => return None,
    };
    Some(Hit {
        at,
        end,
        value: Some(value),
        bare,
    })
}

fn open_ended(v: View<'_, '_>, i: usize) -> Option<usize> {
    let w = v.w(i);
    match w {
        "ongoing" | "indefinitely" | "lifelong" | "permanently" | "longterm" | "continuous"
        | "continuously" | "chronic" | "indefinite" => Some(i + 1),
        "long" | "life" if v.w(i + 1) == "-" && v.is_any(i + 2, &["term", "long"]) => Some(i + 3),
        "long" if v.w(i + 1) == "term" => Some(i + 2),
        "for" if v.w(i + 1) == "life" => Some(i + 2),
        "for" if v.w(i + 1) == "the" && v.w(i + 2) == "rest" => Some(i + 3),
        "until"
            if v.is_any(
                i + 1,
                &[
                    "further",
                    "review",
                    "reviewed",
                    "told",
                    "advised",
                    "otherwise",
                ],
            ) =>
        {
            Some(i + 2)
        }
        "no" if v.is_any(i + 1, &["end", "stop"]) => Some(i + 2),
        _ => None,
    }
}

/// Words before a bare amount that make it a point in time, not a course.
const NOT_BEFORE_BARE: &[&str] = &[
    "about", "after", "ago", "at", "by", "each", "every", "from", "in", "last", "next", "of",
    "past", "per", "since", "than", "within", "around", "over", "/",
];
/// Words after a bare amount that do the same.
const NOT_AFTER_BARE: &[&str] = &[
    "ago", "after", "before", "later", "old", "post", "since", "prior", "of",
];

fn at(v: View<'_, '_>, i: usize) -> Option<Hit> {
    if let Some(end) = open_ended(v, i) {
        return Some(Hit {
            at: i,
            end,
            value: None,
            bare: false,
        });
    }
    let w = v.w(i);
    // Led: "for 7 days", "x 5 days", "x 7/7", "over 3 days", "for a further week".
    if matches!(w, "for" | "x" | "×" | "over" | "course" | "total") {
        let mut j = i + 1;
        if w == "course" || w == "total" {
            if v.w(j) != "of" {
                return None;
            }
            j += 1;
        }
        loop {
            let s = v.w(j);
            let article_then_unit = matches!(s, "a" | "an") && amount(v, j).is_some();
            if !article_then_unit
                && matches!(
                    s,
                    "the"
                        | "next"
                        | "another"
                        | "a"
                        | "further"
                        | "total"
                        | "of"
                        | "additional"
                        | "at"
                        | "least"
                        | "first"
                        | "an"
                        | "up"
                        | "to"
                        | "about"
                        | "approximately"
                        | "approx"
                        | "around"
                        | "roughly"
                        | "~"
                )
            {
                j += 1;
            } else {
                break;
            }
        }
        if let Some((a, end)) = amount(v, j) {
            return hit(i, end, &a, false);
        }
        if matches!(v.w(j), "fortnight" | "week" | "month")
            && matches!(v.w(j.wrapping_sub(1)), "a" | "the" | "next" | "first")
        {
            let days = match v.w(j) {
                "fortnight" => 14,
                "week" => 7,
                _ => 30,
            };
            return hit(i, j + 1, &Amount::Days(days), false);
        }
        return None;
    }
    // A day of the course: "on day 1" is one day, "on days 2-5" four.
    if matches!(w, "on" | "for") && matches!(v.w(i + 1), "day" | "days") {
        if let Some(a) = v.int(i + 2) {
            if v.is_any(i + 3, &["-", "to", "through", "thru"]) {
                if let Some(b) = v.int(i + 4).filter(|&b| b >= a) {
                    return hit(i, i + 5, &Amount::Days(b - a + 1), false);
                }
            }
            if a <= 1 {
                return hit(i, i + 3, &Amount::Days(1), false);
            }
        }
    }
    // "a fortnight", on its own.
    if matches!(w, "a" | "one") && v.w(i + 1) == "fortnight" {
        return hit(i, i + 2, &Amount::Days(14), false);
    }
    // Bare amounts: "5/7", "7-day course", "10 doses in total", "tds 5 days".
    let (a, end) = amount(v, i)?;
    let fraction = v.w(i).contains('/');
    let prev = v.w(i.wrapping_sub(1));
    let after = v.w(end);
    if NOT_BEFORE_BARE.contains(&prev) || NOT_AFTER_BARE.contains(&after) {
        return None;
    }
    let course = matches!(
        after,
        "course" | "supply" | "treatment" | "total" | "program" | "programme"
    ) || (after == "-" && v.w(end + 1) == "course")
        || (after == "in" && v.w(end + 1) == "total");
    let end = if after == "in" && v.w(end + 1) == "total" {
        end + 2
    } else if course {
        end + 1
    } else {
        end
    };
    if matches!(v.w(i), "a" | "an") && !course {
        return None;
    }
    hit(i, end, &a, !(fraction || course))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::Doc;

    #[derive(Debug, PartialEq)]
    enum Got {
        Nothing,
        Open,
        Is(Duration),
    }

    fn dur(text: &str) -> Got {
        let doc = Doc::new(text);
        match pick(&scan(View::new(&doc, 0, doc.toks.len()))) {
            None => Got::Nothing,
            Some(Hit { value: None, .. }) => Got::Open,
            Some(Hit { value: Some(d), .. }) => Got::Is(d),
        }
    }

    fn days(n: u32) -> Got {
        Got::Is(Duration::days(n).unwrap())
    }

    #[test]
    fn every_form_of_days() {
        for (text, n) in [
            ("for 7 days", 7),
            ("for seven days", 7),
            ("x 5 days", 5),
            ("x5 days", 5),
            ("x 7/7", 7),
            ("for 5/7", 5),
            ("tds 5/7", 5),
            ("for 2/52", 14),
            ("for one week", 7),
            ("for a week", 7),
            ("for 2 weeks", 14),
            ("for 12 weeks", 84),
            ("a fortnight", 14),
            ("for a fortnight", 14),
            ("for 3 months", 90),
            ("for one month", 30),
            ("for a further 5 days", 5),
            ("for the next 10 days", 10),
            ("for 5 more days", 5),
            ("for 48 hours", 2),
            ("7-day course", 7),
            ("a 5 day course", 5),
            ("course of 10 days", 10),
            ("over 3 days", 3),
            ("bd 5 days", 5),
            ("for 5-7 days", 5),
            ("for 3 nights", 3),
            ("for 10 years", 3650),
        ] {
            assert_eq!(dur(text), days(n), "{text}");
        }
    }

    #[test]
    fn occurrences() {
        for (text, n) in [
            ("for 10 doses", 10),
            ("x 6 doses", 6),
            ("2 applications in total", 2),
            ("a total of 3 doses", 3),
            ("3 doses in total", 3),
        ] {
            assert_eq!(
                dur(text),
                Got::Is(Duration::occurrences(n).unwrap()),
                "{text}"
            );
        }
    }

    #[test]
    fn open_ended_is_null() {
        for text in [
            "ongoing",
            "long term",
            "long-term",
            "lifelong",
            "indefinitely",
            "for life",
            "until further notice",
        ] {
            assert_eq!(dur(text), Got::Open, "{text}");
        }
    }

    #[test]
    fn not_durations() {
        for text in [
            "for 20 minutes",
            "in 6 weeks",
            "3 days ago",
            "within 2 weeks",
            "every 2 days",
            "for pain",
            "after 7 days",
            "a week",
            "2 hours after",
            "for 99999 days",
            // Past ten years: no bounded duration, so the step is open-ended.
            "for 3651 days",
            "for 11 years",
        ] {
            assert_eq!(dur(text), Got::Nothing, "{text}");
        }
    }
}
