//! The notes-service's integration tests: the real service on port 0 against a real
//! auth-service, PostgreSQL (a database per test) and RabbitMQ (an exchange per test).

// Test helpers may fail loudly: a panic is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod events;
mod faults;
mod helpers;
mod notes;
mod sealing;
mod store_contract;
mod switch;
