//! The llm-worker: turns submitted notes into actionable steps.
//!
//! As a service ([`Application`]) it consumes `note.submitted`, opens the note, extracts its
//! steps with the configured provider (`offline`, `gemini`, `openai`; a model's answer is
//! validated, and the offline extractor stands in when it fails) and publishes them sealed
//! as `steps.extracted` (or `extraction.failed`), with confirms. As a command,
//! `llm-worker extract` reads one note on stdin and prints the steps JSON of
//! shared/extraction.md.

pub mod answer;
pub mod extraction;
pub mod extractor;
pub mod metrics;
pub mod provider;
pub mod settings;
pub mod startup;

pub use settings::Settings;
pub use startup::Application;

use std::io::Read;

use hospital_extract::Steps;

/// The API's limit on a note's length, in characters (Unicode scalar values), not bytes.
pub const MAX_NOTE_CHARS: usize = 20_000;

/// The most bytes a note within the limit can take (4 bytes a character at most).
const MAX_NOTE_BYTES: usize = MAX_NOTE_CHARS * 4;

/// Which extractor reads the note.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    Offline,
    Gemini,
    OpenAi,
}

impl Provider {
    pub fn name(self) -> &'static str {
        match self {
            Provider::Offline => "offline",
            Provider::Gemini => "gemini",
            Provider::OpenAi => "openai",
        }
    }
}

/// Why the command refused to work: each is a usage error (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error("usage: llm-worker extract [--provider offline|gemini|openai]\n  reads one note on stdin, prints its steps as JSON on stdout\n  gemini and openai read LLM__EXTRACTION__* (API_KEY, MODEL, BASE_URL, ...)")]
    Usage,
    #[error("unknown command {0:?}\nusage: llm-worker extract [--provider offline|gemini|openai]")]
    UnknownCommand(String),
    #[error("unknown provider {0:?}: expected offline, gemini or openai")]
    UnknownProvider(String),
    #[error("provider settings: {0}")]
    Settings(String),
    #[error("the note has more than {MAX_NOTE_CHARS} characters ({0}); the API accepts notes of 1 to {MAX_NOTE_CHARS} characters")]
    NoteTooLong(String),
    #[error("the note on stdin is not valid UTF-8 text")]
    InvalidUtf8,
    #[error("could not read the note from stdin: {0}")]
    Read(#[from] std::io::Error),
    #[error("could not write the steps: {0}")]
    Write(#[from] serde_json::Error),
}

impl CommandError {
    /// The process exit code: 2 for anything the caller got wrong, 1 for I/O failures.
    pub fn exit_code(&self) -> u8 {
        match self {
            CommandError::Read(_) | CommandError::Write(_) => 1,
            _ => 2,
        }
    }
}

/// Parsed command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Extract { provider: Provider },
    Help,
}

/// Parses the arguments after the program name.
pub fn parse_args<I, S>(args: I) -> Result<Command, CommandError>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let args: Vec<String> = args.into_iter().map(|a| a.as_ref().to_string()).collect();
    let Some(cmd) = args.first() else {
        return Err(CommandError::Usage);
    };
    match cmd.as_str() {
        "extract" => {}
        "-h" | "--help" | "help" => return Ok(Command::Help),
        other => return Err(CommandError::UnknownCommand(other.to_string())),
    }
    let mut provider = Provider::Offline;
    let mut rest = args[1..].iter();
    while let Some(arg) = rest.next() {
        let name = if let Some(v) = arg.strip_prefix("--provider=") {
            v.to_string()
        } else if arg == "--provider" {
            rest.next().cloned().ok_or(CommandError::Usage)?
        } else if arg == "-h" || arg == "--help" {
            return Ok(Command::Help);
        } else {
            return Err(CommandError::Usage);
        };
        provider = match name.as_str() {
            "offline" => Provider::Offline,
            "gemini" => Provider::Gemini,
            "openai" => Provider::OpenAi,
            _ => return Err(CommandError::UnknownProvider(name)),
        };
    }
    Ok(Command::Extract { provider })
}

/// Reads a note from `input`, refusing more than [`MAX_NOTE_CHARS`] characters or text
/// that is not UTF-8. Reads at most a bounded number of bytes whatever is sent.
pub fn read_note(input: impl Read) -> Result<String, CommandError> {
    let mut bytes = Vec::new();
    input
        .take(MAX_NOTE_BYTES as u64 + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() > MAX_NOTE_BYTES {
        return Err(CommandError::NoteTooLong(format!(
            "over {MAX_NOTE_BYTES} bytes"
        )));
    }
    let note = String::from_utf8(bytes).map_err(|_| CommandError::InvalidUtf8)?;
    let chars = note.chars().count();
    if chars > MAX_NOTE_CHARS {
        return Err(CommandError::NoteTooLong(chars.to_string()));
    }
    Ok(note)
}

/// Extracts the steps of a note with the offline extractor.
pub fn extract(note: &str) -> Steps {
    hospital_extract::extract(note)
}

/// What the command prints: the steps on stdout and, when the offline extractor stood in
/// for the provider, why, on stderr.
#[derive(Debug)]
pub struct CommandOutput {
    pub stdout: String,
    pub warning: Option<String>,
}

/// `llm-worker extract`: note in, steps JSON out. `env` holds the `LLM__EXTRACTION__…`
/// variables a model provider reads.
pub fn run<E>(args: &[String], input: impl Read, env: E) -> Result<CommandOutput, CommandError>
where
    E: IntoIterator<Item = (String, String)>,
{
    match parse_args(args)? {
        Command::Help => Ok(CommandOutput {
            stdout: format!("{}\n", CommandError::Usage),
            warning: None,
        }),
        Command::Extract { provider } => {
            let note = read_note(input)?;
            let (steps, warning) = match provider {
                Provider::Offline => (extract(&note), None),
                Provider::Gemini | Provider::OpenAi => extract_with_model(&note, provider, env)?,
            };
            Ok(CommandOutput {
                stdout: serde_json::to_string_pretty(&steps)? + "\n",
                warning,
            })
        }
    }
}

fn extract_with_model<E>(
    note: &str,
    provider: Provider,
    env: E,
) -> Result<(Steps, Option<String>), CommandError>
where
    E: IntoIterator<Item = (String, String)>,
{
    let variable = format!("{}__EXTRACTION__PROVIDER", settings::ENV_PREFIX);
    let env = env
        .into_iter()
        .filter(|(name, _)| *name != variable)
        .chain([(variable.clone(), provider.name().to_owned())]);
    let command_settings: settings::CommandSettings =
        hospital_platform::settings::load_from(settings::ENV_PREFIX, env)
            .map_err(|err| CommandError::Settings(err.to_string()))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let metrics = std::sync::Arc::new(metrics::ExtractionMetrics::default());
        let model = provider::ModelClient::from_settings(
            &command_settings.extraction,
            std::sync::Arc::clone(&metrics),
        )
        .map_err(|err| CommandError::Settings(err.to_string()))?;
        let extraction = extractor::NoteExtractor::new(model, metrics)
            .extract(hospital_crypto::Zeroizing::new(note.to_owned()))
            .await
            .map_err(|err| CommandError::Read(std::io::Error::other(err)))?;
        let warning = extraction
            .fallback
            .map(|reason| format!("the offline extractor stood in for the provider ({reason})"));
        Ok((extraction.steps, warning))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_providers() {
        assert_eq!(
            parse_args(["extract"]).unwrap(),
            Command::Extract {
                provider: Provider::Offline
            }
        );
        assert_eq!(
            parse_args(["extract", "--provider", "offline"]).unwrap(),
            Command::Extract {
                provider: Provider::Offline
            }
        );
        assert_eq!(
            parse_args(["extract", "--provider=offline"]).unwrap(),
            Command::Extract {
                provider: Provider::Offline
            }
        );
        assert_eq!(
            parse_args(["extract", "--provider", "gemini"]).unwrap(),
            Command::Extract {
                provider: Provider::Gemini
            }
        );
        assert!(matches!(
            parse_args(["extract", "--provider", "nope"]),
            Err(CommandError::UnknownProvider(_))
        ));
        assert!(matches!(
            parse_args(["extract", "--provider"]),
            Err(CommandError::Usage)
        ));
        assert!(matches!(
            parse_args(Vec::<String>::new()),
            Err(CommandError::Usage)
        ));
        assert!(matches!(
            parse_args(["consume"]),
            Err(CommandError::UnknownCommand(_))
        ));
    }

    #[test]
    fn counts_characters_not_bytes() {
        let ok = "é".repeat(MAX_NOTE_CHARS);
        assert_eq!(
            read_note(ok.as_bytes()).unwrap().chars().count(),
            MAX_NOTE_CHARS
        );
        let long = "é".repeat(MAX_NOTE_CHARS + 1);
        assert!(matches!(
            read_note(long.as_bytes()),
            Err(CommandError::NoteTooLong(_))
        ));
        let huge = vec![b'a'; 10 * MAX_NOTE_BYTES];
        assert!(matches!(
            read_note(&huge[..]),
            Err(CommandError::NoteTooLong(_))
        ));
        assert!(matches!(
            read_note(&[0xff, 0xfe][..]),
            Err(CommandError::InvalidUtf8)
        ));
    }

    #[test]
    fn errors_exit_with_two() {
        assert_eq!(CommandError::Usage.exit_code(), 2);
        assert_eq!(CommandError::InvalidUtf8.exit_code(), 2);
        assert_eq!(CommandError::NoteTooLong("1".into()).exit_code(), 2);
    }
}
