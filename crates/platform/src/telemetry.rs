//! JSON logs through `tracing`, one object per line, with the request span's fields
//! (request id, trace id) on every line logged while serving a request.

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. `RUST_LOG` overrides `default_filter`.
/// Safe to call more than once (later calls do nothing), which tests rely on.
pub fn init(service: &str, default_filter: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let json = tracing_subscriber::fmt::layer()
        .json()
        .with_current_span(true)
        .with_span_list(false)
        .flatten_event(true)
        .with_target(true);
    if tracing_subscriber::registry()
        .with(filter)
        .with(json)
        .try_init()
        .is_ok()
    {
        tracing::info!(service, "telemetry initialised");
    }
}
