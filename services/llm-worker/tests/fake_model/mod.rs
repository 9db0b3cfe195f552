//! A local HTTP server that speaks Gemini's or OpenAI's wire format and answers from a
//! script: the one external thing the tests replace.

// Each test crate that includes it uses a part.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use hospital_llm_worker::provider::ProviderKind;

/// What the server does with one request.
#[derive(Clone, Debug)]
pub enum Reply {
    /// 200 with this answer text in the provider's format.
    Answer(String),
    /// 200 with what the offline extractor finds in the request's note: a model that
    /// answers well.
    Honest,
    /// This status, headers and body as they are.
    Raw {
        status: u16,
        headers: Vec<(&'static str, String)>,
        body: String,
    },
    /// Waits, then replies.
    After(Duration, Box<Reply>),
}

#[derive(Clone, Debug)]
pub struct Recorded {
    pub path: String,
    pub authorization: Option<String>,
    pub api_key: Option<String>,
    pub body: serde_json::Value,
}

struct State {
    kind: ProviderKind,
    script: VecDeque<Reply>,
    otherwise: Reply,
    requests: Vec<Recorded>,
    in_flight: usize,
    most_in_flight: usize,
}

pub struct FakeModel {
    url: String,
    kind: ProviderKind,
    state: Arc<Mutex<State>>,
    handle: ServerHandle,
}

impl FakeModel {
    /// Answers `otherwise` to every request the script does not cover.
    pub fn start(kind: ProviderKind, otherwise: Reply) -> Self {
        let state = Arc::new(Mutex::new(State {
            kind,
            script: VecDeque::new(),
            otherwise,
            requests: Vec::new(),
            in_flight: 0,
            most_in_flight: 0,
        }));
        let shared = web::Data::from(Arc::clone(&state));
        let server = HttpServer::new(move || {
            App::new()
                .app_data(shared.clone())
                .app_data(web::PayloadConfig::new(16 * 1024 * 1024))
                .default_service(web::to(serve))
        })
        .workers(1)
        .disable_signals()
        .shutdown_timeout(0)
        .bind(("127.0.0.1", 0))
        .unwrap();
        let port = server.addrs()[0].port();
        let server = server.run();
        let handle = server.handle();
        tokio::spawn(server);
        Self {
            url: format!("http://127.0.0.1:{port}"),
            kind,
            state,
            handle,
        }
    }

    /// The `BASE_URL` the worker is given.
    pub fn base_url(&self) -> String {
        match self.kind {
            ProviderKind::Gemini => format!("{}/v1beta", self.url),
            ProviderKind::OpenAi => format!("{}/v1", self.url),
        }
    }

    /// The next requests get these replies, in order.
    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        self.state.lock().unwrap().script.extend(replies);
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.state.lock().unwrap().requests.clone()
    }

    pub fn most_in_flight(&self) -> usize {
        self.state.lock().unwrap().most_in_flight
    }

    pub async fn stop(self) {
        self.handle.stop(false).await;
    }
}

/// The note a request carries: the JSON string between `<note>` and `</note>` of its first
/// user turn.
pub fn note_of(kind: ProviderKind, body: &serde_json::Value) -> Option<String> {
    let first_user = match kind {
        ProviderKind::OpenAi => body["messages"]
            .as_array()?
            .iter()
            .find(|message| message["role"] == "user")?["content"]
            .as_str()?
            .to_owned(),
        ProviderKind::Gemini => body["contents"][0]["parts"][0]["text"].as_str()?.to_owned(),
    };
    let (_, rest) = first_user.split_once("<note>\n")?;
    let (literal, _) = rest.split_once("\n</note>")?;
    serde_json::from_str(literal).ok()
}

/// A 200 in the provider's format carrying `text`.
pub fn wire_answer(kind: ProviderKind, text: &str) -> serde_json::Value {
    match kind {
        ProviderKind::OpenAi => serde_json::json!({
            "id": "chatcmpl-test", "object": "chat.completion", "model": "test",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        }),
        ProviderKind::Gemini => serde_json::json!({
            "candidates": [{"content": {"role": "model", "parts": [{"text": text}]}, "finishReason": "STOP"}],
            "modelVersion": "test",
        }),
    }
}

async fn serve(
    request: HttpRequest,
    body: web::Bytes,
    state: web::Data<Mutex<State>>,
) -> HttpResponse {
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
    };
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let (kind, reply) = {
        let mut state = state.lock().unwrap();
        state.requests.push(Recorded {
            path: request.path().to_owned(),
            authorization: header("authorization"),
            api_key: header("x-goog-api-key"),
            body: body.clone(),
        });
        state.in_flight += 1;
        state.most_in_flight = state.most_in_flight.max(state.in_flight);
        let reply = state
            .script
            .pop_front()
            .unwrap_or_else(|| state.otherwise.clone());
        (state.kind, reply)
    };
    let response = respond(kind, reply, &body).await;
    state.lock().unwrap().in_flight -= 1;
    response
}

async fn respond(kind: ProviderKind, mut reply: Reply, body: &serde_json::Value) -> HttpResponse {
    while let Reply::After(wait, then) = reply {
        tokio::time::sleep(wait).await;
        reply = *then;
    }
    match reply {
        Reply::Answer(text) => HttpResponse::Ok().json(wire_answer(kind, &text)),
        Reply::Honest => {
            let note = note_of(kind, body).unwrap_or_default();
            let steps = hospital_llm_worker::extract(&note);
            HttpResponse::Ok().json(wire_answer(kind, &serde_json::to_string(&steps).unwrap()))
        }
        Reply::Raw {
            status,
            headers,
            body,
        } => {
            let mut response =
                HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap());
            for (name, value) in headers {
                response.insert_header((name, value));
            }
            response.content_type("application/json").body(body)
        }
        Reply::After(..) => unreachable!("unwrapped above"),
    }
}
