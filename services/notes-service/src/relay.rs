//! The outbox side of the store: what the shared relay of `hospital-events` publishes.

use hospital_events::{OutboxMessage, OutboxStore};
use uuid::Uuid;

use crate::clock::Clock;
use crate::store::{NoteStore, Notes, StoreError};

/// The pending `note.submitted` events of the notes store.
pub struct NotesOutbox {
    store: Notes,
    clock: Clock,
}

impl NotesOutbox {
    pub fn new(store: Notes, clock: Clock) -> Self {
        Self { store, clock }
    }
}

impl OutboxStore for NotesOutbox {
    type Error = StoreError;

    async fn pending(&self, limit: usize) -> Result<Vec<OutboxMessage>, StoreError> {
        self.store.pending_events(limit).await
    }

    async fn mark_published(&self, ids: &[Uuid]) -> Result<(), StoreError> {
        self.store.mark_published(ids, self.clock.now()).await
    }
}
