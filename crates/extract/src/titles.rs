//! Titles: what a step names — the medicine and its dose ("Take amoxicillin 500 mg"), or
//! the action with its object ("Check blood pressure at home", "Book a chest X-ray").

use hospital_steps::Title;

use crate::tokens::{Kind, View};

/// The most characters of text a title is made from: one past what a [`Title`] holds, so
/// that [`Title::fit`] sees a longer text is longer and cuts it at a word boundary.
const MAX_CHARS: usize = Title::MAX_CHARS + 1;

/// The verb a medicine's title opens with: the note's own when it names how to give it,
/// else the one its form implies.
/// Medicines given only by injection, by their stems: heparins ("dalteparin"), GLP-1
/// agonists ("semaglutide"), antibodies ("adalimumab"), "filgrastim", "epoetin", insulins.
fn injected_by_nature(phrase_lower: &str) -> bool {
    phrase_lower.split(|c: char| !c.is_alphanumeric()).any(|w| {
        w == "insulin"
            || w == "teriparatide"
            || w == "hydroxocobalamin"
            || ["parin", "parinux", "glutide", "grastim", "poetin", "mab"]
                .iter()
                .any(|stem| w.len() > stem.len() + 2 && w.ends_with(stem))
    })
}

pub(crate) fn medicine_verb(head: &str, phrase_lower: &str) -> &'static str {
    match head {
        "take" => return "Take",
        "use" => return "Use",
        "apply" | "rub" => return "Apply",
        "instil" | "instill" => return "Instil",
        "inhale" => return "Inhale",
        "inject" => return "Inject",
        "insert" => return "Insert",
        "chew" => return "Chew",
        "give" | "administer" => return "Give",
        _ => {}
    }
    let has = |words: &[&str]| {
        phrase_lower
            .split(|c: char| !c.is_alphanumeric())
            .any(|w| words.contains(&w))
    };
    // Swallowed forms first: "Vitamin D3 50,000 units capsule" is taken, not injected.
    if has(&[
        "tablet",
        "tablets",
        "tab",
        "tabs",
        "capsule",
        "capsules",
        "cap",
        "caps",
        "caplet",
        "pill",
        "chewable",
        "lozenge",
        "syrup",
        "suspension",
        "elixir",
        "granules",
        "powder",
    ]) && !has(&[
        "ophthalmic",
        "otic",
        "accuhaler",
        "easyhaler",
        "ellipta",
        "evohaler",
        "inhalation",
        "inhalations",
        "nexthaler",
        "respimat",
        "turbohaler",
        "eye",
        "ear",
        "nasal",
        "inhalation",
        "nebuliser",
        "nebulizer",
    ]) {
        return "Take";
    }
    if has(&[
        "cream",
        "ointment",
        "gel",
        "lotion",
        "patch",
        "patches",
        "paste",
        "emollient",
        "foam",
    ]) {
        "Apply"
    } else if has(&[
        "drops",
        "drop",
        "spray",
        "inhaler",
        "mouthwash",
        "shampoo",
        "wash",
        "nebules",
        "enema",
        "nasal",
        "ophthalmic",
        "otic",
        "gtt",
        "gtts",
    ]) {
        "Use"
    } else if injected_by_nature(phrase_lower)
        || has(&[
            "injection",
            "pen",
            "syringe",
            "insulin",
            "sc",
            "subcut",
            "sq",
            "im",
            "subcutaneous",
            "subcutaneously",
        ])
    {
        "Inject"
    } else if has(&["pessary", "pessaries", "suppository", "suppositories"]) {
        "Insert"
    } else {
        "Take"
    }
}

/// Words a title does not end on.
const DANGLING: &[&str] = &[
    "(", ",", "-", "a", "after", "an", "and", "as", "at", "before", "by", "each", "every", "for",
    "from", "in", "of", "on", "or", "starting", "the", "then", "to", "until", "with", "—", "–",
    ":", "&",
];

/// The original text of tokens `a..b`, without dangling ends, capitalised, bounded.
pub(crate) fn from_tokens(v: View<'_, '_>, a: usize, b: usize) -> Option<String> {
    let mut a = a;
    let mut b = b;
    while a < b && (v.kind(a) == Some(Kind::Punct) || matches!(v.w(a), "and" | "then" | "also")) {
        a += 1;
    }
    while b > a
        && (DANGLING.contains(&v.w(b.wrapping_sub(1)))
            || (v.kind(b - 1) == Some(Kind::Punct)
                && v.w(b.wrapping_sub(1)) != ")"
                && v.w(b.wrapping_sub(1)) != "%"))
    {
        b -= 1;
    }
    if b <= a {
        return None;
    }
    Some(capitalise(v.doc.slice(a, b - 1)))
}

pub(crate) fn capitalise(text: &str) -> String {
    // Quotation marks around a word of emphasis ("drop off") are not part of a title.
    let unquoted;
    let text = if text.contains(['“', '”', '"']) {
        unquoted = text.replace(['“', '”', '"'], "");
        unquoted.as_str()
    } else {
        text
    };
    let mut out = String::with_capacity(text.len().min(MAX_CHARS * 4));
    for (n, c) in text.chars().enumerate() {
        if n >= MAX_CHARS {
            break;
        }
        if n == 0 {
            out.extend(c.to_uppercase());
        } else if c.is_whitespace() {
            // Line breaks inside a sentence read as spaces in a title.
            if !out.ends_with(' ') {
                out.push(' ');
            }
        } else {
            out.push(c);
        }
    }
    out.trim_end().to_string()
}

/// The text with its first letter lowercased: a name opening a sentence is capitalised
/// only for the sentence's sake.
pub(crate) fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::Doc;

    #[test]
    fn verbs_follow_the_form() {
        assert_eq!(medicine_verb("continue", "budesonide inhaler"), "Use");
        assert_eq!(medicine_verb("", "hydrocortisone 1% cream"), "Apply");
        assert_eq!(medicine_verb("start", "lisinopril 10 mg"), "Take");
        assert_eq!(medicine_verb("apply", "nicotine"), "Apply");
    }

    #[test]
    fn titles_lose_dangling_words() {
        let doc = Doc::new("check blood pressure at home every morning");
        let v = View::new(&doc, 0, doc.toks.len());
        assert_eq!(
            from_tokens(v, 0, 5).as_deref(),
            Some("Check blood pressure at home")
        );
        assert_eq!(
            from_tokens(v, 0, 6).as_deref(),
            Some("Check blood pressure at home")
        );
    }
}
