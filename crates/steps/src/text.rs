//! The texts of a step: its title and the sentence it came from. Both are clinical content:
//! they travel sealed (`hospital-crypto`) and are never logged.

use std::fmt;
use std::ops::Deref;

use serde::{Deserialize, Serialize};

use crate::InvalidStep;

/// What a step names ("Take amoxicillin 500 mg", "Book a chest X-ray"): one line of 1 to
/// [`MAX_CHARS`](Self::MAX_CHARS) characters, trimmed, with no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Title(String);

impl Title {
    /// The longest title, in characters (Unicode scalar values): a title names, the source
    /// explains.
    pub const MAX_CHARS: usize = 200;

    /// Trims the text; refuses it empty, longer than [`MAX_CHARS`](Self::MAX_CHARS), or
    /// with a control character (line breaks and tabs included).
    pub fn new(text: impl Into<String>) -> Result<Self, InvalidStep> {
        let text = text.into();
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(InvalidStep::EmptyTitle);
        }
        if trimmed.chars().any(char::is_control) {
            return Err(InvalidStep::TitleControl);
        }
        let chars = trimmed.chars().count();
        if chars > Self::MAX_CHARS {
            return Err(InvalidStep::TitleTooLong(chars));
        }
        Ok(Self(if trimmed.len() == text.len() {
            text
        } else {
            trimmed.to_owned()
        }))
    }

    /// Fits any text into a title: runs of white space and control characters become one
    /// space, and a text longer than [`MAX_CHARS`](Self::MAX_CHARS) is cut at the last word
    /// boundary before it (mid-word only when a single word is that long), without the
    /// separator it would end on. `None` when nothing but white space and control
    /// characters is left. Reads at most about `MAX_CHARS` characters of the text.
    pub fn fit(text: &str) -> Option<Self> {
        let mut out = String::with_capacity(text.len().min(Self::MAX_CHARS * 4));
        let mut len = 0;
        let mut space = false;
        let mut longer = false;
        for c in text.chars() {
            if c.is_whitespace() || c.is_control() {
                space = len > 0;
                continue;
            }
            if len + usize::from(space) + 1 > Self::MAX_CHARS {
                longer = true;
                break;
            }
            if space {
                out.push(' ');
                len += 1;
                space = false;
            }
            out.push(c);
            len += 1;
        }
        // Cut mid-word: go back to the last whole word, if there is one.
        if longer && !space {
            if let Some(at) = out.rfind(' ') {
                out.truncate(at);
            }
        }
        if longer {
            let kept = out
                .trim_end_matches(|c: char| {
                    c.is_whitespace() || matches!(c, ',' | ';' | ':' | '(' | '-' | '–' | '—' | '/')
                })
                .len();
            if kept > 0 {
                out.truncate(kept);
            }
        }
        (!out.is_empty()).then_some(Self(out))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// The sentence of a note a step came from, verbatim: 1 to [`MAX_CHARS`](Self::MAX_CHARS)
/// characters (a note has at most that many), not only white space.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Source(String);

impl Source {
    /// The longest source, in characters (Unicode scalar values): the API's limit on a note.
    pub const MAX_CHARS: usize = 20_000;

    /// Keeps the text as it is; refuses it empty (or only white space) or longer than
    /// [`MAX_CHARS`](Self::MAX_CHARS).
    pub fn new(text: impl Into<String>) -> Result<Self, InvalidStep> {
        let text = text.into();
        if text.trim().is_empty() {
            return Err(InvalidStep::EmptySource);
        }
        let chars = text.chars().count();
        if chars > Self::MAX_CHARS {
            return Err(InvalidStep::SourceTooLong(chars));
        }
        Ok(Self(text))
    }

    /// Fits any text into a source: its first [`MAX_CHARS`](Self::MAX_CHARS) characters
    /// (still the note's own text). `None` when it is empty or only white space.
    pub fn fit(text: &str) -> Option<Self> {
        let text = match text.char_indices().nth(Self::MAX_CHARS) {
            Some((end, _)) => &text[..end],
            None => text,
        };
        (!text.trim().is_empty()).then(|| Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

macro_rules! text_traits {
    ($name:ident) => {
        impl Deref for $name {
            type Target = str;

            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl TryFrom<String> for $name {
            type Error = InvalidStep;

            fn try_from(text: String) -> Result<Self, Self::Error> {
                Self::new(text)
            }
        }

        impl From<$name> for String {
            fn from(text: $name) -> Self {
                text.0
            }
        }
    };
}

text_traits!(Title);
text_traits!(Source);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_title_is_one_trimmed_line_of_at_most_200_characters() {
        assert_eq!(Title::new("  Take x  ").unwrap(), "Take x");
        assert_eq!(Title::new(" \t "), Err(InvalidStep::EmptyTitle));
        assert_eq!(Title::new("Take\nx"), Err(InvalidStep::TitleControl));
        assert_eq!(Title::new("Take\u{7}x"), Err(InvalidStep::TitleControl));
        assert!(Title::new("é".repeat(200)).is_ok());
        assert_eq!(
            Title::new("é".repeat(201)),
            Err(InvalidStep::TitleTooLong(201))
        );
    }

    #[test]
    fn fit_makes_one_line_and_cuts_at_a_word_boundary() {
        assert_eq!(
            Title::fit(" Take\n\tamoxicillin \u{0}500 mg ").unwrap(),
            "Take amoxicillin 500 mg"
        );
        assert_eq!(Title::fit(" \n\u{1} "), None);
        let words = "Take amoxicillin 500 mg, ".repeat(20);
        let fitted = Title::fit(&words).unwrap();
        assert!(fitted.chars().count() <= Title::MAX_CHARS);
        assert!(words.starts_with(fitted.as_str()));
        assert!(fitted.ends_with("mg"), "{fitted}");
        // Exactly 200 characters, then a space: nothing is lost.
        let exact = format!("{} {}", "a".repeat(198), "b");
        assert_eq!(Title::fit(&format!("{exact} c")).unwrap(), exact.as_str());
        assert_eq!(Title::fit(&exact).unwrap(), exact.as_str());
        // A word that goes past 200 is dropped whole.
        let over = format!("{} {}", "a".repeat(150), "b".repeat(60));
        assert_eq!(Title::fit(&over).unwrap(), "a".repeat(150).as_str());
        // One endless word is cut where it must be.
        assert_eq!(
            Title::fit(&"x".repeat(10_000)).unwrap().chars().count(),
            200
        );
        for text in [words.as_str(), over.as_str(), "a\u{85}b", "\u{2028}x"] {
            let title = Title::fit(text).unwrap();
            assert_eq!(Title::new(title.as_str()), Ok(title));
        }
    }

    #[test]
    fn a_source_is_kept_verbatim() {
        let sentence = " Take one capsule\nthree times a day. ";
        assert_eq!(Source::new(sentence).unwrap(), sentence);
        assert_eq!(Source::new("  "), Err(InvalidStep::EmptySource));
        assert!(Source::new("é".repeat(20_000)).is_ok());
        assert_eq!(
            Source::new("é".repeat(20_001)),
            Err(InvalidStep::SourceTooLong(20_001))
        );
        let long = "é".repeat(30_000);
        assert_eq!(Source::fit(&long).unwrap().chars().count(), 20_000);
        assert_eq!(Source::fit(sentence).unwrap(), sentence);
        assert_eq!(Source::fit("\n"), None);
    }
}
