//! The service's clock: the platform's, which tests move forward.

pub use hospital_platform::clock::Clock;
