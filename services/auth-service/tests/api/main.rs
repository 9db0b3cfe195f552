#![allow(clippy::unwrap_used, clippy::expect_used, clippy::missing_panics_doc)]

//! auth-service over real HTTP, against its own fresh PostgreSQL database and its own
//! RabbitMQ exchange.

mod access;
mod doctors;
mod events;
mod helpers;
mod identity;
mod operations;
mod users;
