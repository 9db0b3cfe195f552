//! The notes-service's integration tests: the real service on port 0 against a real
//! auth-service, PostgreSQL (a database per test) and RabbitMQ (an exchange per test).

mod helpers;
mod store_contract;
