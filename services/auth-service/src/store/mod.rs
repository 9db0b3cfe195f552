//! PostgreSQL through diesel-async and a deadpool pool. Each operation that changes
//! more than one row runs in one transaction, and events go into the outbox in the
//! same transaction as the change they announce.

mod accounts;
mod assignments;
mod login_failures;
mod outbox;
pub(crate) mod schema;
mod sessions;

use diesel_async::pooled_connection::deadpool::{Object, Pool};
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
};
use diesel_async::{AsyncMigrationHarness, AsyncPgConnection, RunQueryDsl};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
use uuid::Uuid;

pub use accounts::{DoctorSummary, NewUser, UserProfile, UserRecord};
pub use assignments::{CurrentAssignment, PatientOfDoctor, SelectOutcome};
pub use outbox::OutboxEvent;
pub use sessions::{NewRefreshToken, NewSession, RotateOutcome};

const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the email is already registered")]
    EmailTaken,
    #[error("database pool: {0}")]
    Pool(String),
    #[error("database: {0}")]
    Query(#[from] diesel::result::Error),
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
}

/// The auth-service's database.
#[derive(Clone)]
pub struct Store {
    pool: Pool<AsyncPgConnection>,
}

impl Store {
    pub fn connect(url: &str, pool_size: usize) -> Result<Self, StoreError> {
        // Fast recycling: no `SELECT 1` on every checkout (a round trip and ~25 µs of
        // PostgreSQL CPU per request). A connection that broke is marked so by the
        // failed query and discarded then.
        let mut config = ManagerConfig::default();
        config.recycling_method = RecyclingMethod::Fast;
        let manager =
            AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(url, config);
        let pool = Pool::builder(manager)
            .max_size(pool_size)
            .wait_timeout(Some(std::time::Duration::from_secs(5)))
            .create_timeout(Some(std::time::Duration::from_secs(5)))
            .runtime(deadpool_runtime())
            .build()
            .map_err(|e| StoreError::Pool(e.to_string()))?;
        Ok(Self { pool })
    }

    pub(crate) async fn conn(&self) -> Result<Object<AsyncPgConnection>, StoreError> {
        self.pool
            .get()
            .await
            .map_err(|e| StoreError::Pool(e.to_string()))
    }

    /// Applies pending migrations. Runs on a blocking thread because the harness
    /// drives an async connection from synchronous code.
    pub async fn run_migrations(&self) -> Result<(), StoreError> {
        let conn = self.conn().await?;
        tokio::task::spawn_blocking(move || {
            let mut harness = AsyncMigrationHarness::new(conn);
            harness
                .run_pending_migrations(MIGRATIONS)
                .map(|_| ())
                .map_err(|e| StoreError::Pool(format!("migrations failed: {e}")))
        })
        .await
        .map_err(|e| StoreError::Pool(format!("migration task failed: {e}")))?
    }

    pub async fn ping(&self) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        diesel::sql_query("SELECT 1").execute(&mut conn).await?;
        Ok(())
    }
}

fn deadpool_runtime() -> deadpool::Runtime {
    deadpool::Runtime::Tokio1
}

fn new_id() -> Uuid {
    Uuid::now_v7()
}
