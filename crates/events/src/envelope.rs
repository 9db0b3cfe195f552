//! The versioned JSON envelope every message on the broker travels in.

use chrono::{DateTime, SubsecRound, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The data of one event type at one version.
///
/// `ROUTING_KEY` is always `<TYPE>.v<VERSION>` (the [`event!`](crate::event) macro derives it,
/// and a test checks every contract). A breaking change to the data is a new version with a new
/// routing key, published side by side with the old one until every consumer has moved.
pub trait Event: Serialize + DeserializeOwned + Send + Sync {
    /// The envelope's `type`, e.g. `user.registered`.
    const TYPE: &'static str;
    /// The envelope's `version`.
    const VERSION: u32;
    /// The routing key on the topic exchange, e.g. `user.registered.v1`.
    const ROUTING_KEY: &'static str;
}

/// Implements [`Event`] for a data type: `event!(UserRegistered, "user.registered", 1);`.
#[macro_export]
macro_rules! event {
    ($data:ty, $type:literal, $version:literal) => {
        impl $crate::Event for $data {
            const TYPE: &'static str = $type;
            const VERSION: u32 = $version;
            const ROUTING_KEY: &'static str = concat!($type, ".v", $version);
        }
    };
}

/// One message on the broker: who/what/when around the event's `data`.
///
/// Serialized as
/// `{"id", "type", "version", "occurred_at", "correlation_id", "traceparent", "data"}`;
/// the two optional fields are always present (as `null` when unset) so that every message of a
/// type has the same shape. `Envelope<serde_json::Value>` ([`RawEnvelope`]) reads any message
/// before its type is known.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope<T> {
    /// The event id: a UUID v7, so ids sort by creation time. Consumers deduplicate on it, and
    /// it is also the AMQP `message_id`.
    pub id: Uuid,
    /// The event type, e.g. `user.registered`.
    #[serde(rename = "type")]
    pub event_type: String,
    /// The version of `data`'s shape.
    pub version: u32,
    /// When the fact happened, in UTC (RFC 3339, `Z` suffix).
    pub occurred_at: DateTime<Utc>,
    /// The request id (or another id) that ties this event to what caused it.
    pub correlation_id: Option<String>,
    /// The W3C trace context (`traceparent` header value) of the span that emitted the event.
    pub traceparent: Option<String>,
    /// The event's data.
    pub data: T,
}

/// An envelope whose data has not been read into a type yet.
pub type RawEnvelope = Envelope<serde_json::Value>;

impl<T: Event> Envelope<T> {
    /// A new envelope around `data`: a fresh v7 id, the type and version of `T`, and now
    /// (truncated to microseconds, which is what PostgreSQL keeps) as `occurred_at`.
    pub fn new(data: T) -> Self {
        Self {
            id: Uuid::now_v7(),
            event_type: T::TYPE.to_owned(),
            version: T::VERSION,
            occurred_at: Utc::now().trunc_subsecs(6),
            correlation_id: None,
            traceparent: None,
            data,
        }
    }

    /// Sets the correlation id (usually the request id of the HTTP request that caused it).
    #[must_use]
    pub fn with_correlation_id(mut self, correlation_id: impl Into<String>) -> Self {
        self.correlation_id = Some(correlation_id.into());
        self
    }

    /// Sets the W3C `traceparent` of the emitting span.
    #[must_use]
    pub fn with_traceparent(mut self, traceparent: impl Into<String>) -> Self {
        self.traceparent = Some(traceparent.into());
        self
    }

    /// Sets when the fact happened, when that is not "now".
    #[must_use]
    pub fn with_occurred_at(mut self, occurred_at: DateTime<Utc>) -> Self {
        self.occurred_at = occurred_at;
        self
    }

    /// The routing key this envelope is published with.
    pub fn routing_key(&self) -> &'static str {
        T::ROUTING_KEY
    }

    /// The JSON bytes that go on the wire.
    pub fn to_bytes(&self) -> Result<Vec<u8>, serde_json::Error> {
        serde_json::to_vec(self)
    }

    /// Reads a message body as an envelope of `T`, checking that its `type` and `version` are
    /// `T`'s (a message routed by mistake is an error, not data read into the wrong shape).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        let envelope: Self = serde_json::from_slice(bytes).map_err(DecodeError::Json)?;
        if envelope.event_type != T::TYPE || envelope.version != T::VERSION {
            return Err(DecodeError::WrongType {
                expected: T::ROUTING_KEY,
                found: format!("{}.v{}", envelope.event_type, envelope.version),
            });
        }
        Ok(envelope)
    }
}

impl RawEnvelope {
    /// Reads any message body as an envelope, leaving `data` as JSON.
    pub fn raw_from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        serde_json::from_slice(bytes).map_err(DecodeError::Json)
    }

    /// `<type>.v<version>`: the routing key this envelope should have travelled with.
    pub fn type_key(&self) -> String {
        format!("{}.v{}", self.event_type, self.version)
    }
}

/// Why a message body could not be read as an envelope.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// Not JSON, or not the expected shape.
    #[error("the message is not a valid envelope: {0}")]
    Json(#[source] serde_json::Error),
    /// A well-formed envelope of another event type or version.
    #[error("expected a {expected} event, found {found}")]
    WrongType {
        expected: &'static str,
        found: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contracts::UserTimezoneChanged;

    #[test]
    fn round_trips_and_keeps_null_optionals() {
        let envelope = Envelope::new(UserTimezoneChanged {
            user_id: Uuid::now_v7(),
            timezone: "Europe/Paris".into(),
        });
        let json: serde_json::Value = serde_json::to_value(&envelope).unwrap();
        assert_eq!(json["type"], "user.timezone_changed");
        assert_eq!(json["version"], 1);
        assert!(json["correlation_id"].is_null());
        assert!(json["traceparent"].is_null());
        let occurred_at = json["occurred_at"].as_str().unwrap();
        assert!(occurred_at.ends_with('Z'), "{occurred_at}");
        assert_eq!(envelope.id.get_version_num(), 7);

        let back = Envelope::<UserTimezoneChanged>::from_bytes(&envelope.to_bytes().unwrap());
        assert_eq!(back.unwrap(), envelope);
    }

    #[test]
    fn rejects_another_type() {
        let envelope = Envelope::new(UserTimezoneChanged {
            user_id: Uuid::now_v7(),
            timezone: "UTC".into(),
        });
        let mut raw: RawEnvelope = serde_json::from_slice(&envelope.to_bytes().unwrap()).unwrap();
        raw.version = 2;
        let bytes = serde_json::to_vec(&raw).unwrap();
        assert_eq!(
            RawEnvelope::raw_from_bytes(&bytes).unwrap().type_key(),
            "user.timezone_changed.v2"
        );
        let err = Envelope::<UserTimezoneChanged>::from_bytes(&bytes).unwrap_err();
        assert!(matches!(err, DecodeError::WrongType { .. }), "{err}");
    }

    #[test]
    fn accepts_offsets_and_reads_them_as_utc() {
        let id = Uuid::now_v7();
        let body = serde_json::json!({
            "id": id, "type": "user.timezone_changed", "version": 1,
            "occurred_at": "2026-03-29T03:30:00+02:00", "correlation_id": "req-1",
            "traceparent": null, "data": {"user_id": id, "timezone": "Europe/Paris"}
        });
        let envelope =
            Envelope::<UserTimezoneChanged>::from_bytes(&serde_json::to_vec(&body).unwrap())
                .unwrap();
        assert_eq!(
            envelope.occurred_at.to_rfc3339(),
            "2026-03-29T01:30:00+00:00"
        );
        assert_eq!(envelope.correlation_id.as_deref(), Some("req-1"));
    }
}
