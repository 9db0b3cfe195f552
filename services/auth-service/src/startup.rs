//! Builds the auth-service from its settings: database, keys, broker, HTTP server.

use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{web, App, HttpServer};
use hospital_events::{BrokerConfig, OutboxRelay, Publisher};
use hospital_platform::error::{json_config, path_config, query_config, route_not_found};
use hospital_platform::health::{self, Readiness};
use hospital_platform::metrics::HttpMetrics;
use hospital_platform::rate_limit::RateLimiter;
use hospital_platform::request::request_context;
use hospital_platform::token::TokenVerifier;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::doctor_directory::DoctorDirectory;
use crate::events::PgOutbox;
use crate::keys::SigningKeys;
use crate::passwords::PasswordHasher;
use crate::settings::Settings;
use crate::state::AppState;
use crate::store::Store;
use crate::tokens::TokenIssuer;

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Listen(#[from] hospital_platform::server::BindError),
    #[error("database: {0}")]
    Database(#[from] crate::store::StoreError),
    #[error(transparent)]
    Key(#[from] crate::keys::KeyError),
    #[error("cannot bind {address}: {source}")]
    Bind {
        address: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Hash(#[from] crate::passwords::HashError),
}

pub struct Application {
    port: u16,
    server: Server,
    shutdown: CancellationToken,
    relay: JoinHandle<()>,
    clock: Clock,
    store: Store,
}

fn signing_keys(settings: &Settings) -> Result<SigningKeys, StartupError> {
    if let Some(pem) = &settings.jwt.private_key_pem {
        return Ok(SigningKeys::from_pem(pem)?);
    }
    match &settings.jwt.private_key_file {
        Some(path) => Ok(SigningKeys::from_file(path)?),
        None => Err(StartupError::Key(crate::keys::KeyError::Malformed)),
    }
}

impl Application {
    /// Connects, migrates, binds the port (0 picks a free one) and prepares the
    /// server; nothing is served until [`Application::run_until_stopped`].
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        let store = Store::connect(&settings.database.url, settings.database.pool_size)?;
        store.run_migrations().await?;
        let keys = signing_keys(&settings)?;
        let verifier = web::Data::new(TokenVerifier::with_keys(&keys.jwks));
        let clock = Clock::default();

        let security = &settings.security;
        let concurrency = if security.hashing_concurrency == 0 {
            std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
        } else {
            security.hashing_concurrency
        };
        let passwords = PasswordHasher::new(
            security.bcrypt_cost,
            concurrency,
            Duration::from_millis(security.hashing_queue_timeout_ms),
        )
        .await?;

        let publisher = Arc::new(Publisher::new(
            BrokerConfig::new(settings.events.amqp_url.clone())
                .with_exchange(settings.events.exchange.clone())
                .with_connection_name("auth-service")
                .with_connect_timeout(Duration::from_secs(3)),
        ));
        let outbox_wake = Arc::new(Notify::new());
        let shutdown = CancellationToken::new();
        let relay = tokio::spawn({
            let outbox = PgOutbox::new(store.clone(), clock.clone());
            let publisher = Arc::clone(&publisher);
            let wake = Arc::clone(&outbox_wake);
            let cancel = shutdown.clone();
            async move { OutboxRelay::run(outbox, publisher, wake, cancel).await }
        });

        let state = web::Data::new(AppState {
            store: store.clone(),
            issuer: TokenIssuer::new(
                keys,
                settings.jwt.access_token_ttl_secs,
                settings.jwt.refresh_token_ttl_days,
            ),
            clock: clock.clone(),
            passwords,
            security: settings.security.clone(),
            ip_login_failures: RateLimiter::new(
                settings.security.login_failures_per_ip,
                Duration::from_secs(settings.security.login_lockout_secs),
            ),
            doctor_directory: DoctorDirectory::new(Duration::from_millis(
                settings.cache.doctor_list_ttl_ms,
            )),
            outbox_wake,
        });
        let readiness = web::Data::new(
            Readiness::default()
                .with_check("postgres", {
                    let store = store.clone();
                    move || {
                        let store = store.clone();
                        async move { store.ping().await }
                    }
                })
                .with(publisher),
        );
        let metrics = web::Data::new(HttpMetrics::new("auth-service"));

        let (listener, port) = hospital_platform::server::bind(&settings.http)?;

        let body_limit = settings.http.body_limit_bytes;
        let mut server = HttpServer::new(move || {
            App::new()
                .wrap(from_fn(request_context))
                .app_data(json_config(body_limit))
                .app_data(path_config())
                .app_data(query_config())
                .app_data(state.clone())
                .app_data(verifier.clone())
                .app_data(readiness.clone())
                .app_data(metrics.clone())
                .configure(health::configure)
                .configure(crate::routes::configure)
                .default_service(web::to(route_not_found))
        })
        .disable_signals()
        .shutdown_timeout(settings.http.shutdown_timeout_secs);
        if settings.http.workers > 0 {
            server = server.workers(settings.http.workers);
        }
        let server = server
            .listen(listener)
            .map_err(|source| StartupError::Bind {
                address: format!("port {port}"),
                source,
            })?
            .run();
        Ok(Self {
            port,
            server,
            shutdown,
            relay,
            clock,
            store,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The clock handlers use; tests move it forward.
    pub fn clock(&self) -> Clock {
        self.clock.clone()
    }

    pub fn store(&self) -> Store {
        self.store.clone()
    }

    /// Cancelling this token stops the service gracefully.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Serves until the shutdown token is cancelled, then finishes in-flight
    /// requests and stops the outbox relay.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let result =
            hospital_platform::server::serve_until_cancelled(self.server, self.shutdown.clone())
                .await;
        self.shutdown.cancel();
        let _ = self.relay.await;
        result
    }
}
