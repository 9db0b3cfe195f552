//! bcrypt hashing and checking, off the async executor and bounded: at most
//! `concurrency` hashes run at once, so a burst of logins queues here instead of
//! taking every core from the requests that need none.

use std::time::Duration;

use tokio::sync::Semaphore;

use crate::domain::Password;

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("too many password checks are waiting")]
    Busy,
    #[error("password hashing failed: {0}")]
    Failed(String),
}

pub struct PasswordHasher {
    cost: u32,
    permits: Semaphore,
    queue_timeout: Duration,
    /// A hash of no one's password, checked when an email has no account, so the
    /// answer takes as long as for a wrong password.
    dummy_hash: String,
}

impl PasswordHasher {
    pub async fn new(
        cost: u32,
        concurrency: usize,
        queue_timeout: Duration,
    ) -> Result<Self, HashError> {
        let dummy = uuid::Uuid::new_v4().to_string();
        let dummy_hash = tokio::task::spawn_blocking(move || bcrypt::hash(dummy, cost))
            .await
            .map_err(|e| HashError::Failed(e.to_string()))?
            .map_err(|e| HashError::Failed(e.to_string()))?;
        Ok(Self {
            cost,
            permits: Semaphore::new(concurrency.max(1)),
            queue_timeout,
            dummy_hash,
        })
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, HashError> {
        let _permit = tokio::time::timeout(self.queue_timeout, self.permits.acquire())
            .await
            .map_err(|_| HashError::Busy)?
            .map_err(|_| HashError::Busy)?;
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|e| HashError::Failed(e.to_string()))
    }

    pub async fn hash(&self, password: Password) -> Result<String, HashError> {
        let cost = self.cost;
        self.run(move || bcrypt::hash(password.expose(), cost))
            .await?
            .map_err(|e| HashError::Failed(e.to_string()))
    }

    /// Whether `password` matches `hash`; with no hash (no such account) it checks
    /// against the dummy and answers `false`.
    pub async fn verify(&self, password: String, hash: Option<String>) -> Result<bool, HashError> {
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| self.dummy_hash.clone());
        let matches = self
            .run(move || bcrypt::verify(password, &hash).unwrap_or(false))
            .await?;
        Ok(known && matches)
    }
}
