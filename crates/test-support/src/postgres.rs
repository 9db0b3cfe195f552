//! A fresh PostgreSQL database per test, dropped when the test ends.

use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use crate::FixtureError;

/// The server the tests use (`TEST_DATABASE_URL`, any database on it).
pub fn server_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres:postgres@127.0.0.1:5432/postgres".to_owned())
}

fn with_database(url: &str, database: &str) -> Result<String, FixtureError> {
    let (base, _) = url.rsplit_once('/').ok_or_else(|| {
        FixtureError::Setup("TEST_DATABASE_URL has no /database part to replace".into())
    })?;
    Ok(format!("{base}/{database}"))
}

pub struct TestDatabase {
    pub name: String,
    pub url: String,
}

impl TestDatabase {
    /// Creates an empty database named `<prefix>_<uuid>`.
    pub async fn create(prefix: &str) -> Result<Self, FixtureError> {
        let name = crate::unique_name(prefix);
        let server = server_url();
        let url = with_database(&server, &name)?;
        let mut conn = AsyncPgConnection::establish(&server)
            .await
            .map_err(|e| FixtureError::Postgres(format!("cannot connect: {e}")))?;
        diesel::sql_query(format!("CREATE DATABASE \"{name}\""))
            .execute(&mut conn)
            .await
            .map_err(|e| FixtureError::Postgres(format!("CREATE DATABASE {name}: {e}")))?;
        Ok(Self { name, url })
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        // Drop runs outside async; a short-lived thread with its own runtime drops
        // the database, forcing off the service's pooled connections.
        let name = self.name.clone();
        let server = server_url();
        let _ = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async move {
                if let Ok(mut conn) = AsyncPgConnection::establish(&server).await {
                    let _ = diesel::sql_query(format!(
                        "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                    ))
                    .execute(&mut conn)
                    .await;
                }
            });
        })
        .join();
    }
}
