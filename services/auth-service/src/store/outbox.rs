//! The transactional outbox: events written with the change they announce, published
//! by the relay after the broker confirms them.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::schema::outbox;
use super::{Store, StoreError};

/// An event ready to be queued: its envelope id, routing key and envelope JSON.
#[derive(Debug, Clone)]
pub struct OutboxEvent {
    pub id: Uuid,
    pub routing_key: String,
    pub payload: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

pub(super) async fn insert_event(
    conn: &mut AsyncPgConnection,
    event: &OutboxEvent,
) -> Result<(), StoreError> {
    diesel::insert_into(outbox::table)
        .values((
            outbox::id.eq(event.id),
            outbox::routing_key.eq(&event.routing_key),
            outbox::payload.eq(&event.payload),
            outbox::created_at.eq(event.created_at),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

impl Store {
    /// Unpublished events, oldest first.
    pub async fn pending_events(&self, limit: i64) -> Result<Vec<OutboxEvent>, StoreError> {
        let mut conn = self.conn().await?;
        let rows: Vec<(Uuid, String, serde_json::Value, DateTime<Utc>)> = outbox::table
            .filter(outbox::published_at.is_null())
            .order((outbox::created_at.asc(), outbox::id.asc()))
            .select((
                outbox::id,
                outbox::routing_key,
                outbox::payload,
                outbox::created_at,
            ))
            .limit(limit)
            .load(&mut conn)
            .await?;
        Ok(rows
            .into_iter()
            .map(|(id, routing_key, payload, created_at)| OutboxEvent {
                id,
                routing_key,
                payload,
                created_at,
            })
            .collect())
    }

    pub async fn mark_published(&self, ids: &[Uuid], at: DateTime<Utc>) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        diesel::update(outbox::table.filter(outbox::id.eq_any(ids)))
            .set(outbox::published_at.eq(at))
            .execute(&mut conn)
            .await?;
        Ok(())
    }

    /// Forgets events published before `before`; returns how many.
    pub async fn purge_published(&self, before: DateTime<Utc>) -> Result<usize, StoreError> {
        let mut conn = self.conn().await?;
        Ok(
            diesel::delete(outbox::table.filter(outbox::published_at.lt(before)))
                .execute(&mut conn)
                .await?,
        )
    }
}
