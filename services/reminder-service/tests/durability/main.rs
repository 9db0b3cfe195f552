//! Durability: what survives a SIGKILL of Redis or of the service, and what two replicas
//! dispatching at once deliver. Each test has its own key prefix, exchange and queues
//! (the AOF test its own `redis-server`), so they run in parallel with every other test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod aof;
mod kill_service;
mod replicas;
mod support;
