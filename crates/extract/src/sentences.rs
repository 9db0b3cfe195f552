//! Sentence splitting that respects how clinicians write.
//!
//! A full stop ends a sentence unless it belongs to a title or Latin abbreviation
//! ("Dr.", "e.g.", "i.e."), an initial ("H. pylori") or is followed by a lowercase word
//! ("500 mg. twice daily", "b.i.d. for 7 days"). Decimals ("1.5 ml") never reach here: the
//! tokenizer keeps them in one number. "!" and "?" always end a sentence; so does a blank
//! line, and a line break before a line that does not continue the sentence in lowercase
//! (bulleted lists without full stops).

use std::ops::Range;

use crate::tokens::{Doc, Kind};

/// Abbreviations after which a full stop never ends a sentence.
const NEVER_ENDS: &[&str] = &[
    "approx", "cf", "dr", "e.g", "eg", "fig", "i.e", "ie", "mr", "mrs", "ms", "no", "nr", "prof",
    "st", "vs",
];

/// A sentence: its token range and the byte range of its verbatim source.
#[derive(Debug, Clone)]
pub(crate) struct Sentence {
    pub toks: Range<usize>,
    pub bytes: Range<usize>,
}

pub(crate) fn split(doc: &Doc<'_>) -> Vec<Sentence> {
    let n = doc.toks.len();
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < n {
        let t = doc.toks[i];
        if i > start
            && t.newlines_before > 0
            && (t.newlines_before > 1
                || !starts_lowercase(doc, i)
                || heading_line(doc, start, i)
                // A medication list in lowercase: each line opens with a medicine.
                || doc.is_medicine(i))
        {
            push(doc, &mut out, start, i);
            start = i;
        }
        let ends = match (t.kind, doc.text(i)) {
            (Kind::Punct, "!" | "?" | "…") => true,
            (Kind::Punct, ".") => period_ends(doc, i),
            // A quotation that ends its own sentence: `She said "I stop." Take it.`
            (Kind::Punct, "\"" | "”" | "»") => {
                let before = doc.original[..t.start].chars().next_back();
                matches!(before, Some('.' | '!' | '?'))
                    && doc
                        .orig(i + 1)
                        .chars()
                        .next()
                        .is_some_and(char::is_uppercase)
            }
            _ => false,
        };
        if ends {
            let mut j = i + 1;
            // Closing quotes and brackets belong to the sentence they close.
            while j < n
                && doc.toks[j].glued
                && matches!(doc.text(j), "\"" | "”" | "’" | "'" | ")" | "]" | "»")
            {
                j += 1;
            }
            push(doc, &mut out, start, j);
            start = j;
            i = j;
            continue;
        }
        i += 1;
    }
    push(doc, &mut out, start, n);
    out
}

/// The line before `i` is a heading in capitals ("START", "DISCHARGE MEDICATIONS"): what
/// follows is a new sentence even in lowercase.
fn heading_line(doc: &Doc<'_>, start: usize, i: usize) -> bool {
    let line_start = (start..i)
        .rev()
        .find(|&k| doc.toks[k].newlines_before > 0)
        .unwrap_or(start);
    (line_start..i).all(|k| {
        let o = doc.orig(k);
        doc.kind(k) != Some(Kind::Word) || o.chars().all(|c| !c.is_lowercase())
    }) && (line_start..i).any(|k| doc.kind(k) == Some(Kind::Word))
}

fn starts_lowercase(doc: &Doc<'_>, i: usize) -> bool {
    doc.orig(i).chars().next().is_some_and(char::is_lowercase)
}

fn period_ends(doc: &Doc<'_>, i: usize) -> bool {
    // A full stop at the end of a line ends its sentence, whatever the next line's case.
    if i + 1 >= doc.toks.len() || doc.toks[i + 1].newlines_before > 0 {
        return true;
    }
    if i > 0 && doc.toks[i].glued && doc.kind(i - 1) == Some(Kind::Word) {
        let prev = doc.text(i - 1);
        if crate::lexicon::has(NEVER_ENDS, prev) {
            return false;
        }
        // An initial: "H. pylori", "J. Smith".
        let p = doc.orig(i - 1);
        // Not a unit's last letter ("0.52 mmol/L. Plan…").
        if p.chars().count() == 1 && p.chars().all(char::is_uppercase) && !doc.toks[i - 1].glued {
            return false;
        }
    }
    let next = doc.orig(i + 1);
    let first = next.chars().next().unwrap_or(' ');
    !(first.is_lowercase() || matches!(first, ',' | ';' | ':' | ')' | '.'))
}

/// Keeps a sentence that has a word, dropping leading bullets ("- ", "• ", "2)").
fn push(doc: &Doc<'_>, out: &mut Vec<Sentence>, mut a: usize, b: usize) {
    while a < b {
        let t = doc.text(a);
        // "a) …", "iii) …", "[ ] …": list markers of letters and roman numerals too.
        let lettered = doc.kind(a) == Some(Kind::Word)
            && doc.text(a + 1) == ")"
            && a + 1 < b
            && (t.len() == 1 || t.bytes().all(|c| matches!(c, b'i' | b'v' | b'x')));
        let bullet = matches!(t, "-" | "*" | "•" | "·" | "–" | "—" | ">" | "#")
            || lettered
            || (doc.kind(a) == Some(Kind::Number)
                && matches!(doc.text(a + 1), ")" | ".")
                && a + 1 < b);
        if !bullet {
            break;
        }
        a += if doc.kind(a) == Some(Kind::Number) || lettered {
            2
        } else {
            1
        };
    }
    if a >= b || !(a..b).any(|k| doc.kind(k) == Some(Kind::Word)) {
        return;
    }
    let bytes = doc.toks[a].start..doc.toks[b - 1].end;
    out.push(Sentence { toks: a..b, bytes });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sentences(note: &str) -> Vec<&str> {
        let doc = Doc::new(note);
        split(&doc).into_iter().map(|s| &note[s.bytes]).collect()
    }

    #[test]
    fn respects_abbreviations_decimals_and_units() {
        assert_eq!(
            sentences("Seen by Dr. Patel, e.g. for pain. Take 1.5 ml b.i.d. for 5 days. Amoxicillin 500 mg. Buy it."),
            [
                "Seen by Dr. Patel, e.g. for pain.",
                "Take 1.5 ml b.i.d. for 5 days.",
                "Amoxicillin 500 mg.",
                "Buy it."
            ]
        );
        assert_eq!(
            sentences("H. pylori treatment. Done"),
            ["H. pylori treatment.", "Done"]
        );
        assert_eq!(
            sentences("Take 500 mg. twice daily"),
            ["Take 500 mg. twice daily"]
        );
    }

    #[test]
    fn splits_on_marks_lines_and_bullets() {
        assert_eq!(sentences("Why? Stop!"), ["Why?", "Stop!"]);
        assert_eq!(
            sentences("Plan:\n- Amoxicillin 500 mg tds\n- Buy a thermometer\n1. Rest"),
            [
                "Plan:",
                "Amoxicillin 500 mg tds",
                "Buy a thermometer",
                "Rest"
            ]
        );
        assert_eq!(
            sentences("Take one tablet\ntwice daily."),
            ["Take one tablet\ntwice daily."]
        );
    }

    #[test]
    fn quotations_stay_inside_their_sentence() {
        assert_eq!(
            sentences(r#"She said "I stop. I start." Take it."#),
            [r#"She said "I stop. I start.""#, "Take it."]
        );
    }
}
