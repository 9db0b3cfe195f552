//! The gateway's integration tests: one binary, a real gateway per test.

// A failed expectation in the harness is a failed test.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod auth;
mod failures;
mod forwarding;
mod helpers;
mod limits;
mod notes;
mod operations;
mod routing;
mod with_auth_service;
