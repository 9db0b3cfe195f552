//! A minimal HTTP/1.1 keep-alive client on hyper's connection API: one TCP
//! connection per [`Conn`], no pool, no redirects, nothing between the bench and the
//! socket that costs CPU the measured services could use.

use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;

use anyhow::{bail, Context, Result};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE, HOST};
use hyper::{Method, Request, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

pub type Body = Full<Bytes>;

/// Where the API answers: a loopback address and the path prefix of every route
/// (`/api/v1` through the gateway, nothing on a service directly).
#[derive(Clone, Debug)]
pub struct Target {
    pub addr: SocketAddr,
    pub host: HeaderValue,
    pub prefix: String,
    pub base: String,
}

impl Target {
    pub fn parse(base: &str) -> Result<Self> {
        let uri: Uri = base
            .parse()
            .with_context(|| format!("{base:?} is not a URL"))?;
        if uri.scheme_str() != Some("http") {
            bail!("{base:?}: only http:// is supported");
        }
        let authority = uri
            .authority()
            .with_context(|| format!("{base:?} has no host"))?;
        let port = authority
            .port_u16()
            .with_context(|| format!("{base:?} needs an explicit port"))?;
        let ip: IpAddr = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse()
            .with_context(|| format!("{base:?}: the host must be an IP address"))?;
        if !ip.is_loopback() {
            bail!("{base:?}: this benchmark only sends traffic to loopback addresses");
        }
        if uri.query().is_some() {
            bail!("{base:?}: a base URL has no query");
        }
        Ok(Self {
            addr: SocketAddr::new(ip, port),
            host: HeaderValue::from_str(authority.as_str())?,
            prefix: uri.path().trim_end_matches('/').to_owned(),
            base: base.to_owned(),
        })
    }

    /// The request target (path and query) of an API path.
    pub fn uri(&self, path: &str) -> Result<Uri> {
        format!("{}{path}", self.prefix)
            .parse()
            .with_context(|| format!("{path:?} is not a valid path"))
    }

    pub fn request(
        &self,
        method: Method,
        uri: Uri,
        token: Option<&HeaderValue>,
        json: Option<&serde_json::Value>,
    ) -> Result<Request<Body>> {
        let mut builder = Request::builder()
            .method(method)
            .uri(uri)
            .header(HOST, self.host.clone());
        if let Some(token) = token {
            builder = builder.header(AUTHORIZATION, token.clone());
        }
        let body = match json {
            Some(value) => {
                builder =
                    builder.header(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                Bytes::from(serde_json::to_vec(value)?)
            }
            None => Bytes::new(),
        };
        Ok(builder.body(Full::new(body))?)
    }
}

/// `Bearer <token>` as a header value, built once per user.
pub fn bearer(token: &str) -> Result<HeaderValue> {
    HeaderValue::from_str(&format!("Bearer {token}")).context("the access token is not ASCII")
}

/// One keep-alive HTTP/1.1 connection.
pub struct Conn {
    sender: SendRequest<Body>,
}

impl Conn {
    pub async fn open(target: &Target) -> Result<Self> {
        let stream = TcpStream::connect(target.addr)
            .await
            .with_context(|| format!("connecting to {}", target.addr))?;
        stream.set_nodelay(true)?;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .context("HTTP/1.1 handshake")?;
        // The connection's I/O runs as its own task until either side closes it.
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(Self { sender })
    }

    /// Whether the server (or an error) has closed the connection.
    pub fn is_closed(&self) -> bool {
        self.sender.is_closed()
    }

    /// Sends one request and reads the whole answer. An error means the connection
    /// is gone: open a new one.
    pub async fn send(&mut self, request: Request<Body>) -> Result<(StatusCode, Bytes)> {
        self.sender.ready().await?;
        let response = self.sender.send_request(request).await?;
        let status = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        Ok((status, body))
    }
}

/// Keep-alive connections for open-loop requests: each request takes an idle one, or
/// opens one, and gives it back after the answer.
pub struct Pool {
    target: Target,
    idle: Mutex<Vec<Conn>>,
}

impl Pool {
    pub fn new(target: Target) -> Self {
        Self {
            target,
            idle: Mutex::new(Vec::new()),
        }
    }

    pub fn target(&self) -> &Target {
        &self.target
    }

    /// Sends the request `build` makes. The server closes idle keep-alive connections, so
    /// a pooled connection that fails is retried once on a fresh one: that failure is the
    /// client's, not the service's. An error means no answer came.
    pub async fn send(
        &self,
        build: impl Fn() -> Result<Request<Body>>,
    ) -> Result<(StatusCode, Bytes)> {
        let pooled = loop {
            let Some(conn) = self.idle.lock().ok().and_then(|mut idle| idle.pop()) else {
                break None;
            };
            if !conn.is_closed() {
                break Some(conn);
            }
        };
        let reused = pooled.is_some();
        let mut conn = match pooled {
            Some(conn) => conn,
            None => Conn::open(&self.target).await?,
        };
        let answer = match conn.send(build()?).await {
            Ok(answer) => answer,
            Err(_) if reused => {
                conn = Conn::open(&self.target).await?;
                conn.send(build()?).await?
            }
            Err(err) => return Err(err),
        };
        if let Ok(mut idle) = self.idle.lock() {
            idle.push(conn);
        }
        Ok(answer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_targets_with_a_prefix() {
        let t = Target::parse("http://127.0.0.1:8080/api/v1/").expect("valid");
        assert_eq!(t.addr.port(), 8080);
        assert_eq!(t.prefix, "/api/v1");
        assert_eq!(
            t.uri("/doctors?limit=20").expect("uri").to_string(),
            "/api/v1/doctors?limit=20"
        );
        let bare = Target::parse("http://[::1]:9000").expect("valid");
        assert_eq!(bare.prefix, "");
    }

    #[test]
    fn anything_but_loopback_is_refused() {
        for base in [
            "http://10.0.0.1:80",
            "http://example.com:80",
            "https://127.0.0.1:443",
            "http://127.0.0.1",
        ] {
            assert!(Target::parse(base).is_err(), "{base}");
        }
    }
}
