//! What every service shares: typed settings, JSON logs, HTTP plumbing (error body,
//! request ids, metrics, health), graceful shutdown, access-token verification and the
//! confirmation of a caller's access to a patient's data with the auth-service.
//!
//! Nothing here knows about a particular service's domain.

pub mod access;
pub mod clock;
pub mod error;
pub mod health;
pub mod metrics;
pub mod rate_limit;
pub mod request;
pub mod server;
pub mod settings;
pub mod telemetry;
pub mod token;

pub use error::HttpError;
