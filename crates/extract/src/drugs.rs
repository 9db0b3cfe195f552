//! Medicines and their doses.
//!
//! A medicine is a known name ("amoxicillin"), a name with a known stem ("-prazole",
//! "-olol"), a two-word name led by a known head ("ferrous sulfate", "vitamin D"), or an
//! unknown word written right before a strength ("Zorblax 20 mg"). Its phrase runs on over
//! forms and strengths ("chloramphenicol eye drops", "hydrocortisone 1% cream") so titles
//! name what the patient handles. A medicine being switched away from ("from X to Y",
//! "instead of X") is no mention.

use crate::lexicon::{is_count_form, is_count_unit, is_drug_head, is_form, is_strength_unit};
use crate::tokens::{Kind, View};

#[derive(Debug, Clone, Copy)]
pub(crate) struct Mention {
    /// First token of the name.
    pub start: usize,
    /// One past the name's last token.
    pub name_end: usize,
    /// One past the phrase (name, forms, strengths).
    pub end: usize,
}

/// Words that are never a medicine's name, whatever follows them.
#[rustfmt::skip]
const NOT_NAMES: &[&str] = &[
    "a", "about", "add", "after", "all", "an", "and", "another", "apply", "approximately", "are",
    "around", "at", "be", "before", "both", "by", "can", "commence", "continue", "daily", "day",
    "days", "decrease", "dose", "doses", "down", "each", "evening", "every", "extra", "first",
    "from", "further", "give", "given", "had", "has", "have", "her", "his", "hours", "increase",
    "initially", "into", "is", "it", "its", "just", "last", "less", "may", "more", "morning",
    "must", "my", "new", "next", "night", "now", "of", "off", "old", "only", "or", "our", "over",
    "per", "plus", "reduce", "restart", "second", "should", "start", "take", "takes", "taking",
    "than", "that", "the", "their", "then", "these", "this", "those", "to", "today", "tomorrow",
    "tonight", "total", "under", "until", "up", "upto", "use", "using", "usual", "via", "was",
    "week", "weeks", "weight", "were", "when", "where", "which", "while", "who", "will", "with",
    "would", "x", "your",
];

/// Words before a form that are not a medicine's name ("the cream", "your inhaler").
#[rustfmt::skip]
const GENERIC_NOUNS: &[&str] = &[
    "antibiotic", "antifungal", "barrier", "blue", "brown", "clean", "current", "extra", "fresh",
    "green", "grey", "moisturising", "moisturizing", "nasal", "new", "next", "old", "orange",
    "pain", "pink", "preventer", "previous", "purple", "red", "reliever", "same", "sleeping",
    "spare", "steroid", "that", "these", "this", "those", "used", "water", "white", "yellow",
    "your",
];

/// A strength dose at `i` ("500 mg", "500mg", "1%", "20,000 units", "5 mg/5 ml"); its end.
pub(crate) fn strength_at(v: View<'_, '_>, i: usize) -> Option<usize> {
    if v.kind(i) != Some(Kind::Number) || v.w(i).contains(':') {
        return None;
    }
    let unit = v.w(i + 1);
    if !is_strength_unit(unit) {
        return None;
    }
    let mut end = i + 2;
    // "5 mg/5 ml", "10 mg/kg", a patch's rate "4.6 mg/24 h", "25 mcg/hr"
    if v.w(end) == "/" && v.glued(end) {
        if v.kind(end + 1) == Some(Kind::Number) && is_strength_unit(v.w(end + 2)) {
            end += 3;
        } else if is_strength_unit(v.w(end + 1)) {
            end += 2;
        } else if v.kind(end + 1) == Some(Kind::Number)
            && matches!(v.w(end + 2), "h" | "hr" | "hrs" | "hours")
        {
            end += 3;
        } else if matches!(v.w(end + 1), "h" | "hr" | "hour" | "day" | "d" | "24h") {
            // "0.1 mg/day patch", "25 mcg/hr"
            end += 2;
        }
    }
    Some(end)
}

fn name_like(v: View<'_, '_>, i: usize) -> bool {
    v.has_class(i, crate::tokens::CLASS_NAME_LIKE)
}

/// A word that could be part of a medicine's name: three letters or more, not a little
/// word, a form, a unit, an order or a number (looked up once per token by `Doc`).
pub(crate) fn name_like_word(w: &str) -> bool {
    w.chars().count() >= 3
        && w.chars().all(|c| c.is_alphabetic() || c == '-')
        && !crate::lexicon::has(NOT_NAMES, w)
        && !is_form(w)
        && !is_strength_unit(w)
        && !is_count_unit(w)
        && !crate::lexicon::is_imperative(w)
        && crate::lexicon::number_word(w).is_none()
}

/// Salts, hydrates and esters that are part of a medicine's name ("nitrofurantoin
/// monohydrate", "bismuth subsalicylate", "doxycycline hyclate").
#[rustfmt::skip]
const SALTS: &[&str] = &[
    "acetate", "besylate", "bromide", "butyrate", "calcium", "carbonate", "chloride", "citrate",
    "dipropionate", "disodium", "fumarate", "furoate", "gluconate", "hcl", "hyclate",
    "hydrobromide", "hydrochloride", "lactate", "magnesium", "maleate", "mesylate", "monohydrate",
    "nitrate", "oxide", "phosphate", "potassium", "propionate", "sodium", "subsalicylate",
    "succinate", "sulfate", "sulphate", "tartrate", "trihydrate", "valerate",
];

/// The name at `i`, if a medicine's name starts there: its end.
fn name_at(v: View<'_, '_>, i: usize) -> Option<usize> {
    let end = name_at_word(v, i)?;
    // "nitrofurantoin monohydrate/macrocrystals", "bismuth subsalicylate 524 mg"
    let end = if crate::lexicon::has(SALTS, v.w(end)) {
        end + 1
    } else {
        end
    };
    // "Sodium zirconium cyclosilicate (Lokelma) 5 g": an unknown third word before the
    // brackets or the strength is part of the name.
    let third = end > i + 1
        && name_like(v, end)
        && (v.w(end + 1) == "(" || strength_at(v, end + 1).is_some());
    Some(if third { end + 1 } else { end })
}

fn name_at_word(v: View<'_, '_>, i: usize) -> Option<usize> {
    let w = v.w(i);
    if v.kind(i) != Some(Kind::Word) {
        return None;
    }
    if is_drug_head(w) {
        let next = v.w(i + 1);
        if v.kind(i + 1) == Some(Kind::Word)
            && !crate::lexicon::has(NOT_NAMES, next)
            && !is_form(next)
        {
            // "cod liver oil", "vitamin b12", "ferrous sulfate"
            let end = if v.w(i + 2) == "oil" { i + 3 } else { i + 2 };
            return Some(end);
        }
        if v.is_medicine(i) {
            return Some(i + 1);
        }
        return None;
    }
    if v.is_medicine(i) {
        // "insulin glargine 10 units", "insulin degludec (Tresiba)", "insulin aspart": the
        // unknown second word is part of the name.
        let after = v.w(i + 2);
        if name_like(v, i + 1)
            && (w == "insulin"
                || strength_at(v, i + 2).is_some()
                || after == "("
                || (is_form(after) && !is_count_form(after)))
        {
            return Some(i + 2);
        }
        return Some(i + 1);
    }
    // An unknown word right before a strength or a form: "Zorblax 20 mg", "adapalene gel".
    let form_next = is_form(v.w(i + 1))
        && !is_count_form(v.w(i + 1))
        && !matches!(v.w(i + 1), "oral" | "ear" | "eye" | "nasal" | "topical");
    let before_form = form_next
        || (matches!(v.w(i + 1), "eye" | "ear" | "nasal" | "oral") && is_form(v.w(i + 2)));
    if name_like(v, i)
        && (strength_at(v, i + 1).is_some() || before_form)
        && !crate::lexicon::has(GENERIC_NOUNS, v.w(i))
    {
        return Some(i + 1);
    }
    // A capitalised unknown name opening a line before a counted dose: "Probiotic 1 cap po
    // q am", "Fortisip 1 bottle twice daily".
    let opens = i == v.start || matches!(v.w(i.wrapping_sub(1)), "-" | "•" | "*" | ":" | ".");
    if opens
        && name_like(v, i)
        && v.doc.orig(i).starts_with(|c: char| c.is_ascii_uppercase())
        && v.kind(i + 1) == Some(Kind::Number)
        && (is_count_unit(v.w(i + 2))
            || matches!(
                crate::sig::meaning(v.w(i + 2)),
                Some(crate::sig::Meaning::DoseUnit)
            )
            || matches!(
                v.w(i + 2),
                "bottle" | "bottles" | "sachet" | "sachets" | "scoop" | "scoops"
            ))
        && !crate::lexicon::has(GENERIC_NOUNS, v.w(i))
    {
        return Some(i + 1);
    }
    // An unknown name with its salt before a strength: "bismuth subsalicylate 524 mg".
    if name_like(v, i)
        && crate::lexicon::has(SALTS, v.w(i + 1))
        && strength_at(v, i + 2).is_some()
        && !crate::lexicon::has(GENERIC_NOUNS, v.w(i))
    {
        return Some(i + 1);
    }
    None
}

pub(crate) fn find(v: View<'_, '_>) -> Vec<Mention> {
    let mut out: Vec<Mention> = Vec::new();
    let mut i = v.start;
    while i < v.end {
        let Some(name_end) = name_at(v, i) else {
            i += 1;
            continue;
        };
        let mut start = i;
        // "co-amoxiclav", "co-codamol": glued hyphenated prefixes.
        while start >= v.start + 2
            && v.glued(start)
            && v.w(start.wrapping_sub(1)) == "-"
            && v.glued(start - 1)
            && v.kind(start - 2) == Some(Kind::Word)
        {
            start -= 2;
        }
        let mut end = extend_phrase(v, name_end);
        // "Dalteparin (Fragmin) 5,000 units", "Duac gel (clindamycin 1%/benzoyl peroxide
        // 5%)": the brackets name the same product again.
        if v.w(end) == "(" {
            let close = (end + 1..(end + 16).min(v.end)).find(|&k| v.w(k) == ")");
            if let Some(close) = close.filter(|&c| c > end + 1 && names_same_product(v, end + 1, c))
            {
                end = extend_phrase(v, close + 1);
            }
        }
        // "nirmatrelvir 150 mg + ritonavir 100 mg", "budesonide/formoterol", then perhaps
        // the brand in brackets: one product.
        loop {
            if matches!(v.w(end), "/" | "+") {
                if let Some(next_end) = name_at(v, end + 1) {
                    end = extend_phrase(v, next_end);
                    continue;
                }
                // "nitrofurantoin monohydrate/macrocrystals (Macrobid)"
                if v.w(end) == "/" && v.glued(end) && v.glued(end + 1) && name_like(v, end + 1) {
                    end = extend_phrase(v, end + 2);
                    continue;
                }
            }
            if v.w(end) == "(" {
                let close = (end + 1..(end + 16).min(v.end)).find(|&k| v.w(k) == ")");
                if let Some(close) =
                    close.filter(|&c| c > end + 1 && names_same_product(v, end + 1, c))
                {
                    end = extend_phrase(v, close + 1);
                    continue;
                }
            }
            break;
        }
        // Drop trailing hyphens picked up above.
        while end > name_end && v.w(end.wrapping_sub(1)) == "-" {
            end -= 1;
        }
        let prev = v.w(start.wrapping_sub(1));
        let prev2 = v.w(start.wrapping_sub(2));
        let switched_from = matches!(prev, "from" | "than" | "replacing" | "instead")
            || (prev == "of" && matches!(prev2, "instead" | "place"))
            || (v.w(end) == "to"
                && (name_at(v, end + 1).is_some()
                    || strength_at(v, end + 1).is_none() && name_at(v, end + 2).is_some()));
        if !switched_from {
            out.push(Mention {
                start,
                name_end,
                end,
            });
        }
        i = end.max(i + 1);
    }
    out
}

/// The phrase runs on from `end` over forms, strengths, release words and short capitals
/// ("HC", "DS", "XL").
fn extend_phrase(v: View<'_, '_>, end: usize) -> usize {
    let mut end = end;
    loop {
        let original = v.doc.orig(end);
        // "sulfamethoxazole-trimethoprim", "modified-release": the hyphen and the word.
        if v.w(end) == "-"
            && v.glued(end)
            && v.kind(end + 1) == Some(Kind::Word)
            && v.glued(end + 1)
            && !is_form(v.w(end + 1))
        {
            end += 2;
            continue;
        }
        if is_form(v.w(end)) || (v.w(end) == "-" && v.glued(end) && is_form(v.w(end + 1))) {
            end += 1;
        } else if let Some(e) = strength_at(v, end) {
            end = e;
        } else if matches!(
            v.w(end),
            "modified" | "slow" | "extended" | "release" | "gastro" | "resistant"
        ) || (v.w(end) == "-"
            && v.glued(end)
            && v.kind(end + 1) == Some(Kind::Word)
            && v.glued(end + 1))
            || (v.contains(end)
                && v.kind(end) == Some(Kind::Word)
                && (2..=4).contains(&original.len())
                && original.bytes().all(|b| b.is_ascii_uppercase())
                && crate::sig::meaning(v.w(end)).is_none())
        {
            end += 1;
        } else {
            break;
        }
    }
    end
}

/// Whether the bracketed words `from..to` name a product again (its brand, its
/// ingredients and strengths), not an instruction or a comment.
fn names_same_product(v: View<'_, '_>, from: usize, to: usize) -> bool {
    let mut named = false;
    for k in from..to {
        let w = v.w(k);
        match v.kind(k) {
            Some(Kind::Number) => {}
            Some(Kind::Punct) => {
                if !matches!(w, "/" | "-" | "+" | "," | "%" | "&" | ":" | ".") {
                    return false;
                }
            }
            Some(Kind::Word) => {
                if crate::lexicon::is_imperative(w)
                    || crate::lexicon::is_admin_verb(w)
                    || (crate::lexicon::has(NOT_NAMES, w) && !matches!(w, "and" | "plus" | "with"))
                {
                    return false;
                }
                named |= v.is_medicine(k) || name_like(v, k);
            }
            None => return false,
        }
    }
    named
}

/// The phrase of a mention for a title: the original text, without the count forms at its
/// end ("amoxicillin 500 mg capsules" → "amoxicillin 500 mg").
pub(crate) fn phrase(v: View<'_, '_>, m: &Mention) -> String {
    let mut end = m.end;
    while end > m.name_end && is_count_form(v.w(end.wrapping_sub(1))) {
        end -= 1;
    }
    v.doc.slice(m.start, end - 1).to_string()
}

/// The name alone ("amoxicillin").
pub(crate) fn name(v: View<'_, '_>, m: &Mention) -> String {
    v.doc.slice(m.start, m.name_end - 1).to_string()
}

/// Whether the phrase already states a strength.
pub(crate) fn has_strength(v: View<'_, '_>, m: &Mention) -> bool {
    (m.name_end..m.end).any(|k| strength_at(v, k).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::Doc;

    #[test]
    fn word_lists_are_sorted_for_binary_search() {
        for list in [NOT_NAMES, GENERIC_NOUNS, SALTS] {
            crate::lexicon::assert_sorted_unique(list);
        }
    }

    fn phrases(text: &str) -> Vec<String> {
        let doc = Doc::new(text);
        let v = View::new(&doc, 0, doc.toks.len());
        find(v).iter().map(|m| phrase(v, m)).collect()
    }

    #[test]
    fn names_forms_and_strengths() {
        assert_eq!(
            phrases("Take amoxicillin 500 mg capsules three times a day"),
            ["amoxicillin 500 mg"]
        );
        assert_eq!(
            phrases("Use chloramphenicol eye drops, one drop"),
            ["chloramphenicol eye drops"]
        );
        assert_eq!(
            phrases("Hydrocortisone 1% cream once daily"),
            ["Hydrocortisone 1% cream"]
        );
        assert_eq!(
            phrases("Take ferrous sulfate 200 mg once a day"),
            ["ferrous sulfate 200 mg"]
        );
        assert_eq!(
            phrases("Colecalciferol 20,000 units once weekly"),
            ["Colecalciferol 20,000 units"]
        );
        assert_eq!(phrases("co-amoxiclav 625mg tds"), ["co-amoxiclav 625mg"]);
        assert_eq!(phrases("Zorblax 20 mg daily"), ["Zorblax 20 mg"]);
        assert_eq!(
            phrases("insulin glargine 10 units at night"),
            ["insulin glargine 10 units"]
        );
        assert_eq!(
            phrases("vitamin D 1000 units daily"),
            ["vitamin D 1000 units"]
        );
    }

    #[test]
    fn lists_give_one_mention_each() {
        assert_eq!(
            phrases("omeprazole, amoxicillin and clarithromycin, all twice daily"),
            ["omeprazole", "amoxicillin", "clarithromycin"]
        );
    }

    #[test]
    fn switched_away_from_is_no_mention() {
        assert_eq!(
            phrases("switch from amlodipine to lisinopril 10 mg"),
            ["lisinopril 10 mg"]
        );
        assert_eq!(phrases("change amlodipine to lisinopril"), ["lisinopril"]);
        assert_eq!(phrases("take 2 tablets daily"), Vec::<String>::new());
    }
}
