//! The per-account brute-force rule: after `limit` failed logins within `window`, the
//! account answers 429 for `window`, counted from the last of those failures.

use chrono::{DateTime, TimeDelta, Utc};

/// When the lock ends, if the account is locked now. `failures` are the newest
/// failures, newest first (at least `limit` of them when there are that many).
pub fn locked_until(
    failures: &[DateTime<Utc>],
    limit: usize,
    window: TimeDelta,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    if limit == 0 || failures.len() < limit {
        return None;
    }
    let newest = failures[0];
    let oldest_counted = failures[limit - 1];
    let until = newest + window;
    (newest - oldest_counted <= window && now < until).then_some(until)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minute: i64) -> DateTime<Utc> {
        DateTime::<Utc>::UNIX_EPOCH + TimeDelta::minutes(minute)
    }

    #[test]
    fn locks_after_limit_within_window_for_window() {
        let window = TimeDelta::minutes(15);
        let failures = [at(10), at(8), at(5), at(3), at(1)];
        assert_eq!(locked_until(&failures, 5, window, at(11)), Some(at(25)));
        assert_eq!(locked_until(&failures, 5, window, at(24)), Some(at(25)));
        assert_eq!(locked_until(&failures, 5, window, at(25)), None);
        assert_eq!(locked_until(&failures[..4], 5, window, at(11)), None);
    }

    #[test]
    fn failures_spread_wider_than_window_do_not_lock() {
        let failures = [at(30), at(20), at(12), at(10), at(1)];
        assert_eq!(
            locked_until(&failures, 5, TimeDelta::minutes(15), at(31)),
            None
        );
    }
}
