//! Prints a fresh key-encryption key as a keyring entry, `kid:base64key`, for operators:
//!
//! ```text
//! cargo run -p hospital-crypto --example generate_key -- 2026-11
//! ```
//!
//! Append the line to the service's keyring setting (comma-separated, newest last).

use std::process::ExitCode;

use hospital_crypto::Keyring;

fn main() -> ExitCode {
    let kid = std::env::args().nth(1).unwrap_or_else(|| "k1".to_owned());
    // Check the id the same way services will when they load the keyring.
    let key = match Keyring::generate_key() {
        Ok(key) => key,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let entry = hospital_crypto::Zeroizing::new(format!("{kid}:{}", key.as_str()));
    if let Err(e) = Keyring::from_spec(&entry) {
        eprintln!("{e}");
        return ExitCode::FAILURE;
    }
    println!("{}", entry.as_str());
    ExitCode::SUCCESS
}
