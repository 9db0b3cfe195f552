use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hospital_events::{BrokerConfig, DEFAULT_AMQP_URL};
use lapin::options::ExchangeDeleteOptions;
use lapin::{Connection, ConnectionProperties};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

pub fn amqp_url() -> String {
    std::env::var("AMQP_URL").unwrap_or_else(|_| DEFAULT_AMQP_URL.to_owned())
}

/// `amqp_url()` with its host and port replaced by 127.0.0.1:`port`.
pub fn url_on_port(port: u16) -> String {
    let url = amqp_url();
    let (scheme, rest) = url.split_once("://").unwrap();
    let (auth, rest) = rest.rsplit_once('@').map_or(("", rest), |(a, r)| (a, r));
    let path = rest.find('/').map_or("", |i| &rest[i..]);
    let auth = if auth.is_empty() {
        String::new()
    } else {
        format!("{auth}@")
    };
    format!("{scheme}://{auth}127.0.0.1:{port}{path}")
}

/// The real broker's address, for the proxy to forward to.
pub fn broker_addr() -> String {
    let url = amqp_url();
    let rest = url.split_once("://").unwrap().1;
    let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
    let host_port = rest.split('/').next().unwrap();
    if host_port.contains(':') {
        host_port.to_owned()
    } else {
        format!("{host_port}:5672")
    }
}

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

/// A port on 127.0.0.1 where nothing listens (for now).
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// A TCP proxy on 127.0.0.1:`port` to the real broker, whose connections can be cut.
pub struct Proxy {
    pub port: u16,
    accept: JoinHandle<()>,
    connections: Arc<Mutex<CancellationToken>>,
}

impl Proxy {
    pub async fn start(port: u16) -> Self {
        let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        let connections = Arc::new(Mutex::new(CancellationToken::new()));
        let upstream = broker_addr();
        let tokens = connections.clone();
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let cut = tokens.lock().unwrap().clone();
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(&upstream).await else {
                        return;
                    };
                    tokio::select! {
                        () = cut.cancelled() => {}
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                    }
                });
            }
        });
        Self {
            port,
            accept,
            connections,
        }
    }

    /// Drops every proxied connection (new ones are still accepted).
    pub fn cut(&self) {
        let mut token = self.connections.lock().unwrap();
        token.cancel();
        *token = CancellationToken::new();
    }

    pub fn stop(self) {
        self.accept.abort();
        self.cut();
    }
}
