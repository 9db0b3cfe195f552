//! What the worker does with each `note.submitted`: open the note, extract its steps (the
//! provider, or the offline extractor behind it), seal them, publish `steps.extracted` (or
//! `extraction.failed`) with confirms; only then is the message acknowledged.
//!
//! A redelivered note (a crash after publishing, before the ack) is extracted again and
//! published under the same event id, derived from the incoming event's id, so consumers
//! deduplicate it. The note's words are never logged.

use std::sync::Arc;

use hospital_crypto::Keyring;
use hospital_events::contracts::{note_text_binding, ExtractionFailure};
use hospital_events::{
    Envelope, Event, ExtractionFailed, HandlerError, Message, NoteSubmitted, Publisher,
    StepsExtracted,
};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::extractor::NoteExtractor;
use crate::MAX_NOTE_CHARS;

/// What the handler works with.
#[derive(Clone)]
pub struct Context {
    pub keyring: Arc<Keyring>,
    pub publisher: Arc<Publisher>,
    pub extractor: NoteExtractor,
}

/// The id of the event published for `incoming` (a UUID v7, as every event id): its time is
/// the incoming event's, its random part a hash of the incoming id and the outgoing type, so
/// a redelivery publishes the same id.
pub fn derived_event_id(incoming: &Envelope<serde_json::Value>, outgoing_type: &str) -> Uuid {
    let digest = Sha256::new()
        .chain_update(incoming.id.as_bytes())
        .chain_update(outgoing_type.as_bytes())
        .finalize();
    let millis = u64::try_from(incoming.occurred_at.timestamp_millis()).unwrap_or(0);
    let mut random = [0u8; 10];
    random.copy_from_slice(&digest[..10]);
    uuid::Builder::from_unix_timestamp_millis(millis, &random).into_uuid()
}

async fn publish<T: Event>(
    context: &Context,
    message: &Message,
    data: T,
) -> Result<(), HandlerError> {
    let mut envelope = Envelope::new(data).with_occurred_at(chrono::Utc::now());
    envelope.id = derived_event_id(&message.envelope, T::TYPE);
    envelope
        .correlation_id
        .clone_from(&message.envelope.correlation_id);
    envelope
        .traceparent
        .clone_from(&message.envelope.traceparent);
    context
        .publisher
        .publish_event(&envelope)
        .await
        .map_err(|err| HandlerError::retry(format!("publishing {}: {err}", T::ROUTING_KEY)))
}

/// `note.submitted` → `steps.extracted`, or `extraction.failed` with a reason code.
pub async fn note_submitted(context: Context, message: Message) -> Result<(), HandlerError> {
    let event = message.decode::<NoteSubmitted>()?;
    let note = &event.data;
    let binding = note_text_binding(note.note_id, note.patient_id, note.doctor_id);
    let text = match context.keyring.open_str(&note.text, &binding) {
        Ok(text) => text,
        Err(err) => {
            tracing::error!(
                alert = "note_unreadable",
                event_id = %message.id,
                note_id = %note.note_id,
                kid = %note.text.kid,
                error = %err,
                "a submitted note's envelope did not open"
            );
            fail(&context, &message, note, ExtractionFailure::NoteUnreadable).await?;
            // Parked for an operator as well: the note is failed, the message kept.
            return Err(HandlerError::poison("the note's envelope did not open"));
        }
    };
    if text.chars().count() > MAX_NOTE_CHARS {
        fail(&context, &message, note, ExtractionFailure::NoteTooLong).await?;
        return Ok(());
    }
    let extraction = context
        .extractor
        .extract(text)
        .await
        .map_err(|err| HandlerError::retry(err.to_string()))?;
    let sealed = StepsExtracted::seal(
        note.note_id,
        note.patient_id,
        note.created_at,
        extraction.extractor,
        extraction.fallback.is_some(),
        &extraction.steps,
        &context.keyring,
    );
    match sealed {
        Ok(steps_extracted) => {
            let (checklist, plan) = (steps_extracted.checklist.len(), steps_extracted.plan.len());
            publish(&context, &message, steps_extracted).await?;
            tracing::info!(
                event_id = %message.id,
                note_id = %note.note_id,
                checklist,
                plan,
                extractor = ?extraction.extractor,
                fallback = extraction.fallback.as_deref(),
                "steps extracted"
            );
            Ok(())
        }
        Err(err) => {
            tracing::warn!(event_id = %message.id, note_id = %note.note_id, error = %err, "the steps could not be sealed");
            fail(&context, &message, note, ExtractionFailure::TooManySteps).await
        }
    }
}

async fn fail(
    context: &Context,
    message: &Message,
    note: &NoteSubmitted,
    reason: ExtractionFailure,
) -> Result<(), HandlerError> {
    publish(
        context,
        message,
        ExtractionFailed {
            note_id: note.note_id,
            patient_id: note.patient_id,
            reason,
        },
    )
    .await?;
    tracing::info!(event_id = %message.id, note_id = %note.note_id, ?reason, "extraction failed");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_ids_are_v7_and_stable_per_incoming_event_and_type() {
        let raw = |id: Uuid| Envelope {
            id,
            event_type: "note.submitted".into(),
            version: 1,
            occurred_at: chrono::Utc::now(),
            correlation_id: None,
            traceparent: None,
            data: serde_json::json!({}),
        };
        let incoming = raw(Uuid::now_v7());
        let steps = derived_event_id(&incoming, "steps.extracted");
        assert_eq!(steps.get_version_num(), 7);
        assert_eq!(steps, derived_event_id(&incoming, "steps.extracted"));
        assert_ne!(steps, derived_event_id(&incoming, "extraction.failed"));
        let other = raw(Uuid::now_v7());
        assert_ne!(steps, derived_event_id(&other, "steps.extracted"));
    }
}
