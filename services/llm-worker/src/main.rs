//! `llm-worker`: the service (settings from `LLM__*` variables);
//! `llm-worker extract [--provider offline|gemini|openai]`: one note on stdin, its steps on
//! stdout.

use std::io::Write;
use std::process::ExitCode;

use hospital_llm_worker::settings::{DEFAULTS, ENV_PREFIX};
use hospital_llm_worker::{Application, Settings};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() || args == ["serve"] {
        return serve();
    }
    match hospital_llm_worker::run(&args, std::io::stdin().lock(), std::env::vars()) {
        Ok(out) => {
            if let Some(warning) = out.warning {
                let _ = writeln!(std::io::stderr(), "llm-worker: {warning}");
            }
            if std::io::stdout()
                .lock()
                .write_all(out.stdout.as_bytes())
                .is_err()
            {
                return ExitCode::from(1);
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "llm-worker: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

fn serve() -> ExitCode {
    hospital_platform::telemetry::init("llm-worker", "info");
    let settings: Settings =
        match hospital_platform::settings::load_with_defaults(ENV_PREFIX, DEFAULTS) {
            Ok(settings) => settings,
            Err(err) => {
                let _ = writeln!(std::io::stderr(), "llm-worker settings: {err}");
                return ExitCode::from(1);
            }
        };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            let _ = writeln!(std::io::stderr(), "llm-worker: no runtime: {err}");
            return ExitCode::from(1);
        }
    };
    runtime.block_on(async {
        let app = match Application::build(settings).await {
            Ok(app) => app,
            Err(err) => {
                tracing::error!(error = %err, "llm-worker did not start");
                return ExitCode::from(1);
            }
        };
        tracing::info!(port = app.port(), "llm-worker listening");
        hospital_platform::server::cancel_on_signal(app.shutdown_token());
        match app.run_until_stopped().await {
            Ok(()) => {
                tracing::info!("llm-worker stopped");
                ExitCode::SUCCESS
            }
            Err(err) => {
                tracing::error!(error = %err, "llm-worker failed");
                ExitCode::from(1)
            }
        }
    })
}
