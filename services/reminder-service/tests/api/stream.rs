//! `GET /notifications/stream`: Server-Sent Events from the patient's feed.

use std::time::Duration;

use hospital_platform::token::Role;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::{spawn_app_with_clock_and, test_settings, TestApp};

/// An open event stream and what it has sent so far.
struct EventStream {
    response: reqwest::Response,
    buffer: String,
}

/// One SSE message: its fields, or a comment.
#[derive(Debug)]
enum Sse {
    Event { id: String, data: Value },
    Comment(String),
}

impl EventStream {
    async fn open(app: &TestApp, patient: Uuid, last_event_id: Option<&str>) -> Self {
        let mut request = app
            .http
            .get(format!("{}/notifications/stream", app.address))
            .bearer_auth(app.token(patient, Role::Patient));
        if let Some(id) = last_event_id {
            request = request.header("Last-Event-ID", id);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers()["content-type"].to_str().unwrap(),
            "text/event-stream"
        );
        Self {
            response,
            buffer: String::new(),
        }
    }

    /// The next message, within `within`.
    async fn next(&mut self, within: Duration) -> Sse {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut id = None;
                let mut data = None;
                let mut comment = None;
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("id: ") {
                        id = Some(v.to_owned());
                    } else if let Some(v) = line.strip_prefix("data: ") {
                        data = Some(serde_json::from_str(v).unwrap());
                    } else if let Some(v) = line.strip_prefix(": ") {
                        comment = Some(v.to_owned());
                    }
                }
                match (id, data, comment) {
                    (Some(id), Some(data), _) => return Sse::Event { id, data },
                    (None, None, Some(comment)) => return Sse::Comment(comment),
                    _ => continue,
                }
            }
            let chunk = tokio::time::timeout(within, self.response.chunk())
                .await
                .expect("a message in time")
                .unwrap()
                .expect("the stream stays open");
            self.buffer.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    }

    /// The next event, skipping comments.
    async fn next_event(&mut self, within: Duration) -> (String, Value) {
        loop {
            if let Sse::Event { id, data } = self.next(within).await {
                return (id, data);
            }
        }
    }
}

#[tokio::test]
async fn the_feed_streams_reminders_as_they_fall_due_and_resumes_after_the_last_event() {
    let mut settings = test_settings();
    settings.reminders.heartbeat_secs = 1;
    let app = spawn_app_with_clock_and(settings).await;
    let patient = app.patient("UTC").await;
    let event = app.steps_event(
        patient,
        "2026-06-01T06:00:00Z",
        &[],
        &[(
            "Take amoxicillin 500 mg",
            json!({"kind": "fixed_times", "times": ["08:00", "20:00"]}),
            json!({"days": 2}),
        )],
    );
    app.deliver(&event).await;

    let mut stream = EventStream::open(&app, patient, None).await;
    assert!(
        matches!(stream.next(Duration::from_secs(3)).await, Sse::Comment(c) if c == "connected")
    );
    // Nothing due: a heartbeat comment within the (1 s) heartbeat.
    assert!(
        matches!(stream.next(Duration::from_secs(3)).await, Sse::Comment(c) if c == "heartbeat")
    );

    app.set_time("2026-06-01T08:00:00Z");
    let (first_id, first) = stream.next_event(Duration::from_secs(5)).await;
    assert_eq!(first["title"], "Take amoxicillin 500 mg");
    assert_eq!(first["due_at"], "2026-06-01T08:00:00Z");
    assert_eq!(first["step_id"], event.data.plan[0].step_id.to_string());
    drop(stream);

    // Falls due while nobody listens; a reconnect with the last id gets it, once.
    app.set_time("2026-06-01T20:00:00Z");
    // The 08:00 one's grace period is over by now (missed); the 20:00 one is sent.
    let due = app.wait_for_reminders(patient, "due", 1).await;
    assert_eq!(due[0]["due_at"], "2026-06-01T20:00:00Z");
    let mut resumed = EventStream::open(&app, patient, Some(&first_id)).await;
    let (second_id, second) = resumed.next_event(Duration::from_secs(5)).await;
    assert_eq!(second["due_at"], "2026-06-01T20:00:00Z");
    assert!(second_id > first_id);
    app.set_time("2026-06-02T08:00:00Z");
    let (_, third) = resumed.next_event(Duration::from_secs(5)).await;
    assert_eq!(third["due_at"], "2026-06-02T08:00:00Z");
    app.stop_and_clean().await;
}

#[tokio::test]
async fn only_a_patient_opens_their_stream_and_a_bad_last_event_id_is_refused() {
    let app = spawn_app_with_clock_and(test_settings()).await;
    let patient = app.patient("UTC").await;
    let doctor = app.doctor_of(patient).await;
    let as_doctor = app
        .get_as("/notifications/stream", doctor, Role::Doctor)
        .await;
    assert_eq!(as_doctor.status(), 403);
    assert_eq!(app.get("/notifications/stream").await.status(), 401);
    let bad = app
        .http
        .get(format!("{}/notifications/stream", app.address))
        .bearer_auth(app.token(patient, Role::Patient))
        .header("Last-Event-ID", "yesterday")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let body: Value = bad.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_last_event_id");
    app.stop_and_clean().await;
}
