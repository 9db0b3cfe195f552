//! JSON logs through `tracing`, one object per line. Every line carries the fields of
//! every span it is logged in, so a line logged deep inside a handler still names
//! the request id and trace id of the request span around it.

use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry};

/// The JSON formatting layer, writing to `writer`.
pub fn json_layer<W>(writer: W) -> impl Layer<Registry> + Send + Sync
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt::layer()
        .json()
        .with_current_span(false)
        .with_span_list(true)
        .flatten_event(true)
        .with_target(true)
        .with_writer(writer)
}

/// Installs the global subscriber, writing to stdout. `RUST_LOG` overrides
/// `default_filter`. Safe to call more than once (later calls do nothing).
pub fn init(service: &str, default_filter: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    // lapin logs a returned (unroutable) message whole, payload bytes included; our
    // publisher logs the fact without the payload, so that line is never wanted.
    let filter = match "lapin::returned_messages=off".parse() {
        Ok(directive) => filter.add_directive(directive),
        Err(_) => filter,
    };
    if tracing_subscriber::registry()
        .with(json_layer(std::io::stdout).with_filter(filter))
        .try_init()
        .is_ok()
    {
        tracing::info!(service, "telemetry initialised");
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use super::*;

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("lock").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn nested_lines_carry_the_request_id() {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::registry().with(json_layer(move || writer.clone()));
        tracing::subscriber::with_default(subscriber, || {
            let request = tracing::info_span!("request", request_id = "req-42");
            let _request = request.enter();
            let handler = tracing::info_span!("signup");
            let _handler = handler.enter();
            tracing::info!(user_id = "u1", "user signed up");
        });
        let output = String::from_utf8(captured.0.lock().expect("lock").clone()).expect("utf8");
        let line: serde_json::Value =
            serde_json::from_str(output.lines().last().expect("a line")).expect("json");
        assert_eq!(line["message"], "user signed up");
        assert_eq!(line["user_id"], "u1");
        assert_eq!(line["spans"][0]["request_id"], "req-42", "{line}");
        assert_eq!(line["spans"][1]["name"], "signup");
    }
}
