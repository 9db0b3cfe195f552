//! The auth-service's domain: values that are valid by construction.

mod email;
pub mod lockout;
mod password;
mod profile;

pub use email::Email;
pub use hospital_platform::token::Role;
pub use password::Password;
pub use profile::{PersonName, Specialization, TimeZoneName};

/// Why a value was refused, naming the field for the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct InvalidField {
    pub field: &'static str,
    pub message: String,
}

impl InvalidField {
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            message: message.into(),
        }
    }
}
