//! The test harness: a real gateway on port 0 in front of small real upstreams, also
//! on port 0, one set per test so tests run in parallel.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use base64::Engine;
use ed25519_dalek::pkcs8::EncodePrivateKey;
use hospital_gateway::{Application, Settings};
use hospital_platform::settings::HttpSettings;
use hospital_platform::token::{AccessClaims, Role, ALGORITHM, ISSUER};
use jsonwebtoken::{EncodingKey, Header};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub const KID: &str = "test-key-1";

/// An Ed25519 signing key and the JWKS that publishes its public half.
pub struct TestKey {
    encoding: EncodingKey,
    pub jwks: Value,
}

impl TestKey {
    pub fn generate(kid: &str) -> Self {
        let signing = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
        let der = signing.to_pkcs8_der().expect("der");
        let x = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(signing.verifying_key().as_bytes());
        Self {
            encoding: EncodingKey::from_ed_der(der.as_bytes()),
            jwks: json!({"keys": [
                {"kty": "OKP", "crv": "Ed25519", "x": x, "kid": kid, "alg": "EdDSA", "use": "sig"}
            ]}),
        }
    }

    pub fn sign(&self, kid: &str, claims: &AccessClaims) -> String {
        let mut header = Header::new(ALGORITHM);
        header.kid = Some(kid.into());
        jsonwebtoken::encode(&header, claims, &self.encoding).expect("sign")
    }
}

pub fn now_unix() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs(),
    )
    .expect("fits")
}

/// Access-token claims for a fresh user, expiring `exp_offset` seconds from now.
pub fn claims(role: Role, exp_offset: i64) -> AccessClaims {
    let now = now_unix();
    AccessClaims {
        iss: ISSUER.into(),
        sub: uuid::Uuid::now_v7(),
        role,
        iat: now,
        exp: now + exp_offset,
        jti: uuid::Uuid::now_v7(),
    }
}

/// A small real HTTP server standing in for a service.
pub struct TestUpstream {
    pub base_url: String,
    hits: Arc<AtomicUsize>,
}

impl TestUpstream {
    /// Requests that reached the service (JWKS and health checks not counted).
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

struct EchoState {
    name: &'static str,
    jwks: Option<Value>,
    hits: Arc<AtomicUsize>,
}

fn bind_local() -> (TcpListener, u16) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    (listener, port)
}

/// An upstream that answers every request with what it received, as JSON:
/// `{upstream, method, path, query, headers, body}`. A request with
/// `x-test-status: N` gets status N, a plain-text body and an `x-upstream-note`
/// header instead; a path ending in `/stream` gets a Server-Sent Events stream (one
/// event at once, another after 700 ms). With a JWKS it also serves
/// `/.well-known/jwks.json`, like auth-service.
pub fn spawn_echo(name: &'static str, jwks: Option<Value>) -> TestUpstream {
    let (listener, port) = bind_local();
    let hits = Arc::new(AtomicUsize::new(0));
    let state = web::Data::new(EchoState {
        name,
        jwks,
        hits: Arc::clone(&hits),
    });
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .app_data(web::PayloadConfig::new(16 * 1024 * 1024))
            .default_service(web::to(echo))
    })
    .workers(1)
    .disable_signals()
    .shutdown_timeout(1)
    .listen(listener)
    .expect("listen")
    .run();
    tokio::spawn(server);
    TestUpstream {
        base_url: format!("http://127.0.0.1:{port}"),
        hits,
    }
}

async fn echo(req: HttpRequest, body: web::Bytes, state: web::Data<EchoState>) -> HttpResponse {
    match req.path() {
        "/.well-known/jwks.json" => {
            return match &state.jwks {
                Some(jwks) => HttpResponse::Ok().json(jwks),
                None => HttpResponse::NotFound().finish(),
            }
        }
        "/healthz" => return HttpResponse::Ok().json(json!({"status": "alive"})),
        _ => {}
    }
    state.hits.fetch_add(1, Ordering::SeqCst);

    if let Some(status) = req
        .headers()
        .get("x-test-status")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u16>().ok())
    {
        let status = actix_web::http::StatusCode::from_u16(status).expect("status");
        return HttpResponse::build(status)
            .content_type("text/plain; charset=utf-8")
            .insert_header(("x-upstream-note", "kept"))
            .body(format!("{} says {}", state.name, status.as_u16()));
    }

    if req.path().ends_with("/stream") {
        let events = futures_util::stream::unfold(0u8, |n| async move {
            match n {
                0 => Some((
                    Ok::<_, std::io::Error>(web::Bytes::from("data: first\n\n")),
                    1,
                )),
                1 => {
                    tokio::time::sleep(Duration::from_millis(700)).await;
                    Some((Ok(web::Bytes::from("data: second\n\n")), 2))
                }
                _ => None,
            }
        });
        return HttpResponse::Ok()
            .content_type("text/event-stream")
            .insert_header(("cache-control", "no-cache"))
            .streaming(events);
    }

    let mut headers: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in req.headers() {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        headers
            .entry(name.as_str().to_owned())
            .and_modify(|v| {
                v.push_str(", ");
                v.push_str(&value);
            })
            .or_insert(value);
    }
    HttpResponse::Ok().json(json!({
        "upstream": state.name,
        "method": req.method().as_str(),
        "path": req.uri().path(),
        "query": req.uri().query(),
        "headers": headers,
        "body": String::from_utf8_lossy(&body),
    }))
}

/// An event stream the test writes: the request that opened it and the sender of
/// its body. The body stays open until the sender is dropped; `events.closed()`
/// resolves when whoever reads the stream went away.
pub struct OpenedStream {
    pub path: String,
    pub last_event_id: Option<String>,
    pub events: tokio::sync::mpsc::Sender<web::Bytes>,
}

/// An upstream whose every answer is a Server-Sent Events stream
/// (`text/event-stream`, `Cache-Control: no-cache`, `X-Accel-Buffering: no`, like
/// the reminder-service's feed) that sends what the test writes, when it writes it.
pub struct EventStreamUpstream {
    pub base_url: String,
    opened: tokio::sync::mpsc::UnboundedReceiver<OpenedStream>,
}

impl EventStreamUpstream {
    /// The next stream a request opened, waiting at most `within`.
    pub async fn next_opened(&mut self, within: Duration) -> OpenedStream {
        tokio::time::timeout(within, self.opened.recv())
            .await
            .expect("a stream request reaches the upstream in time")
            .expect("the upstream is running")
    }
}

pub fn spawn_event_stream() -> EventStreamUpstream {
    let (listener, port) = bind_local();
    let (opened_tx, opened) = tokio::sync::mpsc::unbounded_channel();
    let server = HttpServer::new(move || {
        let opened_tx = opened_tx.clone();
        App::new().default_service(web::to(move |req: HttpRequest| {
            let opened_tx = opened_tx.clone();
            async move {
                let (events, receiver) = tokio::sync::mpsc::channel::<web::Bytes>(16);
                let last_event_id = req
                    .headers()
                    .get("last-event-id")
                    .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
                let _ = opened_tx.send(OpenedStream {
                    path: req.path().to_owned(),
                    last_event_id,
                    events,
                });
                let body = futures_util::stream::unfold(receiver, |mut receiver| async move {
                    let chunk = receiver.recv().await?;
                    Some((Ok::<_, std::io::Error>(chunk), receiver))
                });
                HttpResponse::Ok()
                    .content_type("text/event-stream")
                    .insert_header(("cache-control", "no-cache"))
                    .insert_header(("x-accel-buffering", "no"))
                    .streaming(body)
            }
        }))
    })
    .workers(1)
    // Notices at once that the gateway hung up, as the gateway does for its clients.
    .h1_allow_half_closed(false)
    .disable_signals()
    .shutdown_timeout(1)
    .listen(listener)
    .expect("listen")
    .run();
    tokio::spawn(server);
    EventStreamUpstream {
        base_url: format!("http://127.0.0.1:{port}"),
        opened,
    }
}

/// An upstream that takes `delay` before answering anything.
pub fn spawn_slow(delay: Duration) -> TestUpstream {
    let (listener, port) = bind_local();
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&hits);
    let server = HttpServer::new(move || {
        let counter = Arc::clone(&counter);
        App::new().default_service(web::to(move || {
            let counter = Arc::clone(&counter);
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(delay).await;
                HttpResponse::Ok().body("finally")
            }
        }))
    })
    .workers(1)
    .disable_signals()
    .shutdown_timeout(1)
    .listen(listener)
    .expect("listen")
    .run();
    tokio::spawn(server);
    TestUpstream {
        base_url: format!("http://127.0.0.1:{port}"),
        hits,
    }
}

/// A URL on which nothing listens: connections are refused.
pub fn closed_port_url() -> String {
    let (listener, port) = bind_local();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

pub struct TestApp {
    pub address: String,
    pub port: u16,
    pub auth: TestUpstream,
    pub notes: TestUpstream,
    pub reminders: TestUpstream,
    pub key: TestKey,
    pub client: reqwest::Client,
}

/// A gateway in front of three echo upstreams (auth also serving the JWKS).
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// As [`spawn_app`], with the settings adjusted before the gateway is built.
pub async fn spawn_app_with(adjust: impl FnOnce(&mut Settings)) -> TestApp {
    let key = TestKey::generate(KID);
    let auth = spawn_echo("auth", Some(key.jwks.clone()));
    let notes = spawn_echo("notes", None);
    let reminders = spawn_echo("reminders", None);

    let mut settings = Settings {
        http: HttpSettings {
            host: "127.0.0.1".into(),
            port: 0,
            workers: 1,
            shutdown_timeout_secs: 1,
            ..Settings::default().http
        },
        ..Settings::default()
    };
    settings.upstreams.auth.clone_from(&auth.base_url);
    settings.upstreams.notes = Some(notes.base_url.clone());
    settings.upstreams.reminders = Some(reminders.base_url.clone());
    settings.auth.jwks_url = format!("{}/.well-known/jwks.json", auth.base_url);
    adjust(&mut settings);

    let application = Application::build(settings).expect("gateway builds");
    let port = application.port();
    tokio::spawn(application.run_until_stopped());

    let client = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        port,
        auth,
        notes,
        reminders,
        key,
        client,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client.request(method, self.url(path))
    }

    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.get(self.url(path))
    }

    /// A valid access token of a new patient.
    pub fn token(&self) -> String {
        self.key.sign(KID, &claims(Role::Patient, 900))
    }

    /// `GET path` with a valid access token.
    pub fn authed_get(&self, path: &str) -> reqwest::RequestBuilder {
        self.get(path).bearer_auth(self.token())
    }

    /// Requests that reached any upstream.
    pub fn upstream_hits(&self) -> usize {
        self.auth.hits() + self.notes.hits() + self.reminders.hits()
    }

    /// Sends `request_line` and headers as written, with no client-side path
    /// normalisation; returns the status code and the body.
    pub async fn raw_get(&self, target: &str) -> (u16, String) {
        raw_get(self.port, target, &[]).await
    }
}

/// `GET target` sent byte for byte to 127.0.0.1:`port`, with `headers`, so no client
/// library normalises the path first: (status, body).
pub async fn raw_get(port: u16, target: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    let mut request = format!("GET {target} HTTP/1.1\r\nHost: localhost\r\n");
    for (name, value) in headers {
        for part in [*name, ": ", *value, "\r\n"] {
            request.push_str(part);
        }
    }
    request.push_str("Connection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut raw))
        .await
        .expect("answer in time")
        .expect("read");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// The `{"error": {"code"}}` of an error answer, checking its shape.
pub async fn error_code(response: reqwest::Response) -> String {
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        content_type.starts_with("application/json"),
        "error content type {content_type:?}"
    );
    let body: Value = response.json().await.expect("JSON error body");
    assert!(body["error"]["message"].is_string(), "{body}");
    body["error"]["code"]
        .as_str()
        .expect("error code")
        .to_owned()
}
