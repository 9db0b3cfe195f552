//! Test-only helpers shared by the services' integration tests. Not for production
//! code. Fixtures that can fail to set up (a database, a gate, a Redis) return a
//! [`FixtureError`] and leave it to the test to fail with it.
#![allow(clippy::missing_panics_doc)]

use std::future::Future;
use std::time::{Duration, Instant};

pub mod amqp;
pub mod postgres;
pub mod redis_server;
pub mod tcp_gate;

pub use postgres::TestDatabase;
pub use redis_server::RedisServer;
pub use tcp_gate::TcpGate;

pub use amqp::amqp_url;

/// Why a fixture could not be set up: the test that asked for it fails with this.
#[derive(Debug, thiserror::Error)]
pub enum FixtureError {
    #[error("{what}: {source}")]
    Io {
        what: &'static str,
        source: std::io::Error,
    },
    #[error("PostgreSQL at TEST_DATABASE_URL: {0}")]
    Postgres(String),
    #[error("{0}")]
    Setup(String),
}

/// A name no other test uses: `<prefix>_<uuid>`.
pub fn unique_name(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::now_v7().simple())
}

/// Polls `check` every 20 ms until it returns `Some`, or panics after `within`.
pub async fn eventually<T, F, Fut>(within: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {within:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
