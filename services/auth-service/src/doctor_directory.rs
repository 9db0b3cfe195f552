//! A short-lived cache of doctor-list pages. The list is the same for every caller
//! and changes only when a doctor signs up, yet it is read on every visit to the
//! "choose a doctor" screen.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use uuid::Uuid;

/// Which page: specialization (lower-cased), cursor, limit.
pub type PageKey = (Option<String>, Option<Uuid>, i64);

pub struct DoctorDirectory {
    ttl: Duration,
    max_pages: usize,
    pages: Mutex<HashMap<PageKey, (Instant, Arc<str>)>>,
}

impl DoctorDirectory {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            max_pages: 10_000,
            pages: Mutex::new(HashMap::new()),
        }
    }

    /// The page's JSON body, if cached and fresh.
    pub fn get(&self, key: &PageKey) -> Option<Arc<str>> {
        if self.ttl.is_zero() {
            return None;
        }
        let pages = self.pages.lock().ok()?;
        let (at, body) = pages.get(key)?;
        (at.elapsed() < self.ttl).then(|| Arc::clone(body))
    }

    pub fn put(&self, key: PageKey, body: Arc<str>) {
        if self.ttl.is_zero() {
            return;
        }
        let Ok(mut pages) = self.pages.lock() else {
            return;
        };
        if pages.len() >= self.max_pages {
            let ttl = self.ttl;
            pages.retain(|_, (at, _)| at.elapsed() < ttl);
            if pages.len() >= self.max_pages {
                pages.clear();
            }
        }
        pages.insert(key, (Instant::now(), body));
    }

    /// A doctor signed up here: every cached page may now be missing them. (Other
    /// replicas catch up within the TTL.)
    pub fn invalidate(&self) {
        if let Ok(mut pages) = self.pages.lock() {
            pages.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serves_fresh_pages_until_invalidated() {
        let directory = DoctorDirectory::new(Duration::from_secs(60));
        let key = (Some("cardiology".to_owned()), None, 20);
        assert!(directory.get(&key).is_none());
        directory.put(key.clone(), Arc::from("{}"));
        assert_eq!(directory.get(&key).as_deref(), Some("{}"));
        directory.invalidate();
        assert!(directory.get(&key).is_none());
    }

    #[test]
    fn a_zero_ttl_caches_nothing() {
        let directory = DoctorDirectory::new(Duration::ZERO);
        let key = (None, None, 20);
        directory.put(key.clone(), Arc::from("{}"));
        assert!(directory.get(&key).is_none());
    }
}
