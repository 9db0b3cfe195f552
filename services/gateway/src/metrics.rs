//! The gateway's own metrics, beside the platform's per-route request metrics:
//! what each upstream answered and how long it took to start answering.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::routing::Upstream;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    upstream: &'static str,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct UpstreamLabels {
    upstream: &'static str,
}

/// How a forwarded request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The upstream answered with this status.
    Status(u16),
    BadGateway,
    Timeout,
    NotDeployed,
}

impl Outcome {
    fn label(self) -> &'static str {
        match self {
            Outcome::Status(s) if s < 200 => "1xx",
            Outcome::Status(s) if s < 300 => "2xx",
            Outcome::Status(s) if s < 400 => "3xx",
            Outcome::Status(s) if s < 500 => "4xx",
            Outcome::Status(_) => "5xx",
            Outcome::BadGateway => "bad_gateway",
            Outcome::Timeout => "timeout",
            Outcome::NotDeployed => "not_deployed",
        }
    }
}

pub struct UpstreamMetrics {
    outcomes: Family<OutcomeLabels, Counter>,
    latency: Family<UpstreamLabels, Histogram, fn() -> Histogram>,
}

fn latency_histogram() -> Histogram {
    // 0.25 ms .. ~4 s
    Histogram::new(exponential_buckets(0.000_25, 2.0, 15))
}

impl UpstreamMetrics {
    /// Registers the gateway's metrics on the service registry.
    pub fn register(registry: &mut Registry) -> Self {
        let outcomes = Family::<OutcomeLabels, Counter>::default();
        let latency = Family::<UpstreamLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram,
        );
        registry.register(
            "gateway_upstream_requests",
            "Requests forwarded to an upstream, by how they ended",
            outcomes.clone(),
        );
        registry.register(
            "gateway_upstream_response_seconds",
            "Time until an upstream's status and headers arrived",
            latency.clone(),
        );
        Self { outcomes, latency }
    }

    pub fn record(&self, upstream: Upstream, outcome: Outcome, elapsed: Option<Duration>) {
        self.outcomes
            .get_or_create(&OutcomeLabels {
                upstream: upstream.name(),
                outcome: outcome.label(),
            })
            .inc();
        if let Some(elapsed) = elapsed {
            self.latency
                .get_or_create(&UpstreamLabels {
                    upstream: upstream.name(),
                })
                .observe(elapsed.as_secs_f64());
        }
    }
}
