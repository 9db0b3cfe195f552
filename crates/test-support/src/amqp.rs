//! Where the tests' RabbitMQ is, and how to put a [`TcpGate`] in front of it.

use std::sync::Arc;

use crate::{FixtureError, TcpGate};

/// The RabbitMQ the tests use (`TEST_AMQP_URL`).
pub fn amqp_url() -> String {
    std::env::var("TEST_AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".to_owned())
}

/// The broker's `host:port`, from [`amqp_url`].
pub fn broker_address() -> String {
    let url = amqp_url();
    let rest = url.split_once("://").map_or(url.as_str(), |(_, rest)| rest);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    let host_port = rest.split('/').next().unwrap_or(rest);
    if host_port.contains(':') {
        host_port.to_owned()
    } else {
        format!("{host_port}:5672")
    }
}

/// [`amqp_url`] with its host and port replaced by `127.0.0.1:port` (same
/// credentials and vhost): the broker as seen through a gate on that port.
pub fn amqp_url_via(port: u16) -> String {
    let url = amqp_url();
    let (scheme, rest) = url.split_once("://").unwrap_or(("amqp", url.as_str()));
    let (credentials, host_and_path) = rest.rsplit_once('@').map_or(("", rest), |(c, h)| (c, h));
    let path = host_and_path.find('/').map_or("", |i| &host_and_path[i..]);
    let credentials = if credentials.is_empty() {
        String::new()
    } else {
        format!("{credentials}@")
    };
    format!("{scheme}://{credentials}127.0.0.1:{port}{path}")
}

/// A closed gate in front of the tests' broker: point a service at
/// `amqp_url_via(gate.port())`, then open and close the gate.
pub fn broker_gate() -> Result<Arc<TcpGate>, FixtureError> {
    TcpGate::closed(broker_address())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrites_host_and_keeps_the_rest() {
        // Whatever TEST_AMQP_URL is, the port and host are replaced, the vhost kept.
        let via = amqp_url_via(4242);
        assert!(via.contains("127.0.0.1:4242"), "{via}");
        assert!(broker_address().contains(':'));
    }
}
