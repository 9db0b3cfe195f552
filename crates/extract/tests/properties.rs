//! No panic and bounded time on any input; sources are always the note's own text, and
//! whatever the note, the output is within the step vocabulary's bounds.

// Test helpers may fail loudly: a panic is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use hospital_extract::{Title, MAX_STEPS};
use proptest::prelude::*;

fn check(note: &str) {
    let steps = hospital_extract::extract(note);
    for s in steps
        .plan
        .iter()
        .map(|p| &p.source)
        .chain(steps.checklist.iter().map(|c| &c.source))
    {
        assert!(note.contains(s.as_str()), "source {s:?} is not in the note");
        assert!(!s.is_empty());
    }
    // The typed output always survives a JSON round trip, which checks every bound again.
    let json = serde_json::to_string(&steps).expect("serialises");
    let back: hospital_extract::Steps = serde_json::from_str(&json).expect("deserialises");
    assert_eq!(back, steps);
}

/// Pieces of pharmacy sigs and labels (the sig table's shorthand among them).
const SIG_PIECES: &[&str] = &[
    "Prednisone",
    "10 mg",
    "tablet",
    "tabs",
    "1",
    "1/2",
    "0.5",
    "cap",
    "gtt",
    "OU",
    "OD",
    "po",
    "bid",
    "tid",
    "qid",
    "qd",
    "q",
    "hs",
    "am",
    "wk",
    "q4-6h",
    "q12hr",
    "x",
    "10",
    "d",
    "days",
    "dailyx",
    "prn",
    "as",
    "needed",
    "max",
    "daily",
    "dose",
    "then",
    "and",
    "on",
    "day",
    "-",
    "(",
    ")",
    "Brand",
    "/",
    "+",
    "insulin",
    "units",
    "subcut",
    "instr",
    "please",
    "once",
    "today",
    "let's do",
    "7",
    "5-7",
    "for about",
    "weeks",
    "“",
    "”",
    "drop off",
    "increasing to",
    "after",
    "every",
    "morning",
    "noon",
    "bedtime",
    "at",
    "08:00",
    "with",
    "each",
    "main",
    "meal",
    "DN",
    "GP",
    "please",
    "she",
    "will",
    "which",
    "we",
    "is",
    "being",
    "because",
    "since",
    "x1",
    "[ ]",
    "START",
    "\n",
    "Follow up with",
    "call",
    "see your dentist",
    "stop by",
    "Sodium",
];

/// Pieces of clinical text, punctuation and numbers that the strategies recombine.
const PIECES: &[&str] = &[
    // Frequency words, so counts, intervals and times meet in every order ("400 times a
    // week" once divided by zero).
    "times",
    "a",
    "week",
    "month",
    "per",
    "hours",
    "hourly",
    "weeks",
    "months",
    "fortnight",
    "repeat",
    "after",
    "apart",
    "Monday",
    "Thursday",
    "mane",
    "nocte",
    "night",
    "morning",
    "/",
    "to",
    "or",
    "3",
    "4-6",
    "400",
    "999999",
    "once",
    "twice",
    "2x",
    "x3",
    "tds",
    "od",
    "bd",
    "prn",
    "max",
    "in",
    "24",
    "hrs",
    "-hourly",
    "alternate",
    "with",
    "meals",
    "12:00",
    "noon",
    "until",
    "Take",
    "amoxicillin",
    "500",
    "mg",
    ".",
    "twice",
    "daily",
    "for",
    "7",
    "days",
    "then",
    ",",
    ";",
    "x",
    "7/7",
    "q6h",
    "b.i.d.",
    "at",
    "08:00",
    "8am",
    "\"",
    "'",
    "“",
    "”",
    "if",
    "needed",
    "stop",
    "Buy",
    "book",
    "—",
    "-",
    ":",
    "every",
    "other",
    "day",
    "1.5",
    "ml",
    "e.g.",
    "Dr.",
    "\n",
    "\n\n",
    "and",
    "all",
    "weekly",
    "99999999999",
    "0",
    "00:00",
    "25:61",
    "(",
    ")",
    "%",
    "é",
    "…",
    "q",
    "h",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_text_never_panics(note in "\\PC{0,400}") {
        check(&note);
    }

    /// Prescription labels and sigs, glued together or spaced at random: the shorthand
    /// splitter, the label reader and the phase reader see every combination.
    #[test]
    fn sig_shorthand_run_together_never_panics(
        parts in proptest::collection::vec(proptest::sample::select(SIG_PIECES), 0..120),
        glue in proptest::collection::vec(0u8..4, 120),
    ) {
        let mut note = String::new();
        for (p, g) in parts.iter().zip(glue.iter()) {
            note.push_str(p);
            match g {
                0 => {}
                1 => note.push(' '),
                2 => note.push_str(": "),
                _ => note.push_str(", "),
            }
        }
        check(&note);
    }

    #[test]
    fn arbitrary_unicode_never_panics(note in any::<String>()) {
        check(&note);
    }

    #[test]
    fn clinical_fragments_never_panic(parts in proptest::collection::vec(proptest::sample::select(PIECES), 0..200), spaces in proptest::collection::vec(any::<bool>(), 200)) {
        let mut note = String::new();
        for (p, s) in parts.iter().zip(spaces.iter()) {
            note.push_str(p);
            if *s {
                note.push(' ');
            }
        }
        check(&note);
    }
}

fn timed(note: &str, limit: Duration) {
    let start = Instant::now();
    check(note);
    let took = start.elapsed();
    assert!(took < limit, "{} bytes took {took:?}", note.len());
}

#[test]
fn pathological_punctuation_and_numbers_stay_fast() {
    let limit = Duration::from_secs(20);
    for unit in [
        ".", "\"", "'", "“", "‘x ", "1", "1.", "1:", "1/", "q", "x", "-", ";", ", then", "every ",
        "for ", "e.g. ", "Dr. ", "a'", " '",
    ] {
        timed(&unit.repeat(200_000), limit);
    }
    timed(&"9".repeat(1_000_000), limit);
    // One endless sentence: thousands of medicines in a list, thousands of "then"s.
    for unit in [
        "amoxicillin 5 mg bd and ",
        "omeprazole, ",
        " then daily",
        "Take it bd, then tds; ",
        "08:00 and ",
    ] {
        timed(&unit.repeat(40_000), limit);
    }
    timed(
        &format!(
            "{}all twice daily for 7 days{}",
            "omeprazole, ".repeat(20_000),
            ", then daily".repeat(20_000)
        ),
        limit,
    );
    timed(&"amoxicillin ".repeat(80_000), limit);
    // Shorthand, labels and brackets without end.
    for unit in [
        "bidx",
        "q ",
        "Drug 5 mg tablet: ",
        "X 1 tab x2d, ",
        "(Brand) ",
        "amoxicillin/",
        "“drop off” ",
        ", increasing to 5 mg",
    ] {
        timed(&unit.repeat(40_000), limit);
    }
}

#[test]
fn a_one_megabyte_note_is_read_in_bounded_time() {
    // Each copy differs (a line copied forward unchanged asks for its steps once).
    let mut note = String::new();
    let mut n = 0;
    while note.len() < 1_000_000 {
        n += 1;
        let _ = write!(
            note,
            "Take amoxicillin {n} mg three times a day for 7 days, then twice daily. \
             She said \"stop it\". Buy thermometer {n}. Omeprazole, amoxicillin and \
             clarithromycin, all twice daily for {n} days. "
        );
    }
    let start = Instant::now();
    let steps = hospital_extract::extract(&note);
    let took = start.elapsed();
    // Thousands asked for, the first MAX_STEPS given.
    assert_eq!(steps.plan.len(), MAX_STEPS);
    assert_eq!(steps.checklist.len(), MAX_STEPS);
    assert!(took < Duration::from_secs(20), "1 MB took {took:?}");
    check(&note[..10_000]);
}

#[test]
fn time_grows_linearly() {
    let sentence =
        "Take ibuprofen 400 mg every 8 hours for 5 days; if needed paracetamol. Book a review. ";
    let small = sentence.repeat(2_000);
    let large = sentence.repeat(20_000);
    // Warm up, then take the best of three to keep noise out.
    let best = |n: &str| {
        (0..3)
            .map(|_| {
                let t = Instant::now();
                hospital_extract::extract(n);
                t.elapsed()
            })
            .min()
            .unwrap_or_default()
    };
    let _ = best(&small);
    let (s, l) = (best(&small), best(&large));
    // Ten times the text may take ten times as long; a quadratic reader would take 100×.
    assert!(
        l < s * 30 + Duration::from_millis(50),
        "2k sentences {s:?}, 20k sentences {l:?}"
    );
}

#[test]
fn a_long_title_is_cut_at_a_word_boundary() {
    let words = "carefully measured ".repeat(30);
    let note = format!("Check your {words}blood pressure twice daily for 7 days.");
    let steps = hospital_extract::extract(&note);
    let title = &steps.plan[0].title;
    assert!(title.chars().count() <= Title::MAX_CHARS, "{title}");
    assert!(
        title.ends_with("carefully") || title.ends_with("measured"),
        "{title}"
    );
    assert_eq!(steps.plan[0].source, note.as_str());
}

#[test]
fn out_of_bounds_durations_and_intervals_are_not_kept() {
    let steps = hospital_extract::extract(
        "Take aspirin 75 mg daily for 11 years. Take vitamin D 1000 units every 400 days.",
    );
    let json = serde_json::to_value(&steps).unwrap();
    assert_eq!(
        json["plan"][0]["duration"],
        serde_json::Value::Null,
        "{json}"
    );
    assert!(
        json["plan"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["schedule"]["every_hours"] != 9600),
        "{json}"
    );
}

/// Counts so large that the interval they imply rounds to zero hours ("500 x weekly" is
/// every 0.3 h), and zero intervals written out, next to clock times: no schedule is made
/// from a zero interval, and nothing divides by it.
#[test]
fn zero_hour_intervals_make_no_schedule() {
    for freq in [
        "500 x weekly",
        "500 times a week",
        "99999 times a fortnight",
        "999999 times a month",
        "q0h",
        "every 0 hours",
        "0 hourly",
        "0 hours apart",
        "repeat after 0 days",
    ] {
        for times in ["", " at 08:00", " at 08:00 and 20:00", " at 8am"] {
            let note = format!("Take amoxicillin 500 mg {freq}{times}.");
            check(&note);
            let steps = hospital_extract::extract(&note);
            for p in &steps.plan {
                let json = serde_json::to_value(&p.schedule).unwrap();
                assert_ne!(
                    json.get("every_hours"),
                    Some(&serde_json::json!(0)),
                    "{note}"
                );
            }
        }
    }
}
