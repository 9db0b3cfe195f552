//! Integration tests: the schema contract, and the broker plumbing against the real RabbitMQ
//! at `AMQP_URL` (default `amqp://guest:guest@127.0.0.1:5672/%2f`). Each test uses its own
//! exchange and queues, so they run in parallel.

// A test binary: helpers panic on failure like the tests that call them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod consumer;
mod helpers;
mod publisher;
mod relay;
mod runner;
mod schemas;
