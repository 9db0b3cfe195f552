//! `reminder-service schedule`: one plan step on stdin, its reminder instants on stdout.

use std::io::Write;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
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
