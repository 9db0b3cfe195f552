//! The events auth-service announces, and the outbox relay that publishes them.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use hospital_events::{
    AssignmentChanged, Envelope, Event, OutboxMessage, OutboxStore, UserRegistered,
    UserTimezoneChanged,
};
use uuid::Uuid;

use crate::domain::Role;
use crate::store::{OutboxEvent, Store, StoreError};

/// What ties an event to the request that caused it.
#[derive(Debug, Clone, Default)]
pub struct EventContext {
    pub correlation_id: Option<String>,
    pub traceparent: Option<String>,
}

fn outbox_event<T: Event>(data: T, at: DateTime<Utc>, context: &EventContext) -> OutboxEvent {
    let mut envelope = Envelope::new(data).with_occurred_at(at);
    envelope.correlation_id.clone_from(&context.correlation_id);
    envelope.traceparent.clone_from(&context.traceparent);
    OutboxEvent {
        id: envelope.id,
        routing_key: T::ROUTING_KEY.to_owned(),
        // Serialising plain structs of ids, strings and times cannot fail.
        payload: serde_json::to_value(&envelope).unwrap_or(serde_json::Value::Null),
        created_at: at,
    }
}

pub fn user_registered(
    user_id: Uuid,
    role: Role,
    timezone: &str,
    at: DateTime<Utc>,
    context: &EventContext,
) -> OutboxEvent {
    outbox_event(
        UserRegistered {
            user_id,
            role,
            timezone: timezone.to_owned(),
        },
        at,
        context,
    )
}

pub fn timezone_changed(
    user_id: Uuid,
    timezone: &str,
    at: DateTime<Utc>,
    context: &EventContext,
) -> OutboxEvent {
    outbox_event(
        UserTimezoneChanged {
            user_id,
            timezone: timezone.to_owned(),
        },
        at,
        context,
    )
}

pub fn assignment_changed(
    patient_id: Uuid,
    doctor_id: Option<Uuid>,
    previous_doctor_id: Option<Uuid>,
    at: DateTime<Utc>,
    context: &EventContext,
) -> OutboxEvent {
    outbox_event(
        AssignmentChanged {
            patient_id,
            doctor_id,
            previous_doctor_id,
            changed_at: at,
        },
        at,
        context,
    )
}

/// Published events are kept this long (for operators tracing a message), then purged.
const KEEP_PUBLISHED: chrono::TimeDelta = chrono::TimeDelta::days(7);
/// How often the relay purges, at most.
const PURGE_EVERY: std::time::Duration = std::time::Duration::from_secs(3600);

/// The outbox table as the relay sees it.
pub struct PgOutbox {
    pub store: Store,
    pub clock: crate::clock::Clock,
    last_purge: std::sync::Mutex<Option<std::time::Instant>>,
}

impl PgOutbox {
    pub fn new(store: Store, clock: crate::clock::Clock) -> Self {
        Self {
            store,
            clock,
            last_purge: std::sync::Mutex::new(None),
        }
    }

    /// Whether an hour has passed since the last purge (and claims this one).
    fn purge_due(&self) -> bool {
        let Ok(mut last) = self.last_purge.lock() else {
            return false;
        };
        if last.is_some_and(|at| at.elapsed() < PURGE_EVERY) {
            return false;
        }
        *last = Some(std::time::Instant::now());
        true
    }
}

impl OutboxStore for PgOutbox {
    type Error = StoreError;

    async fn pending(&self, limit: usize) -> Result<Vec<OutboxMessage>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(100);
        let events = self.store.pending_events(limit).await?;
        events
            .into_iter()
            .map(|event| {
                Ok(OutboxMessage {
                    id: event.id,
                    routing_key: event.routing_key,
                    payload: serde_json::to_vec(&event.payload)
                        .map_err(|e| StoreError::Corrupt(e.to_string()))?,
                })
            })
            .collect()
    }

    async fn mark_published(&self, ids: &[Uuid]) -> Result<(), StoreError> {
        let now = self.clock.now();
        self.store.mark_published(ids, now).await?;
        if self.purge_due() {
            let purged = self.store.purge_published(now - KEEP_PUBLISHED).await?;
            if purged > 0 {
                tracing::info!(purged, "purged published outbox events");
            }
        }
        Ok(())
    }
}

pub type SharedOutbox = Arc<PgOutbox>;
