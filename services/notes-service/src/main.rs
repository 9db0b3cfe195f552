use anyhow::Context;
use hospital_notes_service::settings::{DEFAULTS, ENV_PREFIX};
use hospital_notes_service::store::Notes;
use hospital_notes_service::{rewrap, Application, Settings};

const USAGE: &str = "usage: notes-service            serve (settings from NOTES__* variables)
       notes-service rewrap     move every note to the newest key of NOTES__CRYPTO__KEYS";

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
        ["rewrap"] => rewrap_notes().await,
        _ => {
            eprintln!("{USAGE}");
            std::process::exit(2);
        }
    }
}

fn settings() -> anyhow::Result<Settings> {
    hospital_platform::settings::load_with_defaults(ENV_PREFIX, DEFAULTS)
        .context("notes-service settings")
}

async fn serve() -> anyhow::Result<()> {
    hospital_platform::telemetry::init("notes-service", "info");
    let app = Application::build(settings()?)
        .await
        .context("starting notes-service")?;
    tracing::info!(port = app.port(), "notes-service listening");
    hospital_platform::server::cancel_on_signal(app.shutdown_token());
    app.run_until_stopped().await.context("serving")?;
    tracing::info!("notes-service stopped");
    Ok(())
}

async fn rewrap_notes() -> anyhow::Result<()> {
    hospital_platform::telemetry::init("notes-service", "info");
    let settings = settings()?;
    let keyring = hospital_crypto::Keyring::from_spec(&settings.crypto.keys)
        .context("NOTES__CRYPTO__KEYS")?;
    let store = Notes::connect(&settings.database)
        .await
        .context("connecting to the note store")?;
    let report = rewrap::rewrap_all(&store, &keyring)
        .await
        .context("re-wrapping notes")?;
    println!("{}", serde_json::to_string(&report)?);
    if report.unreadable > 0 || report.raced > 0 {
        std::process::exit(1);
    }
    Ok(())
}
