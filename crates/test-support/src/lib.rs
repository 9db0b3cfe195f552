//! Test-only helpers shared by the services' integration tests. Not for production
//! code: failures here panic with a message, as a test should.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::missing_panics_doc)]

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
