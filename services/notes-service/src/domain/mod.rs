//! The notes-service's values, valid by construction: no framework types here.

mod note;

pub use note::{
    failure_code_str, failure_message, parse_failure_code, FailureCode, IdempotencyKey,
    InvalidInput, NoteStatus, NoteText, MAX_IDEMPOTENCY_KEY_LEN, MAX_NOTE_CHARS,
};
