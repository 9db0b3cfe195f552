//! Refresh-token families: one per sign-in, rotated on every refresh; a token used
//! twice revokes its whole family.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::accounts::parse_role;
use super::schema::{refresh_token_families, refresh_tokens, users};
use super::{new_id, Store, StoreError, UserRecord};

/// A refresh token to store (only its hash is kept).
pub struct NewRefreshToken {
    pub token_hash: Vec<u8>,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// A new sign-in: a family and its first token.
pub struct NewSession {
    pub user_id: Uuid,
    pub token: NewRefreshToken,
}

/// id, family, expiry, when it was used.
type TokenRow = (Uuid, Uuid, DateTime<Utc>, Option<DateTime<Utc>>);

pub enum RotateOutcome {
    /// The old token is spent and the new one belongs to the same family.
    Rotated(UserRecord),
    /// The token had been used before: the family is now revoked.
    Reused,
    /// Unknown, expired or already revoked.
    Invalid,
}

pub(super) async fn insert_session(
    conn: &mut AsyncPgConnection,
    session: &NewSession,
) -> Result<(), StoreError> {
    let family_id = new_id();
    diesel::insert_into(refresh_token_families::table)
        .values((
            refresh_token_families::id.eq(family_id),
            refresh_token_families::user_id.eq(session.user_id),
            refresh_token_families::created_at.eq(session.token.issued_at),
        ))
        .execute(conn)
        .await?;
    insert_token(conn, family_id, &session.token).await
}

async fn insert_token(
    conn: &mut AsyncPgConnection,
    family_id: Uuid,
    token: &NewRefreshToken,
) -> Result<(), StoreError> {
    diesel::insert_into(refresh_tokens::table)
        .values((
            refresh_tokens::id.eq(new_id()),
            refresh_tokens::family_id.eq(family_id),
            refresh_tokens::token_hash.eq(&token.token_hash),
            refresh_tokens::issued_at.eq(token.issued_at),
            refresh_tokens::expires_at.eq(token.expires_at),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

impl Store {
    pub async fn start_session(&self, session: NewSession) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        conn.transaction::<_, StoreError, _>(async |conn| insert_session(conn, &session).await)
            .await
    }

    /// Spends the token `old_hash` and issues `next` in its family. The row lock makes
    /// two concurrent uses of one token count as a reuse.
    pub async fn rotate_refresh_token(
        &self,
        old_hash: &[u8],
        next: NewRefreshToken,
    ) -> Result<RotateOutcome, StoreError> {
        let mut conn = self.conn().await?;
        conn.transaction::<_, StoreError, _>(async |conn| {
            let found: Option<TokenRow> = refresh_tokens::table
                .filter(refresh_tokens::token_hash.eq(old_hash))
                .select((
                    refresh_tokens::id,
                    refresh_tokens::family_id,
                    refresh_tokens::expires_at,
                    refresh_tokens::used_at,
                ))
                .for_update()
                .first(conn)
                .await
                .optional()?;
            let Some((token_id, family_id, expires_at, used_at)) = found else {
                return Ok(RotateOutcome::Invalid);
            };
            let family: (Uuid, Option<DateTime<Utc>>) = refresh_token_families::table
                .find(family_id)
                .select((
                    refresh_token_families::user_id,
                    refresh_token_families::revoked_at,
                ))
                .for_update()
                .first(conn)
                .await?;
            let (user_id, revoked_at) = family;
            if revoked_at.is_some() {
                return Ok(RotateOutcome::Invalid);
            }
            if used_at.is_some() {
                revoke_family(conn, family_id, next.issued_at).await?;
                return Ok(RotateOutcome::Reused);
            }
            if expires_at <= next.issued_at {
                return Ok(RotateOutcome::Invalid);
            }
            diesel::update(refresh_tokens::table.find(token_id))
                .set(refresh_tokens::used_at.eq(next.issued_at))
                .execute(conn)
                .await?;
            insert_token(conn, family_id, &next).await?;
            let (id, email, name, role, password_hash): (Uuid, String, String, String, String) =
                users::table
                    .find(user_id)
                    .select((
                        users::id,
                        users::email,
                        users::name,
                        users::role,
                        users::password_hash,
                    ))
                    .first(conn)
                    .await?;
            Ok(RotateOutcome::Rotated(UserRecord {
                id,
                email,
                name,
                role: parse_role(&role)?,
                password_hash,
            }))
        })
        .await
    }

    /// The user that a refresh token belongs to, without spending it.
    pub async fn refresh_token_owner(&self, token_hash: &[u8]) -> Result<Option<Uuid>, StoreError> {
        let mut conn = self.conn().await?;
        Ok(refresh_tokens::table
            .inner_join(refresh_token_families::table)
            .filter(refresh_tokens::token_hash.eq(token_hash))
            .select(refresh_token_families::user_id)
            .first(&mut conn)
            .await
            .optional()?)
    }

    /// Logout: revokes the family of `token_hash` if it belongs to `user_id`.
    /// Returns whether anything was revoked.
    pub async fn revoke_session(
        &self,
        token_hash: &[u8],
        user_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut conn = self.conn().await?;
        let family: Option<Uuid> = refresh_tokens::table
            .inner_join(refresh_token_families::table)
            .filter(refresh_tokens::token_hash.eq(token_hash))
            .filter(refresh_token_families::user_id.eq(user_id))
            .select(refresh_token_families::id)
            .first(&mut conn)
            .await
            .optional()?;
        match family {
            Some(family_id) => {
                revoke_family(&mut conn, family_id, now).await?;
                Ok(true)
            }
            None => Ok(false),
        }
    }
}

async fn revoke_family(
    conn: &mut AsyncPgConnection,
    family_id: Uuid,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    diesel::update(
        refresh_token_families::table
            .find(family_id)
            .filter(refresh_token_families::revoked_at.is_null()),
    )
    .set(refresh_token_families::revoked_at.eq(now))
    .execute(conn)
    .await?;
    Ok(())
}
