//! What the routes share, below both `routes` and `startup`.

use std::sync::Arc;

use hospital_crypto::Keyring;
use tokio::sync::Notify;

use crate::clock::Clock;
use crate::settings::NoteSettings;
use crate::store::Notes;

pub struct AppState {
    pub store: Notes,
    pub keyring: Keyring,
    pub clock: Clock,
    pub notes: NoteSettings,
    /// Wakes the outbox relay after a note was written.
    pub outbox_wake: Arc<Notify>,
}
