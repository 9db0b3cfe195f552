//! Building the gateway and running it until it is told to stop.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{web, App, HttpServer};
use anyhow::Context;
use hospital_platform::error::route_not_found;
use hospital_platform::health::{self, Readiness};
use hospital_platform::metrics::HttpMetrics;
use hospital_platform::rate_limit::RateLimiter;
use hospital_platform::request::request_context;
use hospital_platform::server::serve_until_cancelled;
use hospital_platform::token::TokenVerifier;
use tokio_util::sync::CancellationToken;

use crate::metrics::UpstreamMetrics;
use crate::routes::docs;
use crate::routes::middleware::{cors, cors_rejection_as_json};
use crate::routes::proxy::{proxy, ProxyState};
use crate::settings::Settings;
use crate::upstream::{build_client, UpstreamHealth, Upstreams};

/// A built gateway: bound to its port, not yet serving.
pub struct Application {
    port: u16,
    server: Server,
    shutdown: CancellationToken,
}

impl Application {
    /// Binds the listener (port 0 picks a free one) and builds the server.
    pub fn build(settings: Settings) -> anyhow::Result<Self> {
        let listener = TcpListener::bind((settings.http.host.as_str(), settings.http.port))
            .with_context(|| {
                format!(
                    "cannot listen on {}:{}",
                    settings.http.host, settings.http.port
                )
            })?;
        let port = listener.local_addr()?.port();

        let client =
            build_client(&settings.upstreams).context("cannot build the upstream HTTP client")?;
        let verifier = Arc::new(TokenVerifier::remote(
            settings.auth.jwks_url.clone(),
            client.clone(),
        ));
        let auth_limiter = (settings.rate_limit.auth_requests > 0).then(|| {
            Arc::new(RateLimiter::new(
                settings.rate_limit.auth_requests,
                Duration::from_secs(settings.rate_limit.auth_window_secs),
            ))
        });
        let mut metrics = HttpMetrics::new("gateway");
        let upstream_metrics = Arc::new(UpstreamMetrics::register(metrics.registry_mut()));
        let metrics = web::Data::new(metrics);
        // Ready when auth-service is: without it nobody can sign in and no token can
        // be checked. Services not deployed yet do not hold the gateway back.
        let readiness = web::Data::new(Readiness::default().with(Arc::new(UpstreamHealth::new(
            "auth",
            &settings.upstreams.auth,
            client.clone(),
        ))));
        let upstreams = Upstreams::new(&settings.upstreams);

        let settings = Arc::new(settings);
        let server_settings = Arc::clone(&settings);
        let mut server = HttpServer::new(move || {
            let settings = &server_settings;
            // One pool per worker: connections are driven on the worker's own runtime.
            let client = build_client(&settings.upstreams).unwrap_or_else(|_| client.clone());
            let state = web::Data::new(ProxyState {
                client,
                upstreams: upstreams.clone(),
                verifier: Arc::clone(&verifier),
                auth_limiter: auth_limiter.clone(),
                body_limit: settings.http.body_limit_bytes,
                timeout: settings.upstreams.timeout(),
                metrics: Arc::clone(&upstream_metrics),
            });
            App::new()
                .app_data(metrics.clone())
                .app_data(readiness.clone())
                .app_data(state)
                .wrap(cors(&settings.cors))
                .wrap(from_fn(cors_rejection_as_json))
                .wrap(from_fn(request_context))
                .configure(health::configure)
                .configure(docs::configure)
                .service(web::resource("/api/v1/{tail:.*}").to(proxy))
                .default_service(web::to(route_not_found))
        })
        .disable_signals()
        // A client that closes its side has gone: stop at once, which drops the
        // upstream call too. Otherwise an event stream would hold its upstream
        // connection until a heartbeat failed to reach the vanished client.
        .h1_allow_half_closed(false)
        .shutdown_timeout(settings.http.shutdown_timeout_secs)
        .backlog(2048);
        if settings.http.workers > 0 {
            server = server.workers(settings.http.workers);
        }
        let server = server.listen(listener)?.run();

        Ok(Self {
            port,
            server,
            shutdown: CancellationToken::new(),
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Cancelling this token stops the gateway gracefully.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Serves until the shutdown token is cancelled, then finishes in-flight requests.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        serve_until_cancelled(self.server, self.shutdown).await
    }
}
