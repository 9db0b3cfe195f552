//! The worker's own metrics, beside the platform's HTTP ones on `/metrics`.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ExtractionLabels {
    extractor: &'static str,
    fallback: &'static str,
}

/// Provider calls, refused answers and extractions.
pub struct ExtractionMetrics {
    provider_calls: Family<OutcomeLabels, Counter>,
    provider_call_duration: Histogram,
    invalid_answers: Family<KindLabels, Counter>,
    extractions: Family<ExtractionLabels, Counter>,
}

impl Default for ExtractionMetrics {
    fn default() -> Self {
        Self {
            provider_calls: Family::default(),
            // 10 ms .. ~80 s.
            provider_call_duration: Histogram::new(exponential_buckets(0.01, 2.0, 14)),
            invalid_answers: Family::default(),
            extractions: Family::default(),
        }
    }
}

impl ExtractionMetrics {
    /// Registers `…_llm_provider_calls_total{outcome}`,
    /// `…_llm_provider_call_duration_seconds`, `…_llm_invalid_answers_total{kind}` and
    /// `…_llm_extractions_total{extractor, fallback}`.
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self::default();
        registry.register(
            "llm_provider_calls",
            "Calls to the model provider, by outcome (ok, timeout, unreachable, http_429, http_5xx, http_4xx, circuit_open, refused, malformed)",
            metrics.provider_calls.clone(),
        );
        registry.register(
            "llm_provider_call_duration_seconds",
            "Time a call to the model provider took, whatever its outcome",
            metrics.provider_call_duration.clone(),
        );
        registry.register(
            "llm_invalid_answers",
            "Model answers refused by validation, by kind",
            metrics.invalid_answers.clone(),
        );
        registry.register(
            "llm_extractions",
            "Notes whose steps were extracted, by extractor and whether it was a fallback",
            metrics.extractions.clone(),
        );
        metrics
    }

    pub fn provider_call(&self, outcome: &'static str, elapsed: Option<Duration>) {
        self.provider_calls
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
        if let Some(elapsed) = elapsed {
            self.provider_call_duration.observe(elapsed.as_secs_f64());
        }
    }

    pub fn invalid_answer(&self, kind: &'static str) {
        self.invalid_answers
            .get_or_create(&KindLabels { kind })
            .inc();
    }

    pub fn extraction(&self, extractor: &'static str, fallback: bool) {
        self.extractions
            .get_or_create(&ExtractionLabels {
                extractor,
                fallback: if fallback { "true" } else { "false" },
            })
            .inc();
    }
}
