//! The API gateway: the only public door of the hospital backend.
//!
//! It routes `/api/v1/*` to the service that owns each path (see [`routing`]),
//! verifies access tokens itself before anything protected reaches a service, rate
//! limits the auth endpoints per IP, answers CORS, propagates request ids and trace
//! context, and serves the OpenAPI document with a small docs page.

pub mod metrics;
pub mod routes;
pub mod routing;
pub mod settings;
pub mod startup;
pub mod upstream;

pub use settings::Settings;
pub use startup::Application;
