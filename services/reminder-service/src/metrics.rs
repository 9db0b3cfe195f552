//! The dispatcher's metrics, on the service's `/metrics`.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Reminders sent and missed, and how late they went out.
#[derive(Debug)]
pub struct DispatchMetrics {
    sent: Counter,
    missed: Counter,
    parked: Counter,
    lateness: Histogram,
}

impl DispatchMetrics {
    /// The metrics, registered on `registry`.
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self {
            sent: Counter::default(),
            missed: Counter::default(),
            parked: Counter::default(),
            lateness: Histogram::new([0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 30.0, 300.0]),
        };
        registry.register(
            "reminders_sent",
            "Reminders sent to the feed and published",
            metrics.sent.clone(),
        );
        registry.register(
            "reminders_missed",
            "Reminders whose grace period ended without a check-in",
            metrics.missed.clone(),
        );
        registry.register(
            "reminder_steps_parked",
            "Plan steps taken out of dispatch because a stored record could not be read",
            metrics.parked.clone(),
        );
        registry.register(
            "reminder_lateness_seconds",
            "Time from a reminder's due instant to its publication",
            metrics.lateness.clone(),
        );
        metrics
    }

    /// One reminder sent `late_ms` after its due instant.
    pub fn sent(&self, late_ms: i64) {
        self.sent.inc();
        #[allow(clippy::cast_precision_loss)]
        self.lateness.observe(late_ms.max(0) as f64 / 1000.0);
    }

    pub fn missed(&self, count: usize) {
        self.missed.inc_by(count as u64);
    }

    pub fn parked(&self, count: usize) {
        self.parked.inc_by(count as u64);
    }
}
