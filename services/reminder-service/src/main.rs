//! `reminder-service` (or `reminder-service serve`): the server.
//! `reminder-service schedule`: one plan step on stdin, its reminder instants on stdout.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use hospital_reminder_service::settings::{DEFAULTS, ENV_PREFIX};
use hospital_reminder_service::{Application, Settings};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() || args == ["serve"] {
        return match serve() {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                let _ = writeln!(std::io::stderr(), "reminder-service: {e:#}");
                ExitCode::from(1)
            }
        };
    }
    match hospital_reminder_service::run(&args, std::io::stdin().lock()) {
        Ok(out) => {
            if std::io::stdout().lock().write_all(out.as_bytes()).is_err() {
                return ExitCode::from(1);
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "{}", e.to_json());
            ExitCode::from(e.exit_code())
        }
    }
}

fn serve() -> anyhow::Result<()> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?
        .block_on(serve_until_signal())
}

async fn serve_until_signal() -> anyhow::Result<()> {
    hospital_platform::telemetry::init("reminder-service", "info");
    let settings: Settings = hospital_platform::settings::load_with_defaults(ENV_PREFIX, DEFAULTS)
        .context("reminder-service settings")?;
    let app = Application::build(settings)
        .await
        .context("starting reminder-service")?;
    tracing::info!(port = app.port(), "reminder-service listening");
    hospital_platform::server::cancel_on_signal(app.shutdown_token());
    app.run_until_stopped().await.context("serving")?;
    tracing::info!("reminder-service stopped");
    Ok(())
}
