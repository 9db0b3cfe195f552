//! `gateway`: reads `GATEWAY__*` settings, serves until SIGTERM or Ctrl-C.

use hospital_gateway::{Application, Settings};
use hospital_platform::server::cancel_on_signal;
use hospital_platform::telemetry;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init("gateway", "info");
    let settings = Settings::load()?;
    let application = Application::build(settings)?;
    tracing::info!(port = application.port(), "gateway listening");
    cancel_on_signal(application.shutdown_token());
    application.run_until_stopped().await?;
    tracing::info!("gateway stopped");
    Ok(())
}
