//! Failed logins per email, for the lockout rule.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::schema::login_failures;
use super::{Store, StoreError};

impl Store {
    /// The newest `limit` failures for the email since `since`, newest first.
    pub async fn recent_login_failures(
        &self,
        email_normalized: &str,
        since: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<DateTime<Utc>>, StoreError> {
        let mut conn = self.conn().await?;
        Ok(login_failures::table
            .filter(login_failures::email_normalized.eq(email_normalized))
            .filter(login_failures::failed_at.gt(since))
            .order(login_failures::failed_at.desc())
            .select(login_failures::failed_at)
            .limit(limit)
            .load(&mut conn)
            .await?)
    }

    /// Records a failure and forgets this email's failures older than `forget_before`.
    pub async fn record_login_failure(
        &self,
        email_normalized: &str,
        at: DateTime<Utc>,
        forget_before: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        diesel::delete(
            login_failures::table
                .filter(login_failures::email_normalized.eq(email_normalized))
                .filter(login_failures::failed_at.lt(forget_before)),
        )
        .execute(&mut conn)
        .await?;
        diesel::insert_into(login_failures::table)
            .values((
                login_failures::email_normalized.eq(email_normalized),
                login_failures::failed_at.eq(at),
            ))
            .execute(&mut conn)
            .await?;
        Ok(())
    }

    pub async fn clear_login_failures(&self, email_normalized: &str) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        diesel::delete(
            login_failures::table.filter(login_failures::email_normalized.eq(email_normalized)),
        )
        .execute(&mut conn)
        .await?;
        Ok(())
    }
}
