use std::time::{Duration, Instant};

use hospital_platform::request::TraceContext;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, spawn_app_with, spawn_event_stream};

#[tokio::test]
async fn a_client_request_id_reaches_the_service_and_comes_back() {
    let app = spawn_app().await;
    let response = app
        .authed_get("/api/v1/users/me")
        .header("x-request-id", "client-chosen-42")
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-request-id"], "client-chosen-42");
    let echo: Value = response.json().await.expect("echo");
    assert_eq!(echo["headers"]["x-request-id"], "client-chosen-42");
}

#[tokio::test]
async fn without_a_request_id_the_gateway_assigns_one_and_forwards_it() {
    let app = spawn_app().await;
    let response = app
        .authed_get("/api/v1/users/me")
        .send()
        .await
        .expect("send");
    let assigned = response.headers()["x-request-id"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(!assigned.is_empty());
    let echo: Value = response.json().await.expect("echo");
    assert_eq!(echo["headers"]["x-request-id"], assigned.as_str());

    // Error answers carry it too.
    let response = app.get("/api/v1/users/me").send().await.expect("send");
    assert_eq!(response.status(), 401);
    assert!(response.headers().contains_key("x-request-id"));
}

#[tokio::test]
async fn traceparent_is_forwarded_as_a_child_of_the_same_trace() {
    let app = spawn_app().await;
    let incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let echo: Value = app
        .authed_get("/api/v1/doctors")
        .header("traceparent", incoming)
        .header("tracestate", "vendor=value")
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("echo");
    let forwarded = echo["headers"]["traceparent"]
        .as_str()
        .expect("traceparent");
    let forwarded = TraceContext::parse(forwarded).expect("valid traceparent");
    assert_eq!(forwarded.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_ne!(forwarded.parent_id, "00f067aa0ba902b7");
    assert_eq!(forwarded.flags, "01");
    assert_eq!(echo["headers"]["tracestate"], "vendor=value");

    // A request without one starts a trace.
    let echo: Value = app
        .authed_get("/api/v1/doctors")
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("echo");
    let started = echo["headers"]["traceparent"]
        .as_str()
        .expect("traceparent");
    assert!(TraceContext::parse(started).is_some(), "{started}");
}

#[tokio::test]
async fn method_body_and_end_to_end_headers_go_up_and_hop_by_hop_ones_do_not() {
    let app = spawn_app().await;
    let body = json!({"text": "Take amoxicillin 500 mg three times a day for 7 days."});
    let response = app
        .request(Method::POST, "/api/v1/patients/42/notes?draft=false")
        .bearer_auth(app.token())
        .header("idempotency-key", "note-1")
        .header("x-custom", "kept")
        .header("x-forwarded-for", "203.0.113.9")
        .header("connection", "x-private")
        .header("x-private", "dropped")
        .header("proxy-authorization", "Basic c2VjcmV0")
        .header("te", "trailers")
        .json(&body)
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 200);
    let echo: Value = response.json().await.expect("echo");
    assert_eq!(echo["method"], "POST");
    assert_eq!(echo["path"], "/patients/42/notes");
    assert_eq!(echo["query"], "draft=false");
    assert_eq!(
        serde_json::from_str::<Value>(echo["body"].as_str().expect("body")).expect("json"),
        body
    );
    let headers = &echo["headers"];
    assert_eq!(headers["idempotency-key"], "note-1");
    assert_eq!(headers["x-custom"], "kept");
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(headers["x-forwarded-for"], "203.0.113.9, 127.0.0.1");
    for dropped in ["x-private", "proxy-authorization", "te"] {
        assert!(
            headers.get(dropped).is_none(),
            "{dropped} forwarded: {headers}"
        );
    }
}

#[tokio::test]
async fn the_callers_address_starts_x_forwarded_for() {
    let app = spawn_app().await;
    let echo: Value = app
        .authed_get("/api/v1/users/me")
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("echo");
    assert_eq!(echo["headers"]["x-forwarded-for"], "127.0.0.1");
}

#[tokio::test]
async fn upstream_error_answers_pass_through_unchanged() {
    let app = spawn_app().await;
    for status in [400u16, 403, 404, 409, 418, 422, 500, 503] {
        let response = app
            .authed_get("/api/v1/users/me")
            .header("x-test-status", status.to_string())
            .send()
            .await
            .expect("send");
        assert_eq!(response.status().as_u16(), status);
        assert_eq!(response.headers()["x-upstream-note"], "kept");
        assert_eq!(
            response.headers()["content-type"],
            "text/plain; charset=utf-8"
        );
        assert_eq!(
            response.text().await.expect("body"),
            format!("auth says {status}")
        );
    }
}

#[tokio::test]
async fn large_bodies_within_the_limit_go_through_both_ways() {
    let app = spawn_app().await;
    // A 20 000-character note, every character three bytes of UTF-8, JSON-encoded.
    let text = "é€".repeat(10_000);
    let body = json!({ "text": text });
    let response = app
        .request(Method::POST, "/api/v1/patients/42/notes")
        .bearer_auth(app.token())
        .json(&body)
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 200);
    let echo: Value = response.json().await.expect("echo");
    let received: Value = serde_json::from_str(echo["body"].as_str().expect("body")).expect("json");
    assert_eq!(received, body);
}

#[tokio::test]
async fn server_sent_events_stream_through_and_outlive_the_upstream_timeout() {
    let app = spawn_app_with(|s| s.upstreams.timeout_ms = 300).await;
    let started = Instant::now();
    let mut response = app
        .authed_get("/api/v1/notifications/stream")
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let first = tokio::time::timeout(Duration::from_millis(600), response.chunk())
        .await
        .expect("first event arrives before the upstream finishes")
        .expect("chunk")
        .expect("data");
    assert_eq!(&first[..], b"data: first\n\n");
    assert!(started.elapsed() < Duration::from_millis(650));
    // The second comes 700 ms later, past the 300 ms upstream timeout.
    let rest = tokio::time::timeout(Duration::from_secs(3), response.text())
        .await
        .expect("stream ends")
        .expect("text");
    assert_eq!(rest, "data: second\n\n");
}

/// Reads the body until it holds `expected` (chunks may be split or joined on the
/// way), failing after `within`.
async fn read_until(response: &mut reqwest::Response, expected: &str, within: Duration) -> String {
    let mut received = String::new();
    tokio::time::timeout(within, async {
        while !received.contains(expected) {
            let chunk = response
                .chunk()
                .await
                .expect("the stream stays readable")
                .expect("the stream stays open");
            received.push_str(std::str::from_utf8(&chunk).expect("UTF-8"));
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{expected:?} did not arrive; got {received:?}"));
    received
}

#[tokio::test]
async fn the_notification_feed_streams_event_by_event_and_resumes_from_last_event_id() {
    let mut feed = spawn_event_stream();
    let app = spawn_app_with(|s| {
        s.upstreams.reminders = Some(feed.base_url.clone());
        // Far shorter than the stream: it bounds the wait for headers, not the body.
        s.upstreams.timeout_ms = 200;
    })
    .await;

    let request = app
        .authed_get("/api/v1/notifications/stream")
        .header("accept", "text/event-stream")
        .header("last-event-id", "0193-event-41")
        .send();
    let pending = tokio::spawn(request);
    let opened = feed.next_opened(Duration::from_secs(3)).await;
    assert_eq!(opened.path, "/notifications/stream");
    assert_eq!(opened.last_event_id.as_deref(), Some("0193-event-41"));

    opened
        .events
        .send("id: 0193-event-42\nevent: reminder.due\ndata: {\"n\":1}\n\n".into())
        .await
        .expect("send");
    let mut response = pending.await.expect("join").expect("response");
    assert_eq!(response.status(), 200);
    let headers = response.headers();
    assert_eq!(headers["content-type"], "text/event-stream");
    assert_eq!(headers["cache-control"], "no-cache");
    assert_eq!(headers["x-accel-buffering"], "no");
    assert!(!headers.contains_key("content-length"));

    // The first event arrives while the upstream has sent nothing else: the gateway
    // does not wait for more of the body.
    let first = read_until(&mut response, "data: {\"n\":1}\n\n", Duration::from_secs(2)).await;
    assert_eq!(
        first,
        "id: 0193-event-42\nevent: reminder.due\ndata: {\"n\":1}\n\n"
    );

    // Quiet for longer than the upstream timeout, then a heartbeat and an event.
    tokio::time::sleep(Duration::from_millis(500)).await;
    opened
        .events
        .send(": heartbeat\n\n".into())
        .await
        .expect("send");
    let heartbeat = read_until(&mut response, ": heartbeat\n\n", Duration::from_secs(2)).await;
    assert_eq!(heartbeat, ": heartbeat\n\n");
    tokio::time::sleep(Duration::from_millis(300)).await;
    opened
        .events
        .send("id: 0193-event-43\ndata: {\"n\":2}\n\n".into())
        .await
        .expect("send");
    let second = read_until(&mut response, "data: {\"n\":2}\n\n", Duration::from_secs(2)).await;
    assert_eq!(second, "id: 0193-event-43\ndata: {\"n\":2}\n\n");

    // The client goes away: the gateway lets go of the upstream stream too.
    drop(response);
    tokio::time::timeout(Duration::from_secs(3), opened.events.closed())
        .await
        .expect("the upstream stream is dropped after the client disconnects");
}
