//! Running an HTTP server until asked to stop: SIGTERM or Ctrl-C cancels one token,
//! the server stops accepting, finishes in-flight requests and returns.

use std::net::TcpListener;

use actix_web::dev::Server;
use tokio_util::sync::CancellationToken;

use crate::settings::HttpSettings;

/// The service's address could not be listened on.
#[derive(Debug, thiserror::Error)]
#[error("cannot bind {address}: {source}")]
pub struct BindError {
    pub address: String,
    #[source]
    pub source: std::io::Error,
}

/// Listens on the service's host and port (port 0 picks a free one, as tests do) and says
/// which port it got.
pub fn bind(http: &HttpSettings) -> Result<(TcpListener, u16), BindError> {
    let address = format!("{}:{}", http.host, http.port);
    let listener = TcpListener::bind(&address).map_err(|source| BindError {
        address: address.clone(),
        source,
    })?;
    let port = listener
        .local_addr()
        .map_err(|source| BindError { address, source })?
        .port();
    Ok((listener, port))
}

/// Cancels `token` on SIGTERM or SIGINT.
pub fn cancel_on_signal(token: CancellationToken) {
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutdown signal received");
        token.cancel();
    });
}

#[cfg(unix)]
async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for SIGTERM; Ctrl-C only");
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(not(unix))]
async fn wait_for_signal() {
    let _ = tokio::signal::ctrl_c().await;
}

/// Serves until `token` is cancelled (or the server stops on its own), then stops
/// gracefully. The server must have been built with `.disable_signals()`.
pub async fn serve_until_cancelled(
    server: Server,
    token: CancellationToken,
) -> std::io::Result<()> {
    let handle = server.handle();
    let stopper = tokio::spawn({
        let token = token.clone();
        async move {
            token.cancelled().await;
            handle.stop(true).await;
        }
    });
    let result = server.await;
    // The server may have ended by itself; everything else hanging off the token stops too.
    token.cancel();
    let _ = stopper.await;
    result
}
