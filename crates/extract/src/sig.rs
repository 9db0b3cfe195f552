//! Pharmacy sig shorthand: the Latin and pharmacy abbreviations of a prescription's
//! directions, in one table with their meaning, and the splitting of shorthand written
//! without spaces ("bidx10 days", "dailyx3d", "q12hrx10", "prnas needed", "tablet60bid").
//!
//! The table is what the frequency reader asks about a single word ("bid" is twice a day,
//! "q.a.m." every morning, "ou" both eyes); the splitter runs inside the tokenizer so that
//! every later stage reads "bid x 10 days" whether or not the prescriber pressed space.

use crate::frequency::{Freq, EVENING, MEALS, MORNING, NIGHT};

/// What a sig abbreviation means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Meaning {
    /// How often: a count a day, an interval, or a time of day.
    Frequency(Freq),
    /// "prn": as needed (never scheduled).
    AsNeeded,
    /// How it is given: by mouth, under the tongue, into the eye…
    Route,
    /// What is counted: tablets, capsules, drops, puffs…
    DoseUnit,
    /// Filler the directions use between the parts that matter ("as directed", "instr").
    Filler,
}

use Meaning::{AsNeeded, DoseUnit, Filler, Frequency, Route};

/// Every abbreviation known, sorted for binary search, with its meaning and a gloss (the
/// gloss documents the table; tests keep the table sorted and unique).
#[rustfmt::skip]
pub(crate) const ABBREVIATIONS: &[(&str, Meaning, &str)] = &[
    ("ac", Frequency(Freq::Cue(MEALS)), "before meals (ante cibum)"),
    ("achs", Frequency(Freq::PerDay(4)), "before meals and at bedtime"),
    ("ad", Route, "right ear (auris dextra)"),
    ("am", Frequency(Freq::Cue(MORNING)), "in the morning"),
    ("as", Route, "left ear (auris sinistra); also the English word"),
    ("au", Route, "both ears (auris utraque)"),
    ("bd", Frequency(Freq::PerDay(2)), "twice a day (bis die)"),
    ("bds", Frequency(Freq::PerDay(2)), "twice a day"),
    ("bid", Frequency(Freq::PerDay(2)), "twice a day (bis in die)"),
    ("biw", Frequency(Freq::EveryHours(84)), "twice a week (bis in week)"),
    ("cap", DoseUnit, "capsule"),
    ("caps", DoseUnit, "capsules"),
    ("daily", Frequency(Freq::PerDay(1)), "once a day"),
    ("dly", Frequency(Freq::PerDay(1)), "daily"),
    ("eod", Frequency(Freq::EveryHours(48)), "every other day"),
    ("everyday", Frequency(Freq::PerDay(1)), "every day"),
    ("gtt", DoseUnit, "drop (gutta)"),
    ("gtts", DoseUnit, "drops (guttae)"),
    ("hs", Frequency(Freq::Cue(NIGHT)), "at bedtime (hora somni)"),
    ("id", Route, "intradermal"),
    ("im", Route, "intramuscular"),
    ("inh", Route, "inhaled"),
    ("instr", Filler, "instructions follow"),
    ("iv", Route, "intravenous"),
    ("mane", Frequency(Freq::Cue(MORNING)), "in the morning"),
    ("mdd", Filler, "maximum daily dose"),
    ("neb", Route, "by nebuliser"),
    ("nocte", Frequency(Freq::Cue(NIGHT)), "at night"),
    ("od", Frequency(Freq::PerDay(1)), "once a day (omni die); right eye (oculus dexter) before another frequency"),
    ("om", Frequency(Freq::Cue(MORNING)), "every morning (omni mane)"),
    ("os", Route, "left eye (oculus sinister)"),
    ("ou", Route, "both eyes (oculus uterque)"),
    ("pc", Frequency(Freq::Cue(MEALS)), "after meals (post cibum)"),
    ("pm", Frequency(Freq::Cue(EVENING)), "in the evening"),
    ("po", Route, "by mouth (per os)"),
    ("pr", Route, "rectally (per rectum)"),
    ("prn", AsNeeded, "as needed (pro re nata)"),
    ("pv", Route, "vaginally (per vaginam)"),
    ("q1d", Frequency(Freq::PerDay(1)), "every day"),
    ("qac", Frequency(Freq::PerDay(3)), "before each meal (quaque ante cibum)"),
    ("qam", Frequency(Freq::Cue(MORNING)), "every morning (quaque ante meridiem)"),
    ("qd", Frequency(Freq::PerDay(1)), "every day (quaque die)"),
    ("qday", Frequency(Freq::PerDay(1)), "every day"),
    ("qds", Frequency(Freq::PerDay(4)), "four times a day (quater die sumendum)"),
    ("qh", Frequency(Freq::EveryHours(1)), "every hour"),
    ("qhs", Frequency(Freq::Cue(NIGHT)), "every night at bedtime (quaque hora somni)"),
    ("qid", Frequency(Freq::PerDay(4)), "four times a day (quater in die)"),
    ("qmo", Frequency(Freq::EveryHours(720)), "every month"),
    ("qmonth", Frequency(Freq::EveryHours(720)), "every month"),
    ("qn", Frequency(Freq::Cue(NIGHT)), "every night (quaque nocte)"),
    ("qod", Frequency(Freq::EveryHours(48)), "every other day"),
    ("qow", Frequency(Freq::EveryHours(336)), "every other week"),
    ("qpm", Frequency(Freq::Cue(EVENING)), "every evening"),
    ("qw", Frequency(Freq::EveryHours(168)), "every week"),
    ("qweek", Frequency(Freq::EveryHours(168)), "every week"),
    ("qwk", Frequency(Freq::EveryHours(168)), "every week"),
    ("sc", Route, "subcutaneous"),
    ("sl", Route, "sublingual"),
    ("sq", Route, "subcutaneous"),
    ("subcut", Route, "subcutaneous"),
    ("subq", Route, "subcutaneous"),
    ("tab", DoseUnit, "tablet"),
    ("tabs", DoseUnit, "tablets"),
    ("tds", Frequency(Freq::PerDay(3)), "three times a day (ter die sumendum)"),
    ("tid", Frequency(Freq::PerDay(3)), "three times a day (ter in die)"),
    ("tiw", Frequency(Freq::EveryHours(56)), "three times a week (ter in week)"),
    ("top", Route, "topically"),
    ("ud", Filler, "as directed (ut dictum)"),
];

/// The meaning of a sig abbreviation, written with or without dots ("b.i.d.", "q.d.").
pub(crate) fn meaning(w: &str) -> Option<Meaning> {
    let u = crate::lexicon::undotted(w);
    ABBREVIATIONS
        .binary_search_by(|(k, _, _)| crate::lexicon::short_cmp(k, u.as_ref()))
        .ok()
        .map(|i| ABBREVIATIONS[i].1)
}

/// What "q" followed by a separate word means: "q hs", "q am", "q d", "q wk", "q day".
pub(crate) fn spaced_q(next: &str) -> Option<Freq> {
    let joined = match next {
        "d" | "day" | "daily" => "qd",
        "am" | "a.m" | "morning" => "qam",
        "pm" | "p.m" | "evening" => "qpm",
        "hs" | "h.s" | "bedtime" => "qhs",
        "wk" | "week" => "qweek",
        "month" | "mo" => "qmonth",
        "od" | "o.d" => "qod",
        "h" | "hr" | "hour" => "qh",
        _ => return None,
    };
    match meaning(joined) {
        Some(Frequency(f)) => Some(f),
        _ => None,
    }
}

/// Words that shorthand runs together with its neighbours: frequencies, doses, units and
/// the little words around them. Sorted for binary search.
#[rustfmt::skip]
const JOINABLE: &[&str] = &[
    "as", "bedtime", "bid", "by", "cap", "caps", "capsule", "capsules", "daily", "day", "days",
    "directed", "dose", "every", "food", "for", "hours", "hrs", "instr", "meals", "month",
    "months", "mouth", "needed", "night", "nightly", "nights", "pain", "please", "po", "prn",
    "qam", "qd",
    "qhs", "qid", "qod", "qpm", "tab", "tablet", "tablets", "tabs", "tid", "times", "week",
    "weekly", "weeks", "with", "wk", "wks",
];

/// Parts of a run-together word that make splitting it worthwhile (the rest could be
/// chance: "for" + "mal" is no reason to split "formal").
fn is_core(part: &str) -> bool {
    matches!(part, "x" | "instr")
        || is_q_hours(part)
        || matches!(meaning(part), Some(Frequency(_) | AsNeeded))
        || matches!(part, "daily" | "nightly" | "weekly" | "bedtime")
}

/// A cheap test before the search: a run-together word holds a digit or a piece of
/// shorthand that needs splitting off (most words hold neither).
fn may_run_together(word: &str) -> bool {
    word.bytes().any(|b| b.is_ascii_digit())
        || [
            "bid", "tid", "qid", "qd", "prn", "daily", "qam", "qhs", "qpm", "qod", "instr",
            "nightly", "weekly", "bedtime",
        ]
        .iter()
        .any(|core| word.contains(core))
}

/// "q6h", "q12hr", "q8hrs".
fn is_q_hours(part: &str) -> bool {
    let Some(rest) = part.strip_prefix('q') else {
        return false;
    };
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    (1..=2).contains(&digits) && matches!(&rest[digits..], "h" | "hr" | "hrs")
}

fn is_part(part: &str) -> bool {
    crate::lexicon::has(JOINABLE, part) || is_q_hours(part)
}

/// Where to cut a word written without its spaces, as byte offsets inside it (empty when
/// the word is whole). A cut is made only when every part is a known piece of shorthand,
/// a run of digits, or an "x" before digits, and one part is a frequency, "prn" or "x N":
/// "bidx10" → bid|x|10, "dailyx3d" → daily|x|3|d, "prnas" → prn|as, "tablet60bid" →
/// tablet|60|bid. Words up to 24 bytes are tried; the search is a small dynamic program.
pub(crate) fn cuts(word: &str) -> Vec<usize> {
    let b = word.as_bytes();
    let n = b.len();
    if !(4..=24).contains(&n) || !word.is_ascii() || !may_run_together(word) {
        return Vec::new();
    }
    if is_part(word) || meaning(word).is_some() {
        return Vec::new();
    }
    // best[i]: fewest parts covering word[..i], with the previous cut and whether a core
    // part is among them.
    let mut best: [Option<(u8, usize, bool)>; 25] = [None; 25];
    best[0] = Some((0, 0, false));
    for i in 0..n {
        let Some((parts, _, core)) = best[i] else {
            continue;
        };
        for j in i + 1..=n {
            let part = &word[i..j];
            let digits = part.bytes().all(|c| c.is_ascii_digit());
            // Digits stand after "x", a word, or at the start; "d" after digits is days.
            let ok = is_part(part)
                || (digits && j - i <= 3)
                || (part == "x" && b.get(j).is_some_and(u8::is_ascii_digit))
                || (part == "d" && i > 0 && b[i - 1].is_ascii_digit() && j == n);
            if !ok {
                continue;
            }
            let cand = (parts + 1, i, core || is_core(part));
            let better = match best[j] {
                None => true,
                Some((p, _, c)) => (cand.0, !cand.2) < (p, !c),
            };
            if better {
                best[j] = Some(cand);
            }
        }
    }
    match best[n] {
        Some((parts, _, true)) if parts >= 2 => {
            let mut out = Vec::new();
            let mut j = n;
            while let Some((_, prev, _)) = best[j] {
                if prev == 0 {
                    break;
                }
                out.push(prev);
                j = prev;
            }
            out.reverse();
            out
        }
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(w: &str) -> Vec<&str> {
        let mut out = Vec::new();
        let mut from = 0;
        for c in cuts(w) {
            out.push(&w[from..c]);
            from = c;
        }
        out.push(&w[from..]);
        out
    }

    #[test]
    fn tables_are_sorted_and_unique() {
        let keys: Vec<&str> = ABBREVIATIONS.iter().map(|a| a.0).collect();
        crate::lexicon::assert_sorted_unique(&keys);
        crate::lexicon::assert_sorted_unique(JOINABLE);
    }

    #[test]
    fn abbreviations_with_and_without_dots() {
        assert_eq!(meaning("b.i.d"), Some(Frequency(Freq::PerDay(2))));
        assert_eq!(meaning("q.d"), Some(Frequency(Freq::PerDay(1))));
        assert_eq!(meaning("prn"), Some(AsNeeded));
        assert_eq!(meaning("gtt"), Some(DoseUnit));
        assert_eq!(meaning("tablet"), None);
        assert_eq!(spaced_q("hs"), Some(Freq::Cue(NIGHT)));
        assert_eq!(spaced_q("wk"), Some(Freq::EveryHours(168)));
        assert_eq!(spaced_q("banana"), None);
    }

    #[test]
    fn run_together_shorthand_is_cut() {
        assert_eq!(split("bidx10"), ["bid", "x", "10"]);
        assert_eq!(split("dailyx3d"), ["daily", "x", "3", "d"]);
        assert_eq!(split("q12hrx10"), ["q12hr", "x", "10"]);
        assert_eq!(split("bedtimex30"), ["bedtime", "x", "30"]);
        assert_eq!(split("prnas"), ["prn", "as"]);
        assert_eq!(split("painprnas"), ["pain", "prn", "as"]);
        assert_eq!(split("q6hprnpain"), ["q6h", "prn", "pain"]);
        assert_eq!(split("tablet60bid"), ["tablet", "60", "bid"]);
        assert_eq!(split("tidx10"), ["tid", "x", "10"]);
    }

    #[test]
    fn words_are_left_whole() {
        for w in [
            "formal",
            "another",
            "bidder",
            "daily",
            "q6h",
            "b12",
            "x5",
            "asthma",
            "tidal",
            "baseline",
            "forty",
            "weekday",
            "foodstuff",
            "days",
            "covid19",
        ] {
            assert_eq!(split(w), [w], "{w}");
        }
    }
}
