//! The note as tokens: the one pass every later stage reads.
//!
//! The note is copied once, ASCII-lowercased and with everything inside quotation marks
//! blanked out (a patient's words are never instructions, whatever they say). Lowercasing
//! only ASCII and blanking byte for byte keep every byte offset equal to the original's,
//! so a token's offsets slice the original note for verbatim sources and titles.

// Token scanners read best in the notation of their patterns: `v` the view, `i`/`j`/`k`
// positions, `w` the word, `n` a number.
#![allow(clippy::many_single_char_names)]

/// What a token is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Starts with a letter: `amoxicillin`, `b.i.d`, `q6h`, `don't`.
    Word,
    /// Starts with a digit: `500`, `1.5`, `08:00`, `7/7`, `20,000`.
    Number,
    /// Any other single character: `.`, `;`, `-`, `“`.
    Punct,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Token {
    pub start: usize,
    pub end: usize,
    pub kind: Kind,
    /// No whitespace between this token and the previous one (`500mg`, `8am`, `x-ray`).
    pub glued: bool,
    /// Line breaks between the previous token and this one (capped at 2).
    pub newlines_before: u8,
}

/// A note, tokenised.
pub(crate) struct Doc<'a> {
    pub original: &'a str,
    lower: String,
    pub toks: Vec<Token>,
    /// Whether each token is a known medicine's name (looked up once per note).
    medicine: Vec<bool>,
    /// What each word could be, looked up once per note: see the `CLASS_*` bits.
    class: Vec<u8>,
}

/// A word that orders something: `IMPERATIVES`, `ADMIN_VERBS` or `CHECKLIST_VERBS`.
pub(crate) const CLASS_VERB: u8 = 1;
/// A word that could be part of a medicine's name (`drugs::name_like_word`).
pub(crate) const CLASS_NAME_LIKE: u8 = 2;

impl<'a> Doc<'a> {
    pub fn new(original: &'a str) -> Self {
        let lower = working_copy(original);
        let toks = tokenize(&lower);
        let medicine = toks
            .iter()
            .map(|t| t.kind == Kind::Word && crate::lexicon::is_drug(&lower[t.start..t.end]))
            .collect();
        let class = toks
            .iter()
            .map(|t| {
                if t.kind != Kind::Word {
                    return 0;
                }
                let w = &lower[t.start..t.end];
                let mut c = 0;
                if crate::lexicon::is_imperative(w)
                    || crate::lexicon::is_admin_verb(w)
                    || crate::lexicon::is_checklist_verb(w)
                {
                    c |= CLASS_VERB;
                }
                if crate::drugs::name_like_word(w) {
                    c |= CLASS_NAME_LIKE;
                }
                c
            })
            .collect();
        Doc {
            original,
            lower,
            toks,
            medicine,
            class,
        }
    }

    /// Token `i` has all the class bits `bits`.
    pub fn has_class(&self, i: usize, bits: u8) -> bool {
        self.class.get(i).is_some_and(|c| c & bits == bits)
    }

    /// Token `i` is a known medicine's name.
    pub fn is_medicine(&self, i: usize) -> bool {
        self.medicine.get(i).copied().unwrap_or(false)
    }

    /// The lowercased text of token `i` ("" past the end).
    pub fn text(&self, i: usize) -> &str {
        self.toks.get(i).map_or("", |t| &self.lower[t.start..t.end])
    }

    /// The original text of token `i`.
    pub fn orig(&self, i: usize) -> &str {
        self.toks
            .get(i)
            .map_or("", |t| &self.original[t.start..t.end])
    }

    pub fn kind(&self, i: usize) -> Option<Kind> {
        self.toks.get(i).map(|t| t.kind)
    }

    /// The original text from token `a` to token `b` inclusive.
    pub fn slice(&self, a: usize, b: usize) -> &'a str {
        match (self.toks.get(a), self.toks.get(b)) {
            (Some(x), Some(y)) if x.start <= y.end => &self.original[x.start..y.end],
            _ => "",
        }
    }
}

/// A window of a note's tokens: reading outside it gives "" so that parsers can look
/// ahead and behind without bounds checks and never see a neighbouring clause.
#[derive(Clone, Copy)]
pub(crate) struct View<'d, 'a> {
    pub doc: &'d Doc<'a>,
    pub start: usize,
    pub end: usize,
}

impl<'d, 'a> View<'d, 'a> {
    pub fn new(doc: &'d Doc<'a>, start: usize, end: usize) -> Self {
        View {
            doc,
            start,
            end: end.min(doc.toks.len()),
        }
    }

    pub fn contains(&self, i: usize) -> bool {
        i >= self.start && i < self.end
    }

    /// The lowercased text of token `i`, "" outside the window.
    pub fn w(&self, i: usize) -> &'d str {
        if self.contains(i) {
            self.doc.text(i)
        } else {
            ""
        }
    }

    pub fn kind(&self, i: usize) -> Option<Kind> {
        if self.contains(i) {
            self.doc.kind(i)
        } else {
            None
        }
    }

    /// Token `i` is a known medicine's name (false outside the window).
    pub fn is_medicine(&self, i: usize) -> bool {
        self.contains(i) && self.doc.is_medicine(i)
    }

    /// Token `i` has the class bits `bits` (false outside the window).
    pub fn has_class(&self, i: usize, bits: u8) -> bool {
        self.contains(i) && self.doc.has_class(i, bits)
    }

    /// Token `i` and `i + 1` are written without a space between them.
    pub fn glued(&self, i: usize) -> bool {
        self.contains(i) && self.doc.toks[i].glued
    }

    pub fn is_any(&self, i: usize, words: &[&str]) -> bool {
        let w = self.w(i);
        !w.is_empty() && words.contains(&w)
    }

    /// An integer written in digits.
    pub fn int(&self, i: usize) -> Option<u32> {
        if self.kind(i) == Some(Kind::Number) {
            crate::lexicon::integer(self.w(i))
        } else {
            None
        }
    }

    /// A quantity in digits or words ("7", "seven", "a").
    pub fn qty(&self, i: usize) -> Option<u32> {
        self.int(i)
            .or_else(|| crate::lexicon::number_word(self.w(i)))
    }

    /// Position of the first token in `from..` that satisfies `f`.
    pub fn find(&self, from: usize, f: impl Fn(usize) -> bool) -> Option<usize> {
        (from.max(self.start)..self.end).find(|&i| f(i))
    }
}

/// Verbs a note puts in quotation marks for emphasis, not as anyone's words: "please
/// “drop off” the sample" is still an instruction.
const SCARE_QUOTED_VERBS: &[&str] = &[
    "book", "bring", "call", "collect", "drop", "fill", "hand", "pick", "post", "send", "take",
];

/// A quotation of one to three words, opening with one of those verbs, right after
/// "please", "to", "and" or nothing: emphasis, kept readable.
fn is_scare_quote(note: &str, (from, to): (usize, usize)) -> bool {
    // Only short quotations are looked at, and only a few bytes before them: linear time
    // over a note of nothing but quotation marks.
    if to - from > 40 {
        return false;
    }
    let inner = &note[from..to];
    let words: Vec<&str> = inner.split_whitespace().collect();
    let first = words.first().map(|w| w.to_ascii_lowercase());
    let mut window = from.saturating_sub(24);
    while !note.is_char_boundary(window) {
        window += 1;
    }
    let before = note[window..from]
        .trim_end_matches(|c: char| !c.is_alphanumeric() && !c.is_whitespace())
        .split_whitespace()
        .next_back()
        .map(str::to_ascii_lowercase);
    (1..=3).contains(&words.len())
        && first.is_some_and(|f| SCARE_QUOTED_VERBS.contains(&f.as_str()))
        && before
            .as_deref()
            .is_none_or(|b| matches!(b, "please" | "to" | "and" | "then"))
}

/// Lowercases ASCII and blanks quoted text, keeping every byte offset.
fn working_copy(note: &str) -> String {
    let mut masks = quoted_regions(note);
    masks.retain(|&r| !is_scare_quote(note, r));
    let mut out = String::with_capacity(note.len());
    let mut m = masks.iter().peekable();
    for (i, c) in note.char_indices() {
        while m.peek().is_some_and(|r| r.1 <= i) {
            m.next();
        }
        if m.peek().is_some_and(|r| r.0 <= i) {
            for _ in 0..c.len_utf8() {
                out.push(' ');
            }
        } else {
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// Byte ranges strictly inside quotation marks, in order, not overlapping.
///
/// Double quotes (straight, curly, guillemets) pair up within a paragraph; an unpaired
/// opening quote blanks the rest of its line. Single quotes count only where they cannot
/// be apostrophes (an opening one after a space, a closing one before a non-letter) and
/// must close on the same line. Each search that fails remembers where it failed, so no
/// stretch of text is searched twice: linear time on any input.
fn quoted_regions(note: &str) -> Vec<(usize, usize)> {
    let chars: Vec<(usize, char)> = note.char_indices().collect();
    let n = chars.len();
    let at = |k: usize| chars.get(k).map_or('\0', |c| c.1);
    let byte = |k: usize| chars.get(k).map_or(note.len(), |c| c.0);
    let mut out = Vec::new();
    // Position up to which a failed search of each kind proved there is no closer.
    let mut no_closer_until = [0usize; 3];
    let mut k = 0;
    while k < n {
        let c = at(k);
        let prev = if k == 0 { ' ' } else { at(k - 1) };
        let next = at(k + 1);
        let kind = match c {
            '"' | '“' | '„' | '«' => Some(0),
            '‘' => Some(1),
            '\'' if (prev.is_whitespace() || matches!(prev, '(' | '[' | ':' | ',' | '\0'))
                && next.is_alphanumeric() =>
            {
                Some(2)
            }
            _ => None,
        };
        let Some(kind) = kind else {
            k += 1;
            continue;
        };
        if k < no_closer_until[kind] {
            k += 1;
            continue;
        }
        let double = kind == 0;
        let mut j = k + 1;
        let mut found = None;
        while j < n {
            let d = at(j);
            if d == '\n'
                && (!double || at(j + 1) == '\n' || (at(j + 1) == '\r' && at(j + 2) == '\n'))
            {
                break;
            }
            let closes = match kind {
                0 => matches!(d, '"' | '”' | '“' | '»'),
                _ => {
                    matches!(d, '\'' | '’')
                        && !at(j - 1).is_whitespace()
                        && !at(j + 1).is_alphanumeric()
                }
            };
            if closes {
                found = Some(j);
                break;
            }
            j += 1;
        }
        if let Some(j) = found {
            out.push((byte(k + 1), byte(j)));
            k = j + 1;
        } else {
            no_closer_until[kind] = j;
            if double {
                // An unclosed quotation still is the patient's: blank to the end of the line.
                let mut e = k + 1;
                while e < n && at(e) != '\n' {
                    e += 1;
                }
                out.push((byte(k + 1), byte(e)));
                k = e;
            } else {
                k += 1;
            }
        }
    }
    out
}

fn tokenize(text: &str) -> Vec<Token> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let n = chars.len();
    let at = |k: usize| chars.get(k).map_or('\0', |c| c.1);
    let byte = |k: usize| chars.get(k).map_or(text.len(), |c| c.0);
    let mut toks = Vec::with_capacity(n / 4);
    let mut k = 0;
    let mut newlines = 0u8;
    let mut glued = false;
    while k < n {
        let c = at(k);
        if c.is_whitespace() {
            if c == '\n' {
                newlines = newlines.saturating_add(1).min(2);
            }
            glued = false;
            k += 1;
            continue;
        }
        let start = k;
        let kind = if c.is_ascii_digit() {
            k += 1;
            loop {
                while at(k).is_ascii_digit() {
                    k += 1;
                }
                if matches!(at(k), '.' | ',' | ':' | '/') && at(k + 1).is_ascii_digit() {
                    k += 1;
                } else {
                    break;
                }
            }
            Kind::Number
        } else if c.is_alphanumeric() {
            k += 1;
            loop {
                // "x5" is "x" then "5" (a duration), unlike "q6h" or "b12".
                if k == start + 1 && c == 'x' && at(k).is_ascii_digit() {
                    break;
                }
                let d = at(k);
                if d.is_alphanumeric()
                    || (matches!(d, '.' | '\'' | '’') && at(k + 1).is_alphabetic())
                {
                    k += 1;
                } else {
                    break;
                }
            }
            Kind::Word
        } else {
            k += 1;
            Kind::Punct
        };
        let (from, to) = (byte(start), byte(k));
        let cuts = if kind == Kind::Word {
            crate::sig::cuts(&text[from..to])
        } else {
            Vec::new()
        };
        // Shorthand written without spaces ("bidx10") is read as its parts, glued.
        let mut part_start = from;
        for cut in cuts.into_iter().map(|c| from + c).chain([to]) {
            let part = &text[part_start..cut];
            let part_kind = if part.bytes().all(|b| b.is_ascii_digit()) {
                Kind::Number
            } else {
                kind
            };
            toks.push(Token {
                start: part_start,
                end: cut,
                kind: part_kind,
                glued: glued || part_start > from,
                newlines_before: if part_start > from { 0 } else { newlines },
            });
            part_start = cut;
        }
        newlines = 0;
        glued = true;
    }
    toks
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(note: &str) -> Vec<String> {
        let d = Doc::new(note);
        (0..d.toks.len()).map(|i| d.text(i).to_string()).collect()
    }

    #[test]
    fn splits_numbers_units_and_shorthand() {
        assert_eq!(words("500mg b.i.d."), ["500", "mg", "b.i.d", "."]);
        assert_eq!(words("x5 days x 7/7"), ["x", "5", "days", "x", "7/7"]);
        assert_eq!(
            words("1.5 ml at 08:00, 20,000 units"),
            ["1.5", "ml", "at", "08:00", ",", "20,000", "units"]
        );
        assert_eq!(
            words("1 tab po bidx10 days prnas needed"),
            ["1", "tab", "po", "bid", "x", "10", "days", "prn", "as", "needed"]
        );
        assert_eq!(
            words("q6h 8am X-ray don't"),
            ["q6h", "8", "am", "x", "-", "ray", "don't"]
        );
    }

    #[test]
    fn offsets_match_the_original_even_with_non_ascii() {
        let note = "Ärztin: Take É 5 mg — “never” ok";
        let d = Doc::new(note);
        for i in 0..d.toks.len() {
            assert_eq!(d.orig(i).to_lowercase(), d.orig(i).to_lowercase());
            assert_eq!(d.text(i).len(), d.orig(i).len());
        }
        assert!(!words(note).contains(&"never".to_string()));
    }

    #[test]
    fn quoted_text_is_blanked() {
        assert_eq!(
            words(r#"He said "take it twice daily" ok"#),
            ["he", "said", "\"", "\"", "ok"]
        );
        assert_eq!(
            words("She said 'stop it' then"),
            ["she", "said", "'", "'", "then"]
        );
        assert_eq!(
            words("the patient's wife's car"),
            ["the", "patient's", "wife's", "car"]
        );
        assert_eq!(words("a “b c” d"), ["a", "“", "”", "d"]);
        // An unclosed quotation runs to the end of its line only.
        assert_eq!(words("x \"y z\nw"), ["x", "\"", "w"]);
    }
}
