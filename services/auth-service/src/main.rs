use std::path::PathBuf;

use anyhow::Context;
use auth_service::{keys, Application, Settings};
use tokio_util::sync::CancellationToken;

const USAGE: &str = "usage: auth-service            serve (settings from AUTH__* variables)
       auth-service keygen --out FILE   write a new Ed25519 signing key (PKCS#8 PEM)";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        [] | ["serve"] => serve().await,
        ["keygen", "--out", path] => {
            keys::generate_key_file(&PathBuf::from(path))?;
            println!("wrote a new signing key to {path}");
            Ok(())
        }
        _ => {
            eprintln!("{USAGE}");
            std::process::exit(2);
        }
    }
}

async fn serve() -> anyhow::Result<()> {
    hospital_platform::telemetry::init("auth-service", "info");
    let settings: Settings =
        hospital_platform::settings::load_with_defaults("AUTH", auth_service::settings::DEFAULTS)
            .context("auth-service settings")?;
    let app = Application::build(settings)
        .await
        .context("starting auth-service")?;
    tracing::info!(port = app.port(), "auth-service listening");
    let token: CancellationToken = app.shutdown_token();
    hospital_platform::server::cancel_on_signal(token);
    app.run_until_stopped().await.context("serving")?;
    tracing::info!("auth-service stopped");
    Ok(())
}
