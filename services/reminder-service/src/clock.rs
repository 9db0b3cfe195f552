//! The service's sense of time, injectable so tests can move it without waiting.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use jiff::Timestamp;
use tokio::sync::watch;

/// Now, and waiting for a later instant.
#[derive(Clone, Debug, Default)]
pub enum Clock {
    /// The system clock.
    #[default]
    System,
    /// A clock that moves only when told to (tests).
    Manual(ManualClock),
}

impl Clock {
    pub fn now(&self) -> Timestamp {
        match self {
            Self::System => Timestamp::now(),
            Self::Manual(clock) => clock.now(),
        }
    }

    /// Whole seconds since the Unix epoch.
    pub fn now_seconds(&self) -> i64 {
        self.now().as_second()
    }

    /// Milliseconds since the Unix epoch.
    pub fn now_millis(&self) -> i64 {
        self.now().as_millisecond()
    }

    /// Returns once the clock reads `at` or later, or after at most `cap` of real time
    /// (whichever comes first), so a caller can look again.
    pub async fn sleep_until(&self, at: Timestamp, cap: Duration) {
        match self {
            Self::System => {
                let wait = at.duration_since(Timestamp::now()).unsigned_abs().min(cap);
                if at > Timestamp::now() {
                    tokio::time::sleep(wait).await;
                }
            }
            Self::Manual(clock) => {
                let mut changes = clock.changes();
                let _ = tokio::time::timeout(cap, async {
                    while clock.now() < at {
                        if changes.changed().await.is_err() {
                            return;
                        }
                    }
                })
                .await;
            }
        }
    }
}

/// A clock for tests: starts at a given instant, moves with [`ManualClock::advance`].
#[derive(Clone, Debug)]
pub struct ManualClock {
    now: Arc<Mutex<Timestamp>>,
    changed: Arc<watch::Sender<()>>,
}

impl ManualClock {
    pub fn new(start: Timestamp) -> Self {
        Self {
            now: Arc::new(Mutex::new(start)),
            changed: Arc::new(watch::channel(()).0),
        }
    }

    pub fn now(&self) -> Timestamp {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sets the time; waiting sleepers look again.
    pub fn set(&self, at: Timestamp) {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner) = at;
        self.changed.send_replace(());
    }

    pub fn advance(&self, by: Duration) {
        let signed = jiff::SignedDuration::try_from(by).unwrap_or(jiff::SignedDuration::MAX);
        let next = self.now().saturating_add(signed).unwrap_or(self.now());
        self.set(next);
    }

    fn changes(&self) -> watch::Receiver<()> {
        self.changed.subscribe()
    }
}
