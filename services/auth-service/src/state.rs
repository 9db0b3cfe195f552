//! What every handler shares, below both `routes` and `startup` so neither depends on
//! the other.

use std::sync::Arc;

use hospital_platform::rate_limit::RateLimiter;
use tokio::sync::Notify;

use crate::clock::Clock;
use crate::doctor_directory::DoctorDirectory;
use crate::passwords::PasswordHasher;
use crate::settings::SecuritySettings;
use crate::store::Store;
use crate::tokens::TokenIssuer;

/// What every handler shares.
pub struct AppState {
    pub store: Store,
    pub issuer: TokenIssuer,
    pub clock: Clock,
    pub passwords: PasswordHasher,
    pub security: SecuritySettings,
    pub ip_login_failures: RateLimiter,
    pub doctor_directory: DoctorDirectory,
    /// Wakes the outbox relay after a commit that queued an event.
    pub outbox_wake: Arc<Notify>,
}
