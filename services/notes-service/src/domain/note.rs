//! A note's parts: its text, its status, the key that makes a submission idempotent.

use std::fmt;

pub use hospital_events::contracts::ExtractionFailure as FailureCode;

/// The longest note, in characters (Unicode scalar values), as api.md says.
pub const MAX_NOTE_CHARS: usize = 20_000;

/// The longest `Idempotency-Key`, in bytes.
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 255;

/// Why a value is refused; each message names the field and never quotes note text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidInput {
    #[error("text must not be empty")]
    EmptyText,
    #[error("text has {0} characters; a note has at most {MAX_NOTE_CHARS}")]
    TextTooLong(usize),
    #[error("text must not contain NUL characters")]
    NulInText,
    #[error(
        "the Idempotency-Key header must be 1 to {MAX_IDEMPOTENCY_KEY_LEN} visible ASCII characters"
    )]
    IdempotencyKey,
}

/// A note's text: 1 to 20,000 characters, not only whitespace. Kept exactly as written.
#[derive(Clone, PartialEq, Eq)]
pub struct NoteText(String);

impl NoteText {
    pub fn parse(text: String) -> Result<Self, InvalidInput> {
        if text.trim().is_empty() {
            return Err(InvalidInput::EmptyText);
        }
        // Counting stops just past the limit: a 100 KB body is not walked twice.
        let chars = text.chars().take(MAX_NOTE_CHARS + 1).count();
        if chars > MAX_NOTE_CHARS {
            return Err(InvalidInput::TextTooLong(text.chars().count()));
        }
        if text.contains('\0') {
            return Err(InvalidInput::NulInText);
        }
        Ok(Self(text))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for NoteText {
    /// Never the content: a note's words must not reach a log through `{:?}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NoteText({} bytes)", self.0.len())
    }
}

/// A doctor's `Idempotency-Key`: 1 to 255 visible ASCII characters (no spaces).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub fn parse(raw: &str) -> Result<Self, InvalidInput> {
        let ok = !raw.is_empty()
            && raw.len() <= MAX_IDEMPOTENCY_KEY_LEN
            && raw.bytes().all(|b| b.is_ascii_graphic());
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(InvalidInput::IdempotencyKey)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Where a note is in its life: `processing` until its steps exist or extraction failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NoteStatus {
    Processing,
    Processed,
    Failed,
}

impl NoteStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            NoteStatus::Processing => "processing",
            NoteStatus::Processed => "processed",
            NoteStatus::Failed => "failed",
        }
    }

    /// The stored form back; anything else is corruption, not a default.
    pub fn parse(stored: &str) -> Option<Self> {
        match stored {
            "processing" => Some(NoteStatus::Processing),
            "processed" => Some(NoteStatus::Processed),
            "failed" => Some(NoteStatus::Failed),
            _ => None,
        }
    }
}

/// The stable code of a failure, as stored and as the API shows it.
pub fn failure_code_str(code: FailureCode) -> &'static str {
    match code {
        FailureCode::ProviderUnavailable => "provider_unavailable",
        FailureCode::InvalidOutput => "invalid_output",
        FailureCode::NoteTooLong => "note_too_long",
        FailureCode::NoteUnreadable => "note_unreadable",
        FailureCode::TooManySteps => "too_many_steps",
    }
}

/// The stored code back.
pub fn parse_failure_code(stored: &str) -> Option<FailureCode> {
    [
        FailureCode::ProviderUnavailable,
        FailureCode::InvalidOutput,
        FailureCode::NoteTooLong,
        FailureCode::NoteUnreadable,
        FailureCode::TooManySteps,
    ]
    .into_iter()
    .find(|code| failure_code_str(*code) == stored)
}

/// What the doctor reads when a note's extraction failed.
pub fn failure_message(code: FailureCode) -> &'static str {
    match code {
        FailureCode::ProviderUnavailable => {
            "The language model could not be reached, so no checklist or plan was made from this note. Submit it again later."
        }
        FailureCode::InvalidOutput => {
            "The language model's answers about this note were not valid, so no checklist or plan was made from it."
        }
        FailureCode::NoteTooLong => {
            "The note is longer than the extractor reads, so no checklist or plan was made from it."
        }
        FailureCode::NoteUnreadable => {
            "The note could not be decrypted for extraction; operators have been alerted."
        }
        FailureCode::TooManySteps => {
            "The note asks for more than 200 checklist items or plan steps; split it into several notes."
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_one_to_twenty_thousand_characters() {
        assert!(NoteText::parse("Take one tablet daily.".into()).is_ok());
        assert_eq!(
            NoteText::parse(" \n\t ".into()),
            Err(InvalidInput::EmptyText)
        );
        assert_eq!(NoteText::parse(String::new()), Err(InvalidInput::EmptyText));
        // Characters, not bytes: 20,000 three-byte characters are one note.
        assert!(NoteText::parse("é".repeat(MAX_NOTE_CHARS)).is_ok());
        assert_eq!(
            NoteText::parse("a".repeat(MAX_NOTE_CHARS + 1)),
            Err(InvalidInput::TextTooLong(MAX_NOTE_CHARS + 1))
        );
        assert_eq!(NoteText::parse("a\0b".into()), Err(InvalidInput::NulInText));
    }

    #[test]
    fn debug_never_shows_the_words() {
        let text = NoteText::parse("Warfarin 5 mg".into()).unwrap();
        assert!(!format!("{text:?}").contains("Warfarin"));
    }

    #[test]
    fn idempotency_keys_are_visible_ascii() {
        assert!(IdempotencyKey::parse("3f2a-retry_1").is_ok());
        assert!(IdempotencyKey::parse(&"k".repeat(255)).is_ok());
        for bad in ["", "has space", "naïve", &"k".repeat(256), "tab\t"] {
            assert!(IdempotencyKey::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn statuses_and_codes_round_trip() {
        for status in [
            NoteStatus::Processing,
            NoteStatus::Processed,
            NoteStatus::Failed,
        ] {
            assert_eq!(NoteStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(NoteStatus::parse("done"), None);
        for code in ["provider_unavailable", "too_many_steps", "note_unreadable"] {
            let parsed = parse_failure_code(code).unwrap();
            assert_eq!(failure_code_str(parsed), code);
            assert_eq!(serde_json::to_value(parsed).unwrap(), code);
        }
        assert_eq!(parse_failure_code("bogus"), None);
    }
}
