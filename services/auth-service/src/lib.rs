//! auth-service: users, credentials, refresh tokens, doctor profiles and
//! patient-doctor assignments, on PostgreSQL. Publishes user and assignment events
//! through a transactional outbox.

pub mod clock;
pub mod doctor_directory;
pub mod domain;
pub mod error;
pub mod events;
pub mod keys;
pub mod passwords;
mod routes;
pub mod settings;
pub mod startup;
mod state;
pub mod store;
pub mod tokens;

pub use settings::Settings;
pub use startup::Application;
