//! notes-service: doctors' notes. The patient's current doctor writes a note; its text is
//! sealed at rest (`hospital-crypto`, a fresh data key per note bound to the note, patient and
//! author); the patient or their current doctor reads it, and every read is written to an
//! access log the patient can see. Each note is announced as `note.submitted` through an
//! outbox, and moves from `processing` to `processed` or `failed` when `steps.extracted` or
//! `extraction.failed` arrives.
//!
//! The store is MongoDB in production and PostgreSQL where no MongoDB exists; the scheme of
//! `NOTES__DATABASE__URL` picks the adapter ([`store::Notes`]).

mod access;
pub mod clock;
pub mod domain;
mod events;
mod relay;
pub mod rewrap;
mod routes;
pub mod settings;
pub mod startup;
mod state;
pub mod store;

pub use settings::Settings;
pub use startup::Application;
