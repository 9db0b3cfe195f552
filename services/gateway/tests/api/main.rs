//! The gateway's integration tests: one binary, a real gateway per test.

// A failed expectation in the harness is a failed test.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod auth;
mod failures;
// The llm-worker's stand-in for a paid model provider (a local server speaking its wire format).
#[path = "../../../llm-worker/tests/fake_model/mod.rs"]
mod fake_model;
mod forwarding;
mod helpers;
mod limits;
mod notes;
mod operations;
mod routing;
mod with_auth_service;
