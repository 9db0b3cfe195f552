use std::future::Future;
use std::time::{Duration, Instant};

use hospital_events::BrokerConfig;
pub use hospital_test_support::amqp::{amqp_url, amqp_url_via, broker_gate};
use lapin::options::ExchangeDeleteOptions;
use lapin::{Connection, ConnectionProperties};
use uuid::Uuid;

/// A unique prefix for one test's exchange and queues.
pub fn unique(name: &str) -> String {
    format!("test.{name}.{}", Uuid::now_v7().simple())
}

/// A config for the real broker with a fresh exchange and short timeouts.
pub fn test_config(name: &str) -> BrokerConfig {
    BrokerConfig::new(amqp_url())
        .with_exchange(unique(name))
        .with_connection_name(format!("hospital-events-test-{name}"))
        .with_connect_timeout(Duration::from_secs(3))
        .with_confirm_timeout(Duration::from_secs(3))
}

/// Deletes a test's exchange.
pub async fn delete_exchange(exchange: &str) {
    let connection = Connection::connect(&amqp_url(), ConnectionProperties::default())
        .await
        .unwrap();
    let channel = connection.create_channel().await.unwrap();
    channel
        .exchange_delete(exchange.into(), ExchangeDeleteOptions::default())
        .await
        .unwrap();
    connection.close(200, "done".into()).await.unwrap();
}

/// Polls `check` until it is true or `within` has passed.
pub async fn eventually<F, Fut>(within: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    loop {
        if check().await {
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
