//! A TCP forwarder on a local port that a test can close and open, to play a
//! dependency (a broker, a database) going away and coming back.

use std::sync::{Arc, Mutex, PoisonError};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::FixtureError;

pub struct TcpGate {
    port: u16,
    upstream: String,
    open: Mutex<Option<(JoinHandle<()>, CancellationToken)>>,
}

impl TcpGate {
    /// A gate on a free port, closed: connections are refused until [`TcpGate::open`].
    pub fn closed(upstream: impl Into<String>) -> Result<Arc<Self>, FixtureError> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|source| FixtureError::Io {
                what: "finding a free port for the gate",
                source,
            })?
            .port();
        Ok(Arc::new(Self {
            port,
            upstream: upstream.into(),
            open: Mutex::new(None),
        }))
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Starts forwarding connections to the upstream.
    pub async fn open(&self) -> Result<(), FixtureError> {
        let listener = TcpListener::bind(("127.0.0.1", self.port))
            .await
            .map_err(|source| FixtureError::Io {
                what: "binding the gate's port",
                source,
            })?;
        let cut = CancellationToken::new();
        let upstream = self.upstream.clone();
        let accept_cut = cut.clone();
        let accept = tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    () = accept_cut.cancelled() => return,
                    accepted = listener.accept() => accepted,
                };
                let Ok((mut client, _)) = accepted else {
                    return;
                };
                let upstream = upstream.clone();
                let cut = accept_cut.clone();
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
        *self.open.lock().unwrap_or_else(PoisonError::into_inner) = Some((accept, cut));
        Ok(())
    }

    /// Cuts every forwarded connection but keeps accepting new ones.
    pub async fn cut(&self) -> Result<(), FixtureError> {
        self.close().await;
        self.open().await
    }

    /// Stops listening and cuts every forwarded connection.
    pub async fn close(&self) {
        let open = self
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some((accept, cut)) = open {
            cut.cancel();
            let _ = accept.await;
        }
    }
}
