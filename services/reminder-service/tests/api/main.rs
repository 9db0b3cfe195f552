//! The reminder-service against real Redis and RabbitMQ: each test has its own key prefix,
//! exchange and queues, so tests run in parallel.

// Test helpers may fail loudly: a panic is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod access;
mod auth_service;
mod dispatch;
mod events;
mod helpers;
mod operations;
mod reminders;
mod steps_events;
mod store;
mod stream;
