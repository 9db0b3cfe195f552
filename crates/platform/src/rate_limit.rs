//! A fixed-window counter per key (an IP, an email), in memory. Good enough for one
//! replica; it bounds its own memory.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct RateLimiter {
    limit: u32,
    window: Duration,
    max_keys: usize,
    windows: Mutex<HashMap<String, (Instant, u32)>>,
}

impl RateLimiter {
    pub fn new(limit: u32, window: Duration) -> Self {
        Self {
            limit,
            window,
            max_keys: 100_000,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one hit for `key`; `Err(retry_after)` once the window's limit is spent.
    pub fn hit(&self, key: &str) -> Result<(), Duration> {
        self.hit_at(key, Instant::now())
    }

    /// Whether `key` has spent its window, without counting a hit.
    pub fn exhausted(&self, key: &str) -> Option<Duration> {
        self.exhausted_at(key, Instant::now())
    }

    pub fn exhausted_at(&self, key: &str, now: Instant) -> Option<Duration> {
        let windows = match self.windows.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        let (start, count) = windows.get(key)?;
        let elapsed = now.duration_since(*start);
        (elapsed < self.window && *count >= self.limit).then(|| self.window.saturating_sub(elapsed))
    }

    pub fn hit_at(&self, key: &str, now: Instant) -> Result<(), Duration> {
        let mut windows = match self.windows.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        if windows.len() >= self.max_keys && !windows.contains_key(key) {
            let window = self.window;
            windows.retain(|_, (start, _)| now.duration_since(*start) < window);
        }
        let entry = windows.entry(key.to_owned()).or_insert((now, 0));
        if now.duration_since(entry.0) >= self.window {
            *entry = (now, 0);
        }
        if entry.1 >= self.limit {
            return Err(self.window.saturating_sub(now.duration_since(entry.0)));
        }
        entry.1 += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_within_window_and_resets_after() {
        let limiter = RateLimiter::new(2, Duration::from_secs(10));
        let t0 = Instant::now();
        assert!(limiter.hit_at("a", t0).is_ok());
        assert!(limiter.hit_at("a", t0).is_ok());
        let retry = limiter
            .hit_at("a", t0 + Duration::from_secs(3))
            .unwrap_err();
        assert_eq!(retry, Duration::from_secs(7));
        assert_eq!(
            limiter.exhausted_at("a", t0 + Duration::from_secs(3)),
            Some(retry)
        );
        assert!(limiter.hit_at("b", t0).is_ok(), "keys are independent");
        assert_eq!(limiter.exhausted_at("b", t0), None);
        assert!(limiter.hit_at("a", t0 + Duration::from_secs(10)).is_ok());
    }
}
