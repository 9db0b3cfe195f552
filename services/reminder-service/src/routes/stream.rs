//! `GET /notifications/stream`: the patient's feed as Server-Sent Events.
//!
//! Each event's `id` is its Redis stream entry id; a client that reconnects with
//! `Last-Event-ID` gets exactly the entries after it (none lost, none repeated, as long as
//! the feed still holds them: it keeps about the newest `feed_max_len`). Without it the
//! stream starts with what arrives from now on. A comment line every `heartbeat_secs` keeps
//! proxies from closing an idle stream.

use std::collections::VecDeque;
use std::time::Duration;

use actix_web::web::Bytes;
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::stream;
use hospital_platform::token::Authenticated;
use redis::aio::MultiplexedConnection;
use redis::streams::StreamReadReply;
use serde_json::json;
use uuid::Uuid;

use super::{open_text, require_patient, rfc3339, ApiError, AppState};
use crate::domain::StepStem;

/// A Redis stream entry id, `<ms>-<seq>`.
fn valid_entry_id(id: &str) -> bool {
    let mut parts = id.splitn(2, '-');
    let ms = parts.next().unwrap_or("");
    let seq = parts.next().unwrap_or("");
    !ms.is_empty()
        && ms.len() <= 20
        && seq.len() <= 20
        && !seq.is_empty()
        && ms.bytes().all(|b| b.is_ascii_digit())
        && seq.bytes().all(|b| b.is_ascii_digit())
}

struct Feed {
    connection: MultiplexedConnection,
    state: web::Data<AppState>,
    key: String,
    patient_id: Uuid,
    last_id: String,
    ready: VecDeque<Bytes>,
    heartbeat: Duration,
}

impl Feed {
    /// Waits up to one heartbeat for entries after `last_id`; queues their events, or a
    /// heartbeat comment when none came.
    async fn fill(&mut self) -> Result<(), ApiError> {
        let block_ms = u64::try_from(self.heartbeat.as_millis()).unwrap_or(15_000);
        let reply: Option<StreamReadReply> = redis::cmd("XREAD")
            .arg("COUNT")
            .arg(100)
            .arg("BLOCK")
            .arg(block_ms)
            .arg("STREAMS")
            .arg(&self.key)
            .arg(&self.last_id)
            .query_async(&mut self.connection)
            .await
            .map_err(|e| ApiError::Unavailable(e.into()))?;
        let entries: Vec<_> = reply
            .into_iter()
            .flat_map(|r| r.keys)
            .flat_map(|k| k.ids)
            .collect();
        if entries.is_empty() {
            self.ready.push_back(Bytes::from_static(b": heartbeat\n\n"));
            return Ok(());
        }
        let field = |entry: &redis::streams::StreamId, name: &str| -> String {
            entry.get::<String>(name).unwrap_or_default()
        };
        let step_ids: Vec<Uuid> = entries
            .iter()
            .map(|e| Uuid::parse_str(&field(e, "step_id")).unwrap_or_default())
            .collect();
        let stems: Vec<String> = step_ids
            .iter()
            .map(|s| StepStem::of(*s).to_string())
            .collect();
        let texts = self.state.store.texts(&stems).await?;
        for ((entry, step_id), text) in entries.iter().zip(&step_ids).zip(&texts) {
            let title = open_text(
                &self.state.keyring,
                text.as_deref(),
                *step_id,
                self.patient_id,
            )?
            .title;
            let due: i64 = field(entry, "due_at").parse().unwrap_or(0);
            let data = json!({
                "reminder_id": field(entry, "reminder_id"),
                "step_id": step_id,
                "title": title,
                "due_at": rfc3339(due),
            });
            self.ready.push_back(Bytes::from(format!(
                "id: {}\nevent: reminder\ndata: {data}\n\n",
                entry.id
            )));
            self.last_id.clone_from(&entry.id);
        }
        Ok(())
    }
}

pub async fn stream(
    caller: Authenticated,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    require_patient(&caller.0)?;
    let patient_id = caller.0.sub;
    let key = state.store.keys().feed(patient_id);
    let last_event_id = req
        .headers()
        .get("last-event-id")
        .map(|v| v.to_str().unwrap_or("").trim().to_owned());
    let mut connection = state.store.dedicated_connection().await?;
    let last_id = match last_event_id {
        Some(id) if valid_entry_id(&id) => id,
        Some(_) => {
            return Err(ApiError::BadRequest {
                code: "invalid_last_event_id",
                message: "Last-Event-ID must be an event id this stream gave".into(),
            })
        }
        // From now on: the newest entry's id, so nothing between this read and the first
        // wait is lost.
        None => {
            let newest: Vec<(String, Vec<(String, String)>)> = redis::cmd("XREVRANGE")
                .arg(&key)
                .arg("+")
                .arg("-")
                .arg("COUNT")
                .arg(1)
                .query_async(&mut connection)
                .await
                .map_err(|e| ApiError::Unavailable(e.into()))?;
            newest
                .into_iter()
                .next()
                .map_or_else(|| "0-0".to_owned(), |(id, _)| id)
        }
    };
    let heartbeat = Duration::from_secs(state.reminders.heartbeat_secs);
    let mut ready = VecDeque::new();
    // Sent at once, so clients and proxies see the stream open.
    ready.push_back(Bytes::from_static(b"retry: 3000\n: connected\n\n"));
    let feed = Feed {
        connection,
        state: state.clone(),
        key,
        patient_id,
        last_id,
        ready,
        heartbeat,
    };
    let body = stream::unfold(feed, |mut feed| async move {
        loop {
            if let Some(chunk) = feed.ready.pop_front() {
                return Some((Ok::<_, actix_web::Error>(chunk), feed));
            }
            if let Err(err) = feed.fill().await {
                tracing::warn!(error = %err, "the live feed stopped; the client will reconnect");
                return None;
            }
        }
    });
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("Cache-Control", "no-cache"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(body))
}

#[cfg(test)]
mod tests {
    use super::valid_entry_id;

    #[test]
    fn entry_ids_are_checked() {
        assert!(valid_entry_id("1718000000000-0"));
        assert!(!valid_entry_id("abc"));
        assert!(!valid_entry_id("1-"));
        assert!(!valid_entry_id("-1"));
        assert!(!valid_entry_id("1-2-3"));
    }
}
