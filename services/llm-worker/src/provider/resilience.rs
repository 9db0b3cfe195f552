//! How calls to a provider survive it: retries with jittered backoff (honouring
//! `Retry-After`) and a circuit breaker that stops calling a provider that keeps failing.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use rand::Rng;

/// When to try a failed call again.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// The first backoff; each retry doubles it, up to `max_backoff`.
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    /// A `Retry-After` longer than this gives up instead of waiting.
    pub max_retry_after: Duration,
}

impl RetryPolicy {
    /// The wait before attempt `attempt + 1` (`attempt` counts from 1): "full jitter", a
    /// random wait up to the doubled backoff, so workers retrying together spread out; at
    /// least what the provider asked with `Retry-After`. `None`: do not retry.
    pub fn wait_after(&self, attempt: u32, retry_after: Option<Duration>) -> Option<Duration> {
        if attempt >= self.max_attempts {
            return None;
        }
        if retry_after.is_some_and(|asked| asked > self.max_retry_after) {
            return None;
        }
        let ceiling = self
            .initial_backoff
            .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1)))
            .min(self.max_backoff);
        let millis = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
        let jittered = Duration::from_millis(rand::thread_rng().gen_range(0..=millis));
        Some(jittered.max(retry_after.unwrap_or_default()))
    }
}

/// Reads `Retry-After`: delay-seconds, or an HTTP date.
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let wait = at.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(wait.to_std().unwrap_or_default())
}

/// Closed (calls go through), open (calls fail at once) after `failure_threshold`
/// consecutive failures, half-open after `cooldown`: one trial call at a time decides.
#[derive(Debug)]
pub struct CircuitBreaker {
    failure_threshold: u32,
    cooldown: Duration,
    state: Mutex<BreakerState>,
}

#[derive(Debug, Clone, Copy)]
struct BreakerState {
    consecutive_failures: u32,
    open_until: Option<Instant>,
    trial_in_flight: bool,
}

/// Whether a call may go to the provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permit {
    /// The circuit is closed.
    Call,
    /// The cooldown has passed: this call is the trial.
    Trial,
    /// Open (or a trial is already out): do not call.
    Refused,
}

impl CircuitBreaker {
    pub fn new(failure_threshold: u32, cooldown: Duration) -> Self {
        Self {
            failure_threshold: failure_threshold.max(1),
            cooldown,
            state: Mutex::new(BreakerState {
                consecutive_failures: 0,
                open_until: None,
                trial_in_flight: false,
            }),
        }
    }

    fn with_state<T>(&self, f: impl FnOnce(&mut BreakerState) -> T) -> T {
        // A poisoned lock only means another call panicked mid-update: the counts are
        // still counts.
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut state)
    }

    pub fn permit(&self, now: Instant) -> Permit {
        self.with_state(|state| match state.open_until {
            None => Permit::Call,
            Some(until) if now < until || state.trial_in_flight => Permit::Refused,
            Some(_) => {
                state.trial_in_flight = true;
                Permit::Trial
            }
        })
    }

    pub fn record_success(&self) {
        self.with_state(|state| {
            *state = BreakerState {
                consecutive_failures: 0,
                open_until: None,
                trial_in_flight: false,
            };
        });
    }

    /// Counts a failure; returns true when it opened (or re-opened) the circuit.
    pub fn record_failure(&self, now: Instant) -> bool {
        self.with_state(|state| {
            state.consecutive_failures = state.consecutive_failures.saturating_add(1);
            let trial_failed = state.trial_in_flight;
            state.trial_in_flight = false;
            if trial_failed || state.consecutive_failures >= self.failure_threshold {
                state.open_until = Some(now + self.cooldown);
                true
            } else {
                false
            }
        })
    }

    /// Frees the trial slot (a trial call that ended, whatever it told, or was cancelled);
    /// the circuit stays as the outcome left it.
    pub fn release_trial(&self) {
        self.with_state(|state| state.trial_in_flight = false);
    }

    pub fn is_open(&self, now: Instant) -> bool {
        self.with_state(|state| state.open_until.is_some_and(|until| now < until))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(250),
            max_retry_after: Duration::from_secs(5),
        }
    }

    #[test]
    fn backoff_is_jittered_capped_and_honours_retry_after() {
        let policy = policy();
        for _ in 0..200 {
            assert!(policy.wait_after(1, None).unwrap() <= Duration::from_millis(100));
            assert!(policy.wait_after(2, None).unwrap() <= Duration::from_millis(200));
            assert!(
                policy.wait_after(2, Some(Duration::from_secs(2))).unwrap()
                    >= Duration::from_secs(2)
            );
        }
        assert_eq!(policy.wait_after(3, None), None, "three attempts in all");
        assert_eq!(policy.wait_after(1, Some(Duration::from_secs(6))), None);
        let waits: std::collections::HashSet<_> =
            (0..50).map(|_| policy.wait_after(2, None)).collect();
        assert!(waits.len() > 1, "jittered");
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(reqwest::header::RETRY_AFTER, "7".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(7)));
        let later = (chrono::Utc::now() + chrono::Duration::seconds(30)).to_rfc2822();
        headers.insert(reqwest::header::RETRY_AFTER, later.parse().unwrap());
        let wait = retry_after(&headers).unwrap();
        assert!(
            wait > Duration::from_secs(25) && wait <= Duration::from_secs(30),
            "{wait:?}"
        );
        headers.insert(reqwest::header::RETRY_AFTER, "soon".parse().unwrap());
        assert_eq!(retry_after(&headers), None);
    }

    #[test]
    fn the_breaker_opens_after_consecutive_failures_and_a_trial_closes_it() {
        let breaker = CircuitBreaker::new(3, Duration::from_secs(30));
        let start = Instant::now();
        assert!(!breaker.record_failure(start));
        breaker.record_success();
        assert!(!breaker.record_failure(start));
        assert!(!breaker.record_failure(start));
        assert_eq!(breaker.permit(start), Permit::Call);
        assert!(breaker.record_failure(start), "the third in a row opens it");
        assert_eq!(
            breaker.permit(start + Duration::from_secs(29)),
            Permit::Refused
        );

        let later = start + Duration::from_secs(30);
        assert_eq!(breaker.permit(later), Permit::Trial);
        assert_eq!(
            breaker.permit(later),
            Permit::Refused,
            "one trial at a time"
        );
        assert!(breaker.record_failure(later), "a failed trial re-opens it");
        assert_eq!(
            breaker.permit(later + Duration::from_secs(1)),
            Permit::Refused
        );

        let much_later = later + Duration::from_secs(30);
        assert_eq!(breaker.permit(much_later), Permit::Trial);
        // A trial that was cancelled frees the slot: the next call is the trial.
        breaker.release_trial();
        assert_eq!(breaker.permit(much_later), Permit::Trial);
        breaker.record_success();
        assert_eq!(breaker.permit(much_later), Permit::Call);
        assert!(!breaker.is_open(much_later));
    }
}
