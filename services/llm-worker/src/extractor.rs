//! One note → its steps, with the configured provider and the offline extractor behind it.
//!
//! A model's answer is parsed and checked ([`crate::answer`]); an invalid one is sent back
//! once with what was wrong; a second invalid answer, a provider that fails after its
//! retries, refuses, or whose circuit is open, and the offline extractor reads the note
//! instead, the steps marked as a fallback. A note never waits for a provider that is down.

use std::sync::Arc;

use hospital_crypto::Zeroizing;
use hospital_events::contracts::Extractor;
use hospital_steps::Steps;

use crate::answer::{self, InvalidAnswer};
use crate::metrics::ExtractionMetrics;
use crate::provider::{prompt, ModelClient, ProviderError, Turn};

/// A note's steps and who made them.
#[derive(Debug, Clone)]
pub struct Extraction {
    pub steps: Steps,
    pub extractor: Extractor,
    /// Why the offline extractor stood in for the provider (`gemini timeout`,
    /// `openai invalid answer: invented_source`), `None` when it did not.
    pub fallback: Option<String>,
}

/// Why the provider's answer was not used.
#[derive(Debug)]
enum NoAnswer {
    Provider(ProviderError),
    Invalid(InvalidAnswer),
}

#[derive(Clone)]
pub struct NoteExtractor {
    model: Option<ModelClient>,
    metrics: Arc<ExtractionMetrics>,
}

impl NoteExtractor {
    pub fn new(model: Option<ModelClient>, metrics: Arc<ExtractionMetrics>) -> Self {
        Self { model, metrics }
    }

    /// The provider's name, `offline` without one.
    pub fn provider_name(&self) -> &'static str {
        self.model
            .as_ref()
            .map_or("offline", |model| model.kind().name())
    }

    pub async fn extract(
        &self,
        note: Zeroizing<String>,
    ) -> Result<Extraction, ExtractionTaskFailed> {
        let Some(model) = &self.model else {
            let steps = offline(note).await?;
            self.metrics.extraction("offline", false);
            return Ok(Extraction {
                steps,
                extractor: Extractor::Offline,
                fallback: None,
            });
        };
        let provider = model.kind().name();
        match self.ask(model, note.as_str()).await {
            Ok(steps) => {
                self.metrics.extraction(provider, false);
                Ok(Extraction {
                    steps,
                    extractor: model.kind().extractor(),
                    fallback: None,
                })
            }
            Err(no_answer) => {
                let reason = match &no_answer {
                    NoAnswer::Provider(err) => format!("{provider} {err}"),
                    NoAnswer::Invalid(invalid) => {
                        format!("{provider} invalid answer: {}", invalid.kind())
                    }
                };
                tracing::warn!(provider, fallback = %reason, "the offline extractor reads the note instead");
                let steps = offline(note).await?;
                self.metrics.extraction("offline", true);
                Ok(Extraction {
                    steps,
                    extractor: Extractor::Offline,
                    fallback: Some(reason),
                })
            }
        }
    }

    async fn ask(&self, model: &ModelClient, note: &str) -> Result<Steps, NoAnswer> {
        let mut turns = vec![Turn::User(prompt::note_message(note))];
        let mut asked_again = false;
        loop {
            let no_answer = match model.answer(&turns).await {
                Ok(answer) => match answer::parse(&answer, note) {
                    Ok(steps) => return Ok(steps),
                    Err(invalid) => {
                        self.metrics.invalid_answer(invalid.kind());
                        tracing::warn!(
                            provider = model.kind().name(),
                            kind = invalid.kind(),
                            asked_again,
                            "the model's answer was refused"
                        );
                        if !asked_again {
                            turns.push(Turn::Model(answer));
                            turns
                                .push(Turn::User(prompt::correction_message(&invalid.to_string())));
                        }
                        NoAnswer::Invalid(invalid)
                    }
                },
                // A body that is not the provider's format: asked once more, as it was.
                Err(ProviderError::Malformed) => NoAnswer::Provider(ProviderError::Malformed),
                Err(err) => return Err(NoAnswer::Provider(err)),
            };
            if asked_again {
                return Err(no_answer);
            }
            asked_again = true;
        }
    }
}

/// The offline extractor, off the async threads (linear in the note, a few ms at 20,000
/// characters).
async fn offline(note: Zeroizing<String>) -> Result<Steps, ExtractionTaskFailed> {
    tokio::task::spawn_blocking(move || hospital_extract::extract(note.as_str()))
        .await
        .map_err(|err| ExtractionTaskFailed(err.to_string()))
}

/// The offline extraction's task did not finish (the runtime is shutting down): the note
/// is to be handled again, not given empty steps.
#[derive(Debug, thiserror::Error)]
#[error("the offline extraction task failed: {0}")]
pub struct ExtractionTaskFailed(String);
