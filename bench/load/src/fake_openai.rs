//! `hospital-bench fake-openai`: a local OpenAI-compatible model for the llm-worker's
//! throughput scenario. `POST /v1/chat/completions` answers after `--delay-ms` with the
//! offline extractor's steps for the note it is given (a valid answer: every source is a
//! sentence of the note), so the worker's own costs and its concurrency are what is
//! measured, not a model's. `GET /stats` counts the requests (`POST /stats/reset` starts
//! them again, before each run); `GET /readyz` answers 200.
//!
//! The note is found as the llm-worker sends it: in the last `user` message, as one JSON
//! string literal between a `<note>` line and a `</note>` line.

use std::net::TcpListener;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use actix_web::{web, App, HttpResponse, HttpServer};
use anyhow::{bail, Context, Result};
use serde_json::json;

use crate::args::Args;

#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    answered: AtomicU64,
    malformed: AtomicU64,
    in_flight: AtomicU64,
    max_in_flight: AtomicU64,
}

struct Server {
    delay: Duration,
    counters: Counters,
}

pub fn run(args: &Args) -> Result<()> {
    let host = args.get("host").unwrap_or("127.0.0.1").to_owned();
    let ip: std::net::IpAddr = host.parse().context("--host must be an IP address")?;
    if !ip.is_loopback() {
        bail!("--host {host}: the fake model only listens on loopback");
    }
    let port: u16 = args.number("port", 0, 0..=65_535)?;
    let delay_ms: u64 = args.number("delay-ms", 500, 0..=60_000)?;
    let server = web::Data::new(Server {
        delay: Duration::from_millis(delay_ms),
        counters: Counters::default(),
    });
    let listener =
        TcpListener::bind((ip, port)).with_context(|| format!("binding {host}:{port}"))?;
    let port = listener.local_addr()?.port();
    actix_web::rt::System::new().block_on(async move {
        let server = HttpServer::new(move || {
            App::new()
                .app_data(server.clone())
                .app_data(web::PayloadConfig::new(1 << 20))
                .route("/v1/chat/completions", web::post().to(completions))
                .route("/stats", web::get().to(stats))
                .route("/stats/reset", web::post().to(reset))
                .route("/readyz", web::get().to(HttpResponse::Ok))
        })
        // The answers wait on timers, not on a core: one worker takes any concurrency.
        .workers(1)
        .listen(listener)?
        .run();
        // The line bench/run.sh reads the port from, as it does the services' log lines.
        println!(
            "{}",
            json!({"message": "fake-openai listening", "port": port, "delay_ms": delay_ms})
        );
        server.await
    })?;
    Ok(())
}

async fn completions(server: web::Data<Server>, body: web::Bytes) -> HttpResponse {
    let counters = &server.counters;
    counters.requests.fetch_add(1, Ordering::Relaxed);
    let Some(note) = note_of(&body) else {
        counters.malformed.fetch_add(1, Ordering::Relaxed);
        return HttpResponse::BadRequest()
            .json(json!({"error": {"message": "no <note> block in the last user message"}}));
    };
    let now = counters.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
    counters.max_in_flight.fetch_max(now, Ordering::Relaxed);
    actix_web::rt::time::sleep(server.delay).await;
    let steps = hospital_extract::extract(&note);
    let content = serde_json::to_string(&steps).unwrap_or_default();
    counters.in_flight.fetch_sub(1, Ordering::Relaxed);
    counters.answered.fetch_add(1, Ordering::Relaxed);
    HttpResponse::Ok().json(json!({
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "model": "bench",
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": content},
            "finish_reason": "stop",
        }],
    }))
}

async fn stats(server: web::Data<Server>) -> HttpResponse {
    let c = &server.counters;
    HttpResponse::Ok().json(json!({
        "requests": c.requests.load(Ordering::Relaxed),
        "answered": c.answered.load(Ordering::Relaxed),
        "malformed": c.malformed.load(Ordering::Relaxed),
        "in_flight": c.in_flight.load(Ordering::Relaxed),
        "max_in_flight": c.max_in_flight.load(Ordering::Relaxed),
    }))
}

async fn reset(server: web::Data<Server>) -> HttpResponse {
    let c = &server.counters;
    for counter in [&c.requests, &c.answered, &c.malformed] {
        counter.store(0, Ordering::Relaxed);
    }
    // What is in flight now is the new run's floor.
    c.max_in_flight
        .store(c.in_flight.load(Ordering::Relaxed), Ordering::Relaxed);
    HttpResponse::NoContent().finish()
}

/// The note of a chat completion request: the JSON string between `<note>\n` and
/// `\n</note>` in the last user message.
fn note_of(body: &[u8]) -> Option<String> {
    let request: serde_json::Value = serde_json::from_slice(body).ok()?;
    let content = request["messages"]
        .as_array()?
        .iter()
        .rev()
        .find(|m| m["role"] == "user")?["content"]
        .as_str()?;
    let (_, rest) = content.split_once("<note>\n")?;
    let (literal, _) = rest.split_once("\n</note>")?;
    serde_json::from_str(literal).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_note_of_the_last_user_message() {
        let note = "Take amoxicillin 500 mg three times a day for 7 days. <b>\"quoted\"</b>";
        let literal = serde_json::to_string(note).unwrap().replace('<', "\\u003c");
        let body = json!({"messages": [
            {"role": "system", "content": "<note>\n\"not this\"\n</note>"},
            {"role": "user", "content": "<note>\n\"nor this\"\n</note>"},
            {"role": "assistant", "content": "{}"},
            {"role": "user", "content": format!("Extract.\n<note>\n{literal}\n</note>")},
        ]});
        let bytes = serde_json::to_vec(&body).unwrap();
        assert_eq!(note_of(&bytes).as_deref(), Some(note));
        assert_eq!(note_of(b"{\"messages\":[]}"), None);
        assert_eq!(note_of(b"not json"), None);
    }

    #[test]
    fn the_bench_notes_give_steps_of_both_kinds_that_the_worker_accepts() {
        for sequence in 0..200 {
            let note = crate::clinical::note(sequence);
            let steps = hospital_extract::extract(&note);
            assert!(!steps.checklist.is_empty(), "note {sequence}: no checklist");
            assert!(!steps.plan.is_empty(), "note {sequence}: no plan");
            // The answer the fake model gives is one the llm-worker takes as the model's.
            let answer = serde_json::to_string(&steps).unwrap();
            assert_eq!(
                hospital_llm_worker::answer::parse(&answer, &note).unwrap(),
                steps,
                "note {sequence}"
            );
        }
    }
}
