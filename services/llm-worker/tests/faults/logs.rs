//! An in-process worker's log lines, captured as the binary would write them (the
//! platform's JSON layer, everything at debug) to scan them.

use std::io::Write;
use std::sync::{Arc, Mutex};

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

#[derive(Clone, Default)]
pub struct CapturedLogs(Arc<Mutex<Vec<u8>>>);

impl Write for CapturedLogs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl CapturedLogs {
    /// Installs the process's subscriber. Only one test of this binary captures logs, so
    /// under `cargo test` (one process for all) it is still the first to install one.
    pub fn install() -> Self {
        let captured = Self::default();
        let writer = captured.clone();
        // As `RUST_LOG=debug` with the platform's telemetry: lapin's returned-message line,
        // which quotes the payload, is off there too.
        let filter = EnvFilter::new("debug,lapin::returned_messages=off");
        tracing_subscriber::registry()
            .with(
                hospital_platform::telemetry::json_layer(move || writer.clone())
                    .with_filter(filter),
            )
            .try_init()
            .expect("no other subscriber is installed");
        captured
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}
