//! `notes-service rewrap`: moves every note's data key to the newest key-encryption key,
//! leaving the note's ciphertext (and so its text) as it is. After it has run, older keys can
//! be retired from `NOTES__CRYPTO__KEYS`.

use hospital_crypto::Keyring;
use hospital_events::contracts::note_text_binding;
use serde::Serialize;
use uuid::Uuid;

use crate::store::{NoteStore, StoreError};

/// How many notes one page of the walk reads.
const PAGE: usize = 500;

/// What a run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RewrapReport {
    /// Notes moved to the current key.
    pub rewrapped: u64,
    /// Notes already under the current key.
    pub current: u64,
    /// Notes whose envelope did not open (tampered, moved, or under a key no longer held):
    /// left as they are, each logged as an alert.
    pub unreadable: u64,
    /// Notes changed by someone else between read and write (run again to finish them).
    pub raced: u64,
}

/// Walks every note once, in id order.
pub async fn rewrap_all(
    store: &impl NoteStore,
    keyring: &Keyring,
) -> Result<RewrapReport, StoreError> {
    let mut report = RewrapReport::default();
    let mut after: Option<Uuid> = None;
    loop {
        let page = store.sealed_notes(after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        for note in &page {
            if note.text.kid == keyring.current_kid() {
                report.current += 1;
                continue;
            }
            let binding = note_text_binding(note.id, note.patient_id, note.doctor_id);
            match keyring.rewrap(&note.text, &binding) {
                Ok(new) => {
                    if store.replace_text(note.id, &note.text, &new).await? {
                        report.rewrapped += 1;
                    } else {
                        report.raced += 1;
                    }
                }
                Err(err) => {
                    report.unreadable += 1;
                    tracing::error!(
                        alert = "note_unreadable",
                        note_id = %note.id,
                        kid = %note.text.kid,
                        error = %err,
                        "a note could not be re-wrapped; it keeps its old key"
                    );
                }
            }
        }
        if page.len() < PAGE {
            break;
        }
    }
    Ok(report)
}
